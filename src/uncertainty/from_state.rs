//! The bootstrap from a binary state (unweighted rows, or whole-number
//! weights taken as frequencies: a row of weight k draws as k rows).
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

/// Replicates per parallel task (and per progress step).
const BATCH: usize = 16;

/// `replicates` bootstrap replicates of every binary metric and band from
/// a binary state's histogram as frequencies — (score, positives,
/// negatives), descending: the counts of unweighted rows, or whole-number
/// weights taken as frequencies
/// ([`crate::state::binary::ScoreHistogram::frequency_groups`]: a row of
/// weight k draws as k rows) — seeded by `seed`; the F1 band on `grid`
/// thresholds. `progress(done, total)` is called as batches finish.
pub fn binary_replicates(
    frequencies: Vec<(f64, u64, u64)>,
    replicates: usize,
    seed: u64,
    threshold: f64,
    grid: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    // Everything a replicate reads per group that does not depend on the
    // draw, computed once: its loss terms, its bin, and the samplers of
    // its two counts (one per distinct count).
    let mut samplers: Vec<Sampler> = Vec::new();
    let mut sampler_of: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut sampler = |mean: u64| -> u32 {
        *sampler_of.entry(mean).or_insert_with(|| {
            samplers.push(Sampler::new(mean));
            (samplers.len() - 1) as u32
        })
    };
    let groups: Vec<GroupTerms> = frequencies
        .into_iter()
        .map(|(score, pos, neg)| GroupTerms {
            samplers: [sampler(pos), sampler(neg)],
            ..GroupTerms::of(score)
        })
        .collect();
    let grid: Vec<f64> = (0..grid.max(2))
        .map(|i| i as f64 / (grid.max(2) - 1) as f64)
        .collect();
    let batches = replicates.div_ceil(BATCH);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let per_batch: Vec<Vec<Replicate>> = (0..batches)
        .into_par_iter()
        .map(|b| {
            let mut curve = empty_curve();
            let out = (b * BATCH..((b + 1) * BATCH).min(replicates))
                .map(|r| {
                    let drawn = groups.iter().enumerate().map(|(g, t)| {
                        (
                            t,
                            samplers[t.samplers[0] as usize].draw(seed, r, 2 * g as u64),
                            samplers[t.samplers[1] as usize].draw(seed, r, 2 * g as u64 + 1),
                        )
                    });
                    replicate(drawn, threshold, &grid, &mut curve)
                })
                .collect();
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, batches);
            out
        })
        .collect();
    collect(per_batch.into_iter().flatten().collect(), grid)
}

/// The replicates' values in [`Replicates`]' layout.
fn collect(all: Vec<Replicate>, grid: Vec<f64>) -> Replicates {
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
        per_class_f1: Vec::new(),
        one_vs_rest: Vec::new(),
    }
}

/// Paired bootstrap replicates of two models on the same rows, from a
/// paired state's joint histogram ([`crate::state::paired`]): each pair
/// of scores `(a, b)` with its positive and negative counts (as
/// frequencies), in canonical order. Replicate `r` draws each pair's
/// counts once — Poisson, keyed by (seed, r, pair, class) as
/// [`binary_replicates`] keys a group's — and both models read the same
/// draws: the candidate's histogram sums them by `a`, the baseline's by
/// `b`. So each replicate's difference is paired, as on the rows, and the
/// replicates depend only on the merged state and the seed. `a_scores` and
/// `b_scores` are each model's distinct scores, descending, and
/// `of_pair[0][i]`, `of_pair[1][i]` pair `i`'s index among them
/// ([`crate::state::paired::PairedState::check`]).
#[allow(clippy::too_many_arguments)]
pub fn paired_binary_replicates(
    joint: &[(f64, f64, u64, u64)],
    of_pair: &[Vec<u32>; 2],
    a_scores: &[f64],
    b_scores: &[f64],
    replicates: usize,
    seed: u64,
    threshold: f64,
    grid: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> (Replicates, Replicates) {
    let mut samplers: Vec<Sampler> = Vec::new();
    let mut sampler_of: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut sampler = |mean: u64| -> u32 {
        *sampler_of.entry(mean).or_insert_with(|| {
            samplers.push(Sampler::new(mean));
            (samplers.len() - 1) as u32
        })
    };
    // Each side's pairs in that side's score order, each with its group,
    // its index (the draws' key) and the samplers of its two counts: a
    // replicate walks each side's list once, in order, summing a group's
    // draws as it goes — no random access into per-group counters (which,
    // with about one pair per row, cost a cache miss a pair). A pair's
    // draws are computed once per side; keyed by (seed, replicate, pair),
    // both sides read the same values.
    let mut side = |groups: &[u32]| -> Vec<(u32, u32, [u32; 2])> {
        let mut e: Vec<(u32, u32, [u32; 2])> = groups
            .iter()
            .zip(joint)
            .enumerate()
            .map(|(i, (&g, &(_, _, pos, neg)))| (g, i as u32, [sampler(pos), sampler(neg)]))
            .collect();
        e.sort_unstable_by_key(|x| (x.0, x.1));
        e
    };
    let (pairs_a, pairs_b) = (side(&of_pair[0]), side(&of_pair[1]));
    let terms =
        |scores: &[f64]| -> Vec<GroupTerms> { scores.iter().map(|&s| GroupTerms::of(s)).collect() };
    let (terms_a, terms_b) = (terms(a_scores), terms(b_scores));
    let grid: Vec<f64> = (0..grid.max(2))
        .map(|i| i as f64 / (grid.max(2) - 1) as f64)
        .collect();
    let samplers = &samplers;
    let batches = replicates.div_ceil(BATCH);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let per_batch: Vec<Vec<(Replicate, Replicate)>> = (0..batches)
        .into_par_iter()
        .map(|batch| {
            let mut curve = empty_curve();
            let out = (batch * BATCH..((batch + 1) * BATCH).min(replicates))
                .map(|r| {
                    let a = drawn(&pairs_a, &terms_a, samplers, seed, r);
                    let a = replicate(a, threshold, &grid, &mut curve);
                    let b = drawn(&pairs_b, &terms_b, samplers, seed, r);
                    let b = replicate(b, threshold, &grid, &mut curve);
                    (a, b)
                })
                .collect();
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, batches);
            out
        })
        .collect();
    let (a, b): (Vec<Replicate>, Vec<Replicate>) = per_batch.into_iter().flatten().unzip();
    (collect(a, grid.clone()), collect(b, grid))
}

