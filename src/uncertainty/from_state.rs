//! The bootstrap from a binary state (unweighted rows).
//!
//! Giving every row a Poisson(1) weight and summing them within a score
//! group gives each group Poisson(n) positives and Poisson(m) negatives,
//! independent, where n and m are the group's counts: the same distribution
//! as the per-row bootstrap, drawn per group. A replicate therefore needs
//! only the merged histogram and the seed — not the rows, nor how they were
//! split into shards — and costs one pass over the distinct scores.
//!
//! Each replicate's histogram is finished by the point metrics' own formula
//! ([`point_metrics`]): the replicate path and the point path share it. The
//! random numbers differ from the per-row path's (they are drawn per group,
//! keyed by (seed, replicate, group, class)), so intervals from a state and
//! from the file agree in distribution, not bit for bit; a state gives the
//! same intervals whatever its sharding.

use rayon::prelude::*;

use super::bootstrap::{BAND_POINTS, METRICS, Replicates, band_points};
use crate::metrics::binary::{RowSums, binary_log_loss, point_metrics};
use crate::metrics::calibration::{BINS, BinSums, bin_of};
use crate::metrics::curves::BinaryCurve;
use crate::rng::{Stream, unit};
use crate::state::binary::BinaryState;

/// Replicates per parallel task (and per progress step).
const BATCH: usize = 16;

/// `replicates` bootstrap replicates of every binary metric and band from
/// an unweighted state, seeded by `seed`; the F1 band on `grid` thresholds.
/// `progress(done, total)` is called as batches finish.
///
/// # Panics
/// When the state is weighted (Poisson counts per group model unweighted
/// rows only; the caller refuses weighted states).
pub fn binary_replicates(
    state: &BinaryState,
    replicates: usize,
    seed: u64,
    threshold: f64,
    grid: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    assert!(
        !state.weighted(),
        "the bootstrap from a state needs unweighted rows"
    );
    let groups: Vec<(f64, u64, u64)> = state.histogram().groups().collect();
    let grid: Vec<f64> = (0..grid.max(2))
        .map(|i| i as f64 / (grid.max(2) - 1) as f64)
        .collect();
    let batches = replicates.div_ceil(BATCH);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let per_batch: Vec<Vec<Replicate>> = (0..batches)
        .into_par_iter()
        .map(|b| {
            let out = (b * BATCH..((b + 1) * BATCH).min(replicates))
                .map(|r| {
                    let drawn = groups.iter().enumerate().map(|(g, &(score, pos, neg))| {
                        (
                            score,
                            poisson(pos, seed, r, 2 * g as u64),
                            poisson(neg, seed, r, 2 * g as u64 + 1),
                        )
                    });
                    replicate(drawn, threshold, &grid)
                })
                .collect();
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, batches);
            out
        })
        .collect();
    let all: Vec<Replicate> = per_batch.into_iter().flatten().collect();
    Replicates {
        names: METRICS.to_vec(),
        values: (0..METRICS.len())
            .map(|m| all.iter().map(|r| r.values[m]).collect())
            .collect(),
        jackknife: Vec::new(),
        tpr: all.iter().map(|r| r.tpr.clone()).collect(),
        precision: all.iter().map(|r| r.precision.clone()).collect(),
        f1: all.iter().map(|r| r.f1.clone()).collect(),
        grid,
    }
}

/// One replicate's metric values (in [`METRICS`] order, NaN where
/// undefined) and band values.
struct Replicate {
    values: Vec<f64>,
    tpr: Vec<f64>,
    precision: Vec<f64>,
    f1: Vec<f64>,
}

