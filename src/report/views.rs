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
            let (mean_actual, ci) = mean_interval(rows, &|r| y[r], w, z)?;
            let (mean_predicted, _) = mean_interval(rows, &|r| p[r], w, z)?;
            Some(Decile {
                rows: rows.len(),
                mean_predicted,
                mean_actual,
                ci,
            })
        })
        .collect()
}

/// One decile of the actual value with a baseline: both models' mean
/// absolute errors on its rows and their paired difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecileDelta {
    /// Rows in the decile.
    pub rows: usize,
    /// The smallest and largest actual value in it.
    pub actual: [f64; 2],
    /// The candidate's weighted mean absolute error.
    pub candidate_mae: f64,
    /// The baseline's, on the same rows.
    pub baseline_mae: f64,
    /// `candidate_mae − baseline_mae`: the weighted mean of the rows'
    /// paired differences `|y − p_candidate| − |y − p_baseline|`.
    pub delta: f64,
    /// Normal interval of `delta` at the report's level (`None` under two
    /// rows).
    pub ci: Option<[f64; 2]>,
}

/// A weighted mean with its normal interval at `level`: `mean ±
/// z·sd/√n_eff`, the sample variance over `n_eff = (Σw)²/Σw²` (no interval
/// under two rows or `n_eff ≤ 1`); `None` without weight.
fn mean_interval(
    rows: &[usize],
    v: &dyn Fn(usize) -> f64,
    w: &dyn Fn(usize) -> f64,
    z: f64,
) -> Option<(f64, Option<[f64; 2]>)> {
    let (sw, sw2) = rows
        .iter()
        .fold((0.0, 0.0), |(a, b), &r| (a + w(r), b + w(r) * w(r)));
    if rows.is_empty() || sw <= 0.0 {
        return None;
    }
    let mean = rows.iter().map(|&r| w(r) * v(r)).sum::<f64>() / sw;
    let var = rows
        .iter()
        .map(|&r| w(r) * (v(r) - mean).powi(2))
        .sum::<f64>()
        / sw;
    let n_eff = sw * sw / sw2;
    let ci = (rows.len() >= 2 && n_eff > 1.0).then(|| {
        // The sample variance (n_eff − 1 in the denominator).
        let se = (var * n_eff / (n_eff - 1.0) / n_eff).sqrt();
        [mean - z * se, mean + z * se]
    });
    Some((mean, ci))
}

/// With a baseline: the rows split into tenths by the actual value (ties
/// by row; a grouping neither model chose, the same rows for both), each
/// with both models' mean absolute errors and the normal interval of their
/// paired difference at `level`. `baseline` holds the baseline's
/// predictions of the same rows. Groups without weight are left out.
pub fn decile_deltas(
    labels: &Floats,
    candidate: &Floats,
    baseline: &Floats,
    w: &dyn Fn(usize) -> f64,
    level: f64,
) -> Vec<DecileDelta> {
    let (y, p, b) = (
        labels.to_f64_vec(),
        candidate.to_f64_vec(),
        baseline.to_f64_vec(),
    );
    let n = y.len().min(b.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &c| y[a].total_cmp(&y[c]).then(a.cmp(&c)));
    let z = normal_quantile(0.5 + level / 2.0);
    let (ec, eb) = (
        |r: usize| (y[r] - p[r]).abs(),
        |r: usize| (y[r] - b[r]).abs(),
    );
    (0..10)
        .filter_map(|d| {
            let rows = &order[d * n / 10..(d + 1) * n / 10];
            let (delta, ci) = mean_interval(rows, &|r| ec(r) - eb(r), w, z)?;
            let (candidate_mae, _) = mean_interval(rows, &ec, w, z)?;
            let (baseline_mae, _) = mean_interval(rows, &eb, w, z)?;
            Some(DecileDelta {
                rows: rows.len(),
                actual: [y[rows[0]], y[rows[rows.len() - 1]]],
                candidate_mae,
                baseline_mae,
                delta,
                ci,
            })
        })
        .collect()
}

/// Most classes drawn on the one-vs-rest charts.
pub const CLASS_CURVES: usize = 8;

/// One class's one-vs-rest curves, with the per-class table's values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassCurve {
    /// The class's name.
    pub class: String,
    /// Its one-vs-rest ROC-AUC.
    pub auc: f64,
    /// Its percentile bootstrap interval.
    pub auc_ci: Option<[f64; 2]>,
    /// The ROC curve (FPR, TPR), at most [`super::MAX_POINTS`] / 4 points.
    pub roc: super::Curve,
    /// Its pointwise bootstrap band.
    pub roc_band: Option<super::Band>,
    /// Its one-vs-rest average precision.
    pub average_precision: Option<f64>,
    /// Its percentile bootstrap interval.
    pub average_precision_ci: Option<[f64; 2]>,
    /// The precision–recall curve (recall, precision) from (0, 1), at most
    /// [`super::MAX_POINTS`] / 4 points.
    pub pr: super::Curve,
    /// Its pointwise bootstrap band.
    pub pr_band: Option<super::Band>,
    /// The class's share of the rows (or weight): the chance level of
    /// precision.
    pub prevalence: f64,
}

