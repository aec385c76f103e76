//! Suites and gates (docs/spec.md §7, `evalkit run SUITE.toml`).
//!
//! A suite writes down what must be true before a model ships: the data,
//! the model (or an existing prediction file), a baseline, the tiers'
//! options and the gates. [`load`] parses and checks the file (unknown keys
//! and wrong types are errors naming the line); [`run`] runs inference only
//! on a cache miss, then the tiers the gates and the report need, and judges
//! every gate. Relative paths resolve from the suite file's folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compare::{self, Join};
use crate::data::{Predictions, ReadOptions, ScoreKind, Task, read_predictions};
use crate::error::{Error, Result};
use crate::fast::{FastOptions, FastResult};
use crate::format::number;
use crate::full::binary::Thresholds;
use crate::full::{FullOptions, FullResult};
use crate::infer::{self, InferOptions, dataset::DatasetSpec};
use crate::metrics::registry::{self, Direction};
use crate::metrics::{Metric, MetricSet};
use crate::report::{self, GateVerdict, ReportOptions};
use crate::uncertainty::{CiMethod, IntervalOptions, Resample};

/// `[data]`: the dataset a model runs on.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Parquet, CSV or Arrow IPC file.
    pub path: PathBuf,
    /// Label column.
    pub label: Option<String>,
    /// Feature columns in the model's order.
    pub features: Option<Vec<String>>,
    /// Columns to pass through (ids, slice keys).
    #[serde(default)]
    pub keep: Vec<String>,
    /// SQL condition on the rows.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// Value for missing features.
    pub fill_null: Option<f64>,
}

/// `[model]`, or a model baseline: an ONNX model run over `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// The ONNX model.
    pub path: PathBuf,
    /// The model output holding the scores.
    pub output: Option<String>,
    /// `probability` or `logit`.
    pub score_kind: Option<String>,
    /// `cpu` or `cuda[:ID]`.
    pub device: Option<String>,
    /// Rows per batch.
    pub batch_size: Option<usize>,
}

/// `[predictions]`: an existing prediction file, with column overrides.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PredictionsSection {
    /// The prediction file.
    pub path: PathBuf,
    /// Label column.
    pub label: Option<String>,
    /// Score column(s).
    pub score: Option<Vec<String>>,
    /// Weight column.
    pub weight: Option<String>,
    /// binary, multiclass, regression or ranking.
    pub task: Option<String>,
    /// probability or logit.
    pub score_kind: Option<String>,
    /// The query column of a ranking (default: `query` when present).
    pub query: Option<String>,
}

/// `[baseline]`: a model run over the same data, or a prediction file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// A model (options as `[model]`).
    pub model: Option<ModelSection>,
    /// Or a prediction file.
    pub predictions: Option<PathBuf>,
    /// Match rows by this id column (else by position).
    pub id: Option<String>,
}

/// `[fast]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FastSection {
    /// Sample rows.
    pub sample: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
}

/// `[full]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FullSection {
    /// Bootstrap replicates (0: none).
    pub bootstrap: Option<usize>,
    /// Confidence level.
    pub ci: Option<f64>,
    /// percentile, bca, wilson or clopper-pearson.
    pub method: Option<String>,
    /// poisson, multinomial or stratified.
    pub resample: Option<String>,
    /// Grid size of the threshold sweep.
    pub thresholds: Option<usize>,
    /// Decision threshold.
    pub threshold: Option<f64>,
    /// Seed.
    pub seed: Option<u64>,
    /// Slicings for the report (`"a"` or `"a,b"`).
    #[serde(default)]
    pub slice: Vec<String>,
    /// Slices under this many rows get no intervals.
    pub min_slice: Option<usize>,
    /// The cluster column: the bootstrap resamples whole clusters
    /// (`--cluster`).
    pub cluster: Option<String>,
    /// Also the partial ROC-AUC up to this FPR (`--max-fpr`, binary).
    pub max_fpr: Option<f64>,
    /// Also the TPR at these FPRs (`--tpr-at-fpr`, binary).
    #[serde(default)]
    pub tpr_at_fpr: Vec<f64>,
    /// Cutoffs of the ranking metrics (`--k`, ranking).
    pub k: Option<Vec<usize>>,
    /// linear or exponential (`--gain`, ranking).
    pub gain: Option<String>,
    /// zero or drop (`--empty-queries`, ranking).
    pub empty_queries: Option<String>,
}

impl FullSection {
    /// The low-FPR metrics asked for ([`crate::partial`]).
    pub fn low_fpr(&self) -> crate::partial::LowFpr {
        crate::partial::LowFpr {
            max_fpr: self.max_fpr,
            tpr_at_fpr: self.tpr_at_fpr.clone(),
        }
    }
}

/// `[report]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// The HTML file to write.
    pub path: PathBuf,
    /// Page title.
    pub title: Option<String>,
}

/// `[serving]`: a serving profile of the model (docs/spec.md §10); gates
/// on its statistics (`latency_p99_ms_at_batch_1`, `qps_at_concurrency_2`,
/// `session_memory_mb`, `init_ms`, …) are judged on their interval's
/// pessimistic end where there is one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ServingSection {
    /// The model [default: `[model] path`].
    pub model: Option<PathBuf>,
    /// The dataset whose rows make the requests [default: `[data] path`,
    /// with its features, filter and kept columns].
    pub data: Option<PathBuf>,
    /// Batch sizes of the latency runs [default: 1, 8, 64].
    pub batch_sizes: Option<Vec<usize>>,
    /// Concurrency levels [default: 1, 2, 4, … up to the cores].
    pub concurrency: Option<Vec<usize>>,
    /// Rows per request under concurrency [default: 1].
    pub concurrency_batch: Option<usize>,
    /// Seconds per run, at most [default: 1].
    pub duration: Option<f64>,
    /// Requests per run, at most [default: 100000].
    pub max_requests: Option<usize>,
    /// Warm-up requests per session [default: 10].
    pub warmup: Option<usize>,
    /// Intra-op threads per session [default: 1].
    pub threads: Option<usize>,
    /// `cpu` or `cuda[:ID]` [default: `[model] device`, else cpu].
    pub device: Option<String>,
    /// Confidence level of the intervals [default: 0.95].
    pub ci: Option<f64>,
}

/// One `[[gate]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// The metric (not for inference constraints).
    pub metric: Option<toml::Spanned<String>>,
    /// `full` (default) or `fast`.
    pub tier: Option<String>,
    /// Point value at least this.
    pub min: Option<f64>,
    /// Point value at most this.
    pub max: Option<f64>,
    /// Lower interval bound at least this.
    pub min_lower_ci: Option<f64>,
    /// Upper interval bound at most this.
    pub max_upper_ci: Option<f64>,
    /// Largest allowed drop against the baseline.
    pub max_drop: Option<f64>,
    /// `ci` (default: the paired interval's bound) or `value`.
    pub on: Option<String>,
    /// Batch latency p99 at most this many ms.
    pub latency_p99_ms: Option<f64>,
    /// Throughput at least this many rows/s.
    pub rows_per_s: Option<f64>,
    /// Peak resident memory at most this many MiB.
    pub peak_rss_mb: Option<f64>,
    /// Judge `metric` (precision, recall, fpr, specificity or f1) at this
    /// operating point of the full tier, e.g. `"precision>=0.95"`
    /// ([`crate::operating`], certified).
    pub operating_point: Option<String>,
    /// Where the gate starts in the file (filled by [`load`]).
    #[serde(skip)]
    pub line: usize,
}

/// A suite file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Name shown in verdicts and the report.
    pub name: String,
    /// What the suite checks, in words.
    pub description: Option<String>,
    /// The dataset (with `[model]` or a model baseline).
    pub data: Option<DataSection>,
    /// The candidate model.
    pub model: Option<ModelSection>,
    /// Or the candidate's existing predictions.
    pub predictions: Option<PredictionsSection>,
    /// The baseline.
    pub baseline: Option<BaselineSection>,
    /// Fast-tier options.
    #[serde(default)]
    pub fast: FastSection,
    /// Full-tier options.
    #[serde(default)]
    pub full: FullSection,
    /// The report to write.
    pub report: Option<ReportSection>,
    /// A serving profile of the model.
    pub serving: Option<ServingSection>,
    /// What an inconclusive gate counts as (default: a failure).
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
    /// The gates.
    #[serde(default, rename = "gate")]
    pub gates: Vec<GateSpec>,
    /// The suite file's folder (relative paths resolve from it).
    #[serde(skip)]
    pub dir: PathBuf,
    /// The suite file.
    #[serde(skip)]
    pub file: PathBuf,
}

