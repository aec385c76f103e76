//! The regression full tier: the point metrics from the regression state
//! ([`crate::state::regression`], finished by
//! [`crate::metrics::regression::RegressionSums`]), then bootstrap
//! intervals ([`crate::uncertainty::tasks`]).

use crate::clusters::Clusters;
use crate::data::Floats;
use crate::metrics::regression::RegressionFull;
use crate::state::regression::RegressionState;
use crate::uncertainty::bootstrap::Replicates;
use crate::uncertainty::{self, IntervalOptions, tasks};

/// Computes the regression full tier: the point metrics, then bootstrap
/// intervals unless `intervals.replicates` is 0 (over whole clusters with
/// `clusters`).
pub fn full(
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> RegressionFull {
    let mut result = point(labels, scores, weights);
    if intervals.replicates > 0 {
        if let Some(reason) = clusters.and_then(uncertainty::too_few_clusters) {
            result.notes.push(reason);
            return result;
        }
        let reps = replicates(labels, scores, weights, intervals, clusters, progress);
        result.notes = uncertainty::replicate_notes(intervals);
        result.notes.extend(uncertainty::attach(
            &mut result.metrics,
            &reps,
            &|_| None,
            intervals,
        ));
        result.notes.extend(clusters.map(uncertainty::cluster_note));
    }
    result
}

/// The bootstrap replicates of
/// [`REGRESSION_METRICS`](crate::metrics::regression::REGRESSION_METRICS).
pub fn replicates(
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    clusters: Option<&Clusters>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    tasks::regression_replicates(
        labels,
        scores,
        weights,
        &intervals.bootstrap_options_for(clusters),
        progress,
    )
}

/// The regression point metrics, without intervals: the rows fold into a
/// [`RegressionState`] (chunks in parallel, merged in any order: the state
/// is exact, so the result does not depend on it), which finishes.
pub fn point(labels: &Floats, scores: &Floats, weights: Option<&Floats>) -> RegressionFull {
    RegressionState::from_columns(labels, scores, weights).finish()
}
