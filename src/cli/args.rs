//! Command-line arguments (docs/spec.md §5).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use evalkit::data::{ReadOptions, ScoreKind, Task};
use evalkit::full::FullOptions;
use evalkit::full::binary::Thresholds;
use evalkit::uncertainty::{CiMethod, IntervalOptions, Resample};

/// Tiered model evaluation: a fast tier in milliseconds, a full tier with
/// every metric.
#[derive(Debug, Parser)]
#[command(
    name = "evalkit",
    about,
    max_term_width = 100,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print evalkit's version and the ONNX Runtime it finds (or that it
    /// finds none).
    #[arg(short = 'V', long)]
    pub version: bool,
    /// Colour in the human output: auto (on a terminal, unless NO_COLOR is
    /// set), always or never.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// No warnings, notes or progress on stderr (errors still are).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether a stream that is (or is not) a terminal gets colour: the
    /// flag wins; `auto` colours a terminal unless `NO_COLOR` is set to
    /// something (no-color.org).
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an ONNX model over a dataset once and write the prediction file
    /// (cached by content: the same model on the same data never runs twice).
    Infer(InferArgs),
    /// Loss and accuracy on a stratified, seeded sample of a prediction file.
    Fast(FastArgs),
    /// Every metric of the task on every row of a prediction file, or of
    /// several files, a folder, a quoted glob or state files (merged).
    Full(FullArgs),
    /// Reduce prediction files (or states) to one state file: the exact
    /// statistics every metric of the task is finished from.
    State(StateArgs),
    /// Merge state files into one (exactly: any grouping, any order).
    Merge(MergeArgs),
    /// A candidate against a baseline on the same rows: paired intervals of
    /// every metric's difference and DeLong's test of the AUC difference.
    Compare(CompareArgs),
    /// One self-contained HTML page for candidate review: metrics with
    /// intervals, curves with bands, tables, inference statistics.
    Report(ReportArgs),
    /// Run a suite (suites/*.toml): inference on a cache miss, the tiers,
    /// every gate's verdict; exit 1 when a gate fails.
    Run(RunArgs),
    /// Rows an evaluation needs to detect an effect with a given power
    /// (Hanley & McNeil's variance of ROC-AUC; a proportion's for accuracy).
    Power(PowerArgs),
    /// Shell completions: `evalkit completions bash > ~/.local/share/bash-completion/completions/evalkit`
    /// (also zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Serving as production sees it: latency per request at small batch
    /// sizes, throughput under concurrent clients, footprint; several
    /// models side by side (with --label, their quality difference too).
    Profile(ProfileArgs),
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// One or more ONNX models, then the dataset whose rows make the
    /// requests (Parquet, CSV or Arrow IPC): MODEL [MODEL..] DATA.
    #[arg(value_name = "MODEL.. DATA", num_args = 2.., required = true)]
    pub paths: Vec<PathBuf>,
    /// Batch sizes of the latency runs (one request at a time).
    #[arg(
        long,
        value_name = "N,..",
        value_delimiter = ',',
        default_value = "1,8,64"
    )]
    pub batch_sizes: Vec<usize>,
    /// Concurrent clients of the throughput runs, each with its own
    /// session [default: 1, 2, 4, … up to the cores].
    #[arg(long, value_name = "C,..", value_delimiter = ',')]
    pub concurrency: Option<Vec<usize>>,
    /// Rows per request in the throughput runs.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub concurrency_batch: usize,
    /// Seconds each run lasts at most.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub duration: f64,
    /// Requests each run makes at most.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_requests: usize,
    /// Requests per session before measuring.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub warmup: usize,
    /// Intra-op threads per session (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// cpu, or cuda[:ID] (the CUDA execution provider; no silent CPU
    /// fallback).
    #[arg(long, value_name = "cpu|cuda[:ID]", default_value = "cpu")]
    pub device: evalkit::infer::runtime::Device,
    /// The model output read as the score.
    #[arg(long = "output", value_name = "NAME")]
    pub output_name: Option<String>,
    /// Feature columns in the model's input order [default: every numeric
    /// column but the label, in file order].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// The label column: with several models, each runs once over the
    /// dataset and is compared with the first (the quality side of the
    /// trade-off).
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// Columns that are not features (ids, keys), left out of the default
    /// feature list.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Only rows where this SQL condition holds.
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Replace missing feature values with this number.
    #[arg(long, value_name = "VALUE", allow_negative_numbers = true)]
    pub fill_null: Option<f64>,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub ci: f64,
    /// Bootstrap replicates of the quality comparison.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Keep every request's latency in the JSON (`latencies_ms`).
    #[arg(long)]
    pub latencies: bool,
    /// Write an HTML page of the profile.
    #[arg(long, value_name = "HTML")]
    pub report: Option<PathBuf>,
    /// The inference cache of the quality comparison [default:
    /// $EVALKIT_CACHE, else .evalkit/cache].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Run the models for the quality comparison even when cached.
    #[arg(long)]
    pub no_cache: bool,
    /// Print one JSON document instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PowerArgs {
    /// The metric: roc_auc or accuracy.
    #[arg(long, default_value = "roc_auc")]
    pub metric: String,
    /// The metric's value under the null: the gate's bound, or the
    /// baseline's value.
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub value: f64,
    /// The difference to detect (e.g. -0.01 for a drop of 0.01).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub effect: f64,
    /// Share of positive rows (ROC-AUC).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub prevalence: f64,
    /// Power to reach.
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub power: f64,
    /// Two-sided level of the test.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Two models compared on the same rows, their estimates correlated R
    /// (0.3–0.7 is typical for two models of one task) [default: one model
    /// against a fixed bound].
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub paired: Option<f64>,
    /// Print one JSON document instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Which columns hold what (files written by other tools).
