//! Binary classification: the full tier's point metrics.
//!
//! | name | definition |
//! |---|---|
//! | `roc_auc` | area under the ROC curve, ties as trapezoids ([`BinaryCurve::roc_auc`]) |
//! | `average_precision` | `Σ (Rₙ − Rₙ₋₁) Pₙ` over distinct scores |
//! | `log_loss` | weighted mean of `−[y ln p + (1−y) ln(1−p)]`, `p` clipped to `[1e-15, 1−1e-15]` |
//! | `brier` | weighted mean of `(y − p)²` |
//! | `accuracy`, `precision`, `recall`, `specificity`, `f1`, `mcc` | at `--threshold` (positive iff `p >= t`); `specificity` is `tn / (tn + fp)`, the recall of class 0 |
//! | `best_f1`, `best_f1_threshold` | the highest F1 over every distinct score, and the highest score attaining it; with no positive labels F1 is 0 at every score (as `f1` at any threshold that predicts a row positive), so `best_f1` is 0 and `best_f1_threshold` is undefined |
//! | `ece` | expected calibration error over 15 equal-width bins ([`super::calibration`]) |
//!
//! All of it comes from the binary state (`state::binary`): the exact
//! score histogram and the exact sums of the loss terms and the
//! reliability bins, built in parallel over chunks of rows and merged
//! exactly, so a file and any split of it into shards give the same bits.
//! The full tier around it (DeLong's interval, the bootstrap, the tables)
//! is `full::binary`.

use super::calibration::BinSums;
use super::curves::{BinaryCurve, PrecisionSum, Ranked, average_precision, best_f1, roc_auc};
use super::{LOG_LOSS_EPS, Metric, MetricSet};

/// Names of the binary metrics, in the module table's order: the point
/// metrics' and the bootstrap replicates'.
pub const METRICS: [&str; 13] = [
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "mcc",
    "best_f1",
    "best_f1_threshold",
    "ece",
];

/// The additive sums of the binary point metrics besides the ranking: total
/// weight, weighted log loss and squared error, and the reliability bins.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowSums {
    /// Σw (the row count without weights).
    pub weight: f64,
    /// Σw·log loss.
    pub log_loss: f64,
    /// Σw·(y − p)².
    pub brier: f64,
    /// The reliability bins.
    pub bins: BinSums,
}

impl RowSums {
    /// Log loss: `Σw·log loss / Σw`.
    pub fn mean_log_loss(&self) -> f64 {
        self.log_loss / self.weight
    }

    /// Brier score: `Σw·(y − p)² / Σw`.
    pub fn mean_brier(&self) -> f64 {
        self.brier / self.weight
    }

    /// Expected calibration error of the bins ([`super::calibration::ece`]).
    pub fn ece(&self) -> f64 {
        self.bins.ece()
    }
}

/// Log loss of one row: `p` is clipped to `[1e-15, 1 − 1e-15]` first, then
/// `−ln p` for a positive, `−ln(1 − p)` for a negative.
#[inline]
pub fn binary_log_loss(y: u8, p: f64) -> f64 {
    let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
    if y == 1 { -p.ln() } else { -(1.0 - p).ln() }
}

/// Every binary point metric from the ranking table and the row sums, in
/// the module table's order. The full tier and the mergeable state
/// (`state::binary`) both finish here; the bootstrap's replicate lanes call
/// the same per-metric formulas ([`super::curves::roc_auc`],
/// [`super::curves::average_precision`], [`super::curves::best_f1`],
/// [`super::curves::Counts`], [`RowSums`], [`super::calibration::ece`]) on
/// their own sums, so each formula exists once.
pub fn point_metrics(curve: &BinaryCurve, sums: &RowSums, threshold: f64) -> MetricSet {
    point_metrics_of(&curve.ranked(threshold), sums, threshold)
}

/// [`point_metrics`] from what they take of the ranking table: a whole
/// table's ([`BinaryCurve::ranked`]) or one assembled from score ranges
/// (`state::ranges`).
pub fn point_metrics_of(r: &Ranked, sums: &RowSums, threshold: f64) -> MetricSet {
    let confusion = r.confusion;
    let no_pred = || format!("nothing is predicted positive at threshold {threshold}");

    let mut m = MetricSet::new();
    m.insert(
        "roc_auc",
        Metric::from_result(roc_auc(r.area2, r.positives, r.negatives)),
    );
    m.insert(
        "average_precision",
        Metric::from_result(average_precision(
            PrecisionSum::RecallSteps(r.precision_sum),
            r.positives,
        )),
    );
    m.insert("log_loss", Metric::point(sums.mean_log_loss()));
    m.insert("brier", Metric::point(sums.mean_brier()));
    m.insert("accuracy", Metric::point(confusion.accuracy()));
    m.insert(
        "precision",
        Metric::from_option(confusion.precision(), no_pred),
    );
    m.insert(
        "recall",
        Metric::from_option(confusion.recall(), || "no positive labels".to_string()),
    );
    m.insert(
        "specificity",
        Metric::from_option(confusion.specificity(), || "no negative labels".to_string()),
    );
    m.insert(
        "f1",
        Metric::from_option(confusion.f1(), || {
            format!(
                "no positive labels and nothing predicted positive at threshold {}",
                threshold
            )
        }),
    );
    m.insert("mcc", Metric::point(confusion.mcc()));
    let best = if r.positives > 0.0 { r.best_f1 } else { None };
    match best_f1(best, r.positives, r.rows) {
        Ok((f1, t)) => {
            m.insert("best_f1", Metric::point(f1));
            m.insert("best_f1_threshold", Metric::point(t));
        }
        Err((f1, reason)) => {
            m.insert(
                "best_f1",
                f1.map_or_else(|| Metric::undefined(reason.clone()), Metric::point),
            );
            m.insert("best_f1_threshold", Metric::undefined(reason));
        }
    }
    m.insert("ece", Metric::point(sums.ece()));
    m
}
