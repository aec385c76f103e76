//! DeLong's variance of ROC-AUC and the paired test of two AUCs, by Sun &
//! Xu's fast algorithm (IEEE Signal Processing Letters 21(11), 2014).
//!
//! DeLong (1988) writes the AUC as the mean of *placement values*: for a
//! positive row `i`, `V10ᵢ` is the share of negatives scoring below it (ties
//! count ½); for a negative row `j`, `V01ⱼ` the share of positives scoring
//! above it. Then `AUC = mean(V10) = mean(V01)` and
//!
//! `Var(AUC) = S10 / m + S01 / n`,
//!
//! with `S10`, `S01` the sample variances of the placements over the `m`
//! positives and `n` negatives. Sun & Xu compute the placements from
//! mid-ranks after one sort; the ranking table ([`BinaryCurve`]) already holds
//! them: for the tie group `g`, a positive's placement is
//! `(n − fp_g + ½·Δfp_g) / n` and a negative's `(tp_{g−1} + ½·Δtp_g) / m`.
//! So the variance is one pass over the distinct scores after the full
//! tier's one sort.
//!
//! The interval is `AUC ± z·√Var`, clipped to [0, 1] (as pROC does). DeLong's
//! estimator is for unweighted rows; with sample weights the interval is
//! undefined and the bootstrap's should be used.

use crate::metrics::curves::BinaryCurve;

/// DeLong's estimate for one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeLong {
    /// The AUC (equal to [`BinaryCurve::roc_auc`]).
    pub auc: f64,
    /// DeLong's variance of the AUC.
    pub variance: f64,
}

/// DeLong's variance from the ranking table. `Err` says why it is undefined
/// (one class, weights, or fewer than two rows of a class).
pub fn delong(curve: &BinaryCurve) -> Result<DeLong, String> {
    if curve.weighted {
        return Err("DeLong's variance is for unweighted rows; use the bootstrap interval".into());
    }
    let (m, n) = (curve.positives(), curve.negatives());
    if m < 2.0 || n < 2.0 {
        return Err(format!(
            "DeLong's variance needs at least two rows of each class ({m} positive, {n} negative)"
        ));
    }
    let auc = curve.roc_auc()?;
    let (mut s10, mut s01) = (0.0, 0.0);
    let (mut tp0, mut fp0) = (0.0, 0.0);
    for (&tp, &fp) in curve.tps.iter().zip(&curve.fps) {
        let (dtp, dfp) = (tp - tp0, fp - fp0);
        if dtp > 0.0 {
            let v10 = (n - fp + 0.5 * dfp) / n;
            s10 += dtp * (v10 - auc) * (v10 - auc);
        }
        if dfp > 0.0 {
            let v01 = (tp0 + 0.5 * dtp) / m;
            s01 += dfp * (v01 - auc) * (v01 - auc);
        }
        tp0 = tp;
        fp0 = fp;
    }
    let variance = s10 / ((m - 1.0) * m) + s01 / ((n - 1.0) * n);
    Ok(DeLong { auc, variance })
}

/// Per-row placement values (`V10` for positives, `V01` for negatives) in
/// the original row order, for the paired test. `order` lists the rows in
/// the curve's (descending score) order with their group boundaries.
pub fn placements(curve: &BinaryCurve, labels: &[u8], group_of_row: &[u32]) -> Vec<f64> {
    let (m, n) = (curve.positives(), curve.negatives());
    let mut v10 = Vec::with_capacity(curve.len());
    let mut v01 = Vec::with_capacity(curve.len());
    let (mut tp0, mut fp0) = (0.0, 0.0);
    for (&tp, &fp) in curve.tps.iter().zip(&curve.fps) {
        let (dtp, dfp) = (tp - tp0, fp - fp0);
        v10.push((n - fp + 0.5 * dfp) / n);
        v01.push((tp0 + 0.5 * dtp) / m);
        tp0 = tp;
        fp0 = fp;
    }
    labels
        .iter()
        .zip(group_of_row)
        .map(|(&y, &g)| {
            if y == 1 {
                v10[g as usize]
            } else {
                v01[g as usize]
            }
        })
        .collect()
}

/// DeLong's paired test of `AUC_a − AUC_b` on the same rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDeLong {
    /// `AUC_a − AUC_b`.
    pub difference: f64,
    /// Variance of the difference.
    pub variance: f64,
    /// `difference / √variance`.
    pub z: f64,
    /// Two-sided p-value of `z` under the standard normal.
    pub p_value: f64,
}

/// The paired test from both models' per-row placements (same rows, same
/// labels). `Err` says why it is undefined.
pub fn paired(
    labels: &[u8],
    va: &[f64],
    vb: &[f64],
    auc_a: f64,
    auc_b: f64,
) -> Result<PairedDeLong, String> {
    let m = labels.iter().filter(|&&y| y == 1).count() as f64;
    let n = labels.len() as f64 - m;
    if m < 2.0 || n < 2.0 {
        return Err("DeLong's test needs at least two rows of each class".into());
    }
    // Covariance matrices of (V_a, V_b) over positives and over negatives.
    let (mut p, mut q) = ([0.0f64; 3], [0.0f64; 3]);
    for ((&y, &a), &b) in labels.iter().zip(va).zip(vb) {
        let (da, db) = (a - auc_a, b - auc_b);
        let acc = if y == 1 { &mut p } else { &mut q };
        acc[0] += da * da;
        acc[1] += db * db;
        acc[2] += da * db;
    }
    let var_of = |s: [f64; 3], k: f64| (s[0] + s[1] - 2.0 * s[2]) / ((k - 1.0) * k);
    let variance = var_of(p, m) + var_of(q, n);
    let difference = auc_a - auc_b;
    if variance <= 0.0 {
        return Err(
            "the two models rank the rows identically: the difference has no variance".into(),
        );
    }
    let z = difference / variance.sqrt();
    let p_value = 2.0 * normal_sf(z.abs());
    Ok(PairedDeLong {
        difference,
        variance,
        z,
        p_value,
    })
}

/// Upper tail of the standard normal, `1 − Φ(x)`, accurate far into the tail.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(x / std::f64::consts::SQRT_2)
}