#[derive(Debug, Args)]
pub struct Columns {
    /// Label column.
    #[arg(long, value_name = "COL", default_value = "label")]
    pub label: String,
    /// Score column; several comma-separated columns make a multiclass score
    /// (one probability column per class, in class order).
    #[arg(
        long,
        value_name = "COL[,COL..]",
        default_value = "score",
        value_delimiter = ','
    )]
    pub score: Vec<String>,
    /// Weight column [default: `weight` when the file has one].
    #[arg(long, value_name = "COL")]
    pub weight: Option<String>,
    /// Task [default: the file's evalkit.task metadata, else inferred: a
    /// query column → ranking, float labels → regression, a probability
    /// list per row → multiclass, else binary].
    #[arg(long, value_parser = ["binary", "multiclass", "regression", "ranking"])]
    pub task: Option<String>,
    /// The query column of a ranking: rows sharing a value are one query's
    /// candidate items [default: `query` when the file has one].
    #[arg(long, value_name = "COL")]
    pub query: Option<String>,
    /// What the scores are [default: the file's evalkit.score_kind metadata,
    /// else probability]. With `logit`, a sigmoid (binary) or softmax
    /// (multiclass) is applied.
    #[arg(long, value_parser = ["probability", "logit"])]
    pub score_kind: Option<String>,
}

