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

use crate::metrics::curves::{BinaryCurve, Start, finite};
use crate::state::exact::{ExactSum, TermSum};

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
    delong_given_area(curve, || curve.roc_area2())
}

/// [`delong`] when twice the ROC area is known already (`area2`, called
/// only when the variance is defined): the full tier has it from its one
/// pass over the table ([`BinaryCurve::ranked`]), so the AUC is not summed
/// again.
pub fn delong_given_area(
    curve: &BinaryCurve,
    area2: impl FnOnce() -> f64,
) -> Result<DeLong, String> {
    let (auc, [s10, s01]) = placement_sums(curve, area2)?;
    let (m, n) = (curve.positives(), curve.negatives());
    Ok(DeLong {
        auc,
        variance: variance(s10, s01, m, n),
    })
}

/// DeLong's structural components: the AUC and the sample variances of the
/// placements over the positives (`s10`) and the negatives (`s01`), so
/// that `Var(AUC) = s10/m + s01/n`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Structural {
    /// The AUC.
    pub auc: f64,
    /// Sample variance of the positives' placements.
    pub s10: f64,
    /// Sample variance of the negatives' placements.
    pub s01: f64,
}

/// [`Structural`] from the ranking table. `Err` says why it is undefined.
pub fn structural(curve: &BinaryCurve) -> Result<Structural, String> {
    let (auc, [s10, s01]) = placement_sums(curve, || curve.roc_area2())?;
    let (m, n) = (curve.positives(), curve.negatives());
    Ok(Structural {
        auc,
        s10: s10 / (m - 1.0),
        s01: s01 / (n - 1.0),
    })
}

/// The AUC and the sums of squared deviations of the positives' and the
/// negatives' placements from it.
fn placement_sums(
    curve: &BinaryCurve,
    area2: impl FnOnce() -> f64,
) -> Result<(f64, [f64; 2]), String> {
    let (m, n) = (curve.positives(), curve.negatives());
    defined(curve.weighted, m, n)?;
    let auc = crate::metrics::curves::roc_auc(area2(), m, n)?;
    let [s10, s01] =
        placement_parts(curve, Start::TOP, m, n, auc).ok_or("DeLong's placement sums overflow")?;
    Ok((auc, [s10.value(), s01.value()]))
}

/// Whether DeLong's variance is defined for a table of `m` positives and
/// `n` negatives (`Err` says why not).
pub fn defined(weighted: bool, m: f64, n: f64) -> Result<(), String> {
    if weighted {
        return Err("DeLong's variance is for unweighted rows; use the bootstrap interval".into());
    }
    if m < 2.0 || n < 2.0 {
        return Err(format!(
            "DeLong's variance needs at least two rows of each class ({m} positive, {n} negative)"
        ));
    }
    Ok(())
}

/// The squared deviations of the placements from `auc`, summed exactly
/// over the points of `curve` (which follow `start`, in a table of `m`
/// positives and `n` negatives): the positives' and the negatives'. Parts
/// of consecutive runs of a table add up to the whole table's sums. `None`
/// when a term is not finite.
pub fn placement_parts(
    curve: &BinaryCurve,
    start: Start,
    m: f64,
    n: f64,
    auc: f64,
) -> Option<[ExactSum; 2]> {
    let (mut s10, mut s01) = (TermSum::new(), TermSum::new());
    let (mut tp0, mut fp0) = (start.tp, start.fp);
    for (&tp, &fp) in curve.tps.iter().zip(&curve.fps) {
        let (dtp, dfp) = (tp - tp0, fp - fp0);
        if dtp > 0.0 {
            let v10 = (n - fp + 0.5 * dfp) / n;
            s10.add(finite(dtp * (v10 - auc) * (v10 - auc))?);
        }
        if dfp > 0.0 {
            let v01 = (tp0 + 0.5 * dtp) / m;
            s01.add(finite(dfp * (v01 - auc) * (v01 - auc))?);
        }
        tp0 = tp;
        fp0 = fp;
    }
    Some([s10.exact(), s01.exact()])
}

