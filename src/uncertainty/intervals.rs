//! Confidence intervals from bootstrap replicates: percentile and BCa.
//!
//! **Percentile**: the `α/2` and `1 − α/2` quantiles of the replicate values
//! (linear interpolation between order statistics, numpy's default).
//!
//! **BCa** (Efron 1987): the quantiles are moved by a bias correction
//! `z₀ = Φ⁻¹(share of replicates below the point value, ties counted ½)` and
//! an acceleration `a = Σ Uᵢ³ / (6 (Σ Uᵢ²)^{3/2})` from influence values
//! `Uᵢ`: `αⱼ = Φ(z₀ + (z₀ + zⱼ) / (1 − a (z₀ + zⱼ)))`. How evalkit gets the
//! influence values without an O(N) jackknife is described in
//! [`super::bootstrap`].

use statrs::distribution::{ContinuousCDF, Normal};

/// How a bootstrap interval is read off the replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    /// Percentile interval.
    Percentile,
    /// Bias-corrected and accelerated interval.
    Bca,
    /// Wilson's score interval for the proportions (accuracy, precision,
    /// recall, top-k accuracy) from their counts; percentile bootstrap
    /// intervals for every other metric.
    Wilson,
    /// Clopper–Pearson's exact interval for the proportions
    /// ([`super::binomial`]); percentile bootstrap intervals for every other
    /// metric.
    ClopperPearson,
}

impl CiMethod {
    /// The choices, for messages.
    pub const CHOICES: &'static str = "percentile, bca, wilson or clopper-pearson";

    /// The name used in `--method` and in the JSON `method` field (prefixed
    /// with `bootstrap-`).
    pub fn as_str(self) -> &'static str {
        match self {
            CiMethod::Percentile => "percentile",
            CiMethod::Bca => "bca",
            CiMethod::Wilson => "wilson",
            CiMethod::ClopperPearson => "clopper-pearson",
        }
    }

    /// Whether the proportions get an interval from their counts (Wilson's
    /// or Clopper–Pearson's) rather than from the replicates.
    pub fn from_counts(self) -> bool {
        matches!(self, CiMethod::Wilson | CiMethod::ClopperPearson)
    }

    /// The interval at `level` for `k` successes in `n` rows by this
    /// method's count formula: Clopper–Pearson's with `clopper-pearson`,
    /// Wilson's otherwise (the reliability diagram's bins use it under every
    /// method). `None` for `n = 0`.
    pub fn proportion(self, k: f64, n: f64, level: f64) -> Option<[f64; 2]> {
        if n <= 0.0 {
            return None;
        }
        match self {
            CiMethod::ClopperPearson => super::binomial::clopper_pearson(k, n, level),
            _ => Some(wilson(k / n, n, normal_quantile(0.5 + level / 2.0))),
        }
    }
}

impl std::str::FromStr for CiMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<CiMethod, String> {
        match s {
            "percentile" => Ok(CiMethod::Percentile),
            "bca" => Ok(CiMethod::Bca),
            "wilson" => Ok(CiMethod::Wilson),
            "clopper-pearson" => Ok(CiMethod::ClopperPearson),
            other => Err(format!(
                "unknown interval method '{other}': expected {}",
                CiMethod::CHOICES
            )),
        }
    }
}

fn std_normal() -> Normal {
    // Normal::new(0, 1) cannot fail; the fallback keeps the library free of
    // unwrap.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| Normal::standard())
}

/// `Φ⁻¹(p)`.
pub fn normal_quantile(p: f64) -> f64 {
    std_normal().inverse_cdf(p)
}

/// `Φ(x)`.
pub fn normal_cdf(x: f64) -> f64 {
    std_normal().cdf(x)
}