/// What a gate checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateKind {
    /// Point value ≥ bound.
    Min(f64),
    /// Point value ≤ bound.
    Max(f64),
    /// Interval's lower bound ≥ bound.
    MinLowerCi(f64),
    /// Interval's upper bound ≤ bound.
    MaxUpperCi(f64),
    /// Drop against the baseline ≤ bound (on the paired interval, or the
    /// value).
    MaxDrop(f64, bool),
    /// Latency p99 (ms) ≤ bound.
    LatencyP99(f64),
    /// Rows/s ≥ bound.
    RowsPerS(f64),
    /// Peak RSS (MiB) ≤ bound.
    PeakRss(f64),
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

/// The line where the `n`-th `[[gate]]` table starts.
fn gate_lines(source: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[gate]]"))
        .map(|(i, _)| i + 1)
        .collect()
}

fn bad(file: &Path, line: usize, message: impl std::fmt::Display) -> Error {
    Error::usage(format!("{}:{line}: {message}", file.display()))
}

/// The line of the `[name]` table's header (1 when there is none).
fn section_line(source: &str, name: &str) -> usize {
    let header = format!("[{name}]");
    source
        .lines()
        .position(|l| l.trim_start().starts_with(&header))
        .map_or(1, |i| i + 1)
}

/// Where the keys of `[data]` and `[full]` are written, for errors that
/// name the line of the value at fault (other tables are ignored here).
#[derive(Debug, Default, Deserialize)]
struct KeyLines {
    #[serde(default)]
    data: std::collections::BTreeMap<String, toml::Spanned<toml::Value>>,
    #[serde(default)]
    full: std::collections::BTreeMap<String, toml::Spanned<toml::Value>>,
}

impl KeyLines {
    fn parse(source: &str) -> KeyLines {
        toml::from_str(source).unwrap_or_default()
    }

    /// The line of `key` in `[section]`, else the section's header line.
    fn line(&self, source: &str, section: &str, key: &str) -> usize {
        let table = if section == "data" {
            &self.data
        } else {
            &self.full
        };
        table.get(key).map_or_else(
            || section_line(source, section),
            |v| line_of(source, v.span().start),
        )
    }
}

/// Checks the values of `[data]` and `[full]` that the types do not settle,
/// naming the key and its line.
fn check_values(suite: &Suite, source: &str) -> Result<()> {
    let path = &suite.file;
    let lines = KeyLines::parse(source);
    let at = |section: &str, key: &str| lines.line(source, section, key);
    if let Some(v) = suite.data.as_ref().and_then(|d| d.fill_null)
        && !(v as f32).is_finite()
    {
        return Err(bad(
            path,
            at("data", "fill_null"),
            format!(
                "[data] fill_null = {v} is not a finite number (as the f32 the model takes); give a finite value such as 0"
            ),
        ));
    }
    let f = &suite.full;
    if let Some(ci) = f.ci
        && !(ci > 0.0 && ci < 1.0)
    {
        return Err(bad(
            path,
            at("full", "ci"),
            format!("[full] ci = {ci} is not a level in (0, 1); write e.g. ci = 0.95"),
        ));
    }
    if let Some(t) = f.threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(bad(
            path,
            at("full", "threshold"),
            format!("[full] threshold = {t} is not a probability in [0, 1]"),
        ));
    }
    let max = crate::full::binary::MAX_GRID;
    if let Some(n) = f.thresholds
        && !(2..=max).contains(&n)
    {
        return Err(bad(
            path,
            at("full", "thresholds"),
            format!("[full] thresholds = {n}: the grid needs 2 to {max} points"),
        ));
    }
    if let Some(m) = f.method.as_deref()
        && m.parse::<CiMethod>().is_err()
    {
        return Err(bad(
            path,
            at("full", "method"),
            format!("[full] method = \"{m}\": use {}", CiMethod::CHOICES),
        ));
    }
    if let Some(r) = f.resample.as_deref()
        && r.parse::<Resample>().is_err()
    {
        return Err(bad(
            path,
            at("full", "resample"),
            format!("[full] resample = \"{r}\": use {}", Resample::CHOICES),
        ));
    }
    Ok(())
}

impl GateSpec {
    /// The gate's kind, checking that exactly one bound is given and that
    /// metric gates name a metric (and inference gates do not).
    pub fn kind(&self, file: &Path) -> Result<GateKind> {
        let on_value = match self.on.as_deref() {
            None | Some("ci") => false,
            Some("value") => true,
            Some(other) => {
                return Err(bad(
                    file,
                    self.line,
                    format!(
                        "on = \"{other}\": use \"ci\" (the paired interval's bound) or \"value\""
                    ),
                ));
            }
        };
        let mut kinds = Vec::new();
        let mut push = |v: Option<f64>, k: fn(f64) -> GateKind| {
            if let Some(v) = v {
                kinds.push(k(v));
            }
        };
        push(self.min, GateKind::Min);
        push(self.max, GateKind::Max);
        push(self.min_lower_ci, GateKind::MinLowerCi);
        push(self.max_upper_ci, GateKind::MaxUpperCi);
        push(self.latency_p99_ms, GateKind::LatencyP99);
        push(self.rows_per_s, GateKind::RowsPerS);
        push(self.peak_rss_mb, GateKind::PeakRss);
        if let Some(v) = self.max_drop {
            kinds.push(GateKind::MaxDrop(v, on_value));
        }
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => {
                return Err(bad(
                    file,
                    self.line,
                    "the gate has no bound: give one of min, max, min_lower_ci, max_upper_ci, max_drop, latency_p99_ms, rows_per_s, peak_rss_mb",
                ));
            }
            _ => {
                return Err(bad(
                    file,
                    self.line,
                    "the gate has several bounds: write one [[gate]] per bound",
                ));
            }
        };
        let inference = matches!(
            kind,
            GateKind::LatencyP99(_) | GateKind::RowsPerS(_) | GateKind::PeakRss(_)
        );
        match (&self.metric, inference) {
            (None, false) => Err(bad(file, self.line, "the gate needs a metric = \"...\"")),
            (Some(_), true) => Err(bad(
                file,
                self.line,
                "inference constraints (latency_p99_ms, rows_per_s, peak_rss_mb) take no metric",
            )),
            _ if self.serving_metric().is_some() => {
                if self.tier.is_some() || self.operating_point.is_some() {
                    return Err(bad(
                        file,
                        self.line,
                        "a serving statistic is measured by [serving]: it takes no tier or operating_point",
                    ));
                }
                match kind {
                    GateKind::Min(_)
                    | GateKind::Max(_)
                    | GateKind::MinLowerCi(_)
                    | GateKind::MaxUpperCi(_) => Ok(kind),
                    _ => Err(bad(
                        file,
                        self.line,
                        "a serving statistic takes min or max (judged on its interval's pessimistic end; on = \"value\" for the value)",
                    )),
                }
            }
            _ => {
                self.operating_spec(file)?;
                if self.operating_point.is_some() && matches!(kind, GateKind::MaxDrop(..)) {
                    return Err(bad(
                        file,
                        self.line,
                        "an operating point's metric has no paired difference with the baseline: use min, max, min_lower_ci or max_upper_ci",
                    ));
                }
                Ok(kind)
            }
        }
    }

    /// The serving statistic the gate bounds, when its metric names one
    /// (`latency_p99_ms_at_batch_1`, …).
    pub fn serving_metric(&self) -> Option<crate::profile::ServingMetric> {
        self.metric
            .as_ref()
            .and_then(|m| crate::profile::ServingMetric::parse(m.get_ref()))
    }

    /// The gate's operating point, parsed (`None` without one); its metric
    /// must be a rate of the point and its tier the full one.
    pub fn operating_spec(&self, file: &Path) -> Result<Option<crate::operating::Spec>> {
        let Some(text) = &self.operating_point else {
            return Ok(None);
        };
        let spec: crate::operating::Spec = text
            .parse()
            .map_err(|e: String| bad(file, self.line, format!("operating_point = {e}")))?;
        let metric = self.metric.as_ref().map_or("", |m| m.get_ref().as_str());
        if !crate::operating::Rate::ALL
            .iter()
            .any(|r| r.name() == metric)
        {
            return Err(bad(
                file,
                self.line,
                format!(
                    "metric = \"{metric}\" is not a rate of an operating point: use precision, recall, fpr, specificity or f1"
                ),
            ));
        }
        if self.tier.as_deref() == Some("fast") {
            return Err(bad(
                file,
                self.line,
                "operating points are chosen on the full tier",
            ));
        }
        Ok(Some(spec))
    }

    /// The name the gate's metric has in the full tier's metric set:
    /// `recall@precision>=0.95` at an operating point, else the metric.
    pub fn metric_key(&self, file: &Path) -> Result<String> {
        let metric = self.metric.as_ref().map_or("", |m| m.get_ref().as_str());
        Ok(match self.operating_spec(file)? {
            Some(spec) => operating_key(metric, &spec),
            None => metric.to_string(),
        })
    }

    /// `fast` or `full`.
    pub fn fast(&self, file: &Path) -> Result<bool> {
        match self.tier.as_deref() {
            None | Some("full") => Ok(false),
            Some("fast") => Ok(true),
            Some(other) => Err(bad(
                file,
                self.line,
                format!("tier = \"{other}\": use \"full\" or \"fast\""),
            )),
        }
    }

    /// The gate as written, e.g. `roc_auc min_lower_ci 0.9`.
    pub fn describe(&self, kind: GateKind) -> String {
        let m = self.metric.as_ref().map_or("", |m| m.get_ref().as_str());
        let m = match &self.operating_point {
            Some(op) => format!("{m} at {op}"),
            None => m.to_string(),
        };
        let m = m.as_str();
        let tier = if self.tier.as_deref() == Some("fast") {
            " (fast)"
        } else {
            ""
        };
        match kind {
            GateKind::Min(v) => format!("{m}{tier} ≥ {v}"),
            GateKind::Max(v) => format!("{m}{tier} ≤ {v}"),
            GateKind::MinLowerCi(v) => format!("{m}{tier} lower CI ≥ {v}"),
            GateKind::MaxUpperCi(v) => format!("{m}{tier} upper CI ≤ {v}"),
            GateKind::MaxDrop(v, false) => format!("{m} drop vs baseline ≤ {v} (paired CI)"),
            GateKind::MaxDrop(v, true) => format!("{m} drop vs baseline ≤ {v} (value)"),
            GateKind::LatencyP99(v) => format!("latency p99 ≤ {v} ms"),
            GateKind::RowsPerS(v) => format!("throughput ≥ {v} rows/s"),
            GateKind::PeakRss(v) => format!("peak memory ≤ {v} MiB"),
        }
    }
}

