//! The regression report's row-level views, reduced to sizes that do not
//! grow with the rows: predicted against actual and residual against
//! predicted as binned densities (2-D histograms), and calibration by
//! decile of the prediction.

use serde::Serialize;

use crate::data::Floats;
use crate::uncertainty::intervals::normal_quantile;

/// Cells per axis of a binned density.
pub const DENSITY_BINS: usize = 40;

/// Rows binned on a grid: a scatter plot whose size does not depend on the
/// row count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Density {
    /// Horizontal axis: [lo, hi].
    pub x: [f64; 2],
    /// Vertical axis: [lo, hi].
    pub y: [f64; 2],
    /// `counts[i][j]`: rows (or weight) in horizontal cell `i`, vertical
    /// cell `j` (cells are equal divisions of the ranges).
    pub counts: Vec<Vec<f64>>,
    /// Rows (or weight) outside the ranges, not drawn.
    pub outside: f64,
}

/// One decile of the prediction: the rows whose predictions rank in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decile {
    /// Rows in the decile.
    pub rows: usize,
    /// Weighted mean prediction.
    pub mean_predicted: f64,
    /// Weighted mean label.
    pub mean_actual: f64,
    /// Normal interval of the mean label at the report's level (`None`
    /// under two rows).
    pub ci: Option<[f64; 2]>,
}

/// A range covering 1%–99% of the values (nearest rank; so one outlier
/// does not flatten the rest), widened when it is a single point; `None`
/// when there are no values.
fn range(values: &[f64]) -> Option<[f64; 2]> {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| {
        s.get((q * s.len().saturating_sub(1) as f64).round() as usize)
            .copied()
    };
    let (lo, hi) = (at(0.01)?, at(0.99)?);
    Some(if hi > lo {
        [lo, hi]
    } else {
        [lo - 1.0, lo + 1.0]
    })
}

/// The absolute error `|label − prediction|` at the weighted percentiles
/// 0, 1, …, 100 (the smallest error whose cumulative weight reaches each
/// share); empty without weight.
pub fn abs_error_percentiles(
    labels: &Floats,
    scores: &Floats,
    w: &dyn Fn(usize) -> f64,
) -> Vec<f64> {
    let mut e: Vec<(f64, f64)> = (0..labels.len())
        .map(|r| ((labels.get(r) - scores.get(r)).abs(), w(r)))
        .filter(|&(_, w)| w > 0.0)
        .collect();
    let total: f64 = e.iter().map(|p| p.1).sum();
    if e.is_empty() || total <= 0.0 {
        return Vec::new();
    }
    e.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(101);
    let (mut i, mut cum) = (0, e[0].1);
    for k in 0..=100 {
        let target = total * k as f64 / 100.0;
        while cum < target && i + 1 < e.len() {
            i += 1;
            cum += e[i].1;
        }
        out.push(e[i].0);
    }
    out
}

/// Bins `(x, y, weight)` on `x` × `y`.
fn density(points: impl Iterator<Item = (f64, f64, f64)>, x: [f64; 2], y: [f64; 2]) -> Density {
    let n = DENSITY_BINS;
    let mut counts = vec![vec![0.0; n]; n];
    let mut outside = 0.0;
    let cell = |v: f64, [lo, hi]: [f64; 2]| {
        (v >= lo && v <= hi)
            .then(|| ((((v - lo) / (hi - lo)) * n as f64).floor() as usize).min(n - 1))
    };
    for (px, py, w) in points {
        match (cell(px, x), cell(py, y)) {
            (Some(i), Some(j)) => counts[i][j] += w,
            _ => outside += w,
        }
    }
    Density {
        x,
        y,
        counts,
        outside,
    }
}

/// Predicted (horizontal) against actual (vertical), both axes on one
/// range (1%–99% of labels and predictions together), so the identity
/// line is the diagonal.
pub fn actual_vs_predicted(
    labels: &Floats,
    scores: &Floats,
    w: &dyn Fn(usize) -> f64,
) -> Option<Density> {
    let (y, p) = (labels.to_f64_vec(), scores.to_f64_vec());
    let both: Vec<f64> = y.iter().chain(&p).copied().collect();
    let r = range(&both)?;
    Some(density((0..y.len()).map(|i| (p[i], y[i], w(i))), r, r))
}

/// Predicted (horizontal) against the residual `label − prediction`
/// (vertical), each on its own 1%–99% range.
pub fn residual_vs_predicted(
    labels: &Floats,
    scores: &Floats,
    w: &dyn Fn(usize) -> f64,
) -> Option<Density> {
    let (y, p) = (labels.to_f64_vec(), scores.to_f64_vec());
    let residual: Vec<f64> = y.iter().zip(&p).map(|(a, b)| a - b).collect();
    Some(density(
        (0..y.len()).map(|i| (p[i], residual[i], w(i))),
        range(&p)?,
        range(&residual)?,
    ))
}