/// Wilson's score interval for a proportion `p` observed on `n` rows (or an
/// effective sample size), with `z` the normal quantile of the level. Unlike
/// `p ± z·SE` it is never zero-width at 0 or 1 and stays inside [0, 1].
pub fn wilson(p: f64, n: f64, z: f64) -> [f64; 2] {
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z / (1.0 + z2n) * (p * (1.0 - p) / n + z2n / (4.0 * n)).max(0.0).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// Quantile `q` of sorted values, linear interpolation (numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The percentile interval at `level` of sorted replicate values.
pub fn percentile(sorted: &[f64], level: f64) -> [f64; 2] {
    let alpha = 1.0 - level;
    [
        quantile_sorted(sorted, alpha / 2.0),
        quantile_sorted(sorted, 1.0 - alpha / 2.0),
    ]
}

/// The BCa interval at `level` of sorted replicate values around the point
/// value `theta`, with acceleration `a`. `None` when the bias correction is
/// infinite (every replicate on one side of the point value).
pub fn bca(sorted: &[f64], theta: f64, a: f64, level: f64) -> Option<[f64; 2]> {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|&v| v < theta) as f64;
    let equal = sorted.partition_point(|&v| v <= theta) as f64 - below;
    let share = (below + 0.5 * equal) / n;
    if share <= 0.0 || share >= 1.0 {
        return None;
    }
    let z0 = normal_quantile(share);
    let alpha = 1.0 - level;
    let adjust = |z: f64| {
        let d = 1.0 - a * (z0 + z);
        // A non-positive denominator flips the adjusted level: BCa breaks
        // down (a very large acceleration); the caller falls back.
        (d > 0.0).then(|| normal_cdf(z0 + (z0 + z) / d))
    };
    let lo = adjust(normal_quantile(alpha / 2.0))?;
    let hi = adjust(normal_quantile(1.0 - alpha / 2.0))?;
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return None;
    }
    Some([quantile_sorted(sorted, lo), quantile_sorted(sorted, hi)])
}

/// The acceleration `Σ U³ / (6 (Σ U²)^{3/2})` of influence values; 0 when
/// they are all 0.
pub fn acceleration(influence: impl Iterator<Item = f64>) -> f64 {
    let (mut s2, mut s3) = (0.0, 0.0);
    for u in influence {
        s2 += u * u;
        s3 += u * u * u;
    }
    if s2 > 0.0 {
        s3 / (6.0 * s2.powf(1.5))
    } else {
        0.0
    }
}

/// The acceleration from grouped-jackknife values `θ₍g₎` (the statistic with
/// group `g` left out): influence `Uᵍ = mean − θ₍g₎`.
pub fn jackknife_acceleration(leave_out: &[f64]) -> f64 {
    let mean = leave_out.iter().sum::<f64>() / leave_out.len() as f64;
    acceleration(leave_out.iter().map(|&t| mean - t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook() {
        // Wilson (1927)'s closed form, evaluated independently in Python.
        let z = normal_quantile(0.975);
        let [lo, hi] = wilson(0.5, 100.0, z);
        assert!((lo - 0.403_831_530).abs() < 1e-9 && (hi - 0.596_168_470).abs() < 1e-9);
        let [lo, hi] = wilson(1.0, 100.0, z);
        assert!((lo - 0.963_006_502).abs() < 1e-9 && hi == 1.0, "{lo} {hi}");
        let [lo, hi] = wilson(0.0, 10.0, z);
        assert!(lo < 1e-15 && (hi - 0.277_532_800).abs() < 1e-9, "{hi}");
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_eq!(quantile_sorted(&v, 1.0), 4.0);
        assert_eq!(quantile_sorted(&v, 0.5), 2.5);
        assert!((quantile_sorted(&v, 0.025) - 1.075).abs() < 1e-15);
    }

    #[test]
    fn bca_without_bias_or_acceleration_is_the_percentile_interval() {
        let v: Vec<f64> = (0..1001).map(|i| i as f64 / 1000.0).collect();
        let p = percentile(&v, 0.9);
        let b = bca(&v, 0.5, 0.0, 0.9).unwrap();
        assert!(
            (p[0] - b[0]).abs() < 1e-9 && (p[1] - b[1]).abs() < 1e-9,
            "{p:?} {b:?}"
        );
        assert!(bca(&v, -1.0, 0.0, 0.9).is_none());
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    #[test]
    fn bca_refuses_an_acceleration_that_flips_the_levels() {
        let v: Vec<f64> = (0..1001).map(|i| i as f64 / 1000.0).collect();
        assert!(bca(&v, 0.5, 0.9, 0.95).is_none());
        assert!(bca(&v, 0.5, 0.01, 0.95).is_some());
    }
}