impl Columns {
    pub fn read_options(&self) -> evalkit::Result<ReadOptions> {
        Ok(ReadOptions {
            label: self.label.clone(),
            score: self.score.clone(),
            weight: self.weight.clone(),
            task: self.task.as_deref().map(str::parse::<Task>).transpose()?,
            score_kind: self
                .score_kind
                .as_deref()
                .map(str::parse::<ScoreKind>)
                .transpose()?,
            extra: Vec::new(),
            cluster: None,
            query: self.query.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub struct FastArgs {
    /// Prediction file (Arrow IPC file or stream, Parquet, CSV); several
    /// files, a folder or a quoted glob are sampled as one file holding
    /// their rows in that order.
    #[arg(required = true, value_name = "PREDS")]
    pub preds: Vec<PathBuf>,
    /// Rows to sample, or `all`.
    #[arg(long, value_name = "N|all", default_value = "10000", value_parser = parse_sample, allow_negative_numbers = true)]
    pub sample: SampleSize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
    /// Decision threshold for binary accuracy (positive iff score >= T).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.5,
        allow_negative_numbers = true
    )]
    pub threshold: f64,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub columns: Columns,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// Prediction files (Arrow IPC, Parquet, CSV), folders of them, quoted
    /// globs ('preds/*.parquet') or state files.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The state file to write (replaced atomically).
    #[arg(short = 'o', value_name = "STATE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub columns: Columns,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// State files (written by `evalkit state` or `evalkit merge`).
    #[arg(required = true, value_name = "STATE")]
    pub inputs: Vec<PathBuf>,
    /// The merged state file to write (replaced atomically).
    #[arg(short = 'o', value_name = "STATE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct FullArgs {
    /// Prediction file (Arrow IPC file or stream, Parquet, CSV); several
    /// files, a folder, a quoted glob or state files are merged exactly
    /// (point metrics and DeLong's interval: pass --bootstrap 0).
    #[arg(required = true, value_name = "PREDS")]
    pub preds: Vec<PathBuf>,
    #[command(flatten)]
    pub tier: FullTierArgs,
    /// Also run the full tier per distinct value of a passthrough column;
    /// `A,B` crosses columns. Repeat for several slicings.
    #[arg(long, value_name = "COL[,COL]")]
    pub slice: Vec<String>,
    /// Slices with fewer rows get point metrics but no intervals.
    #[arg(long, value_name = "N", default_value_t = evalkit::slices::DEFAULT_MIN_ROWS, allow_negative_numbers = true)]
    pub min_slice: usize,
    #[command(flatten)]
    pub decide: DecisionArgs,
    /// Also every query's values (ranking), as columns under `per_query`
    /// of the --json document.
    #[arg(long, requires = "json")]
    pub per_query: bool,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub columns: Columns,
}

impl FullArgs {
    /// The slicings: each `--slice` value split into its crossed columns.
    pub fn slicings(&self) -> Vec<Vec<String>> {
        slicings(&self.slice)
    }
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// The dataset (Parquet, CSV or Arrow IPC).
    pub data: PathBuf,
    /// The prediction file to write (Arrow IPC).
    #[arg(short = 'o', value_name = "PREDS")]
    pub output: PathBuf,
    /// The label column (without it the predictions carry no labels and the
    /// tiers cannot score them).
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// Feature columns in the model's input order [default: every numeric
    /// column but the label and --keep columns, in file order].
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Columns to pass through to the prediction file (ids, slice keys).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Only rows where this SQL condition holds, pushed into the scan
    /// (e.g. "age > 30 AND region = 'EU'").
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Replace missing feature values with this number (default: a missing
    /// value is an error naming the column).
    #[arg(long, value_name = "VALUE", allow_negative_numbers = true)]
    pub fill_null: Option<f64>,
    /// Rows per batch.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4096,
        allow_negative_numbers = true
    )]
    pub batch_size: usize,
    /// cpu, or cuda[:ID] (the CUDA execution provider; no silent CPU
    /// fallback).
    #[arg(long, value_name = "cpu|cuda[:ID]", default_value = "cpu")]
    pub device: evalkit::infer::runtime::Device,
    /// Intra-op threads [default: one per core].
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub threads: usize,
    /// The model output to use as the score [default: a float tensor named
    /// like "probabilities", else the first float tensor].
    #[arg(long = "output", value_name = "NAME")]
    pub output_name: Option<String>,
    /// What the model outputs; with `logit` a sigmoid or softmax is applied.
    #[arg(long, value_parser = ["probability", "logit"], default_value = "probability")]
    pub score_kind: String,
    /// The task, when the output's shape does not settle it (one value per
    /// row: binary with integer labels, else regression; `ranking` writes
    /// the score as it is, with the query column passed through by --keep).
    #[arg(long, value_parser = ["binary", "multiclass", "regression", "ranking"])]
    pub task: Option<String>,
    /// Class names, in the model's class order.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// The cache folder [default: $EVALKIT_CACHE, else .evalkit/cache].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Run the model even if the cache has the predictions, and store
    /// nothing in it.
    #[arg(long)]
    pub no_cache: bool,
    /// Print one JSON document instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The candidate's prediction file.
    pub candidate: PathBuf,
    /// The baseline's prediction file (same rows).
    pub baseline: PathBuf,
    /// Match rows by this id column (integers or strings) instead of by
    /// position.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    #[command(flatten)]
    pub tier: FullTierArgs,
    #[command(flatten)]
    pub low: LowFprArgs,
    /// Also compare per distinct value of a passthrough column of the
    /// candidate's file; `A,B` crosses columns. Repeat for several slicings.
    #[arg(long, value_name = "COL[,COL]")]
    pub slice: Vec<String>,
    /// Slices with fewer rows get point values but no intervals or test.
    #[arg(long, value_name = "N", default_value_t = evalkit::slices::DEFAULT_MIN_ROWS, allow_negative_numbers = true)]
    pub min_slice: usize,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub columns: Columns,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The candidates' prediction files; a candidate may also be a folder
    /// of shards, a quoted glob or a state file (`evalkit state`), taken as
    /// one merged state (no baseline, slices or suite then).
    #[arg(required = true)]
    pub preds: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short = 'o', value_name = "REPORT.html")]
    pub output: PathBuf,
    /// A baseline's prediction file (same rows): deltas with paired
    /// intervals.
    #[arg(long, value_name = "PREDS")]
    pub baseline: Option<PathBuf>,
    /// Display names of the candidates, comma-separated [default: the file
    /// names].
    #[arg(long, value_name = "A,B,..", value_delimiter = ',')]
    pub names: Vec<String>,
    /// Page title.
    #[arg(long)]
    pub title: Option<String>,
    /// Judge this suite's gates on every candidate and show the verdicts
    /// (exit 1 when one fails).
    #[arg(long, value_name = "SUITE.toml")]
    pub suite: Option<PathBuf>,
    /// Match rows with the baseline by this id column.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Per-slice tables by a passthrough column; `A,B` crosses columns.
    #[arg(long, value_name = "COL[,COL]")]
    pub slice: Vec<String>,
    /// Slices with fewer rows get no intervals.
    #[arg(long, value_name = "N", default_value_t = evalkit::slices::DEFAULT_MIN_ROWS, allow_negative_numbers = true)]
    pub min_slice: usize,
    #[command(flatten)]
    pub tier: FullTierArgs,
    #[command(flatten)]
    pub decide: DecisionArgs,
    /// Also print the report's model as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub columns: Columns,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite file.
    pub suite: PathBuf,
    /// Write the report here instead of the suite's [report] path.
    #[arg(long, value_name = "REPORT.html")]
    pub report: Option<PathBuf>,
    /// The inference cache [default: $EVALKIT_CACHE or .evalkit/cache].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print one JSON document instead of the verdicts table.
    #[arg(long)]
    pub json: bool,
}