/// Reads and checks a suite file.
pub fn load(path: &Path) -> Result<Suite> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read the suite", e))?;
    let mut suite: Suite = toml::from_str(&source).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(&source, s.start));
        bad(path, line, e.message())
    })?;
    let lines = gate_lines(&source);
    for (i, g) in suite.gates.iter_mut().enumerate() {
        g.line = g
            .metric
            .as_ref()
            .map(|m| line_of(&source, m.span().start))
            .or_else(|| lines.get(i).copied())
            .unwrap_or(0);
    }
    suite.file = path.to_path_buf();
    suite.dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    match (&suite.model, &suite.predictions) {
        (Some(_), Some(_)) => {
            return Err(bad(path, 1, "give [model] or [predictions], not both"));
        }
        (None, None) => {
            return Err(bad(
                path,
                1,
                "the suite needs a [model] (with [data]) or [predictions]",
            ));
        }
        (Some(_), None) if suite.data.is_none() => {
            return Err(bad(path, 1, "[model] needs a [data] section to run on"));
        }
        _ => {}
    }
    let baseline_model = suite.baseline.as_ref().is_some_and(|b| b.model.is_some());
    if suite.predictions.is_some() && suite.data.is_some() && !baseline_model {
        return Err(bad(
            path,
            section_line(&source, "data"),
            "[data] is not used: the candidate comes from [predictions] and no model runs on [data]; remove [data], or give a [model] instead of [predictions]",
        ));
    }
    if let Some(b) = &suite.baseline {
        match (&b.model, &b.predictions) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(bad(
                    path,
                    1,
                    "[baseline] needs exactly one of model = {...} or predictions = \"...\"",
                ));
            }
            (Some(_), None) if suite.data.is_none() => {
                return Err(bad(path, 1, "a [baseline] model needs a [data] section"));
            }
            _ => {}
        }
    }
    check_values(&suite, &source)?;
    if suite.gates.is_empty() {
        return Err(Error::usage(format!(
            "{}: the suite has no gates, so it would pass without checking anything: add a [[gate]] (for example metric = \"roc_auc\" with min = 0.8)",
            path.display()
        )));
    }
    for g in &suite.gates {
        let kind = g.kind(path)?;
        g.fast(path)?;
        if matches!(kind, GateKind::MaxDrop(..)) && suite.baseline.is_none() {
            return Err(bad(path, g.line, "max_drop needs a [baseline]"));
        }
        if let (GateKind::MaxDrop(..), Some(metric)) = (&kind, g.metric.as_ref())
            && registry::direction(metric.get_ref()) == Direction::Neither
        {
            return Err(bad(
                path,
                g.line,
                format!(
                    "max_drop on {}: it is a location, not a quality, so it has no drop; bound it with min or max",
                    metric.get_ref()
                ),
            ));
        }
    }
    Ok(suite)
}

/// A verdict with the data behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The gate as written.
    pub gate: String,
    /// Its line in the suite.
    pub line: usize,
    /// Pass, fail, or inconclusive (the interval straddles the bound).
    pub verdict: Outcome,
    /// Whether it counts as passed: a pass, or an inconclusive verdict
    /// under `on_inconclusive = "pass"`.
    pub passed: bool,
    /// The point value: the metric's, the paired difference's (`max_drop`)
    /// or the inference statistic's.
    pub value: Option<f64>,
    /// The value's interval.
    pub interval: Option<[f64; 2]>,
    /// What was compared with the gate's bound: `"value"`, `"lower bound"`,
    /// `"upper bound"`, `"worst-case drop"`, `"drop"`, ...; empty when the
    /// gate could not be judged.
    pub judged_on: String,
    /// The number compared with the bound (`None` when not judged).
    pub measured: Option<f64>,
    /// The unit of `value` and `measured` (`"ms"`, `"rows/s"`, `"MiB"`;
    /// empty for metrics).
    pub unit: String,
    /// The minimum detectable effect: the smallest true difference from
    /// the bound (a drop, for `max_drop`) this data detects with 80% power
    /// at the interval's level ([`minimum_detectable_effect`]); `None`
    /// without an interval.
    pub mde: Option<f64>,
    /// How it was judged, or why it could not be.
    pub detail: String,
}

/// Everything `evalkit run` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteResult {
    /// The suite's name.
    pub name: String,
    /// The suite file.
    pub suite: String,
    /// Task.
    pub task: String,
    /// Candidate prediction file.
    pub candidate: String,
    /// Baseline prediction file.
    pub baseline: Option<String>,
    /// Fast-tier metrics, when a gate needed them.
    pub fast: Option<MetricSet>,
    /// Full-tier metrics with intervals.
    pub metrics: Option<MetricSet>,
    /// Paired differences against the baseline.
    pub delta: Option<MetricSet>,
    /// One verdict per gate, in file order.
    pub gates: Vec<Verdict>,
    /// Every gate passed.
    pub passed: bool,
    /// The report written.
    pub report: Option<String>,
    /// Notes (inference cache status goes to stderr, not here).
    pub warnings: Vec<String>,
}

fn parse_score_kind(file: &Path, s: Option<&str>) -> Result<Option<ScoreKind>> {
    s.map(|k| k.parse().map_err(|e| bad(file, 1, e)))
        .transpose()
}

fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// Runs one model over the suite's data through the inference cache.
fn run_model(
    suite: &Suite,
    model: &ModelSection,
    role: &str,
    cache_dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<PathBuf> {
    let data = suite
        .data
        .as_ref()
        .ok_or_else(|| bad(&suite.file, 1, "[model] needs [data]"))?;
    let cache_root = cache_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(infer::cache::Cache::default_dir);
    let stem = suite
        .file
        .file_stem()
        .map_or("suite".to_string(), |s| s.to_string_lossy().to_string());
    let out_dir = cache_root.join("suites").join(&stem);
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, "create the folder", e))?;
    let output = out_dir.join(format!("{role}.arrow"));
    let mut keep = data.keep.clone();
    if let Some(id) = suite.baseline.as_ref().and_then(|b| b.id.clone())
        && !keep.contains(&id)
    {
        keep.push(id);
    }
    for c in crate::slices::parse_specs(&suite.full.slice)
        .into_iter()
        .flatten()
    {
        if !keep.contains(&c) {
            keep.push(c);
        }
    }
    let mut options = InferOptions::new(
        &resolve(&suite.dir, &model.path),
        &resolve(&suite.dir, &data.path),
        &output,
    );
    options.dataset = DatasetSpec {
        label: data.label.clone(),
        features: data.features.clone(),
        keep,
        filter: data.filter.clone(),
        fill_null: data.fill_null,
    };
    if let Some(b) = model.batch_size {
        options.batch_size = b;
    }
    if let Some(d) = &model.device {
        options.device = d.parse().map_err(|e| bad(&suite.file, 1, e))?;
    }
    options.output_name = model.output.clone();
    if let Some(k) = parse_score_kind(&suite.file, model.score_kind.as_deref())? {
        options.score_kind = k;
    }
    options.cache_dir = Some(cache_root);
    let report = infer::infer(&options, &|_, _| {})?;
    notes.push(format!(
        "{role}: {} ({})",
        match report.cache {
            infer::CacheStatus::Hit => "inference cache hit, the model did not run",
            infer::CacheStatus::Miss => "inference ran and was cached",
            infer::CacheStatus::Disabled => "inference ran (cache disabled)",
        },
        options.model.display()
    ));
    Ok(output)
}

