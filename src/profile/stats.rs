//! The statistics of a serving profile: nearest-rank percentiles of the
//! recorded latencies, distribution-free intervals for them from order
//! statistics, and a throughput interval from batch means.

use serde::Serialize;
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, StudentsT};

/// Nearest-rank percentile of sorted values (`p` in percent): the value at
/// rank ⌈p/100 · n⌉ (at least 1). `None` without values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[rank(sorted.len(), p) - 1])
}

/// The 1-based rank of the nearest-rank `p`-th percentile of `n` values.
pub fn rank(n: usize, p: f64) -> usize {
    (((p / 100.0) * n as f64).ceil().max(1.0) as usize).min(n.max(1))
}

/// Distribution-free interval for the `q`-quantile (`q` in (0, 1)) of `n`
/// independent draws at `level`: the ranks `(l, u)` (1-based) of the order
/// statistics `X(l) ≤ ξ_q ≤ X(u)`, each end missing with probability at
/// most `(1 − level)/2`:
///
/// - `l` is the largest rank with `P(Bin(n, q) ≤ l − 1) ≤ (1 − level)/2`,
/// - `u` the smallest with `P(Bin(n, q) ≤ u − 1) ≥ (1 + level)/2`
///
/// (Hahn & Meeker, *Statistical Intervals*, 1991, §5.2; the coverage is
/// at least `level` for any continuous distribution). An end is `None`
/// when `n` is too small to bound that side at `level`: a p99 needs at
/// least 368 requests for an upper bound at 95%.
pub fn quantile_ranks(n: usize, q: f64, level: f64) -> (Option<usize>, Option<usize>) {
    if n == 0 || !(0.0..1.0).contains(&q) || q <= 0.0 {
        return (None, None);
    }
    let Ok(bin) = Binomial::new(q, n as u64) else {
        return (None, None);
    };
    let tail = (1.0 - level) / 2.0;
    // F(k) = P(Bin ≤ k), non-decreasing in k.
    let f = |k: usize| bin.cdf(k as u64);
    // Lower: the largest l in 1..=n with F(l − 1) ≤ tail.
    let lower = if f(0) > tail {
        None
    } else {
        let (mut lo, mut hi) = (1usize, n); // F(lo − 1) ≤ tail holds at lo
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if f(mid - 1) <= tail {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    };
    // Upper: the smallest u in 1..=n with F(u − 1) ≥ 1 − tail.
    let upper = if f(n - 1) < 1.0 - tail {
        None
    } else {
        let (mut lo, mut hi) = (1usize, n); // F(hi − 1) ≥ 1 − tail holds at hi
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if f(mid - 1) >= 1.0 - tail {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    };
    (lower, upper)
}

/// A percentile with its distribution-free interval (ends missing when the
/// requests are too few to bound them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentile {
    /// The nearest-rank value.
    pub value: f64,
    /// Lower end of the interval.
    pub lower: Option<f64>,
    /// Upper end of the interval.
    pub upper: Option<f64>,
}

/// Latency percentiles over recorded requests (milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// The requests behind every percentile.
    pub requests: usize,
    /// Median.
    pub p50: Percentile,
    /// 95th percentile.
    pub p95: Percentile,
    /// 99th percentile.
    pub p99: Percentile,
    /// The slowest request.
    pub max: f64,
    /// The mean.
    pub mean: f64,
}