/// Splits `--slice` values into their crossed columns.
pub fn slicings(values: &[String]) -> Vec<Vec<String>> {
    evalkit::slices::parse_specs(values)
}

/// The full tier's options, shared by `full`, `compare` and `report`.
#[derive(Debug, Args)]
pub struct FullTierArgs {
    /// Decision threshold for accuracy, precision, recall, F1, MCC and the
    /// confusion matrix (positive iff score >= T).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.5,
        allow_negative_numbers = true
    )]
    pub threshold: f64,
    /// The threshold sweep: N evenly spaced thresholds in [0, 1], or
    /// `distinct` for every distinct score (binary).
    #[arg(
        long,
        value_name = "N|distinct",
        default_value = "1000",
        allow_negative_numbers = true
    )]
    pub thresholds: Thresholds,
    #[command(flatten)]
    pub intervals: IntervalArgs,
    /// Rows that share this column's value are one cluster (a user, patient,
    /// session, query): the bootstrap resamples whole clusters, and
    /// Obuchowski's clustered interval replaces DeLong's. Needs the rows of
    /// one prediction file.
    #[arg(long, value_name = "COL")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub ranking: RankingArgs,
    /// Compute and report only these metrics (and what they need), e.g.
    /// `roc_auc,average_precision,best_f1`: the bootstrap skips the parts
    /// no asked-for metric uses. Default: every metric of the task.
    #[arg(long, value_name = "NAME[,NAME..]")]
    pub metrics: Option<String>,
}