/// How `[predictions]` says to read the candidate's file(s).
fn read_options(suite: &Suite) -> Result<ReadOptions> {
    let mut read = ReadOptions::default();
    if let Some(p) = &suite.predictions {
        if let Some(l) = &p.label {
            read.label = l.clone();
        }
        if let Some(s) = &p.score {
            read.score = s.clone();
        }
        read.weight = p.weight.clone();
        read.task = p
            .task
            .as_deref()
            .map(|t| t.parse::<Task>().map_err(|e| bad(&suite.file, 1, e)))
            .transpose()?;
        read.score_kind = parse_score_kind(&suite.file, p.score_kind.as_deref())?;
        read.query = p.query.clone();
    }
    Ok(read)
}

/// The candidate's and the baseline's predictions, read.
fn predictions(
    suite: &Suite,
    cache_dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<(Predictions, Option<Predictions>)> {
    let read = read_options(suite)?;
    let cand_path = suite
        .predictions
        .as_ref()
        .map(|p| resolve(&suite.dir, &p.path));
    let cand_path = match (cand_path, &suite.model) {
        (Some(p), _) => p,
        (None, Some(m)) => run_model(suite, m, "candidate", cache_dir, notes)?,
        (None, None) => return Err(bad(&suite.file, 1, "no [model] or [predictions]")),
    };
    let id = suite.baseline.as_ref().and_then(|b| b.id.clone());
    let mut base_read = read.clone();
    base_read.extra.extend(id.iter().cloned());
    let mut cand_read = base_read.clone();
    cand_read.cluster = suite.full.cluster.clone();
    for c in crate::slices::parse_specs(&suite.full.slice)
        .into_iter()
        .flatten()
    {
        if !cand_read.extra.contains(&c) {
            cand_read.extra.push(c);
        }
    }
    let candidate = read_predictions(&cand_path, &cand_read)?;
    let baseline = match &suite.baseline {
        None => None,
        Some(b) => {
            let path = match (&b.model, &b.predictions) {
                (Some(m), _) => run_model(suite, m, "baseline", cache_dir, notes)?,
                (None, Some(p)) => resolve(&suite.dir, p),
                (None, None) => return Err(bad(&suite.file, 1, "[baseline] is empty")),
            };
            Some(read_predictions(&path, &base_read)?)
        }
    };
    Ok((candidate, baseline))
}

/// The full tier's options of a suite: its `[full]` table, computing only
/// the metrics its gates judge unless a report is written (which shows
/// every metric).
fn full_options(suite: &Suite, report: bool) -> Result<FullOptions> {
    let f = &suite.full;
    let file = &suite.file;
    let defaults = FullOptions::default();
    let metrics = if report {
        crate::metrics::registry::Selection::ALL
    } else {
        crate::metrics::registry::Selection::known(
            suite
                .gates
                .iter()
                .filter_map(|g| g.metric.as_ref().map(|m| m.get_ref().as_str())),
        )
    };
    Ok(FullOptions {
        metrics,
        threshold: f.threshold.unwrap_or(defaults.threshold),
        thresholds: f.thresholds.map_or(defaults.thresholds, Thresholds::Grid),
        intervals: IntervalOptions {
            replicates: f.bootstrap.unwrap_or(defaults.intervals.replicates),
            level: f.ci.unwrap_or(defaults.intervals.level),
            method: match f.method.as_deref() {
                None => CiMethod::Percentile,
                Some(m) => m.parse::<CiMethod>().map_err(|_| {
                    bad(
                        file,
                        1,
                        format!("[full] method = \"{m}\": use {}", CiMethod::CHOICES),
                    )
                })?,
            },
            resample: match f.resample.as_deref() {
                None => Resample::Poisson,
                Some(r) => r.parse::<Resample>().map_err(|_| {
                    bad(
                        file,
                        1,
                        format!("[full] resample = \"{r}\": use {}", Resample::CHOICES),
                    )
                })?,
            },
            seed: f.seed.unwrap_or(defaults.intervals.seed),
        },
        ranking: crate::metrics::ranking::RankingOptions::new(
            f.k.as_deref()
                .unwrap_or(&crate::metrics::ranking::DEFAULT_KS),
            f.gain
                .as_deref()
                .unwrap_or("linear")
                .parse()
                .map_err(|e| bad(file, 1, format!("[full] gain: {e}")))?,
            f.empty_queries
                .as_deref()
                .unwrap_or("zero")
                .parse()
                .map_err(|e| bad(file, 1, format!("[full] empty_queries: {e}")))?,
        )
        .map_err(|e| bad(file, 1, format!("[full] k: {e}")))?,
    })
}

/// A gate's outcome. A gate judged on an interval bound whose interval
/// straddles the bound is inconclusive: the data cannot tell either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The bound holds.
    Pass,
    /// The bound does not hold (or the gate could not be judged).
    Fail,
    /// The interval straddles the bound.
    Inconclusive,
}

/// What an inconclusive gate counts as (`on_inconclusive` in a suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInconclusive {
    /// Inconclusive counts as a failure (the default: a gate asks for
    /// evidence).
    #[default]
    Fail,
    /// Inconclusive counts as a pass.
    Pass,
}

impl Outcome {
    /// The verdict as tables show it, with what an inconclusive one
    /// counted as (`passed`).
    pub fn label(self, passed: bool) -> &'static str {
        match (self, passed) {
            (Outcome::Pass, _) => "pass",
            (Outcome::Fail, _) => "FAIL",
            (Outcome::Inconclusive, true) => "inconclusive (counted as pass)",
            (Outcome::Inconclusive, false) => "INCONCLUSIVE (counted as fail)",
        }
    }
}

/// One line on a run's verdicts: "all 4 gates passed", or "2 passed, 1
/// inconclusive (counted as fail), 1 failed".
pub fn verdicts_line(verdicts: impl IntoIterator<Item = (Outcome, bool)>) -> String {
    let (mut pass, mut fail, mut open, mut open_passed) = (0, 0, 0, false);
    for (o, passed) in verdicts {
        match o {
            Outcome::Pass => pass += 1,
            Outcome::Fail => fail += 1,
            Outcome::Inconclusive => {
                open += 1;
                open_passed = passed;
            }
        }
    }
    if fail == 0 && open == 0 {
        return format!("all {pass} gates passed");
    }
    let mut parts = vec![format!("{pass} passed")];
    if open > 0 {
        parts.push(format!(
            "{open} inconclusive (counted as {})",
            if open_passed { "pass" } else { "fail" }
        ));
    }
    if fail > 0 {
        parts.push(format!("{fail} FAILED"));
    }
    parts.join(", ")
}

/// The power the minimum detectable effect is stated at.
pub const MDE_POWER: f64 = 0.8;

/// The minimum detectable effect of an estimate with interval `ci` at
/// `level`: `(z_{(1+level)/2} + z_power) · SE`, the standard error read off
/// the interval as `(hi − lo) / (2 z_{(1+level)/2})` (Bloom 1995,
/// *Evaluation Review* 19(5); a normal approximation).
pub fn minimum_detectable_effect(ci: [f64; 2], level: f64) -> Option<f64> {
    use crate::uncertainty::intervals::normal_quantile;
    let z = normal_quantile(0.5 + level / 2.0);
    let se = (ci[1] - ci[0]) / (2.0 * z);
    let mde = (z + normal_quantile(MDE_POWER)) * se;
    (mde.is_finite() && mde >= 0.0).then_some(mde)
}

/// A judgement: the outcome; the point value (the metric, the paired
/// difference, the statistic) with its interval; what was compared with the
/// bound and its number; the minimum detectable effect; the detail.
#[derive(Debug, Clone, PartialEq)]
struct Judgement {
    outcome: Outcome,
    value: Option<f64>,
    interval: Option<[f64; 2]>,
    judged_on: &'static str,
    measured: Option<f64>,
    unit: &'static str,
    mde: Option<f64>,
    detail: String,
}

fn holds(x: f64, at_most: bool, bound: f64) -> bool {
    if at_most { x <= bound } else { x >= bound }
}

impl Judgement {
    /// A gate that cannot be judged: it fails, saying why.
    fn unjudged(value: Option<f64>, interval: Option<[f64; 2]>, why: String) -> Judgement {
        Judgement {
            outcome: Outcome::Fail,
            value,
            interval,
            judged_on: "",
            measured: None,
            unit: "",
            mde: None,
            detail: why,
        }
    }