impl Latency {
    /// Percentiles of `ms` (sorted here) with intervals at `level`; `None`
    /// without requests.
    pub fn of(ms: &[f64], level: f64) -> Option<Latency> {
        let mut sorted = ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let at = |p: f64| -> Option<Percentile> {
            let (l, u) = quantile_ranks(n, p / 100.0, level);
            Some(Percentile {
                value: percentile(&sorted, p)?,
                lower: l.map(|r| sorted[r - 1]),
                upper: u.map(|r| sorted[r - 1]),
            })
        };
        Some(Latency {
            requests: n,
            p50: at(50.0)?,
            p95: at(95.0)?,
            p99: at(99.0)?,
            max: *sorted.last()?,
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }

    /// The percentile named `p50`, `p95` or `p99`.
    pub fn get(&self, name: &str) -> Option<&Percentile> {
        match name {
            "p50" => Some(&self.p50),
            "p95" => Some(&self.p95),
            "p99" => Some(&self.p99),
            _ => None,
        }
    }
}

/// Windows of the batch-means throughput interval.
pub const WINDOWS: usize = 10;

/// Throughput (completions per second) over `seconds`, with an interval at
/// `level` by batch means: the run cut into [`WINDOWS`] equal windows, the
/// completions per window as rates, a Student-t interval of their mean
/// (the standard estimate for steady-state simulation output; it captures
/// drift and bursts that a Poisson interval would not). `completed` holds
/// each request's completion time in seconds from the start.
pub fn throughput(completed: &[f64], seconds: f64, level: f64) -> (f64, Option<[f64; 2]>) {
    if seconds <= 0.0 || completed.is_empty() {
        return (0.0, None);
    }
    let qps = completed.len() as f64 / seconds;
    let width = seconds / WINDOWS as f64;
    let mut counts = [0usize; WINDOWS];
    for &t in completed {
        let w = ((t / width) as usize).min(WINDOWS - 1);
        counts[w] += 1;
    }
    let rates: Vec<f64> = counts.iter().map(|&c| c as f64 / width).collect();
    let mean = rates.iter().sum::<f64>() / WINDOWS as f64;
    let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (WINDOWS - 1) as f64;
    let Ok(t) = StudentsT::new(0.0, 1.0, (WINDOWS - 1) as f64) else {
        return (qps, None);
    };
    let half = t.inverse_cdf(0.5 + level / 2.0) * (var / WINDOWS as f64).sqrt();
    (qps, Some([(qps - half).max(0.0), qps + half]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(Bin(n, q) ≤ k) by summing the mass function in logs.
    fn naive_cdf(n: usize, q: f64, k: usize) -> f64 {
        let mut total = 0.0;
        let mut log_choose = 0.0f64;
        for i in 0..=k.min(n) {
            if i > 0 {
                log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
            }
            total += (log_choose + i as f64 * q.ln() + (n - i) as f64 * (1.0 - q).ln()).exp();
        }
        total
    }

    #[test]
    fn quantile_ranks_are_the_tightest_that_cover() {
        for &n in &[1usize, 5, 20, 100, 367, 368, 1000, 2500] {
            for &q in &[0.5, 0.95, 0.99] {
                for &level in &[0.9, 0.95] {
                    let tail = (1.0 - level) / 2.0;
                    let (l, u) = quantile_ranks(n, q, level);
                    // The naive scan.
                    let naive_l = (1..=n).rev().find(|&r| naive_cdf(n, q, r - 1) <= tail);
                    let naive_u = (1..=n).find(|&r| naive_cdf(n, q, r - 1) >= 1.0 - tail);
                    let eq = |a: Option<usize>, b: Option<usize>| match (a, b) {
                        (Some(a), Some(b)) => {
                            // The two CDFs differ in the last bits: allow a
                            // rank only where the CDF sits on the boundary.
                            a == b || (a as i64 - b as i64).abs() == 1
                        }
                        (a, b) => a == b,
                    };
                    assert!(eq(l, naive_l), "n={n} q={q} lower {l:?} vs {naive_l:?}");
                    assert!(eq(u, naive_u), "n={n} q={q} upper {u:?} vs {naive_u:?}");
                    if let (Some(l), Some(u)) = (l, u) {
                        let coverage = naive_cdf(n, q, u - 1) - naive_cdf(n, q, l - 1);
                        assert!(coverage >= level - 1e-9, "n={n} q={q}: {coverage}");
                        assert!(l <= rank(n, q * 100.0) && rank(n, q * 100.0) <= u);
                    }
                }
            }
        }
        // A p99 upper bound at 95% needs 368 draws: 1 − 0.99^n ≥ 0.975.
        assert_eq!(quantile_ranks(367, 0.99, 0.95).1, None);
        assert_eq!(quantile_ranks(368, 0.99, 0.95).1, Some(368));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(100.0));
        assert_eq!(percentile(&v, 99.0), Some(198.0));
        assert_eq!(percentile(&v, 100.0), Some(200.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
        let lat = Latency::of(&[5.0, 1.0, 3.0, 2.0, 4.0], 0.95).unwrap();
        assert_eq!((lat.p50.value, lat.max, lat.mean), (3.0, 5.0, 3.0));
        // Five draws cannot bound a p99 from above.
        assert_eq!(lat.p99.upper, None);
    }

    #[test]
    fn throughput_interval_holds_the_rate() {
        // 1000 completions evenly over 2 s: 500/s with a narrow interval (a
        // window boundary moves one completion at most).
        let t: Vec<f64> = (1..=1000).map(|i| i as f64 * 0.002).collect();
        let (qps, ci) = throughput(&t, 2.0, 0.95);
        assert!((qps - 500.0).abs() < 1e-9);
        let [lo, hi] = ci.unwrap();
        assert!(lo <= 500.0 && 500.0 <= hi && hi - lo < 20.0, "{lo} {hi}");
        // A burst in the first window widens it.
        let mut t2: Vec<f64> = (1..=500).map(|i| i as f64 * 0.0004).collect();
        t2.extend((1..=500).map(|i| 0.2 + i as f64 * 0.0036));
        let (qps2, ci2) = throughput(&t2, 2.0, 0.95);
        assert!((qps2 - 500.0).abs() < 1e-9);
        let [lo2, hi2] = ci2.unwrap();
        assert!(lo2 < 450.0 && hi2 > 550.0);
        assert_eq!(throughput(&[], 1.0, 0.95), (0.0, None));
    }
}
