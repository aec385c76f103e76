//! How many rows an evaluation needs (`evalkit power`, docs/spec.md §4):
//! the smallest data set whose test detects a given effect with a given
//! power.
//!
//! A two-sided test at level `α` with power `1 − β` detects a difference
//! `δ` when `z_{1−α/2}·√V₀ + z_{1−β}·√V₁ ≤ δ`, with `V₀` the variance of the
//! estimated difference under the null and `V₁` under the alternative
//! (Obuchowski & McClish, Statistics in Medicine 16:1529–1542, 1997). The
//! variances, for `m = N·prevalence` positives and `n = N − m` negatives:
//!
//! - **ROC-AUC** (Hanley & McNeil, Radiology 143:29–36, 1982):
//!   `V(A) = [A(1 − A) + (m − 1)(Q₁ − A²) + (n − 1)(Q₂ − A²)] / (m·n)` with
//!   `Q₁ = A/(2 − A)`, `Q₂ = 2A²/(1 + A)`.
//! - **accuracy** (or any proportion of rows): `V(p) = p(1 − p)/N`.
//!
//! Two designs:
//!
//! - **against a bound** (`--against bound`, default): one model's metric
//!   against a fixed value `A₀` (a gate's `min`): `V₀ = V(A₀)`,
//!   `V₁ = V(A₀ + δ)`.
//! - **paired** (`--paired R`): two models on the same rows, their
//!   estimates correlated `R` (Obuchowski's design; DeLong's paired test):
//!   `V₀ = 2(1 − R)·V(A₀)`, `V₁ = V(A₀) + V(A₀ + δ) − 2R·√(V(A₀)·V(A₀ + δ))`.
//!
//! `N` is the smallest whole number of rows that satisfies the inequality
//! (the variances fall as `N` grows, so a doubling search then bisection
//! finds it).

use crate::error::{Error, Result};
use crate::uncertainty::intervals::normal_quantile;

/// The metrics `evalkit power` knows a variance for.
pub const METRICS: [&str; 2] = ["roc_auc", "accuracy"];

/// The metric named `name`, as [`PowerOptions::metric`] takes it.
pub fn metric(name: &str) -> Result<&'static str> {
    METRICS
        .iter()
        .find(|m| **m == name)
        .copied()
        .ok_or_else(|| {
            Error::usage(format!(
                "--metric {name}: power is built for {}",
                METRICS.join(" and ")
            ))
        })
}

/// What to size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerOptions {
    /// `roc_auc` or `accuracy`.
    pub metric: &'static str,
    /// The metric's value under the null (the bound, or the baseline's).
    pub value: f64,
    /// The difference to detect (positive or negative, not 0).
    pub effect: f64,
    /// Share of positive rows (ROC-AUC).
    pub prevalence: f64,
    /// Power, `1 − β`.
    pub power: f64,
    /// Two-sided level `α`.
    pub alpha: f64,
    /// Two models on the same rows with this correlation between their
    /// estimates; `None`: one model against a bound.
    pub paired: Option<f64>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PowerResult {
    /// Rows needed.
    pub rows: u64,
    /// Of which positives (ROC-AUC; `None` for accuracy).
    pub positives: Option<u64>,
    /// Negatives (ROC-AUC).
    pub negatives: Option<u64>,
    /// The standard error of the estimated difference at that size, under
    /// the alternative.
    pub std_error: f64,
    /// The power actually reached at `rows` (at least the one asked for).
    pub power_reached: f64,
}

/// Checks the options' ranges.
pub fn check(o: &PowerOptions) -> Result<()> {
    let open01 = |v: f64| v > 0.0 && v < 1.0;
    let bad = |m: String| Err(Error::usage(m));
    if !METRICS.contains(&o.metric) {
        return bad(format!(
            "--metric {}: power is built for {}",
            o.metric,
            METRICS.join(" and ")
        ));
    }
    if !open01(o.value) {
        return bad(format!(
            "--value {} is not in (0, 1): the metric under the null",
            o.value
        ));
    }
    if o.effect == 0.0 || !o.effect.is_finite() || !open01(o.value + o.effect) {
        return bad(format!(
            "--effect {}: the alternative {} + {} must be in (0, 1) and differ from the null",
            o.effect, o.value, o.effect
        ));
    }
    if !open01(o.prevalence) {
        return bad(format!(
            "--prevalence {} is not a share in (0, 1)",
            o.prevalence
        ));
    }
    if !open01(o.power) || o.power <= o.alpha / 2.0 {
        return bad(format!("--power {} is not in (α/2, 1)", o.power));
    }
    if !open01(o.alpha) {
        return bad(format!("--alpha {} is not a level in (0, 1)", o.alpha));
    }
    if let Some(r) = o.paired
        && !(0.0..1.0).contains(&r)
    {
        return bad(format!(
            "--paired {r}: the correlation of the two models' estimates must be in [0, 1)"
        ));
    }
    Ok(())
}