    /// `measured` (called `judged_on`) against `bound`: at most or at least.
    fn against(
        value: f64,
        interval: Option<[f64; 2]>,
        judged_on: &'static str,
        measured: f64,
        at_most: bool,
        bound: f64,
        unit: &'static str,
    ) -> Judgement {
        let passed = holds(measured, at_most, bound);
        let sign = match (at_most, passed) {
            (true, true) => "≤",
            (true, false) => ">",
            (false, true) => "≥",
            (false, false) => "<",
        };
        Judgement {
            outcome: if passed { Outcome::Pass } else { Outcome::Fail },
            value: Some(value),
            interval,
            judged_on,
            measured: Some(measured),
            unit,
            mde: None,
            detail: if unit.is_empty() {
                format!("{judged_on} {} {sign} {bound}", number(measured))
            } else {
                format!(
                    "{judged_on} {} {sign} {bound} {unit}",
                    crate::format::with_unit(measured, unit)
                )
            },
        }
    }

    /// A gate judged on an interval's pessimistic end (`measured`) that
    /// failed is inconclusive when the optimistic end (`other`, called
    /// `other_name`) meets the bound: the interval straddles it.
    fn or_inconclusive(
        mut self,
        other_name: &str,
        other: f64,
        at_most: bool,
        bound: f64,
    ) -> Judgement {
        if self.outcome == Outcome::Fail
            && let Some(m) = self.measured
            && holds(other, at_most, bound)
        {
            self.outcome = Outcome::Inconclusive;
            let (out, inside) = if at_most { (">", "≥") } else { ("<", "≤") };
            self.detail = format!(
                "{} {} {out} {bound} {inside} {other_name} {}: the interval straddles the bound",
                self.judged_on,
                number(m),
                number(other)
            );
        }
        self
    }

    /// With the minimum detectable effect of `ci` at `level`, said in the
    /// detail as a `what` ("difference", "drop").
    fn with_mde(mut self, ci: Option<[f64; 2]>, level: f64, what: &str) -> Judgement {
        self.mde = ci.and_then(|ci| minimum_detectable_effect(ci, level));
        if let Some(m) = self.mde {
            self.detail = format!(
                "{}; detects a {what} of {} at {}% power",
                self.detail,
                number(m),
                number(MDE_POWER * 100.0)
            );
        }
        self
    }
}

/// Judges a metric gate on a metric (and the delta for `max_drop`).
fn judge_metric(
    kind: GateKind,
    name: &str,
    m: &Metric,
    delta: Option<&Metric>,
    level: f64,
) -> Judgement {
    let Some(v) = m.value else {
        return Judgement::unjudged(
            None,
            None,
            format!(
                "{name} is undefined: {}",
                m.reason.as_deref().unwrap_or("no value")
            ),
        );
    };
    let no_ci = |b: &str| {
        Judgement::unjudged(
            Some(v),
            None,
            format!("{name} has no interval to judge ({b}); run the full tier with a bootstrap"),
        )
    };
    match kind {
        GateKind::Min(b) => Judgement::against(v, m.ci, "value", v, false, b, "").with_mde(
            m.ci,
            level,
            "difference",
        ),
        GateKind::Max(b) => {
            Judgement::against(v, m.ci, "value", v, true, b, "").with_mde(m.ci, level, "difference")
        }
        // A fast-tier value from every row is exact: its own bound.
        GateKind::MinLowerCi(b) | GateKind::MaxUpperCi(b) if m.method == "exact" => {
            let at_most = matches!(kind, GateKind::MaxUpperCi(_));
            Judgement::against(v, None, "exact value (every row)", v, at_most, b, "")
        }
        GateKind::MinLowerCi(b) => match m.ci {
            Some([lo, hi]) => Judgement::against(v, m.ci, "lower bound", lo, false, b, "")
                .or_inconclusive("upper bound", hi, false, b)
                .with_mde(m.ci, level, "difference"),
            None => no_ci("lower bound"),
        },
        GateKind::MaxUpperCi(b) => match m.ci {
            Some([lo, hi]) => Judgement::against(v, m.ci, "upper bound", hi, true, b, "")
                .or_inconclusive("lower bound", lo, true, b)
                .with_mde(m.ci, level, "difference"),
            None => no_ci("upper bound"),
        },
        GateKind::MaxDrop(b, on_value) => {
            let Some(d) = delta else {
                return Judgement::unjudged(
                    None,
                    None,
                    "no paired difference with the baseline".to_string(),
                );
            };
            let Some(dv) = d.value else {
                return Judgement::unjudged(
                    None,
                    None,
                    format!(
                        "the difference in {name} is undefined: {}",
                        d.reason.as_deref().unwrap_or("no value")
                    ),
                );
            };
            // A drop is a fall for higher-is-better metrics, a rise for
            // losses; judged on the paired interval's pessimistic end
            // unless on = "value". A negative drop is a gain.
            let lower = registry::direction(name) == Direction::Lower;
            let (worst, best) = if on_value {
                (dv, dv)
            } else {
                match d.ci {
                    Some([lo, hi]) => {
                        if lower {
                            (hi, lo)
                        } else {
                            (lo, hi)
                        }
                    }
                    None => {
                        return Judgement::unjudged(
                            Some(dv),
                            None,
                            format!(
                                "the difference in {name} has no interval; use on = \"value\" or a bootstrap"
                            ),
                        );
                    }
                }
            };
            let as_drop = |x: f64| if lower { x } else { -x };
            let drop = as_drop(worst);
            let judged_on = if on_value { "drop" } else { "worst-case drop" };
            let mut j = Judgement::against(dv, d.ci, judged_on, drop, true, b, "");
            if !on_value {
                j = j.or_inconclusive("best-case drop", as_drop(best), true, b);
            }
            if drop <= 0.0 {
                j.detail = format!(
                    "no drop: {} is a gain of {} (≤ {b})",
                    if on_value {
                        "the difference"
                    } else {
                        "the paired interval's worst end"
                    },
                    number(-drop)
                );
            }
            j.with_mde(d.ci, level, "drop")
        }
        _ => Judgement::unjudged(None, None, "not a metric gate".to_string()),
    }
}

/// Judges an inference constraint from the prediction file's metadata.
fn judge_inference(kind: GateKind, preds: &Predictions) -> Judgement {
    let stats: Option<serde_json::Value> = preds
        .metadata
        .get("evalkit.inference")
        .and_then(|v| serde_json::from_str(v).ok());
    let Some(stats) = stats else {
        return Judgement::unjudged(
            None,
            None,
            format!(
                "{} has no inference statistics (not written by evalkit infer)",
                preds.path.display()
            ),
        );
    };
    let get = |path: &[&str]| -> Option<f64> {
        let mut cur = &stats;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_f64()
    };
    let (value, bound, at_most, judged_on, unit) = match kind {
        GateKind::LatencyP99(b) => (
            get(&["latency_ms", "p99"]),
            b,
            true,
            "batch latency p99",
            "ms",
        ),
        GateKind::RowsPerS(b) => (
            get(&["rows_per_s"]),
            b,
            false,
            "whole-pass throughput",
            "rows/s",
        ),
        GateKind::PeakRss(b) => (
            get(&["peak_rss_bytes"]).map(|v| v / 1_048_576.0),
            b,
            true,
            "peak memory",
            "MiB",
        ),
        _ => (None, 0.0, true, "", ""),
    };
    match value {
        None => Judgement::unjudged(
            None,
            None,
            "the statistic is missing from the inference metadata".to_string(),
        ),
        Some(v) => Judgement::against(v, None, judged_on, v, at_most, bound, unit),
    }
}