impl FullTierArgs {
    pub fn options(&self) -> evalkit::Result<FullOptions> {
        Ok(FullOptions {
            threshold: self.threshold,
            thresholds: self.thresholds,
            intervals: self.intervals.options(),
            ranking: self.ranking.options()?,
            metrics: match &self.metrics {
                Some(names) => evalkit::metrics::registry::Selection::parse(names)?,
                None => evalkit::metrics::registry::Selection::ALL,
            },
        })
    }
}

/// The ranking metrics' cutoffs and conventions.
#[derive(Debug, Args)]
pub struct RankingArgs {
    /// Cutoffs of the ranking metrics (ranking): NDCG, MAP, precision,
    /// recall and hit rate at each k.
    #[arg(long, value_name = "K[,K..]", value_delimiter = ',', default_values_t = [1i64, 5, 10], allow_negative_numbers = true)]
    pub k: Vec<i64>,
    /// The gain of a relevance label in DCG (ranking): the label, or
    /// 2^label − 1.
    #[arg(long, value_parser = ["linear", "exponential"], default_value = "linear")]
    pub gain: String,
    /// Queries without a relevant item (ranking): every metric 0, as in
    /// trec_eval, or left out of the means.
    #[arg(long, value_parser = ["zero", "drop"], default_value = "zero")]
    pub empty_queries: String,
}

impl RankingArgs {
    pub fn options(&self) -> evalkit::Result<evalkit::metrics::ranking::RankingOptions> {
        let ks = self
            .k
            .iter()
            .map(|&k| {
                usize::try_from(k).map_err(|_| {
                    evalkit::Error::Usage(format!(
                        "--k {k}: a cutoff counts the top k items, from 1 to {}",
                        evalkit::metrics::ranking::MAX_K
                    ))
                })
            })
            .collect::<evalkit::Result<Vec<usize>>>()?;
        evalkit::metrics::ranking::RankingOptions::new(
            &ks,
            self.gain.parse()?,
            self.empty_queries.parse()?,
        )
    }
}

/// The low-FPR end of the ROC curve (binary).
#[derive(Debug, Args)]
pub struct LowFprArgs {
    /// Also the partial ROC-AUC up to this false positive rate (binary;
    /// McClish-standardised, as scikit-learn's `max_fpr`).
    #[arg(long, value_name = "FPR", allow_negative_numbers = true)]
    pub max_fpr: Option<f64>,
    /// Also the highest true positive rate of a threshold whose false
    /// positive rate is at most this (binary); repeat for several.
    #[arg(long, value_name = "FPR", allow_negative_numbers = true)]
    pub tpr_at_fpr: Vec<f64>,
}

impl LowFprArgs {
    /// The low-FPR metrics asked for.
    pub fn low_fpr(&self) -> evalkit::partial::LowFpr {
        evalkit::partial::LowFpr {
            max_fpr: self.max_fpr,
            tpr_at_fpr: self.tpr_at_fpr.clone(),
        }
    }
}