/// One side's groups with their counts drawn for replicate `r`, in
/// descending score order: `pairs` in that side's order as (group, pair,
/// samplers), each group's draws summed.
fn drawn<'a>(
    pairs: &'a [(u32, u32, [u32; 2])],
    terms: &'a [GroupTerms],
    samplers: &'a [Sampler],
    seed: u64,
    r: usize,
) -> impl Iterator<Item = (&'a GroupTerms, u64, u64)> + 'a {
    let mut it = pairs.iter().peekable();
    std::iter::from_fn(move || {
        let &&(g, _, _) = it.peek()?;
        let (mut p, mut n) = (0u64, 0u64);
        while let Some(&&(h, i, [sp, sn])) = it.peek() {
            if h != g {
                break;
            }
            it.next();
            // Saturating: a handmade state's counts cannot wrap (the
            // finish checked them against the states' own counts).
            p = p.saturating_add(samplers[sp as usize].draw(seed, r, 2 * i as u64));
            n = n.saturating_add(samplers[sn as usize].draw(seed, r, 2 * i as u64 + 1));
        }
        Some((&terms[g as usize], p, n))
    })
}

/// One replicate's metric values (in [`METRICS`] order, NaN where
/// undefined) and band values.
struct Replicate {
    values: Vec<f64>,
    tpr: Vec<f64>,
    precision: Vec<f64>,
    f1: Vec<f64>,
}

/// A ranking table without rows (working space for [`replicate`]).
fn empty_curve() -> BinaryCurve {
    BinaryCurve {
        thresholds: Vec::new(),
        tps: Vec::new(),
        fps: Vec::new(),
        weighted: false,
    }
}

/// One score group of the state as every replicate reads it.
struct GroupTerms {
    score: f64,
    /// The log loss of a negative and of a positive at this score.
    log_loss: [f64; 2],
    /// Its reliability bin.
    bin: u8,
    /// The samplers of its positive and negative counts.
    samplers: [u32; 2],
}

impl GroupTerms {
    fn of(score: f64) -> GroupTerms {
        GroupTerms {
            score,
            log_loss: [binary_log_loss(0, score), binary_log_loss(1, score)],
            bin: bin_of(score) as u8,
            samplers: [0, 0],
        }
    }
}

/// The metrics and bands of a histogram given as (group, positives,
/// negatives) in descending score order, by the point metrics' formula;
/// `curve` is working space (its buffers are reused). Groups drawn empty
/// are left out, as rows that were never there.
fn replicate<'a>(
    groups: impl Iterator<Item = (&'a GroupTerms, u64, u64)>,
    threshold: f64,
    grid: &[f64],
    curve: &mut BinaryCurve,
) -> Replicate {
    curve.thresholds.clear();
    curve.tps.clear();
    curve.fps.clear();
    curve.weighted = false;
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut sums = RowSums::default();
    let (mut count, mut weight, mut predicted, mut observed) =
        ([0u64; BINS], [0.0; BINS], [0.0; BINS], [0.0; BINS]);
    for (g, pos, neg) in groups {
        if pos + neg == 0 {
            continue;
        }
        let score = g.score;
        tp += pos;
        fp += neg;
        curve.thresholds.push(score);
        curve.tps.push(tp as f64);
        curve.fps.push(fp as f64);
        let (p, n) = (pos as f64, neg as f64);
        sums.log_loss += p * g.log_loss[1] + n * g.log_loss[0];
        sums.brier += p * (1.0 - score) * (1.0 - score) + n * score * score;
        let b = g.bin as usize;
        count[b] += pos + neg;
        weight[b] += p + n;
        predicted[b] += (p + n) * score;
        observed[b] += p;
    }
    sums.weight = (tp + fp) as f64;
    sums.bins = BinSums::from_parts(count, weight, predicted, observed);
    let m = point_metrics(curve, &sums, threshold);
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
    Sampler::new(mean).draw(seed, replicate, draw)
}

/// What a Poisson draw of one mean needs, computed once per distinct mean
/// (a state's groups share few counts): the CDF for inversion, PTRS's
/// constants above. The draws are those of the plain algorithm, bit for
/// bit: the table holds the very sums its loop would compute.
enum Sampler {
    Zero,
    /// `cdf[k] = P(X ≤ k)` as the inversion loop accumulates it, up to the
    /// point where it stops changing (or k = 1000).
    Inversion(Vec<f64>),
    Ptrs {
        lam: f64,
        loglam: f64,
        b: f64,
        a: f64,
        invalpha: f64,
        vr: f64,
    },
}

impl Sampler {
    fn new(mean: u64) -> Sampler {
        let lam = mean as f64;
        if mean == 0 {
            Sampler::Zero
        } else if mean < 12 {
            let mut p = (-lam).exp();
            let mut cdf = vec![p];
            let mut k = 0u64;
            while k < 1000 {
                k += 1;
                p *= lam / k as f64;
                let last = cdf[cdf.len() - 1];
                cdf.push(last + p);
                if last + p == last {
                    break;
                }
            }
            Sampler::Inversion(cdf)
        } else {
            let slam = lam.sqrt();
            let b = 0.931 + 2.53 * slam;
            Sampler::Ptrs {
                lam,
                loglam: lam.ln(),
                b,
                a: -0.059 + 0.02483 * b,
                invalpha: 1.1239 + 1.1328 / (b - 3.4),
                vr: 0.9277 - 3.6224 / (b - 2.0),
            }
        }
    }

    fn draw(&self, seed: u64, replicate: usize, draw: u64) -> u64 {
        let stream = || {
            Stream::new(
                seed,
                ((replicate as u64) << 42) ^ draw ^ 0x5157_A7E0_0000_0000,
            )
        };
        match self {
            Sampler::Zero => 0,
            Sampler::Inversion(cdf) => {
                let u = unit(stream().next_u64());
                // The first k with u ≤ P(X ≤ k); past the table the sum no
                // longer grows, and the loop ran on to k = 1000.
                cdf.iter().position(|&c| u <= c).unwrap_or(1000) as u64
            }
            &Sampler::Ptrs {
                lam,
                loglam,
                b,
                a,
                invalpha,
                vr,
            } => {
                let mut rng = stream();
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::binary::BinaryState;

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

    /// The plain algorithm, computing everything per draw.
    fn poisson_plain(mean: u64, seed: u64, replicate: usize, draw: u64) -> u64 {
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

    #[test]
    fn precomputed_samplers_draw_what_the_plain_algorithm_draws() {
        for mean in (0..40).chain([100, 1000, 123_456]) {
            let sampler = Sampler::new(mean);
            for r in 0..300 {
                for d in [0u64, 1, 77, 1 << 30] {
                    assert_eq!(
                        sampler.draw(9, r, d),
                        poisson_plain(mean, 9, r, d),
                        "mean {mean}, replicate {r}, draw {d}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_replicate_of_the_original_counts_gives_the_point_metrics() {
        let labels: Vec<u8> = (0..500).map(|i| (i % 3 == 0) as u8).collect();
        let scores: Vec<f64> = (0..500)
            .map(|i| ((i * 37 % 101) as f64 / 100.0 + 0.2 * (i % 3 == 0) as u8 as f64).min(1.0))
            .collect();
        let state = BinaryState::from_rows(&labels, &scores, None);
        let point = state.finish(0.5);
        let terms: Vec<(GroupTerms, u64, u64)> = state
            .histogram()
            .groups()
            .map(|(score, pos, neg)| (GroupTerms::of(score), pos, neg))
            .collect();
        let r = replicate(
            terms.iter().map(|(t, p, n)| (t, *p, *n)),
            0.5,
            &[0.0, 0.5, 1.0],
            &mut empty_curve(),
        );
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
