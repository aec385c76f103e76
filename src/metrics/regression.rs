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
//! Residuals `y − ŷ` are summarised by their weighted mean and quantiles
//! (unweighted, rows with positive weight) for the report: exact while the
//! residuals take at most `state::regression::EXACT_LIMIT` distinct values,
//! else from a log-linear sketch within relative error
//! `state::regression::RELATIVE_ERROR` (see `state::regression`).
//!
//! Every value here comes from a regression state (`state::regression`:
//! exact sums, merged in any order to the same bits), so one pass over a
//! file and any sharding of it give the same result; the full tier around
//! it is `full::regression`.

use super::{Metric, MetricSet};

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

/// Quantile probabilities of the residual summary.
pub const RESIDUAL_PROBABILITIES: [f64; 9] = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];

/// Names of the regression metrics, in the module table's order.
pub const REGRESSION_METRICS: [&str; 5] = ["mse", "rmse", "mae", "r2", "max_error"];

/// R²'s reason when the labels counted are all equal (or none counts).
pub const CONSTANT_LABELS: &str = "the labels are constant, so R² has no variance to explain";

/// The numbers every regression metric is finished from: the point
/// metrics (from a regression state's exact sums) and the bootstrap
/// replicate lanes (`uncertainty::tasks`, lane sums in `f64`) both build
/// one and call [`RegressionSums::values`], so each formula and each
/// convention for undefined values exists once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionSums {
    /// Σw of the rows that count.
    pub weight: f64,
    /// Σw·r², `r = y − ŷ` (R²'s numerator, the residual sum of squares).
    pub squared: f64,
    /// Σw·|r|.
    pub absolute: f64,
    /// The largest `|r|` of a row that counts (0 when none does).
    pub max_abs: f64,
    /// R²'s denominator, the total sum of squares `Σw·(y − ȳ)²`; `None`
    /// when the labels counted are all equal (or none counts).
    pub total_sum_of_squares: Option<f64>,
}

impl RegressionSums {
    /// MSE, `Σw·r² / Σw`.
    pub fn mse(&self) -> f64 {
        self.squared / self.weight
    }

    /// Every metric of [`REGRESSION_METRICS`], in its order: `Err` with the
    /// reason where undefined (R² without label variance).
    pub fn values(&self) -> [(&'static str, Result<f64, &'static str>); 5] {
        let mse = self.mse();
        let r2 = match self.total_sum_of_squares {
            Some(ss_tot) if ss_tot > 0.0 => Ok(1.0 - self.squared / ss_tot),
            _ => Err(CONSTANT_LABELS),
        };
        let v = [
            Ok(mse),
            Ok(mse.sqrt()),
            Ok(self.absolute / self.weight),
            r2,
            Ok(self.max_abs),
        ];
        std::array::from_fn(|i| (REGRESSION_METRICS[i], v[i]))
    }

    /// [`RegressionSums::values`] as metrics (no intervals).
    pub fn metrics(&self) -> MetricSet {
        let mut m = MetricSet::new();
        for (name, v) in self.values() {
            m.insert(name, Metric::from_result(v.map_err(String::from)));
        }
        m
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