/// The metrics and bands of a histogram given as (score, positives,
/// negatives) in descending score order, by the point metrics' formula.
/// Groups drawn empty are left out, as rows that were never there.
fn replicate(
    groups: impl Iterator<Item = (f64, u64, u64)>,
    threshold: f64,
    grid: &[f64],
) -> Replicate {
    let mut curve = BinaryCurve {
        thresholds: Vec::new(),
        tps: Vec::new(),
        fps: Vec::new(),
        weighted: false,
    };
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut sums = RowSums::default();
    let (mut count, mut weight, mut predicted, mut observed) =
        ([0u64; BINS], [0.0; BINS], [0.0; BINS], [0.0; BINS]);
    for (score, pos, neg) in groups {
        if pos + neg == 0 {
            continue;
        }
        tp += pos;
        fp += neg;
        curve.thresholds.push(score);
        curve.tps.push(tp as f64);
        curve.fps.push(fp as f64);
        let (p, n) = (pos as f64, neg as f64);
        sums.log_loss += p * binary_log_loss(1, score) + n * binary_log_loss(0, score);
        sums.brier += p * (1.0 - score) * (1.0 - score) + n * score * score;
        let b = bin_of(score);
        count[b] += pos + neg;
        weight[b] += p + n;
        predicted[b] += (p + n) * score;
        observed[b] += p;
    }
    sums.weight = (tp + fp) as f64;
    sums.bins = BinSums::from_parts(count, weight, predicted, observed);
    let m = point_metrics(&curve, &sums, threshold);
    let values = METRICS
        .iter()
        .map(|name| m.value(name).unwrap_or(f64::NAN))
        .collect();
    let (tpr, precision) = band_points(
        curve.tps.iter().copied().zip(curve.fps.iter().copied()),
        tp as f64,
        fp as f64,
    );
    debug_assert_eq!(tpr.len(), BAND_POINTS);
    let f1 = grid
        .iter()
        .map(|&t| curve.counts_at(t).f1().unwrap_or(f64::NAN))
        .collect();
    Replicate {
        values,
        tpr,
        precision,
        f1,
    }
}

/// A Poisson(`mean`) draw for (seed, replicate, draw): inversion below a
/// mean of 12, else Hörmann's transformed rejection (PTRS, as numpy's
/// `random.poisson`), on a counter-based stream, so the draw depends only
/// on its key.
pub fn poisson(mean: u64, seed: u64, replicate: usize, draw: u64) -> u64 {
    if mean == 0 {
        return 0;
    }
    let mut rng = Stream::new(
        seed,
        ((replicate as u64) << 42) ^ draw ^ 0x5157_A7E0_0000_0000,
    );
    let lam = mean as f64;
    if mean < 12 {
        let u = unit(rng.next_u64());
        let mut p = (-lam).exp();
        let mut cdf = p;
        let mut k = 0u64;
        while u > cdf && k < 1000 {
            k += 1;
            p *= lam / k as f64;
            cdf += p;
        }
        return k;
    }
    let slam = lam.sqrt();
    let loglam = lam.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let invalpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = unit(rng.next_u64()) - 0.5;
        let v = unit(rng.next_u64());
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + invalpha.ln() - (a / (us * us) + b).ln()
            <= -lam + k * loglam - statrs::function::gamma::ln_gamma(k + 1.0)
        {
            return k as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_draws_have_the_mean_and_variance() {
        for mean in [1u64, 3, 11, 12, 40, 1000, 250_000] {
            let n = 40_000;
            let draws: Vec<f64> = (0..n).map(|i| poisson(mean, 7, i, mean) as f64).collect();
            let m = draws.iter().sum::<f64>() / n as f64;
            let v = draws.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
            let lam = mean as f64;
            // The sample mean's sd is sqrt(λ/n); the variance's about
            // λ·sqrt(2/n) (plus a kurtosis term of order sqrt(λ/n)).
            assert!(
                (m - lam).abs() < 5.0 * (lam / n as f64).sqrt(),
                "mean {mean}: {m}"
            );
            assert!(
                (v - lam).abs() < 6.0 * lam * (2.0 / n as f64).sqrt() + 0.05,
                "mean {mean}: variance {v}"
            );
        }
        // Keyed: the same key, the same draw.
        assert_eq!(poisson(30, 1, 2, 3), poisson(30, 1, 2, 3));
        assert_eq!(poisson(0, 1, 2, 3), 0);
    }

    #[test]
    fn a_replicate_of_the_original_counts_gives_the_point_metrics() {
        let labels: Vec<u8> = (0..500).map(|i| (i % 3 == 0) as u8).collect();
        let scores: Vec<f64> = (0..500)
            .map(|i| ((i * 37 % 101) as f64 / 100.0 + 0.2 * (i % 3 == 0) as u8 as f64).min(1.0))
            .collect();
        let state = BinaryState::from_rows(&labels, &scores, None);
        let point = state.finish(0.5);
        let r = replicate(state.histogram().groups(), 0.5, &[0.0, 0.5, 1.0]);
        for (m, name) in METRICS.iter().enumerate() {
            let want = point.value(name).unwrap_or(f64::NAN);
            let got = r.values[m];
            assert!(
                (want.is_nan() && got.is_nan())
                    || (want - got).abs() <= 1e-12 * want.abs().max(1.0),
                "{name}: {got} vs {want}"
            );
        }
    }
}