/// Judges a gate on a serving statistic of the profile's (first) model:
/// an upper bound on the interval's upper end (a lower bound on its lower
/// end), inconclusive when the interval straddles the bound or the
/// requests were too few to bound that end; `on_value` judges the value.
fn judge_serving(
    kind: GateKind,
    m: crate::profile::ServingMetric,
    on_value: bool,
    profile: &crate::profile::Profile,
) -> Judgement {
    let Some(stat) = profile.models.first().and_then(|p| p.stat(m)) else {
        return Judgement::unjudged(
            None,
            None,
            "the serving profile has no such statistic (not measured on this system)".to_string(),
        );
    };
    let (at_most, bound, explicit) = match kind {
        GateKind::Max(b) => (true, b, false),
        GateKind::MaxUpperCi(b) => (true, b, true),
        GateKind::Min(b) => (false, b, false),
        GateKind::MinLowerCi(b) => (false, b, true),
        _ => return Judgement::unjudged(None, None, "not a serving gate".to_string()),
    };
    let requests = stat
        .requests
        .map_or(String::new(), |n| format!(" ({n} requests)"));
    let full_interval = stat
        .interval
        .and_then(|[lo, hi]| lo.zip(hi).map(|(l, h)| [l, h]));
    let mut j = match stat.interval {
        Some([lo, hi]) if !on_value || explicit => {
            let (pessimistic, optimistic) = if at_most { (hi, lo) } else { (lo, hi) };
            let (name, other_name) = if at_most {
                ("upper bound", "lower bound")
            } else {
                ("lower bound", "upper bound")
            };
            match pessimistic {
                Some(p) => Judgement::against(
                    stat.value,
                    full_interval,
                    name,
                    p,
                    at_most,
                    bound,
                    stat.unit,
                )
                .or_inconclusive(
                    other_name,
                    optimistic.unwrap_or(stat.value),
                    at_most,
                    bound,
                ),
                None => {
                    // Too few requests to bound this end: the value decides
                    // only a failure.
                    let o = optimistic.unwrap_or(stat.value);
                    let mut j = Judgement::against(
                        stat.value,
                        full_interval,
                        other_name,
                        o,
                        at_most,
                        bound,
                        stat.unit,
                    );
                    if j.outcome == Outcome::Pass {
                        j.outcome = Outcome::Inconclusive;
                        j.judged_on = name;
                        j.measured = None;
                        j.detail = format!(
                            "too few requests{requests} to bound it from {} at this level: profile longer (duration, max_requests)",
                            if at_most { "above" } else { "below" }
                        );
                    }
                    j
                }
            }
        }
        _ => Judgement::against(
            stat.value,
            full_interval,
            "value",
            stat.value,
            at_most,
            bound,
            stat.unit,
        ),
    };
    if !requests.is_empty() && !j.detail.starts_with("too few") {
        j.detail.push_str(&requests);
    }
    j
}

/// The metric-set name of `metric` at the operating point `spec`:
/// `recall@precision>=0.95` (with a non-default objective,
/// `recall@precision>=0.95,maximize=f1`).
pub fn operating_key(metric: &str, spec: &crate::operating::Spec) -> String {
    if spec.objective == crate::operating::default_objective(spec.rate) {
        format!("{metric}@{}", spec.constraint())
    } else {
        format!(
            "{metric}@{},{}",
            spec.constraint(),
            spec.objective_text().replace(' ', "=")
        )
    }
}

/// The distinct operating points the suite's gates ask for.
pub fn operating_specs(suite: &Suite) -> Result<Vec<crate::operating::Spec>> {
    let mut out: Vec<crate::operating::Spec> = Vec::new();
    for g in &suite.gates {
        if let Some(spec) = g.operating_spec(&suite.file)?
            && !out.contains(&spec)
        {
            out.push(spec);
        }
    }
    Ok(out)
}

/// Adds each operating point's rates to `metrics` as
/// `rate@constraint` ([`operating_key`]); a point without a threshold
/// gives undefined rates with its reason.
pub fn add_operating_metrics(
    metrics: &mut MetricSet,
    specs: &[crate::operating::Spec],
    points: &[crate::operating::OperatingPoint],
) {
    for (spec, p) in specs.iter().zip(points) {
        for rate in crate::operating::Rate::ALL {
            let key = operating_key(rate.name(), spec);
            let m = match (&p.reason, p.metrics.get(rate.name())) {
                (Some(reason), _) => crate::metrics::Metric::undefined(reason.clone()),
                (None, Some(m)) => m.clone(),
                (None, None) => crate::metrics::Metric::undefined("no threshold"),
            };
            metrics.insert(&key, m);
        }
    }
}

/// Judges every gate of `suite` on one model: its fast-tier and full-tier
/// metrics (each `None` when not run), its paired differences with the
/// baseline, and its prediction file's inference statistics. A metric name
/// the task does not have is an error naming the line and the valid names.
/// The verdict of every gate. `rows` is the candidate's prediction file,
/// whose metadata the inference gates read (`None` for a candidate given
/// as shards or a state, whose inference gates are refused before).
pub fn judge(
    suite: &Suite,
    task: Task,
    rows: Option<&Predictions>,
    fast: Option<&MetricSet>,
    full: Option<&MetricSet>,
    delta: Option<&MetricSet>,
    serving: Option<&crate::profile::Profile>,
) -> Result<Vec<Verdict>> {
    let file = &suite.file;
    let mut verdicts = Vec::new();
    for g in &suite.gates {
        let (kind, on_fast) = (g.kind(file)?, g.fast(file)?);
        let j = match &g.metric {
            None => match rows {
                Some(preds) => judge_inference(kind, preds),
                None => Judgement::unjudged(
                    None,
                    None,
                    "no inference statistics: the candidate is shards or a state".to_string(),
                ),
            },
            Some(_) if g.serving_metric().is_some() => {
                let on_value = g.on.as_deref() == Some("value");
                match (g.serving_metric(), serving) {
                    (Some(m), Some(p)) => judge_serving(kind, m, on_value, p),
                    _ => Judgement::unjudged(None, None, "no serving profile: serving statistics are measured by `evalkit run` (a suite with [serving] and a model)".to_string()),
                }
            }
            Some(_) => {
                let key = g.metric_key(file)?;
                let name = key.as_str();
                let set = if on_fast { fast } else { full };
                let Some(set) = set else {
                    return Err(bad(
                        file,
                        g.line,
                        format!(
                            "the gate needs the {} tier, which was not run",
                            if on_fast { "fast" } else { "full" }
                        ),
                    ));
                };
                let Some(m) = set.get(name) else {
                    // The full tier computed only the gates' metrics: the
                    // valid names are the task's, and what the set adds
                    // (partial AUC, operating points).
                    let mut valid: Vec<&str> = if on_fast || task == Task::Ranking {
                        Vec::new()
                    } else {
                        crate::metrics::registry::of_task(task)
                            .iter()
                            .map(|m| m.name)
                            .collect()
                    };
                    for (n, _) in set.iter() {
                        if !valid.contains(&n) {
                            valid.push(n);
                        }
                    }
                    return Err(bad(
                        file,
                        g.line,
                        format!(
                            "no metric '{name}' in the {} tier of a {} task; valid names: {}",
                            if on_fast { "fast" } else { "full" },
                            task,
                            valid.join(", ")
                        ),
                    ));
                };
                // The level the interval was made at: the fast tier's, or
                // the suite's full tier's.
                let level = if on_fast {
                    fast_options(suite, 0.5).level
                } else {
                    suite
                        .full
                        .ci
                        .unwrap_or(FullOptions::default().intervals.level)
                };
                judge_metric(kind, name, m, delta.and_then(|d| d.get(name)), level)
            }
        };
        let passed = match j.outcome {
            Outcome::Pass => true,
            Outcome::Fail => false,
            Outcome::Inconclusive => suite.on_inconclusive == OnInconclusive::Pass,
        };
        verdicts.push(Verdict {
            gate: g.describe(kind),
            line: g.line,
            verdict: j.outcome,
            passed,
            value: j.value,
            interval: j.interval,
            judged_on: j.judged_on.to_string(),
            measured: j.measured,
            unit: j.unit.to_string(),
            mde: j.mde,
            detail: j.detail,
        });
    }
    Ok(verdicts)
}

/// The fast-tier options of a suite.
pub fn fast_options(suite: &Suite, threshold: f64) -> FastOptions {
    let d = FastOptions::default();
    FastOptions {
        sample: suite.fast.sample.or(d.sample),
        seed: suite.fast.seed.unwrap_or(d.seed),
        threshold,
        ..d
    }
}

/// Whether any gate runs on the fast tier.
pub fn needs_fast(suite: &Suite) -> bool {
    suite
        .gates
        .iter()
        .any(|g| g.tier.as_deref() == Some("fast"))
}