/// DeLong's variance from the placement sums of [`placement_parts`].
pub fn variance(s10: f64, s01: f64, m: f64, n: f64) -> f64 {
    s10 / ((m - 1.0) * m) + s01 / ((n - 1.0) * n)
}

/// Per-row placement values (`V10` for positives, `V01` for negatives) in
/// the original row order, for the paired test. `order` lists the rows in
/// the curve's (descending score) order with their group boundaries.
pub fn placements(curve: &BinaryCurve, labels: &[u8], group_of_row: &[u32]) -> Vec<f64> {
    let (v10, v01) = placement_tables(curve);
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

/// Each score group's placement values: `V10` (a positive's) and `V01` (a
/// negative's), in the curve's (descending score) order.
pub fn placement_tables(curve: &BinaryCurve) -> (Vec<f64>, Vec<f64>) {
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
    (v10, v01)
}

/// DeLong's paired test of `AUC_a − AUC_b` on the same rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDeLong {
    /// Model a's AUC.
    pub auc_a: f64,
    /// Model b's AUC.
    pub auc_b: f64,
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
    let rows = labels
        .iter()
        .zip(va)
        .zip(vb)
        .map(|((&y, &a), &b)| (y == 1, a, b, 1));
    paired_counts(rows, auc_a, auc_b)
}

/// DeLong's paired test from `(positive, V_a, V_b, count)`: `count` rows of
/// that class with those placements — a row each on one machine, a pair
/// of the joint histogram of a paired state (`state::paired`). The
/// covariance sums are exact sums of the rounded terms (a term of `count`
/// rows is `count` times the row's term, added exactly), so rows and any
/// grouping of them give the same bits.
pub fn paired_counts(
    rows: impl Iterator<Item = (bool, f64, f64, u64)>,
    auc_a: f64,
    auc_b: f64,
) -> Result<PairedDeLong, String> {
    // Covariances of (V_a, V_b) over positives (`p`) and negatives (`q`).
    let mut sums: [[TermSum; 3]; 2] = Default::default();
    let mut counts = [0u64; 2];
    for (positive, a, b, count) in rows {
        let class = usize::from(!positive);
        // Saturating: a handmade state's counts cannot wrap.
        counts[class] = counts[class].saturating_add(count);
        let (da, db) = (a - auc_a, b - auc_b);
        for (sum, term) in sums[class].iter_mut().zip([da * da, db * db, da * db]) {
            add_times(sum, term, count);
        }
    }
    let (m, n) = (counts[0] as f64, counts[1] as f64);
    if m < 2.0 || n < 2.0 {
        return Err("DeLong's test needs at least two rows of each class".into());
    }
    let value = |s: &TermSum| s.exact().value();
    let var_of = |s: &[TermSum; 3], k: f64| {
        (value(&s[0]) + value(&s[1]) - 2.0 * value(&s[2])) / ((k - 1.0) * k)
    };
    let variance = var_of(&sums[0], m) + var_of(&sums[1], n);
    let difference = auc_a - auc_b;
    if variance.is_nan() || variance <= 0.0 {
        return Err(
            "the two models rank the rows identically: the difference has no variance".into(),
        );
    }
    let z = difference / variance.sqrt();
    let p_value = 2.0 * normal_sf(z.abs());
    Ok(PairedDeLong {
        auc_a,
        auc_b,
        difference,
        variance,
        z,
        p_value,
    })
}

/// Adds `count · term` to `sum` exactly: the product's rounded value and
/// its rounding error (one fused multiply-add), both doubles. Exact while
/// the error is not below the smallest subnormal (terms here are squares
/// and products of placement deviations, far above it or exactly 0).
#[inline]
fn add_times(sum: &mut TermSum, term: f64, count: u64) {
    if count == 1 {
        sum.add(term);
        return;
    }
    // Counts past 2⁵³ (frequency weights) in parts a double holds.
    const PART: u64 = 1 << 53;
    let mut count = count;
    while count > PART {
        add_times(sum, term, PART);
        count -= PART;
    }
    let c = count as f64;
    let hi = c * term;
    sum.add(hi);
    sum.add(c.mul_add(term, -hi));
}

