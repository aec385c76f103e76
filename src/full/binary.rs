//! The binary full tier: the point metrics, tables and DeLong's interval
//! from the binary state ([`crate::state::binary`], finished by
//! [`crate::metrics::binary::point_metrics`]), then the bootstrap's
//! intervals and bands ([`crate::uncertainty::bootstrap`], or from a state
//! [`crate::uncertainty::from_state`]).

use crate::clusters::Clusters;
use crate::data::Floats;
use crate::metrics::binary::{RowSums, point_metrics_of};
use crate::metrics::calibration::Bin;
use crate::metrics::curves::{BinaryCurve, Counts, Ranked, Sweep};
use crate::metrics::{Metric, MetricSet};
use crate::state::binary::BinaryState;
use crate::uncertainty::bootstrap::{self, BootstrapOptions, Need, Ranking};
use crate::uncertainty::intervals::{self, normal_quantile};
use crate::uncertainty::{self, CiMethod, IntervalOptions, delong};

/// The largest threshold grid (`--thresholds`); `distinct` covers finer
/// needs.
pub const MAX_GRID: usize = 1_000_000;

/// Where the threshold sweep is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thresholds {
    /// `n` evenly spaced thresholds in [0, 1], both ends included.
    Grid(usize),
    /// Every distinct score (one row per operating point of the ROC curve).
    Distinct,
}

impl std::str::FromStr for Thresholds {
    type Err = String;
    fn from_str(s: &str) -> Result<Thresholds, String> {
        match s {
            "distinct" => Ok(Thresholds::Distinct),
            _ => match s.parse::<usize>() {
                Ok(n) if n >= 2 => Ok(Thresholds::Grid(n)),
                _ => Err(format!(
                    "'{s}' is neither a number of thresholds (2 or more) nor `distinct`"
                )),
            },
        }
    }
}

/// Options of the binary full tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryOptions<'a> {
    /// Decision threshold for the thresholded metrics and the confusion
    /// matrix (positive iff `score >= threshold`).
    pub threshold: f64,
    /// Where the sweep is evaluated.
    pub sweep: Thresholds,
    /// Bootstrap intervals (`replicates: 0` turns them off) and the level of
    /// every interval, DeLong's included.
    pub intervals: IntervalOptions,
    /// Keep the replicate values and the ranking in the result (for paired
    /// comparisons).
    pub keep_replicates: bool,
    /// The rows' clusters: the bootstrap resamples whole clusters, and
    /// Obuchowski's clustered variance replaces DeLong's.
    pub clusters: Option<&'a Clusters>,
    /// The parts of the replicate pass the asked-for metrics need
    /// (`--metrics`); the intervals of the others are not computed.
    pub need: Need,
}

impl Default for BinaryOptions<'_> {
    fn default() -> Self {
        BinaryOptions {
            threshold: 0.5,
            sweep: Thresholds::Grid(1000),
            intervals: IntervalOptions::default(),
            keep_replicates: false,
            clusters: None,
            need: Need::ALL,
        }
    }
}

/// DeLong's interval for ROC-AUC.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DeLongInterval {
    /// The AUC.
    pub auc: f64,
    /// DeLong's standard error.
    pub std_error: f64,
    /// `auc ± z·std_error`, clipped to [0, 1].
    pub ci: [f64; 2],
    /// The confidence level.
    pub level: f64,
}

/// Pointwise bootstrap bands for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bands {
    /// FPR grid of the ROC band.
    pub fpr: Vec<f64>,
    /// Lower and upper TPR at each FPR.
    pub tpr_lo: Vec<Option<f64>>,
    /// Upper TPR.
    pub tpr_hi: Vec<Option<f64>>,
    /// Recall grid of the precision–recall band.
    pub recall: Vec<f64>,
    /// Lower precision at each recall.
    pub precision_lo: Vec<Option<f64>>,
    /// Upper precision.
    pub precision_hi: Vec<Option<f64>>,
    /// Threshold grid of the F1 band.
    pub threshold: Vec<f64>,
    /// Lower F1 at each threshold.
    pub f1_lo: Vec<Option<f64>>,
    /// Upper F1.
    pub f1_hi: Vec<Option<f64>>,
}