/// Runs a suite: predictions (inference on a cache miss), the tiers the
/// gates and the report need, the verdicts, the report. `report_path`
/// overrides `[report] path`. Returns the result and notes for stderr.
pub fn run(
    suite: &Suite,
    cache_dir: Option<&Path>,
    report_path: Option<&Path>,
) -> Result<(SuiteResult, Vec<String>)> {
    // The report's path is checked before any work. The suite's own
    // `[report] path` gets its folder made (a fresh clone has no
    // `demo-out/`); a path given on the command line must be in a folder
    // that exists, as for `evalkit report -o`.
    let report_file = match (report_path, &suite.report) {
        (Some(p), _) => Some(p.to_path_buf()),
        (None, Some(r)) => {
            let p = resolve(&suite.dir, &r.path);
            infer::cache::create_parent(&p)?;
            Some(p)
        }
        (None, None) => None,
    };
    if let Some(p) = &report_file {
        crate::output_file::check(p)?;
    }
    // Shards (a folder, a glob) or a state file: the full tier from the
    // merged state.
    if let Some(p) = &suite.predictions {
        let path = resolve(&suite.dir, &p.path);
        let inputs = crate::state::inputs::expand(std::slice::from_ref(&path))?;
        if inputs.len() > 1 || crate::state::file::is_state_file(&inputs[0]) {
            if suite.full.cluster.is_some() {
                let source = std::fs::read_to_string(&suite.file).unwrap_or_default();
                return Err(bad(
                    &suite.file,
                    KeyLines::parse(&source).line(&source, "full", "cluster"),
                    "[full] cluster needs the rows of one prediction file: a state or several merged files keep no per-row clusters",
                ));
            }
            return run_on_state(suite, path, &inputs, report_file);
        }
    }
    let mut notes = Vec::new();
    let file = &suite.file;
    let serving = serving_profile(suite)?;
    let quality_gates = suite.gates.iter().any(|g| g.serving_metric().is_none());
    if serving.is_some() && !quality_gates && report_file.is_none() {
        return serving_only(suite, serving);
    }
    let (candidate, baseline) = predictions(suite, cache_dir, &mut notes)?;
    let full_opts = full_options(suite, report_file.is_some())?;
    crate::full::check_options(&full_opts)?;

    // Which tiers.
    let kinds: Vec<(GateKind, bool)> = suite
        .gates
        .iter()
        .map(|g| Ok((g.kind(file)?, g.fast(file)?)))
        .collect::<Result<_>>()?;
    let need_fast = kinds.iter().any(|(_, f)| *f);
    let need_full = kinds.iter().zip(&suite.gates).any(|((k, f), g)| {
        !*f && g.serving_metric().is_none()
            && !matches!(
                k,
                GateKind::LatencyP99(_) | GateKind::RowsPerS(_) | GateKind::PeakRss(_)
            )
    }) || suite.report.is_some()
        || report_path.is_some();

    let fast: Option<FastResult> =
        need_fast.then(|| crate::fast::fast(&candidate, &fast_options(suite, full_opts.threshold)));
    let low = suite.full.low_fpr();
    low.check()?;
    let mut warnings = Vec::new();
    let specs = operating_specs(suite)?;
    let (mut full, delta): (Option<FullResult>, Option<MetricSet>) = if !need_full {
        (None, None)
    } else if let Some(base) = &baseline {
        let id = suite.baseline.as_ref().and_then(|b| b.id.clone());
        let (aligned, n) = compare::align(&candidate, base, id.as_deref())?;
        warnings.extend(n);
        let join = id.map_or(Join::Position, Join::Id);
        let mut c = compare::compare(&candidate, &aligned, join, &full_opts, &|_, _| {})?;
        warnings.extend(c.warnings.iter().cloned());
        warnings.extend(crate::partial::attach_paired(
            &mut c,
            &candidate,
            &aligned,
            &low,
            &full_opts.intervals,
        )?);
        (Some(c.candidate), Some(c.delta))
    } else {
        let mut f = crate::full::full(&candidate, &full_opts)?;
        warnings.extend(crate::partial::attach(
            &mut f,
            Some(&candidate),
            &low,
            &full_opts.intervals,
        ));
        (Some(f), None)
    };
    if let Some(f) = &mut full {
        let points =
            crate::operating::for_result(f, Some(&candidate), &specs, true, &full_opts.intervals);
        add_operating_metrics(f.metrics_mut(), &specs, &points);
        warnings.extend(f.metrics().warnings());
    }

    let verdicts = judge(
        suite,
        candidate.task,
        Some(&candidate),
        fast.as_ref().map(|f| &f.metrics),
        full.as_ref().map(|f| f.metrics()),
        delta.as_ref(),
        serving.as_ref(),
    )?;
    let passed = verdicts.iter().all(|v| v.passed);

    // The report, with the verdicts.
    if let Some(path) = &report_file {
        let options = ReportOptions {
            full: full_opts,
            names: vec!["candidate".to_string()],
            id: suite.baseline.as_ref().and_then(|b| b.id.clone()),
            slices: crate::slices::parse_specs(&suite.full.slice),
            min_slice: suite
                .full
                .min_slice
                .unwrap_or(crate::slices::DEFAULT_MIN_ROWS),
            title: Some(report_title(suite)),
            low_fpr: suite.full.low_fpr(),
            operating_points: specs.clone(),
            ..ReportOptions::default()
        };
        let mut rep = report::build(
            std::slice::from_ref(&candidate),
            baseline.as_ref(),
            &options,
            &|_, _| {},
        )?;
        if let Some(b) = &mut rep.baseline {
            b.name = "baseline".to_string();
        }
        rep.gates = report_gates(&verdicts);
        rep.serving = serving;
        report::write(path, &report::html::render(&rep))?;
    }

    Ok((
        SuiteResult {
            name: suite.name.clone(),
            suite: suite.file.display().to_string(),
            task: candidate.task.to_string(),
            candidate: candidate.path.display().to_string(),
            baseline: baseline.as_ref().map(|b| b.path.display().to_string()),
            fast: fast.map(|f| f.metrics),
            metrics: full.map(|f| f.metrics().clone()),
            delta,
            gates: verdicts,
            passed,
            report: report_file.map(|p| p.display().to_string()),
            warnings,
        },
        notes,
    ))
}

/// The serving profile a suite asks for: with `[serving]`, or with a gate
/// on a serving statistic (then `[serving]`'s defaults); the batch sizes
/// and concurrency levels the gates name are added to those profiled.
pub fn serving_profile(suite: &Suite) -> Result<Option<crate::profile::Profile>> {
    use crate::profile::{ProfileOptions, ServingMetric, profile};
    let gated: Vec<ServingMetric> = suite
        .gates
        .iter()
        .filter_map(GateSpec::serving_metric)
        .collect();
    if suite.serving.is_none() && gated.is_empty() {
        return Ok(None);
    }
    let file = &suite.file;
    let source = std::fs::read_to_string(file).unwrap_or_default();
    let line = section_line(&source, "serving");
    let sec = suite.serving.clone().unwrap_or_default();
    let model = sec
        .model
        .as_ref()
        .or(suite.model.as_ref().map(|m| &m.path))
        .map(|p| resolve(&suite.dir, p))
        .ok_or_else(|| {
            bad(
                file,
                line,
                "a serving profile needs a model: [serving] model = \"...\" or a [model] section",
            )
        })?;
    let data = sec
        .data
        .as_ref()
        .or(suite.data.as_ref().map(|d| &d.path))
        .map(|p| resolve(&suite.dir, p))
        .ok_or_else(|| {
            bad(
                file,
                line,
                "a serving profile needs rows to make requests from: [serving] data = \"...\" or a [data] section",
            )
        })?;
    let mut o = ProfileOptions::new(vec![model], &data);
    if let Some(d) = &suite.data {
        o.dataset = DatasetSpec {
            label: d.label.clone(),
            features: d.features.clone(),
            keep: d.keep.clone(),
            filter: d.filter.clone(),
            fill_null: d.fill_null,
        };
    }
    let defaults = o.clone();
    o.batch_sizes = sec.batch_sizes.clone().unwrap_or(defaults.batch_sizes);
    o.concurrency = sec.concurrency.clone().unwrap_or(defaults.concurrency);
    o.concurrency_batch = sec.concurrency_batch.unwrap_or(defaults.concurrency_batch);
    o.duration = sec.duration.unwrap_or(defaults.duration);
    o.max_requests = sec.max_requests.unwrap_or(defaults.max_requests);
    o.warmup = sec.warmup.unwrap_or(defaults.warmup);
    o.threads = sec.threads.unwrap_or(defaults.threads);
    o.level = sec.ci.unwrap_or(defaults.level);
    if let Some(d) = sec
        .device
        .as_ref()
        .or(suite.model.as_ref().and_then(|m| m.device.as_ref()))
    {
        o.device = d.parse().map_err(|e: String| bad(file, line, e))?;
    }
    for m in &gated {
        if let Some(b) = m.batch_size()
            && !o.batch_sizes.contains(&b)
        {
            o.batch_sizes.push(b);
        }
        if let Some(c) = m.concurrency()
            && !o.concurrency.contains(&c)
        {
            o.concurrency.push(c);
        }
    }
    o.batch_sizes.sort_unstable();
    o.concurrency.sort_unstable();
    o.check()
        .map_err(|e| bad(file, line, format!("[serving]: {e}")))?;
    Ok(Some(profile(&o, &|_| {})?))
}

