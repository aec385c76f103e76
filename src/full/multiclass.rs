//! The multiclass full tier: the point metrics from the multiclass state
//! ([`crate::state::multiclass`], finished by
//! [`crate::metrics::multiclass::point_metrics`]), then bootstrap intervals
//! ([`crate::uncertainty::tasks`]).

use crate::clusters::Clusters;
use crate::data::Floats;
use crate::metrics::multiclass::{ClassBands, MulticlassFull};
use crate::state::multiclass::MulticlassState;
use crate::uncertainty::bootstrap::{BootstrapOptions, Need, Replicates};
use crate::uncertainty::{self, IntervalOptions, tasks};

/// Computes the multiclass full tier: the point metrics, then bootstrap
/// intervals unless `intervals.replicates` is 0 (over whole clusters with
/// `clusters`; the one-vs-rest passes only when `need` says so). `names`
/// are the class names, for notes.
#[allow(clippy::too_many_arguments)]
pub fn full(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    names: &[String],
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    need: Need,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> MulticlassFull {
    let mut result = with_bootstrap(
        labels, scores, k, weights, names, intervals, clusters, need, progress,
    );
    proportion_intervals(&mut result, weights.is_some(), intervals);
    result
}

#[allow(clippy::too_many_arguments)]
fn with_bootstrap(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    names: &[String],
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    need: Need,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> MulticlassFull {
    let mut result = point(labels, scores, k, weights, names);
    if intervals.replicates > 0 {
        if let Some(reason) = clusters.and_then(uncertainty::too_few_clusters) {
            result.notes.push(reason);
            return result;
        }
        let reps = replicates(
            labels, scores, k, weights, intervals, clusters, need, progress,
        );
        class_intervals(&mut result, &reps, intervals.level);
        let notes = uncertainty::attach(&mut result.metrics, &reps, &|_| None, intervals);
        result.notes.extend(uncertainty::replicate_notes(intervals));
        result.notes.extend(notes);
        result.notes.extend(clusters.map(uncertainty::cluster_note));
    }
    result
}

/// With `--method wilson` or `clopper-pearson`: intervals from counts on accuracy and top-k
/// accuracy (counts of rows: the value times the rows).
fn proportion_intervals(result: &mut MulticlassFull, weighted: bool, iv: &IntervalOptions) {
    let rows: f64 = result.confusion.iter().flatten().sum();
    let count = |name: &str| result.metrics.value(name).map(|v| (v * rows).round());
    let counts: Vec<(&str, f64, f64)> = ["accuracy", "top_3_accuracy", "top_5_accuracy"]
        .into_iter()
        .filter_map(|n| count(n).map(|k| (n, k, rows)))
        .collect();
    let notes = uncertainty::attach_proportions(&mut result.metrics, &counts, weighted, iv);
    result.notes.extend(notes);
}

/// Each class's percentile intervals from its replicates: F1 (from the
/// row pass), one-vs-rest ROC-AUC and average precision (from the class's
/// sorted pass), and the pointwise bands of its one-vs-rest ROC and
/// precision–recall curves (as the binary bands). Undefined point values
/// get no interval.
pub fn class_intervals(result: &mut MulticlassFull, reps: &Replicates, level: f64) {
    for (row, values) in result.per_class.iter_mut().zip(&reps.per_class_f1) {
        row.f1_ci = row
            .f1
            .and_then(|_| uncertainty::percentile_interval(values, level));
    }
    let interval = |point: Option<f64>, rep: &Replicates, name: &str| {
        point.and_then(|_| uncertainty::percentile_interval(rep.of(name)?.0, level))
    };
    for (row, rep) in result.per_class.iter_mut().zip(&reps.one_vs_rest) {
        row.roc_auc_ci = interval(row.roc_auc, rep, "roc_auc");
        row.average_precision_ci = interval(row.average_precision, rep, "average_precision");
    }
    result.class_bands = reps
        .one_vs_rest
        .iter()
        .zip(&result.per_class)
        .map(|(rep, row)| {
            (row.roc_auc.is_some() || row.average_precision.is_some()).then(|| {
                let (tpr_lo, tpr_hi) = uncertainty::band(&rep.tpr, level);
                let (precision_lo, precision_hi) = uncertainty::band(&rep.precision, level);
                ClassBands {
                    tpr_lo,
                    tpr_hi,
                    precision_lo,
                    precision_hi,
                }
            })
        })
        .collect();
}

/// The bootstrap replicates of
/// [`multiclass_metric_names`](crate::metrics::multiclass::multiclass_metric_names)`(k)`
/// (the one-vs-rest averages NaN unless `need.one_vs_rest`).
#[allow(clippy::too_many_arguments)]
pub fn replicates(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    need: Need,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    tasks::multiclass_replicates(
        labels,
        scores,
        k,
        weights,
        &BootstrapOptions {
            need,
            ..intervals.bootstrap_options_for(clusters)
        },
        progress,
    )
}

/// The multiclass point metrics, without intervals: the rows fold into a
/// [`MulticlassState`] (in parallel chunks, merged exactly), which finishes
/// through [`crate::metrics::multiclass::point_metrics`].
pub fn point(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    names: &[String],
) -> MulticlassFull {
    MulticlassState::from_rows(k, labels, scores, weights).finish(names)
}
