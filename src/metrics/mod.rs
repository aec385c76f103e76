//! Metrics, computed in exactly one place each.
//!
//! Each metric's final formula is a small function over its sufficient
//! numbers — [`curves::roc_auc`] (twice the ROC area, the class totals),
//! [`curves::average_precision`], [`curves::best_f1`], [`curves::Counts`]
//! (the thresholded metrics), [`binary::RowSums`] (log loss, Brier, ECE),
//! [`calibration::ece`], [`multiclass::RowSums`], [`multiclass::averages`]
//! (per-class counts), [`multiclass::ovr_averages`] and
//! [`regression::RegressionSums`] — called by the point metrics (from
//! exact state sums) and by the bootstrap's replicate lanes (from lane
//! sums) alike, with one convention for undefined values (the point path
//! makes them [`Metric::undefined`] with a reason, the lanes NaN).
//!
//! Conventions (docs/spec.md §3) follow scikit-learn unless stated: ROC and PR curves
//! have one operating point per distinct score, ties are one step, "positive"
//! means `score >= threshold`, log loss clips probabilities to
//! `[1e-15, 1 − 1e-15]` and is computed in `f64`. A metric that is undefined
//! for the data (ROC-AUC with one class present, precision with nothing
//! predicted positive, …) is a [`Metric`] with no value and a reason, never a
//! silent 0 and never a panic.

pub mod binary;
pub mod calibration;
pub mod curves;
pub mod multiclass;
pub mod ranking;
pub mod registry;
pub mod regression;
pub mod sort;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Probabilities are clipped to `[EPS, 1 − EPS]` before taking logarithms.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Negative log of a probability, clipped as docs/spec.md §3 says.
#[inline]
pub fn neg_log(p: f64) -> f64 {
    -p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln()
}

/// One metric: its value, its interval and how the interval was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metric {
    /// The point value; `None` when the metric is undefined for the data.
    pub value: Option<f64>,
    /// The confidence interval `[lo, hi]`, when one was computed.
    pub ci: Option<[f64; 2]>,
    /// How the interval was made (`"none"` when there is no interval).
    pub method: String,
    /// Standard error, where the tier estimates one (fast tier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_error: Option<f64>,
    /// Why the value is undefined; or, with a value and no interval, why
    /// there is none (a fast-tier value from every row is exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Metric {
    /// A defined point value with no interval. A value that is not finite
    /// (NaN, or an overflow to infinity) is never shown as a number: it
    /// becomes an undefined metric that says so.
    pub fn point(value: f64) -> Metric {
        if !value.is_finite() {
            return Metric::undefined(format!(
                "the computation gave {value}, not a finite number (the data's values may overflow f64)"
            ));
        }
        Metric {
            value: Some(value),
            ci: None,
            method: "none".to_string(),
            std_error: None,
            reason: None,
        }
    }

    /// An undefined metric, with the reason.
    pub fn undefined(reason: impl Into<String>) -> Metric {
        Metric {
            value: None,
            ci: None,
            method: "none".to_string(),
            std_error: None,
            reason: Some(reason.into()),
        }
    }

    /// From a computation that may be undefined.
    pub fn from_result(r: Result<f64, String>) -> Metric {
        match r {
            Ok(v) => Metric::point(v),
            Err(reason) => Metric::undefined(reason),
        }
    }

    /// From an optional value, with the reason to give when it is missing.
    pub fn from_option(v: Option<f64>, reason: impl FnOnce() -> String) -> Metric {
        match v {
            Some(v) => Metric::point(v),
            None => Metric::undefined(reason()),
        }
    }
}

/// Metrics by name, in a fixed order (serialised as a JSON object in that
/// order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSet(Vec<(String, Metric)>);

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet(Vec::new())
    }

    /// Adds (or replaces) a metric.
    pub fn insert(&mut self, name: &str, metric: Metric) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = metric,
            None => self.0.push((name.to_string(), metric)),
        }
    }

    /// The metric called `name`.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The metric called `name`, to change.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Metric> {
        self.0.iter_mut().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The value of the metric called `name`, when defined.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|m| m.value)
    }

    /// Names and metrics, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Metric)> {
        self.0.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// Number of metrics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the metrics whose name passes `keep`, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(n, _)| keep(n));
    }

    /// Drops every interval (the values stay).
    pub fn clear_intervals(&mut self) {
        for (_, m) in &mut self.0 {
            m.ci = None;
            m.method = "none".to_string();
        }
    }

    /// "name: reason" for every undefined metric.
    pub fn warnings(&self) -> Vec<String> {
        self.iter()
            .filter(|(_, m)| m.value.is_none())
            .filter_map(|(n, m)| m.reason.as_ref().map(|r| format!("{n} is undefined: {r}")))
            .collect()
    }
}

impl Serialize for MetricSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, metric) in &self.0 {
            map.serialize_entry(name, metric)?;
        }
        map.end()
    }
}
