//! Clopper–Pearson's exact interval for a binomial proportion, and the
//! pieces it needs: the binomial density to full double precision and the
//! regularized incomplete beta function `I_x(a, b)` for whole `a`, `b`.
//!
//! **The interval.** With `k` successes in `n` trials at level `1 − α`, the
//! lower end is the `α/2` quantile of `Beta(k, n − k + 1)` (0 when `k = 0`)
//! and the upper end the `1 − α/2` quantile of `Beta(k + 1, n − k)` (1 when
//! `k = n`); statsmodels' `proportion_confint(method="beta")` and R's
//! `binom.test` give the same. It covers the true proportion in at least
//! `1 − α` of samples for every `n` and `p` (conservative, where Wilson's is
//! close to `1 − α` on average).
//!
//! **Precision.** Both ends are roots of `I_x(a, b) = α/2` in the lower
//! tail (the upper end as `1 − x` for `Beta(n − k, k + 1)`). `I_x` is
//! computed as `dbinom(a; a + b − 1, x) · (1 − x) · F`, with `F` the
//! continued fraction of Numerical Recipes §6.4 (modified Lentz) and the
//! density by Loader's saddle-point form (Loader 2000, "Fast and accurate
//! computation of binomial probabilities", as R's `dbinom`): its logarithm
//! is a sum of small terms (`stirlerr`, `bd0`), so no `ln Γ(10⁶)` of size
//! 10⁷ loses the digits that matter. The root is found by bisection down to
//! neighbouring doubles. Against statsmodels (scipy's `beta.ppf`, Boost's
//! `ibeta_inv`) the ends agree to 1e-12 for `n` up to 10⁶ (the test in
//! `tests/it/intervals.rs`, golden values from
//! `fixtures/generate_statsmodels.py`).

use std::f64::consts::PI;

/// `ln(n!) − ln(√(2πn) (n/e)ⁿ)`, the error of Stirling's formula, for whole
/// `n ≥ 1`: exact factorials up to 15, the Stirling series beyond (its
/// first omitted term is below 3e-16 there).
fn stirlerr(n: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if n <= 15.0 {
        // n! is exact in a double up to 22!.
        let factorial: f64 = (1..=n as u64).map(|i| i as f64).product();
        return factorial.ln() - (n + 0.5) * n.ln() + n - 0.5 * (2.0 * PI).ln();
    }
    let nn = n * n;
    if n > 500.0 {
        (S0 - S1 / nn) / n
    } else if n > 80.0 {
        (S0 - (S1 - S2 / nn) / nn) / n
    } else if n > 35.0 {
        (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
    }
}

/// `x ln(x / m) + m − x`, the deviance term of Loader's form, without the
/// cancellation of the naive sum when `x` is close to `m`.
fn bd0(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        let v2 = v * v;
        for j in 1..1000 {
            ej *= v2;
            let next = s + ej / (2 * j + 1) as f64;
            if next == s {
                return next;
            }
            s = next;
        }
        return s;
    }
    x * (x / m).ln() + m - x
}

/// `ln P(X = x)` for `X ~ Binomial(n, p)`, whole `0 ≤ x ≤ n`, `0 < p < 1`.
fn ln_dbinom(x: f64, n: f64, p: f64) -> f64 {
    let q = 1.0 - p;
    if x == 0.0 {
        return n * (-p).ln_1p();
    }
    if x == n {
        return n * p.ln();
    }
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    let lf = (2.0 * PI).ln() + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// The continued fraction of `I_x(a, b)` (Numerical Recipes §6.4, modified
/// Lentz); it converges fast for `x < (a + 1) / (a + b + 2)`, in about
/// `√max(a, b)` steps at worst.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / not_zero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..1_000_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // The even step, then the odd one.
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        let step = lentz_step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= step;
        if (step - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    h
}

/// One step of the modified Lentz recurrence with coefficient `aa`: updates
/// `c` and `d` and returns the factor for the running value.
fn lentz_step(aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = 1.0 / not_zero(1.0 + aa * *d);
    *c = not_zero(1.0 + aa / *c);
    *d * *c
}

/// `v`, or a tiny number in place of 0 (Lentz's guard against a division
/// by zero).
fn not_zero(v: f64) -> f64 {
    if v.abs() < 1e-300 { 1e-300 } else { v }
}

/// `I_x(a, b)`, the regularized incomplete beta function (the CDF of
/// `Beta(a, b)` at `x`), for whole `a, b ≥ 1` and `0 ≤ x ≤ 1`.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x < (a + 1.0) / (a + b + 2.0) {
        lower_tail(a, b, x)
    } else {
        1.0 - lower_tail(b, a, 1.0 - x)
    }
}