/// Obuchowski's (1997) clustered variance of ROC-AUC, and the paired test
/// built on it: DeLong's placements summed per cluster.
///
/// For cluster `i` with `mᵢ` positives and `nᵢ` negatives, let `Xᵢ` be the
/// sum of its positives' placements `V10` and `Yᵢ` the sum of its
/// negatives' `V01` (the same placements as DeLong's, over all rows). With
/// `M`, `N` the positives and negatives, `I` the clusters, `I₁₀` (`I₀₁`)
/// those with a positive (negative) row and `θ` the AUC:
///
/// - `S10 = I₁₀ / ((I₁₀ − 1)·M) · Σᵢ (Xᵢ − mᵢθ)²`
/// - `S01 = I₀₁ / ((I₀₁ − 1)·N) · Σᵢ (Yᵢ − nᵢθ)²`
/// - `S11 = I / (I − 1) · Σᵢ (Xᵢ − mᵢθ)(Yᵢ − nᵢθ)`
/// - `Var(θ) = S10/M + S01/N + 2·S11/(M·N)`
///
/// For two models on the same rows the covariance takes the cross products
/// (`S11` both ways), and `Var(θa − θb) = Var a + Var b − 2 Cov(a, b)`.
/// (Obuchowski, "Nonparametric analysis of clustered ROC curve data",
/// Biometrics 53(2):567–578, 1997.)
///
/// `of_row[row]` is the row's cluster in `0..clusters`; `v` holds each
/// row's placement ([`placements`]). `Err` says why it is undefined.
pub fn obuchowski(
    labels: &[u8],
    v: &[f64],
    auc: f64,
    of_row: &[u32],
    clusters: usize,
) -> Result<DeLong, String> {
    let sums = ClusterSums::new(labels, &[v], of_row, clusters)?;
    let variance = sums.covariance([0, 0], [auc, auc]);
    // Its three terms are weighted by different cluster counts, so in odd
    // designs the sum can fall to 0 or below: no interval then, not a NaN.
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(format!(
            "Obuchowski's clustered variance is {variance} for these clusters, not a positive number"
        ));
    }
    Ok(DeLong { auc, variance })
}

/// The paired test of `AUC_a − AUC_b` for clustered rows (see
/// [`obuchowski`]).
pub fn obuchowski_paired(
    labels: &[u8],
    va: &[f64],
    vb: &[f64],
    auc_a: f64,
    auc_b: f64,
    of_row: &[u32],
    clusters: usize,
) -> Result<PairedDeLong, String> {
    let sums = ClusterSums::new(labels, &[va, vb], of_row, clusters)?;
    let variance = sums.covariance([0, 0], [auc_a, auc_a])
        + sums.covariance([1, 1], [auc_b, auc_b])
        - 2.0 * sums.covariance([0, 1], [auc_a, auc_b]);
    let difference = auc_a - auc_b;
    if !(variance > 0.0 && variance.is_finite()) {
        return Err(
            "the two models rank the rows identically: the difference has no variance".into(),
        );
    }
    let z = difference / variance.sqrt();
    Ok(PairedDeLong {
        auc_a,
        auc_b,
        difference,
        variance,
        z,
        p_value: 2.0 * normal_sf(z.abs()),
    })
}

/// Per-cluster placement sums of one or two models.
struct ClusterSums {
    /// `x[model][i]`, `y[model][i]`: the positives' and negatives' sums.
    x: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    /// Positives and negatives per cluster.
    m: Vec<f64>,
    n: Vec<f64>,
    /// Totals and cluster counts: M, N, I, I₁₀, I₀₁.
    totals: [f64; 5],
}