/// A suite whose every gate is on the serving profile and that writes no
/// report: the profile alone, no inference pass or tiers.
fn serving_only(
    suite: &Suite,
    serving: Option<crate::profile::Profile>,
) -> Result<(SuiteResult, Vec<String>)> {
    let verdicts = judge(
        suite,
        Task::Binary,
        None,
        None,
        None,
        None,
        serving.as_ref(),
    )?;
    let passed = verdicts.iter().all(|v| v.passed);
    Ok((
        SuiteResult {
            name: suite.name.clone(),
            suite: suite.file.display().to_string(),
            task: "serving".to_string(),
            candidate: serving
                .as_ref()
                .and_then(|p| p.models.first())
                .map_or_else(String::new, |m| m.path.clone()),
            baseline: None,
            fast: None,
            metrics: None,
            delta: None,
            gates: verdicts,
            passed,
            report: None,
            warnings: Vec::new(),
        },
        Vec::new(),
    ))
}

/// The report's title: `[report] title`, else the suite's name.
fn report_title(suite: &Suite) -> String {
    suite
        .report
        .as_ref()
        .and_then(|r| r.title.clone())
        .unwrap_or_else(|| format!("evalkit suite · {}", suite.name))
}

/// The verdicts as the report shows them, on the one candidate.
fn report_gates(verdicts: &[Verdict]) -> Vec<GateVerdict> {
    verdicts
        .iter()
        .map(|v| v.clone().for_report("candidate"))
        .collect()
}

impl Verdict {
    /// The verdict as the report shows it, judged on `candidate`.
    pub fn for_report(self, candidate: &str) -> GateVerdict {
        GateVerdict {
            gate: self.gate,
            candidate: candidate.to_string(),
            value: self.value,
            interval: self.interval,
            verdict: self.verdict,
            judged_on: self.judged_on,
            measured: self.measured,
            unit: self.unit,
            mde: self.mde,
            passed: self.passed,
            detail: self.detail,
        }
    }
}

/// [`run`] for a candidate given as shards (a folder, a glob) or a state
/// file: the full tier finished from the merged state, the gates on it, the
/// report from the state. What needs the rows — a baseline (paired rows),
/// slices, fast-tier gates (a sample of rows) and inference gates (the
/// file's statistics) — is refused, naming the suite line.
fn run_on_state(
    suite: &Suite,
    path: std::path::PathBuf,
    inputs: &[std::path::PathBuf],
    report_file: Option<std::path::PathBuf>,
) -> Result<(SuiteResult, Vec<String>)> {
    let file = &suite.file;
    let rows_needed = |line: usize, what: &str| {
        Err(bad(
            file,
            line,
            format!(
                "{what} needs one prediction file (its rows); {} is shards or a state",
                path.display()
            ),
        ))
    };
    if suite.baseline.is_some() {
        return rows_needed(1, "[baseline]");
    }
    if !suite.full.slice.is_empty() {
        return rows_needed(1, "[full] slice");
    }
    for g in &suite.gates {
        if g.fast(file)? {
            return rows_needed(g.line, "a fast-tier gate");
        }
        if g.metric.is_none() {
            return rows_needed(g.line, "an inference gate");
        }
    }
    let full_opts = full_options(suite, report_file.is_some())?;
    crate::full::check_options(&full_opts)?;
    let mut state = crate::state::inputs::reduce(inputs, &read_options(suite)?)?;
    state.header.path = path.clone();
    let mut full = crate::full::full_state(&state, &full_opts, &|_, _| {})?;
    let low = suite.full.low_fpr();
    low.check()?;
    crate::partial::attach(&mut full, None, &low, &full_opts.intervals);
    let specs = operating_specs(suite)?;
    let points = crate::operating::for_result(&full, None, &specs, true, &full_opts.intervals);
    add_operating_metrics(full.metrics_mut(), &specs, &points);
    let warnings = full.warnings();
    let serving = serving_profile(suite)?;
    let verdicts = judge(
        suite,
        state.header.task,
        None,
        None,
        Some(full.metrics()),
        None,
        serving.as_ref(),
    )?;
    let passed = verdicts.iter().all(|v| v.passed);
    if let Some(report_path) = &report_file {
        let options = ReportOptions {
            full: full_opts,
            names: vec!["candidate".to_string()],
            id: None,
            slices: Vec::new(),
            min_slice: crate::slices::DEFAULT_MIN_ROWS,
            title: Some(report_title(suite)),
            ..ReportOptions::default()
        };
        let mut rep =
            report::build_from_states(std::slice::from_ref(&state), &options, &|_, _| {})?;
        rep.gates = report_gates(&verdicts);
        rep.serving = serving;
        report::write(report_path, &report::html::render(&rep))?;
    }
    Ok((
        SuiteResult {
            name: suite.name.clone(),
            suite: suite.file.display().to_string(),
            task: state.header.task.to_string(),
            candidate: path.display().to_string(),
            baseline: None,
            fast: None,
            metrics: Some(full.metrics().clone()),
            delta: None,
            gates: verdicts,
            passed,
            report: report_file.map(|p| p.display().to_string()),
            warnings,
        },
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::stats::{Latency, Percentile};
    use crate::profile::{
        DataInfo, Environment, Footprint, LatencyRun, ModelProfile, Profile, ServingMetric,
        Settings,
    };

    /// A profile whose p99 at batch 1 is 8 ms in [6, 12] from 1000 requests.
    fn profile() -> Profile {
        let p = |value, lower, upper| Percentile {
            value,
            lower,
            upper,
        };
        Profile {
            environment: Environment {
                provider: "CPUExecutionProvider".into(),
                device: "cpu".into(),
                intra_op_threads: 1,
                cpu: "test".into(),
                cores: 1,
                os: "test".into(),
                onnxruntime_version: "1".into(),
                onnxruntime_library: "lib".into(),
                evalkit_version: "0".into(),
            },
            settings: Settings {
                batch_sizes: vec![1],
                concurrency: vec![],
                concurrency_batch: 1,
                duration_s: 1.0,
                max_requests: 1000,
                warmup: 0,
                level: 0.95,
            },
            data: DataInfo {
                path: "d".into(),
                rows: 1,
                request_rows: 1,
                features: 1,
            },
            models: vec![ModelProfile {
                name: "m".into(),
                path: "m.onnx".into(),
                input: "input".into(),
                footprint: Footprint {
                    model_bytes: 1 << 20,
                    init_ms: 5.0,
                    session_memory_bytes: Some(3 << 20),
                    peak_rss_bytes: None,
                    peak_since_reset: true,
                },
                latency: vec![LatencyRun {
                    batch_size: 1,
                    seconds: 1.0,
                    latency_ms: Latency {
                        requests: 1000,
                        p50: p(2.0, Some(1.9), Some(2.1)),
                        p95: p(5.0, Some(4.0), Some(6.0)),
                        p99: p(8.0, Some(6.0), Some(12.0)),
                        max: 20.0,
                        mean: 2.5,
                    },
                    model_ms_mean: 2.4,
                    overhead_ms_mean: 0.1,
                    overhead_pct: 4.0,
                    rows_per_s: 400.0,
                    latencies_ms: None,
                }],
                throughput: vec![],
            }],
            quality: None,
        }
    }

    #[test]
    fn serving_gates_judge_the_pessimistic_end() {
        let p = profile();
        let p99 = ServingMetric::parse("latency_p99_ms_at_batch_1").unwrap();
        let judge = |kind, on_value| judge_serving(kind, p99, on_value, &p);
        // [6, 12] against 15: passes on the upper bound.
        let j = judge(GateKind::Max(15.0), false);
        assert_eq!(
            (j.outcome, j.judged_on, j.measured),
            (Outcome::Pass, "upper bound", Some(12.0))
        );
        // Against 10: the interval straddles the bound.
        let j = judge(GateKind::Max(10.0), false);
        assert_eq!(j.outcome, Outcome::Inconclusive);
        assert!(j.detail.contains("straddles"), "{}", j.detail);
        // On the value, 8 ≤ 10 passes.
        assert_eq!(judge(GateKind::Max(10.0), true).outcome, Outcome::Pass);
        // Against 5: even the lower bound is above.
        assert_eq!(judge(GateKind::Max(5.0), false).outcome, Outcome::Fail);
        // A lower bound on latency judges the lower end.
        let j = judge(GateKind::Min(5.0), false);
        assert_eq!((j.outcome, j.judged_on), (Outcome::Pass, "lower bound"));
        // Footprint statistics have no interval: the value.
        let mem = ServingMetric::parse("session_memory_mb").unwrap();
        let j = judge_serving(GateKind::Max(2.0), mem, false, &p);
        assert_eq!((j.outcome, j.measured), (Outcome::Fail, Some(3.0)));
        // A statistic that was not profiled cannot pass.
        let missing = ServingMetric::parse("peak_rss_mb").unwrap();
        assert_eq!(
            judge_serving(GateKind::Max(1e9), missing, false, &p).outcome,
            Outcome::Fail
        );
    }
}