/// `dbinom(a; a + b − 1, x) · (1 − x) · F`: equal to
/// `x^a (1 − x)^b / (a B(a, b)) · F` for whole `a`, `b`.
fn lower_tail(a: f64, b: f64, x: f64) -> f64 {
    (ln_dbinom(a, a + b - 1.0, x) + (-x).ln_1p()).exp() * beta_fraction(a, b, x)
}

/// The `q` quantile of `Beta(a, b)` for whole `a, b ≥ 1`: the `x` where
/// `I_x(a, b)` reaches `q`, by bisection down to neighbouring doubles.
pub fn beta_quantile(a: f64, b: f64, q: f64) -> f64 {
    if b == 1.0 {
        // I_x(a, 1) = xᵃ.
        return (q.ln() / a).exp();
    }
    if a == 1.0 {
        // I_x(1, b) = 1 − (1 − x)ᵇ.
        return -((-q).ln_1p() / b).exp_m1();
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if incomplete_beta(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // The double whose I_x is closer to q.
    if (incomplete_beta(a, b, lo) - q).abs() <= (incomplete_beta(a, b, hi) - q).abs() {
        lo
    } else {
        hi
    }
}

/// Clopper–Pearson's interval at `level` for `k` successes in `n` trials
/// (whole numbers, `0 ≤ k ≤ n`); `None` for `n = 0`.
pub fn clopper_pearson(k: f64, n: f64, level: f64) -> Option<[f64; 2]> {
    if n < 1.0 || !(0.0..=n).contains(&k) {
        return None;
    }
    let half = (1.0 - level) / 2.0;
    let lo = if k == 0.0 {
        0.0
    } else {
        beta_quantile(k, n - k + 1.0, half)
    };
    let hi = if k == n {
        1.0
    } else {
        1.0 - beta_quantile(n - k, k + 1.0, half)
    };
    Some([lo, hi])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive sum `Σ_{j ≥ a} C(m, j) xʲ (1 − x)^{m−j}`, m = a + b − 1
    /// (the binomial tail that equals `I_x(a, b)`), at small sizes.
    fn naive(a: u32, b: u32, x: f64) -> f64 {
        let m = a + b - 1;
        (a..=m)
            .map(|j| {
                let c: f64 = (0..j).map(|i| (m - i) as f64 / (i + 1) as f64).product();
                c * x.powi(j as i32) * (1.0 - x).powi((m - j) as i32)
            })
            .sum()
    }

    #[test]
    fn incomplete_beta_equals_the_binomial_tail() {
        for a in 1..12 {
            for b in 1..12 {
                for x in [1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999] {
                    let got = incomplete_beta(a as f64, b as f64, x);
                    let want = naive(a, b, x);
                    assert!(
                        (got - want).abs() <= 1e-14 + 1e-12 * want,
                        "a={a} b={b} x={x}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn density_matches_the_direct_product_at_small_n() {
        for n in 1..40u32 {
            for x in 0..=n {
                for p in [0.01f64, 0.3, 0.5, 0.77] {
                    let c: f64 = (0..x).map(|i| (n - i) as f64 / (i + 1) as f64).product();
                    let want = c * p.powi(x as i32) * (1.0 - p).powi((n - x) as i32);
                    let got = ln_dbinom(x as f64, n as f64, p).exp();
                    assert!(
                        (got - want).abs() <= 1e-13 * want,
                        "x={x} n={n} p={p}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn ends_are_the_closed_forms_at_the_edges() {
        // k = 0: upper end 1 − (α/2)^(1/n); k = n: lower end (α/2)^(1/n).
        let [lo, hi] = clopper_pearson(0.0, 10.0, 0.95).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-15);
        let [lo, hi] = clopper_pearson(10.0, 10.0, 0.95).unwrap();
        assert!((lo - 0.025f64.powf(0.1)).abs() < 1e-15);
        assert_eq!(hi, 1.0);
        assert_eq!(clopper_pearson(0.0, 0.0, 0.95), None);
    }
}
