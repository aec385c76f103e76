//! Adjusted p-values for many tests at once (docs/spec.md §4, slices).
//!
//! With 200 slices each tested at 5%, about ten are "significant" by chance
//! alone. Two adjustments, with statsmodels' `multipletests` conventions
//! (tests compare to it on random vectors):
//!
//! - [`holm`] (Holm 1979): controls the family-wise error rate — the chance
//!   that *any* flagged slice is a false alarm. With the p-values sorted
//!   ascending, `p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j)·p₍ⱼ₎)` (0-based `j`).
//! - [`benjamini_hochberg`] (1995): controls the false discovery rate — the
//!   expected share of false alarms among the flagged. `p̃₍ᵢ₎ =
//!   min_{j ≥ i} min(1, m·p₍ⱼ₎ / (j + 1))`.
//!
//! Both return the adjusted p-values in the input order. NaN inputs are not
//! allowed (callers test only what has a p-value).

/// Holm's step-down adjusted p-values (see the module docs).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let order = ascending(p);
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// Benjamini–Hochberg's step-up adjusted p-values (see the module docs).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let order = ascending(p);
    let mut out = vec![0.0; m];
    let mut running = 1.0f64;
    for (j, &i) in order.iter().enumerate().rev() {
        running = running.min((m as f64 * p[i] / (j + 1) as f64).min(1.0));
        out[i] = running;
    }
    out
}

/// Indices of `p` by ascending value (ties in input order).
fn ascending(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        let p = [0.01, 0.04, 0.03, 0.5];
        // Holm: sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1 → 0.04,
        // 0.09, 0.08 → 0.09 (monotone), 0.5.
        let h = holm(&p);
        let want = [0.04, 0.09, 0.09, 0.5];
        for (g, w) in h.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{h:?}");
        }
        // BH: sorted 0.01·4/1, 0.03·4/2, 0.04·4/3, 0.5·4/4 = 0.04, 0.06,
        // 0.0533, 0.5 → the minimum from the end: 0.04, 0.0533, 0.0533, 0.5.
        let b = benjamini_hochberg(&p);
        let want = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5];
        for (g, w) in b.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{b:?}");
        }
        assert!(holm(&[]).is_empty() && benjamini_hochberg(&[]).is_empty());
        assert_eq!(holm(&[0.3]), vec![0.3]);
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }
}