/// The binary full tier's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryFull {
    /// Metrics, in the order of the module table.
    pub metrics: MetricSet,
    /// Positives: row count, or weight with weights.
    pub positives: f64,
    /// Negatives: row count, or weight with weights.
    pub negatives: f64,
    /// Confusion matrix at the threshold.
    pub confusion: Counts,
    /// Reliability bins.
    pub reliability: Vec<Bin>,
    /// The threshold sweep (on the grid, or at every distinct score).
    pub sweep: Sweep,
    /// The ranking table (ROC/PR curves, sweep at every distinct score);
    /// empty when finished from score ranges (`state::ranges`).
    pub curve: BinaryCurve,
    /// Distinct scores (of positive weight).
    pub distinct_scores: usize,
    /// DeLong's interval for ROC-AUC, or why it is undefined (clustered
    /// rows: see `obuchowski`).
    pub delong: Result<DeLongInterval, String>,
    /// With clusters: Obuchowski's clustered interval for ROC-AUC, or why it
    /// is undefined ([`delong::obuchowski`]); `None` without clusters.
    pub obuchowski: Option<Result<DeLongInterval, String>>,
    /// Bootstrap bands, when the bootstrap ran.
    pub bands: Option<Bands>,
    /// Notes from the intervals (metrics left without one, BCa fallbacks).
    pub interval_notes: Vec<String>,
    /// The replicate values, when asked for ([`BinaryOptions::keep_replicates`]).
    pub replicates: Option<bootstrap::Replicates>,
    /// The ranking (rows in score order), when asked for.
    pub ranking: Option<Ranking>,
}