/// The one-vs-rest ROC and precision–recall curves of the [`CLASS_CURVES`]
/// classes with the lowest one-vs-rest ROC-AUC (weakest first), each from
/// the class's column against the rest, with the AUC, average precision,
/// intervals and bands of `result` (the full tier's, which the per-class
/// table shows); classes without rows on both sides are left out.
pub fn class_curves(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    preds: &crate::data::Predictions,
    result: &crate::metrics::multiclass::MulticlassFull,
) -> Vec<ClassCurve> {
    let grid: Vec<f64> = (0..crate::uncertainty::bootstrap::BAND_POINTS)
        .map(|i| i as f64 / (crate::uncertainty::bootstrap::BAND_POINTS - 1) as f64)
        .collect();
    let mut weakest: Vec<(usize, f64)> = result
        .per_class
        .iter()
        .filter_map(|r| Some((r.class, r.roc_auc?)))
        .filter(|&(c, _)| c < k)
        .collect();
    weakest.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    weakest.truncate(CLASS_CURVES);
    weakest
        .into_iter()
        .filter_map(|(c, auc)| {
            let row = result.per_class.iter().find(|r| r.class == c)?;
            let y: Vec<u8> = labels.iter().map(|&l| (l as usize == c) as u8).collect();
            let col = crate::metrics::multiclass::column(scores, k, c);
            let curve =
                crate::metrics::curves::BinaryCurve::build(&y, &col, preds.weights.as_ref());
            let (p, n) = (curve.positives(), curve.negatives());
            let (fx, fy): (Vec<f64>, Vec<f64>) = curve.roc_points().into_iter().unzip();
            let (rx, ry): (Vec<f64>, Vec<f64>) =
                std::iter::once((0.0, 1.0)).chain(curve.pr_points()).unzip();
            let bands = result.class_bands.get(c).and_then(Option::as_ref);
            Some(ClassCurve {
                class: preds
                    .class_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string()),
                auc,
                auc_ci: row.roc_auc_ci,
                roc: super::downsample(&fx, &fy, super::MAX_POINTS / 4),
                roc_band: bands.and_then(|b| super::band(&grid, &b.tpr_lo, &b.tpr_hi)),
                average_precision: row.average_precision,
                average_precision_ci: row.average_precision_ci,
                pr: super::downsample(&rx, &ry, super::MAX_POINTS / 4),
                pr_band: bands.and_then(|b| super::band(&grid, &b.precision_lo, &b.precision_hi)),
                prevalence: p / (p + n),
            })
        })
        .collect()
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
    fn decile_deltas_weigh_rows_and_skip_weightless_deciles() {
        // 20 rows, actual 0..20: two rows per decile. The candidate is off
        // by 1 everywhere, the baseline by 3 on odd rows.
        let y: Vec<f64> = (0..20).map(f64::from).collect();
        let c: Vec<f64> = y.iter().map(|v| v + 1.0).collect();
        let b: Vec<f64> = y
            .iter()
            .map(|&v| {
                if v as usize % 2 == 1 {
                    v - 3.0
                } else {
                    v + 1.0
                }
            })
            .collect();
        // Weight 3 on odd rows; the last decile weighs nothing.
        let w = |r: usize| match r {
            18 | 19 => 0.0,
            r if r % 2 == 1 => 3.0,
            _ => 1.0,
        };
        let d = decile_deltas(
            &Floats::from(y),
            &Floats::from(c),
            &Floats::from(b),
            &w,
            0.95,
        );
        assert_eq!(d.len(), 9);
        // Each decile: differences 0 (weight 1) and −2 (weight 3).
        assert_eq!(d[0].actual, [0.0, 1.0]);
        assert_eq!(d[0].delta, -1.5);
        assert_eq!(d[0].candidate_mae, 1.0);
        assert_eq!(d[0].baseline_mae, 2.5);
        // n_eff = 16/10; weighted variance 0.75; sample variance × n_eff/(n_eff − 1).
        let se = (0.75f64 * 1.6 / 0.6 / 1.6).sqrt();
        let [lo, hi] = d[0].ci.unwrap();
        assert!((hi + 1.5 - normal_quantile(0.975) * se).abs() < 1e-12);
        assert!((-1.5 - lo - normal_quantile(0.975) * se).abs() < 1e-12);
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
