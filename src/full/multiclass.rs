//! The multiclass full tier: the point metrics from the multiclass state
//! ([`crate::state::multiclass`], finished by
//! [`crate::metrics::multiclass::point_metrics`]), then bootstrap intervals
//! ([`crate::uncertainty::tasks`]).

use crate::clusters::Clusters;
use crate::data::Floats;
use crate::metrics::multiclass::MulticlassFull;
use crate::state::multiclass::MulticlassState;
use crate::uncertainty::bootstrap::Replicates;
use crate::uncertainty::{self, IntervalOptions, tasks};

/// Computes the multiclass full tier: the point metrics, then bootstrap
/// intervals unless `intervals.replicates` is 0 (over whole clusters with
/// `clusters`). `names` are the class names, for notes.
#[allow(clippy::too_many_arguments)]
pub fn full(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    names: &[String],
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> MulticlassFull {
    let mut result = point(labels, scores, k, weights, names);
    if intervals.replicates > 0 {
        if let Some(reason) = clusters.and_then(uncertainty::too_few_clusters) {
            result.notes.push(reason);
            return result;
        }
        let reps = replicates(labels, scores, k, weights, intervals, clusters, progress);
        let notes = uncertainty::attach(&mut result.metrics, &reps, &|_| None, intervals);
        result.notes.extend(uncertainty::replicate_notes(intervals));
        result.notes.extend(notes);
        result.notes.extend(clusters.map(uncertainty::cluster_note));
    }
    result
}

/// The bootstrap replicates of
/// [`multiclass_metric_names`](crate::metrics::multiclass::multiclass_metric_names)`(k)`.
pub fn replicates(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    tasks::multiclass_replicates(
        labels,
        scores,
        k,
        weights,
        &intervals.bootstrap_options_for(clusters),
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
