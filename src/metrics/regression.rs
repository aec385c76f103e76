//! Regression: the full tier's point metrics.
//!
//! | name | definition |
//! |---|---|
//! | `mse` | weighted mean of `(y − ŷ)²` |
//! | `rmse` | `√mse` |
//! | `mae` | weighted mean of `|y − ŷ|` |
//! | `r2` | `1 − Σw(y − ŷ)² / Σw(y − ȳ_w)²`; undefined when the labels of the rows with positive weight are all equal (compared exactly, not through a rounded weighted mean; scikit-learn returns 0 or 1 there) |
//! | `max_error` | the largest `|y − ŷ|` over the rows with positive weight |
//!
//! Residuals `y − ŷ` are summarised by quantiles (unweighted, rows with
//! positive weight) for the report.

use rayon::prelude::*;

use super::{Metric, MetricSet};
use crate::data::Floats;
use crate::uncertainty::bootstrap::Replicates;
use crate::uncertainty::{self, IntervalOptions, tasks};

const CHUNK: usize = 1 << 16;

/// Quantiles of the residuals `y − ŷ`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Residuals {
    /// Weighted mean residual (the bias).
    pub mean: f64,
    /// Probabilities of the quantiles below.
    pub probabilities: Vec<f64>,
    /// Quantiles (linear interpolation, numpy's default).
    pub quantiles: Vec<f64>,
}

/// The regression full tier's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionFull {
    /// Metrics, in the order of the module table.
    pub metrics: MetricSet,
    /// Residual summary.
    pub residuals: Residuals,
    /// Notes from the intervals.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Sums {
    w: f64,
    wy: f64,
    wr: f64,
    sq: f64,
    abs: f64,
    max: f64,
    /// Smallest and largest label with positive weight.
    lo: f64,
    hi: f64,
}

impl Default for Sums {
    fn default() -> Sums {
        Sums {
            w: 0.0,
            wy: 0.0,
            wr: 0.0,
            sq: 0.0,
            abs: 0.0,
            max: 0.0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }
}

/// Quantile probabilities of the residual summary.
pub const RESIDUAL_PROBABILITIES: [f64; 9] = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];

/// Computes the regression full tier: the point metrics, then bootstrap
/// intervals unless `intervals.replicates` is 0.
pub fn full(
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> RegressionFull {
    let mut result = point(labels, scores, weights);
    if intervals.replicates > 0 {
        let reps = replicates(labels, scores, weights, intervals, progress);
        result.notes = uncertainty::replicate_notes(intervals);
        result.notes.extend(uncertainty::attach(
            &mut result.metrics,
            &reps,
            &|_| None,
            intervals,
        ));
    }
    result
}

/// The bootstrap replicates of [`tasks::REGRESSION_METRICS`].
pub fn replicates(
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    intervals: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    tasks::regression_replicates(
        labels,
        scores,
        weights,
        &intervals.bootstrap_options(),
        progress,
    )
}

/// The regression point metrics, without intervals.
pub fn point(labels: &Floats, scores: &Floats, weights: Option<&Floats>) -> RegressionFull {
    let n = labels.len();
    let w = |i: usize| weights.map_or(1.0, |w| w.get(i));
    let parts: Vec<Sums> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut s = Sums::default();
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                let (y, p, wi) = (labels.get(i), scores.get(i), w(i));
                let r = y - p;
                s.w += wi;
                s.wy += wi * y;
                s.wr += wi * r;
                s.sq += wi * r * r;
                s.abs += wi * r.abs();
                if wi > 0.0 {
                    s.max = s.max.max(r.abs());
                    s.lo = s.lo.min(y);
                    s.hi = s.hi.max(y);
                }
            }
            s
        })
        .collect();
    let mut t = Sums::default();
    for p in &parts {
        t.w += p.w;
        t.wy += p.wy;
        t.wr += p.wr;
        t.sq += p.sq;
        t.abs += p.abs;
        t.max = t.max.max(p.max);
        t.lo = t.lo.min(p.lo);
        t.hi = t.hi.max(p.hi);
    }
    let mean_y = t.wy / t.w;
    let ss_tot: f64 = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .map(|i| {
                    let d = labels.get(i) - mean_y;
                    w(i) * d * d
                })
                .sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();

    let mse = t.sq / t.w;
    let mut m = MetricSet::new();
    m.insert("mse", Metric::point(mse));
    m.insert("rmse", Metric::point(mse.sqrt()));
    m.insert("mae", Metric::point(t.abs / t.w));
    m.insert(
        "r2",
        // Two distinct labels with positive weight make ss_tot > 0 whatever
        // the rounding of the mean; equal labels are undefined, never the
        // rounding noise of ss_tot.
        if t.lo < t.hi && ss_tot > 0.0 {
            Metric::point(1.0 - t.sq / ss_tot)
        } else {
            Metric::undefined("the labels are constant, so R² has no variance to explain")
        },
    );
    m.insert("max_error", Metric::point(t.max));

    let mut residuals: Vec<f64> = (0..n)
        .filter(|&i| w(i) > 0.0)
        .map(|i| labels.get(i) - scores.get(i))
        .collect();
    residuals.par_sort_unstable_by(f64::total_cmp);
    let quantiles = RESIDUAL_PROBABILITIES
        .iter()
        .map(|&q| quantile_sorted(&residuals, q))
        .collect();
    RegressionFull {
        metrics: m,
        notes: Vec::new(),
        residuals: Residuals {
            mean: t.wr / t.w,
            probabilities: RESIDUAL_PROBABILITIES.to_vec(),
            quantiles,
        },
    }
}

/// Quantile `q` of sorted values, linear interpolation (numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}
