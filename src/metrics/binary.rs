//! Binary classification: the full tier's point metrics.
//!
//! | name | definition |
//! |---|---|
//! | `roc_auc` | area under the ROC curve, ties as trapezoids ([`BinaryCurve::roc_auc`]) |
//! | `average_precision` | `Σ (Rₙ − Rₙ₋₁) Pₙ` over distinct scores |
//! | `log_loss` | weighted mean of `−[y ln p + (1−y) ln(1−p)]`, `p` clipped to `[1e-15, 1−1e-15]` |
//! | `brier` | weighted mean of `(y − p)²` |
//! | `accuracy`, `precision`, `recall`, `f1`, `mcc` | at `--threshold` (positive iff `p >= t`) |
//! | `best_f1`, `best_f1_threshold` | the highest F1 over every distinct score, and the highest score attaining it |
//! | `ece` | expected calibration error over 15 equal-width bins ([`super::calibration`]) |
//!
//! All of it costs one sort ([`BinaryCurve::build`]) and one parallel pass over
//! the rows for the loss terms and the reliability bins.

use rayon::prelude::*;

use super::calibration::{Bin, BinSums};
use super::curves::{BinaryCurve, Counts, Sweep};
use super::{LOG_LOSS_EPS, Metric, MetricSet};
use crate::data::{Float, Floats};

/// Rows per chunk of the parallel pass; partial sums are merged in chunk
/// order, so the result does not depend on the thread count.
const CHUNK: usize = 1 << 16;

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
pub struct BinaryOptions {
    /// Decision threshold for the thresholded metrics and the confusion
    /// matrix (positive iff `score >= threshold`).
    pub threshold: f64,
    /// Where the sweep is evaluated.
    pub sweep: Thresholds,
}

impl Default for BinaryOptions {
    fn default() -> Self {
        BinaryOptions {
            threshold: 0.5,
            sweep: Thresholds::Grid(1000),
        }
    }
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
    /// The ranking table (ROC/PR curves, sweep at every distinct score).
    pub curve: BinaryCurve,
}

/// Sums of the per-row pass.
#[derive(Debug, Clone, Copy, Default)]
struct RowSums {
    weight: f64,
    log_loss: f64,
    brier: f64,
    bins: BinSums,
}

/// Weighted sums of log loss, squared error and the reliability bins.
fn row_pass(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> RowSums {
    fn chunk_sums<F: Float>(y: &[u8], p: &[F], w: Option<&Floats>, offset: usize) -> RowSums {
        let mut s = RowSums::default();
        for (i, (&y, &p)) in y.iter().zip(p).enumerate() {
            let p = p.to_f64();
            let w = w.map_or(1.0, |w| w.get(offset + i));
            let loss = binary_log_loss(y, p);
            s.weight += w;
            s.log_loss += w * loss;
            let e = y as f64 - p;
            s.brier += w * e * e;
            s.bins.add(p, y == 1, w);
        }
        s
    }
    let parts: Vec<RowSums> = crate::with_floats!(scores, s => {
        labels
            .par_chunks(CHUNK)
            .zip(s.par_chunks(CHUNK))
            .enumerate()
            .map(|(c, (y, p))| chunk_sums(y, p, weights, c * CHUNK))
            .collect()
    });
    let mut total = RowSums::default();
    for p in &parts {
        total.weight += p.weight;
        total.log_loss += p.log_loss;
        total.brier += p.brier;
        total.bins.merge(&p.bins);
    }
    total
}

/// Log loss of one row: `p` is clipped to `[1e-15, 1 − 1e-15]` first, then
/// `−ln p` for a positive, `−ln(1 − p)` for a negative.
#[inline]
pub fn binary_log_loss(y: u8, p: f64) -> f64 {
    let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
    if y == 1 { -p.ln() } else { -(1.0 - p).ln() }
}

/// Computes the binary full tier's point metrics.
pub fn full(
    labels: &[u8],
    scores: &Floats,
    weights: Option<&Floats>,
    options: &BinaryOptions,
) -> BinaryFull {
    let curve = BinaryCurve::build(labels, scores, weights);
    let sums = row_pass(labels, scores, weights);
    let confusion = curve.counts_at(options.threshold);
    let no_pred = || {
        format!(
            "nothing is predicted positive at threshold {}",
            options.threshold
        )
    };

    let mut m = MetricSet::new();
    m.insert("roc_auc", Metric::from_result(curve.roc_auc()));
    m.insert(
        "average_precision",
        Metric::from_result(curve.average_precision()),
    );
    m.insert("log_loss", Metric::point(sums.log_loss / sums.weight));
    m.insert("brier", Metric::point(sums.brier / sums.weight));
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
        "f1",
        Metric::from_option(confusion.f1(), || {
            format!(
                "no positive labels and nothing predicted positive at threshold {}",
                options.threshold
            )
        }),
    );
    m.insert("mcc", Metric::point(confusion.mcc()));
    match curve.best_f1() {
        Ok((f1, t)) => {
            m.insert("best_f1", Metric::point(f1));
            m.insert("best_f1_threshold", Metric::point(t));
        }
        Err(reason) => {
            m.insert("best_f1", Metric::undefined(reason.clone()));
            m.insert("best_f1_threshold", Metric::undefined(reason));
        }
    }
    m.insert("ece", Metric::point(sums.bins.ece()));

    BinaryFull {
        metrics: m,
        positives: curve.positives(),
        negatives: curve.negatives(),
        confusion,
        reliability: sums.bins.bins(),
        sweep: match options.sweep {
            Thresholds::Grid(n) => curve.sweep_grid(n),
            Thresholds::Distinct => curve.sweep_distinct(),
        },
        curve,
    }
}