/// Hanley & McNeil's variance of ROC-AUC `a` from `m` positives and `n`
/// negatives (fractional counts allowed).
pub fn auc_variance(a: f64, m: f64, n: f64) -> f64 {
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    (a * (1.0 - a) + (m - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (m * n)
}

/// The variance of the metric at value `v` from `rows` rows.
fn variance(o: &PowerOptions, v: f64, rows: f64) -> f64 {
    match o.metric {
        "roc_auc" => {
            let m = rows * o.prevalence;
            auc_variance(v, m, rows - m)
        }
        _ => v * (1.0 - v) / rows,
    }
}

/// `(V₀, V₁)` at `rows` rows (see the module docs).
fn variances(o: &PowerOptions, rows: f64) -> (f64, f64) {
    let v0 = variance(o, o.value, rows);
    let v1 = variance(o, o.value + o.effect, rows);
    match o.paired {
        None => (v0, v1),
        Some(r) => (2.0 * (1.0 - r) * v0, v0 + v1 - 2.0 * r * (v0 * v1).sqrt()),
    }
}

/// The power of the test at `rows` rows.
pub fn power_at(o: &PowerOptions, rows: f64) -> f64 {
    let (v0, v1) = variances(o, rows);
    let za = normal_quantile(1.0 - o.alpha / 2.0);
    // P(reject) under the alternative, the far tail ignored.
    crate::uncertainty::delong::normal_sf((za * v0.sqrt() - o.effect.abs()) / v1.sqrt())
}

/// The fewest rows for the options' power.
pub fn rows_needed(o: &PowerOptions) -> Result<PowerResult> {
    check(o)?;
    // ROC-AUC needs at least one row of each class (two for a variance).
    let smallest = match o.metric {
        "roc_auc" => (2.0 / o.prevalence.min(1.0 - o.prevalence)).ceil(),
        _ => 2.0,
    };
    let enough = |rows: f64| power_at(o, rows) >= o.power;
    let (mut lo, mut hi) = (smallest, smallest);
    while !enough(hi) {
        lo = hi;
        hi *= 2.0;
        if hi > 1e15 {
            return Err(Error::usage(format!(
                "no data set below 10^15 rows detects an effect of {} at power {}",
                o.effect, o.power
            )));
        }
    }
    if enough(lo) {
        hi = lo;
    }
    // The smallest whole `hi` with enough power, `lo` without.
    while hi - lo > 1.0 {
        let mid = ((lo + hi) / 2.0).floor();
        if enough(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let rows = hi;
    let (_, v1) = variances(o, rows);
    let auc = o.metric == "roc_auc";
    let positives = (rows * o.prevalence).ceil();
    Ok(PowerResult {
        rows: rows as u64,
        positives: auc.then_some(positives as u64),
        negatives: auc.then_some((rows - positives).max(0.0) as u64),
        std_error: v1.sqrt(),
        power_reached: power_at(o, rows),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auc(value: f64, effect: f64) -> PowerOptions {
        PowerOptions {
            metric: "roc_auc",
            value,
            effect,
            prevalence: 0.3,
            power: 0.8,
            alpha: 0.05,
            paired: None,
        }
    }

    #[test]
    fn hanley_mcneil_by_hand() {
        // A = 0.8, m = n = 50: Q1 = 0.8/1.2, Q2 = 1.28/1.8.
        let (q1, q2) = (0.8 / 1.2, 1.28 / 1.8);
        let want = (0.16 + 49.0 * (q1 - 0.64) + 49.0 * (q2 - 0.64)) / 2500.0;
        assert!((auc_variance(0.8, 50.0, 50.0) - want).abs() < 1e-15);
    }

    #[test]
    fn the_size_is_the_smallest_with_the_power() {
        for o in [
            auc(0.8, 0.05),
            auc(0.9, -0.02),
            PowerOptions {
                paired: Some(0.6),
                ..auc(0.85, -0.01)
            },
            PowerOptions {
                metric: "accuracy",
                ..auc(0.9, -0.03)
            },
        ] {
            let r = rows_needed(&o).unwrap();
            assert!(r.power_reached >= 0.8, "{o:?}: {r:?}");
            assert!(power_at(&o, r.rows as f64 - 1.0) < 0.8, "{o:?}: {r:?}");
        }
        // Smaller effects need more rows; pairing with correlated models
        // needs fewer than independent ones.
        let a = rows_needed(&auc(0.8, 0.05)).unwrap().rows;
        let b = rows_needed(&auc(0.8, 0.02)).unwrap().rows;
        assert!(b > a);
        let p0 = rows_needed(&PowerOptions {
            paired: Some(0.0),
            ..auc(0.8, 0.02)
        })
        .unwrap()
        .rows;
        let p9 = rows_needed(&PowerOptions {
            paired: Some(0.9),
            ..auc(0.8, 0.02)
        })
        .unwrap()
        .rows;
        assert!(p9 < p0);
    }

    #[test]
    fn out_of_range_options_are_usage_errors() {
        for o in [
            auc(0.8, 0.0),
            auc(0.8, 0.3),
            auc(1.0, -0.1),
            PowerOptions {
                prevalence: 0.0,
                ..auc(0.8, 0.05)
            },
            PowerOptions {
                power: 1.0,
                ..auc(0.8, 0.05)
            },
            PowerOptions {
                paired: Some(1.0),
                ..auc(0.8, 0.05)
            },
            PowerOptions {
                metric: "f1",
                ..auc(0.8, 0.05)
            },
        ] {
            assert!(rows_needed(&o).is_err(), "{o:?}");
        }
    }
}