/// Computes the binary full tier: point metrics, DeLong's interval, and
/// bootstrap intervals and bands when `options.intervals.replicates > 0`.
/// `progress` is called with (batches done, batches) during the bootstrap.
pub fn full(
    labels: &[u8],
    scores: &Floats,
    weights: Option<&Floats>,
    options: &BinaryOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> BinaryFull {
    let mut out = full_with_bootstrap(labels, scores, weights, options, progress);
    proportion_intervals(&mut out, weights.is_some(), &options.intervals);
    out
}

/// With `--method wilson` or `clopper-pearson`: intervals from counts on
/// accuracy, precision, recall and specificity from the confusion matrix at
/// the threshold.
pub fn proportion_intervals(out: &mut BinaryFull, weighted: bool, iv: &IntervalOptions) {
    let c = out.confusion;
    let notes = uncertainty::attach_proportions(
        &mut out.metrics,
        &[
            ("accuracy", c.tp + c.tn, c.tp + c.fp + c.fn_ + c.tn),
            ("precision", c.tp, c.tp + c.fp),
            ("recall", c.tp, c.tp + c.fn_),
            ("specificity", c.tn, c.tn + c.fp),
        ],
        weighted,
        iv,
    );
    out.interval_notes.extend(notes);
}

fn full_with_bootstrap(
    labels: &[u8],
    scores: &Floats,
    weights: Option<&Floats>,
    options: &BinaryOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> BinaryFull {
    // Point metrics, tables and DeLong's interval come from the state, as
    // for shards and state files: one formula per metric, and a file gives
    // bit for bit what its shards give.
    let state = BinaryState::from_columns(labels, scores, weights);
    let mut out = from_state(&state, options);
    let iv = &options.intervals;
    if iv.replicates == 0 && !options.keep_replicates && options.clusters.is_none() {
        return out;
    }
    // The ranking (rows in score order, ties by row index) is what the
    // bootstrap draws over.
    let ranking = Ranking::build(labels, scores, weights);
    let cluster_index = options.clusters.map(|c| c.index(|_| true));
    if let (Some(c), Some((of_row, count))) = (options.clusters, &cluster_index) {
        cluster_auc(&mut out, labels, &ranking, c, of_row, *count, iv);
    }
    let few_clusters = options.clusters.and_then(uncertainty::too_few_clusters);
    if let (Some(reason), true) = (few_clusters.clone(), iv.replicates > 0) {
        out.interval_notes.push(reason);
    } else if iv.replicates > 0 {
        let reps = bootstrap::replicates(
            &ranking,
            scores,
            &BootstrapOptions {
                replicates: iv.replicates,
                resample: iv.resample,
                seed: iv.seed,
                threshold: options.threshold,
                grid: band_grid(options.sweep),
                jackknife: iv.method == CiMethod::Bca,
                need: options.need,
                clusters: options.clusters.map(|c| c.keys()),
                strata: None,
            },
            progress,
        );
        // BCa's acceleration for ROC-AUC from DeLong's placements (summed
        // per cluster with clusters: a cluster's influence is its rows').
        let auc_acceleration = match (iv.method, out.metrics.value("roc_auc")) {
            (CiMethod::Bca, Some(auc)) if weights.is_none() => {
                let influence = bootstrap::auc_influence(&ranking, &out.curve, auc);
                Some(match &cluster_index {
                    None => intervals::acceleration(influence.into_iter()),
                    Some((of_row, count)) => {
                        let mut per_cluster = vec![0.0; *count];
                        for (u, &c) in influence.iter().zip(of_row) {
                            per_cluster[c as usize] += u;
                        }
                        intervals::acceleration(per_cluster.into_iter())
                    }
                })
            }
            _ => None,
        };
        attach_replicates(&mut out, &reps, auc_acceleration, iv);
        if let Some(c) = options.clusters {
            out.interval_notes.push(uncertainty::cluster_note(c));
        }
        if options.keep_replicates {
            out.replicates = Some(reps);
        }
    }
    if options.keep_replicates {
        out.ranking = Some(ranking);
    }
    out
}

/// With clusters: DeLong's interval withheld (its rows must be
/// independent) and Obuchowski's clustered interval in its place, on
/// ROC-AUC too when no bootstrap runs.
fn cluster_auc(
    out: &mut BinaryFull,
    labels: &[u8],
    ranking: &Ranking,
    clusters: &Clusters,
    of_row: &[u32],
    count: usize,
    iv: &IntervalOptions,
) {
    let dependent = format!(
        "rows are clustered by {}: DeLong's variance assumes independent rows; Obuchowski's clustered variance is used instead",
        clusters.describe()
    );
    let obuchowski = match (&out.delong, out.metrics.value("roc_auc")) {
        (Err(reason), _) => Err(reason.clone()),
        (Ok(_), None) => Err("ROC-AUC is undefined".to_string()),
        (Ok(_), Some(auc)) => {
            let v = delong::placements(&out.curve, labels, &ranking.group_of_row());
            delong::obuchowski(labels, &v, auc, of_row, count).map(|d| interval(d, iv.level))
        }
    };
    out.delong = Err(dependent);
    if iv.replicates == 0
        && let Some(auc) = out.metrics.get("roc_auc").cloned()
    {
        let metric = match &obuchowski {
            Ok(d) => Metric {
                ci: Some(d.ci),
                method: "obuchowski".to_string(),
                ..auc
            },
            Err(reason) => Metric {
                ci: None,
                method: "none".to_string(),
                reason: Some(format!("no interval: {reason}")),
                ..auc
            },
        };
        out.metrics.insert("roc_auc", metric);
    }
    out.obuchowski = Some(obuchowski);
}

/// An interval `auc ± z·√variance` at `level`, clipped to [0, 1].
fn interval(d: delong::DeLong, level: f64) -> DeLongInterval {
    let z = normal_quantile(0.5 + level / 2.0);
    let se = d.variance.sqrt();
    DeLongInterval {
        auc: d.auc,
        std_error: se,
        ci: [(d.auc - z * se).max(0.0), (d.auc + z * se).min(1.0)],
        level,
    }
}

/// Puts the replicates' intervals on the metrics (by name; ROC-AUC's BCa
/// with `auc_acceleration`) and their bands on the result, with the notes
/// about them: for replicates over the rows and over a state alike.
pub fn attach_replicates(
    out: &mut BinaryFull,
    reps: &bootstrap::Replicates,
    auc_acceleration: Option<f64>,
    iv: &IntervalOptions,
) {
    out.interval_notes = uncertainty::replicate_notes(iv);
    out.interval_notes.extend(uncertainty::attach(
        &mut out.metrics,
        reps,
        &|name| {
            if name == "roc_auc" {
                auc_acceleration
            } else {
                None
            }
        },
        iv,
    ));
    let axis = |n: usize| {
        (0..n)
            .map(|i| i as f64 / (n - 1) as f64)
            .collect::<Vec<f64>>()
    };
    let (tpr_lo, tpr_hi) = uncertainty::band(&reps.tpr, iv.level);
    let (precision_lo, precision_hi) = uncertainty::band(&reps.precision, iv.level);
    let (f1_lo, f1_hi) = uncertainty::band(&reps.f1, iv.level);
    out.bands = Some(Bands {
        fpr: axis(bootstrap::BAND_POINTS),
        tpr_lo,
        tpr_hi,
        recall: axis(bootstrap::BAND_POINTS),
        precision_lo,
        precision_hi,
        threshold: reps.grid.clone(),
        f1_lo,
        f1_hi,
    });
}

/// The F1 band's grid for a sweep option: the sweep's grid up to 10,000
/// points, else 1,000.
pub fn band_grid(sweep: Thresholds) -> usize {
    match sweep {
        Thresholds::Grid(n) if n <= 10_000 => n,
        _ => 1000,
    }
}

/// The binary full tier without the bootstrap, from a state: point
/// metrics, confusion matrix, reliability bins, the sweep, the ranking
/// table and DeLong's interval (on ROC-AUC when no bootstrap is asked for).
pub fn from_state(state: &BinaryState, options: &BinaryOptions) -> BinaryFull {
    let curve = state.curve();
    let sweep = match options.sweep {
        Thresholds::Grid(n) => curve.sweep_grid(n),
        Thresholds::Distinct => curve.sweep_distinct(),
    };
    let ranked = curve.ranked(options.threshold);
    let delong = delong::delong_given_area(&curve, || ranked.area2);
    let mut out = from_parts(&ranked, &state.sums(), delong, sweep, options);
    out.distinct_scores = curve.len();
    out.curve = curve;
    out
}

/// The point metrics, tables and DeLong's interval from what they take of
/// the ranking table (`ranked`, the `sweep`, DeLong's estimate) and the
/// row sums: [`from_state`]'s finish, and the score ranges' (`state::ranges`),
/// which leave `curve` empty.
pub(crate) fn from_parts(
    ranked: &Ranked,
    sums: &RowSums,
    delong: Result<delong::DeLong, String>,
    sweep: Sweep,
    options: &BinaryOptions,
) -> BinaryFull {
    let mut m = point_metrics_of(ranked, sums, options.threshold);
    let iv = &options.intervals;
    let delong = delong.map(|d| interval(d, iv.level));
    if let (0, Ok(d), Some(auc)) = (iv.replicates, &delong, m.get("roc_auc").cloned()) {
        m.insert(
            "roc_auc",
            Metric {
                ci: Some(d.ci),
                method: "delong".to_string(),
                ..auc
            },
        );
    }
    BinaryFull {
        metrics: m,
        positives: ranked.positives,
        negatives: ranked.negatives,
        confusion: ranked.confusion,
        reliability: sums.bins.bins(),
        sweep,
        curve: BinaryCurve {
            thresholds: Vec::new(),
            tps: Vec::new(),
            fps: Vec::new(),
            weighted: false,
        },
        distinct_scores: 0,
        delong,
        obuchowski: None,
        bands: None,
        interval_notes: Vec::new(),
        replicates: None,
        ranking: None,
    }
}