/// Choosing a threshold (binary): operating points and costs.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// An operating point (binary): the threshold meeting a constraint,
    /// `precision>=X`, `recall>=X`, `specificity>=X` or `fpr<=X`, with an
    /// objective (`,maximize=recall`; default: recall, or precision for a
    /// recall constraint), certified at the constraint's confidence bound.
    /// Repeat for several.
    #[arg(long = "operating-point", value_name = "CONSTRAINT[,OBJECTIVE]")]
    pub operating_point: Vec<evalkit::operating::Spec>,
    /// Choose operating points by their point estimates instead of
    /// certifying them.
    #[arg(long, requires = "operating_point")]
    pub uncertified: bool,
    /// Costs of a false positive and a false negative (binary), each a
    /// number or a column with one cost per row, e.g. `fp=1,fn=20` or
    /// `fp=5,fn=amount`: the cost-optimal threshold, the cost curve and the
    /// decision curve.
    #[arg(long, value_name = "fp=X,fn=Y")]
    pub cost: Option<evalkit::costs::Costs>,
    #[command(flatten)]
    pub low: LowFprArgs,
}

impl DecisionArgs {
    /// The low-FPR metrics asked for.
    pub fn low_fpr(&self) -> evalkit::partial::LowFpr {
        self.low.low_fpr()
    }

    /// The cost columns, to read with the rows.
    pub fn cost_columns(&self) -> Vec<String> {
        self.cost.as_ref().map_or(Vec::new(), |c| c.columns())
    }
}

/// Confidence intervals.
#[derive(Debug, Args)]
pub struct IntervalArgs {
    /// Bootstrap replicates (0 turns the bootstrap off; ROC-AUC keeps
    /// DeLong's interval).
    #[arg(
        long,
        value_name = "B",
        default_value_t = 1000,
        allow_negative_numbers = true
    )]
    pub bootstrap: usize,
    /// Confidence level of every interval.
    #[arg(
        long = "ci",
        value_name = "LEVEL",
        default_value_t = 0.95,
        allow_negative_numbers = true
    )]
    pub level: f64,
    /// How intervals are read off the replicates; `wilson` or
    /// `clopper-pearson`: Wilson's score interval or Clopper–Pearson's exact
    /// one for accuracy, precision, recall, specificity and top-k accuracy
    /// (from their counts of rows), percentile for the rest.
    #[arg(
        long,
        value_name = "percentile|bca|wilson|clopper-pearson",
        default_value = "percentile"
    )]
    pub method: CiMethod,
    /// How replicates resample the rows: Poisson(1) weights, multinomial
    /// draws, or multinomial draws within each class (`stratified`: every
    /// replicate keeps the class counts; classification only).
    #[arg(
        long,
        value_name = "poisson|multinomial|stratified",
        default_value = "poisson"
    )]
    pub resample: Resample,
    /// Short for `--resample stratified`.
    #[arg(long, conflicts_with = "resample")]
    pub stratify: bool,
    /// Seed of the resampling.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
}

impl IntervalArgs {
    pub fn options(&self) -> IntervalOptions {
        IntervalOptions {
            replicates: self.bootstrap,
            level: self.level,
            method: self.method,
            resample: if self.stratify {
                Resample::Stratified
            } else {
                self.resample
            },
            seed: self.seed,
        }
    }
}

/// `--sample`: a row count or every row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleSize {
    Rows(usize),
    All,
}

fn parse_sample(s: &str) -> Result<SampleSize, String> {
    if s == "all" {
        return Ok(SampleSize::All);
    }
    match s.parse::<usize>() {
        Ok(0) => Err("the sample needs at least 1 row".to_string()),
        Ok(n) => Ok(SampleSize::Rows(n)),
        Err(_) => Err(format!("'{s}' is neither a row count nor `all`")),
    }
}