impl ClusterSums {
    fn new(labels: &[u8], v: &[&[f64]], of_row: &[u32], clusters: usize) -> Result<Self, String> {
        let mut s = ClusterSums {
            x: vec![vec![0.0; clusters]; v.len()],
            y: vec![vec![0.0; clusters]; v.len()],
            m: vec![0.0; clusters],
            n: vec![0.0; clusters],
            totals: [0.0; 5],
        };
        for (r, (&y, &c)) in labels.iter().zip(of_row).enumerate() {
            let c = c as usize;
            for (k, vk) in v.iter().enumerate() {
                if y == 1 {
                    s.x[k][c] += vk[r];
                } else {
                    s.y[k][c] += vk[r];
                }
            }
            if y == 1 {
                s.m[c] += 1.0;
            } else {
                s.n[c] += 1.0;
            }
        }
        let big_m: f64 = s.m.iter().sum();
        let big_n: f64 = s.n.iter().sum();
        let with_pos = s.m.iter().filter(|&&m| m > 0.0).count() as f64;
        let with_neg = s.n.iter().filter(|&&n| n > 0.0).count() as f64;
        if with_pos < 2.0 || with_neg < 2.0 {
            return Err(format!(
                "Obuchowski's clustered variance needs positives in at least two clusters and negatives in at least two ({with_pos} and {with_neg} here)"
            ));
        }
        s.totals = [big_m, big_n, clusters as f64, with_pos, with_neg];
        Ok(s)
    }

    /// `Cov(θ_a, θ_b)` of models `k = [a, b]` with AUCs `auc`.
    fn covariance(&self, k: [usize; 2], auc: [f64; 2]) -> f64 {
        let [big_m, big_n, i, i10, i01] = self.totals;
        let dx = |j: usize, c: usize| self.x[k[j]][c] - self.m[c] * auc[j];
        let dy = |j: usize, c: usize| self.y[k[j]][c] - self.n[c] * auc[j];
        let (mut s10, mut s01, mut s11, mut s11t) = (0.0, 0.0, 0.0, 0.0);
        for c in 0..self.m.len() {
            s10 += dx(0, c) * dx(1, c);
            s01 += dy(0, c) * dy(1, c);
            s11 += dx(0, c) * dy(1, c);
            s11t += dx(1, c) * dy(0, c);
        }
        let s10 = i10 / ((i10 - 1.0) * big_m) * s10;
        let s01 = i01 / ((i01 - 1.0) * big_n) * s01;
        let cross = i / (i - 1.0) * (s11 + s11t);
        s10 / big_m + s01 / big_n + cross / (big_m * big_n)
    }
}

/// Upper tail of the standard normal, `1 − Φ(x)`, accurate far into the tail.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(x / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_times_a_term_is_added_exactly() {
        let t = 0.1f64 + f64::EPSILON;
        for count in [3u64, 1000, 12_345_678_901, (1 << 53) + 7] {
            let mut s = TermSum::new();
            add_times(&mut s, t, count);
            // What is left after the rounded product is its rounding error.
            let c = count as f64;
            s.add(-(c * t));
            let want = if count <= 1 << 53 {
                c.mul_add(t, -(c * t))
            } else {
                // 2⁵³ + 7 is not a double: its exact product with t.
                let mut e = TermSum::new();
                add_times(&mut e, t, 1 << 53);
                add_times(&mut e, t, 7);
                e.add(-(c * t));
                e.exact().value()
            };
            assert_eq!(s.exact().value(), want, "count {count}");
            assert_ne!(want, 0.0, "count {count}");
        }
    }

    #[test]
    fn grouped_rows_give_the_rows_test() {
        // Three tie groups per class, each of several rows.
        let rows: Vec<(bool, f64, f64)> = (0..60)
            .map(|i| {
                (
                    i % 3 == 0,
                    0.1 + (i % 4) as f64 / 7.0,
                    0.3 + (i % 5) as f64 / 11.0,
                )
            })
            .collect();
        let one = paired_counts(rows.iter().map(|&(y, a, b)| (y, a, b, 1)), 0.6, 0.55).unwrap();
        let mut groups: Vec<((bool, u64, u64), u64)> = Vec::new();
        for &(y, a, b) in &rows {
            let k = (y, a.to_bits(), b.to_bits());
            match groups.iter_mut().find(|g| g.0 == k) {
                Some(g) => g.1 += 1,
                None => groups.push((k, 1)),
            }
        }
        let grouped = paired_counts(
            groups
                .iter()
                .map(|&((y, a, b), n)| (y, f64::from_bits(a), f64::from_bits(b), n)),
            0.6,
            0.55,
        )
        .unwrap();
        assert_eq!(one, grouped);
    }
}