/// Calibration by decile: the rows in prediction order (ties by row)
/// split into ten groups of (nearly) equal row count, each with its mean
/// prediction and mean label, and a normal interval of the mean label at
/// `level` (`mean ± z·sd/√n_eff`, `n_eff = (Σw)²/Σw²`). Empty groups (under
/// ten rows) are left out.
pub fn deciles(
    labels: &Floats,
    scores: &Floats,
    w: &dyn Fn(usize) -> f64,
    level: f64,
) -> Vec<Decile> {
    let (y, p) = (labels.to_f64_vec(), scores.to_f64_vec());
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let z = normal_quantile(0.5 + level / 2.0);
    (0..10)
        .filter_map(|d| {
            let rows = &order[d * n / 10..(d + 1) * n / 10];
            let (sw, sw2): (f64, f64) = rows
                .iter()
                .map(|&r| (w(r), w(r) * w(r)))
                .fold((0.0, 0.0), |(a, b), (x, x2)| (a + x, b + x2));
            if rows.is_empty() || sw <= 0.0 {
                return None;
            }
            let mean = |v: &[f64]| rows.iter().map(|&r| w(r) * v[r]).sum::<f64>() / sw;
            let (mean_predicted, mean_actual) = (mean(&p), mean(&y));
            let var = rows
                .iter()
                .map(|&r| w(r) * (y[r] - mean_actual).powi(2))
                .sum::<f64>()
                / sw;
            let n_eff = sw * sw / sw2;
            let ci = (rows.len() >= 2 && n_eff > 1.0).then(|| {
                // The sample variance (n_eff − 1 in the denominator).
                let se = (var * n_eff / (n_eff - 1.0) / n_eff).sqrt();
                [mean_actual - z * se, mean_actual + z * se]
            });
            Some(Decile {
                rows: rows.len(),
                mean_predicted,
                mean_actual,
                ci,
            })
        })
        .collect()
}

/// Most classes drawn on the one-vs-rest ROC chart.
pub const CLASS_CURVES: usize = 8;

/// One class's one-vs-rest ROC curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassCurve {
    /// The class's name.
    pub class: String,
    /// Its one-vs-rest ROC-AUC.
    pub auc: f64,
    /// The curve (FPR, TPR), at most [`super::MAX_POINTS`] / 4 points.
    pub curve: super::Curve,
}

/// The one-vs-rest ROC curves of the [`CLASS_CURVES`] classes with the
/// lowest one-vs-rest ROC-AUC (weakest first), from each class's column
/// against the rest; classes without rows on both sides are left out.
pub fn class_roc(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    preds: &crate::data::Predictions,
) -> Vec<ClassCurve> {
    let mut curves: Vec<ClassCurve> = (0..k)
        .filter_map(|c| {
            let y: Vec<u8> = labels.iter().map(|&l| (l as usize == c) as u8).collect();
            let col = crate::metrics::multiclass::column(scores, k, c);
            let curve =
                crate::metrics::curves::BinaryCurve::build(&y, &col, preds.weights.as_ref());
            let auc = curve.roc_auc().ok()?;
            let (x, y): (Vec<f64>, Vec<f64>) = curve.roc_points().into_iter().unzip();
            Some(ClassCurve {
                class: preds
                    .class_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string()),
                auc,
                curve: super::downsample(&x, &y, super::MAX_POINTS / 4),
            })
        })
        .collect();
    curves.sort_by(|a, b| a.auc.total_cmp(&b.auc));
    curves.truncate(CLASS_CURVES);
    curves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_split_the_rows_and_average_them() {
        // Predictions 0..100, labels twice the prediction.
        let p: Vec<f64> = (0..100).map(f64::from).collect();
        let y: Vec<f64> = p.iter().map(|v| 2.0 * v).collect();
        let d = deciles(&Floats::from(y), &Floats::from(p), &|_| 1.0, 0.95);
        assert_eq!(d.len(), 10);
        assert_eq!(d[0].rows, 10);
        assert_eq!(d[0].mean_predicted, 4.5);
        assert_eq!(d[0].mean_actual, 9.0);
        // Labels 0, 2, …, 18: sample sd √(Σ(y − 9)²/9) = √(330/9).
        let se = (330.0f64 / 9.0 / 10.0).sqrt();
        let [lo, hi] = d[0].ci.unwrap();
        assert!((hi - 9.0 - normal_quantile(0.975) * se).abs() < 1e-12);
        assert!((9.0 - lo - normal_quantile(0.975) * se).abs() < 1e-12);
    }

    #[test]
    fn abs_error_percentiles_are_the_weighted_order_statistics() {
        // Errors 1..=100, weight 1: percentile k is error max(k, 1).
        let y: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = vec![0.0; 100];
        let q = abs_error_percentiles(&Floats::from(y), &Floats::from(p), &|_| 1.0);
        assert_eq!(q.len(), 101);
        assert_eq!(q[0], 1.0);
        assert_eq!(q[50], 50.0);
        assert_eq!(q[100], 100.0);
        // Weight 0 rows do not count.
        let q = abs_error_percentiles(
            &Floats::from(vec![1.0, 100.0]),
            &Floats::from(vec![0.0, 0.0]),
            &|r| if r == 1 { 0.0 } else { 1.0 },
        );
        assert!(q.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn density_counts_every_row_once() {
        let p: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
        let y: Vec<f64> = p.iter().map(|v| v + 1.0).collect();
        let d = actual_vs_predicted(&Floats::from(y), &Floats::from(p), &|_| 1.0).unwrap();
        let inside: f64 = d.counts.iter().flatten().sum();
        assert_eq!(inside + d.outside, 1000.0);
        assert!(d.outside > 0.0 && d.outside < 60.0, "{}", d.outside);
        assert_eq!(d.x, d.y);
    }
}
