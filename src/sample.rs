//! Stratified, seeded sampling without replacement (SPEC §4).
//!
//! Each stratum (a class; for regression a label decile) keeps its share of
//! the sample: `n · N_h / N` rounded by largest remainder (ties to the lower
//! stratum index), with at least one row for every stratum present. Rows are
//! then drawn uniformly without replacement inside each stratum with Floyd's
//! algorithm on the stream `(seed, stratum)`, so the sample depends only on
//! the seed and the data, never on the thread count.
//!
//! Cost: one parallel counting pass and one parallel selection pass over the
//! stratum ids; memory beyond the sample itself is `O(strata × threads)`.

use rayon::prelude::*;

use crate::rng::{Stream, choose_sorted};

const CHUNK: usize = 1 << 18;

/// A stratified sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sampled row indices, ascending.
    pub rows: Vec<u32>,
    /// Rows in the file per stratum.
    pub totals: Vec<u64>,
    /// Rows sampled per stratum.
    pub sampled: Vec<u64>,
}

/// How many rows each stratum gets: proportional, largest remainder, at
/// least one for each non-empty stratum (so the sample can exceed `n` when
/// there are more strata than `n`). `n >= Σ totals` takes everything.
pub fn allocate(totals: &[u64], n: u64) -> Vec<u64> {
    let total: u64 = totals.iter().sum();
    if n >= total {
        return totals.to_vec();
    }
    let mut quota: Vec<u64> = totals
        .iter()
        .map(|&t| ((n as u128 * t as u128) / total as u128) as u64)
        .collect();
    let mut left = n - quota.iter().sum::<u64>();
    // Largest remainder: remainder numerators n·t mod total, descending.
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by_key(|&h| std::cmp::Reverse((n as u128 * totals[h] as u128) % total as u128));
    for &h in &order {
        if left == 0 {
            break;
        }
        if quota[h] < totals[h] {
            quota[h] += 1;
            left -= 1;
        }
    }
    // At least one row per stratum present, taken from the largest quota.
    for h in 0..totals.len() {
        if totals[h] > 0 && quota[h] == 0 {
            let donor = (0..totals.len())
                .filter(|&d| quota[d] > 1)
                .max_by_key(|&d| (quota[d], std::cmp::Reverse(d)));
            if let Some(d) = donor {
                quota[d] -= 1;
            }
            quota[h] = 1;
        }
    }
    quota
}

/// Draws a stratified sample of about `n` rows (`None`: every row) from rows
/// whose stratum ids are `ids` (each `< strata`).
pub fn stratified<S>(ids: &[S], strata: usize, n: Option<usize>, seed: u64) -> Sample
where
    S: Copy + Sync + Into<u64>,
{
    let histograms: Vec<Vec<u64>> = ids
        .par_chunks(CHUNK)
        .map(|c| {
            if strata == 2 {
                // Ids are 0 or 1: the count of ones is their sum (vectorised).
                let ones: u64 = c.iter().map(|&s| s.into()).sum();
                return vec![c.len() as u64 - ones, ones];
            }
            let mut h = vec![0u64; strata];
            for &s in c {
                h[s.into() as usize] += 1;
            }
            h
        })
        .collect();
    let mut totals = vec![0u64; strata];
    for h in &histograms {
        for (t, c) in totals.iter_mut().zip(h) {
            *t += c;
        }
    }
    let all = n.is_none_or(|n| n as u64 >= ids.len() as u64);
    if all {
        return Sample {
            rows: (0..ids.len() as u32).collect(),
            sampled: totals.clone(),
            totals,
        };
    }
    let quota = allocate(&totals, n.unwrap_or(0) as u64);
    let chosen: Vec<Vec<u64>> = (0..strata)
        .map(|h| choose_sorted(&mut Stream::new(seed, h as u64), totals[h], quota[h]))
        .collect();

    // Rank of each chunk's first row of each stratum.
    let mut starts = Vec::with_capacity(histograms.len());
    let mut running = vec![0u64; strata];
    for h in &histograms {
        starts.push(running.clone());
        for (r, c) in running.iter_mut().zip(h) {
            *r += c;
        }
    }
    let parts: Vec<Vec<u32>> = ids
        .par_chunks(CHUNK)
        .zip(starts.into_par_iter())
        .enumerate()
        .map(|(c, (chunk, mut rank))| {
            // Next chosen rank to look for, per stratum.
            let mut next: Vec<usize> = (0..strata)
                .map(|h| chosen[h].partition_point(|&r| r < rank[h]))
                .collect();
            let mut rows = Vec::new();
            if strata == 2 {
                select_binary(chunk, c * CHUNK, &mut rank, &mut next, &chosen, &mut rows);
                return rows;
            }
            for (i, &s) in chunk.iter().enumerate() {
                let h = s.into() as usize;
                if next[h] < chosen[h].len() && chosen[h][next[h]] == rank[h] {
                    rows.push((c * CHUNK + i) as u32);
                    next[h] += 1;
                }
                rank[h] += 1;
            }
            rows
        })
        .collect();
    Sample {
        rows: parts.concat(),
        totals,
        sampled: quota,
    }
}

/// The selection pass for two strata (binary labels), kept in registers
/// and branch-free but for the rare hits. Same result as the general loop.
fn select_binary<S: Copy + Into<u64>>(
    chunk: &[S],
    offset: usize,
    rank: &mut [u64],
    next: &mut [usize],
    chosen: &[Vec<u64>],
    rows: &mut Vec<u32>,
) {
    let target = |h: usize, n: usize| chosen[h].get(n).copied().unwrap_or(u64::MAX);
    let (mut r0, mut r1) = (rank[0], rank[1]);
    let (mut t0, mut t1) = (target(0, next[0]), target(1, next[1]));
    for (i, &s) in chunk.iter().enumerate() {
        let one = s.into();
        let hit = ((one == 1) & (r1 == t1)) | ((one == 0) & (r0 == t0));
        r1 += one;
        r0 += 1 - one;
        if hit {
            rows.push((offset + i) as u32);
            if one == 1 {
                next[1] += 1;
                t1 = target(1, next[1]);
            } else {
                next[0] += 1;
                t0 = target(0, next[0]);
            }
        }
    }
    rank[0] = r0;
    rank[1] = r1;
}

/// Label-decile strata for regression: stratum `h` holds the labels between
/// the `h`-th and `(h+1)`-th decile. The deciles come from an evenly spaced
/// subsample of at most 65,536 labels (exact for smaller files); any fixed
/// partition keeps the stratified estimate unbiased.
pub fn decile_strata(labels: &[f64]) -> (Vec<u8>, Vec<f64>) {
    let n = labels.len();
    let step = n.div_ceil(65_536).max(1);
    let mut probe: Vec<f64> = labels.iter().step_by(step).copied().collect();
    probe.sort_unstable_by(f64::total_cmp);
    let cuts: Vec<f64> = if probe.is_empty() {
        Vec::new()
    } else {
        (1..10)
            .map(|d| probe[(d * (probe.len() - 1)) / 10])
            .collect()
    };
    let ids = labels
        .par_iter()
        .map(|&v| cuts.partition_point(|&c| c < v) as u8)
        .collect();
    (ids, cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_proportional_with_a_floor_of_one() {
        assert_eq!(allocate(&[50, 50], 10), vec![5, 5]);
        assert_eq!(allocate(&[995, 5], 100), vec![99, 1]);
        assert_eq!(allocate(&[999, 1], 10), vec![9, 1]);
        assert_eq!(allocate(&[10, 0, 10], 4), vec![2, 0, 2]);
        assert_eq!(allocate(&[3, 3, 3], 100), vec![3, 3, 3]);
        let q = allocate(&[333, 333, 334], 100);
        assert_eq!(q.iter().sum::<u64>(), 100);
        assert_eq!(q, vec![33, 33, 34]);
    }

    #[test]
    fn sample_respects_quotas_and_is_seeded() {
        let ids: Vec<u8> = (0..1_000_000u32).map(|i| (i % 100 == 0) as u8).collect();
        let a = stratified(&ids, 2, Some(1000), 3);
        let b = stratified(&ids, 2, Some(1000), 3);
        let c = stratified(&ids, 2, Some(1000), 4);
        assert_eq!(a, b);
        assert_ne!(a.rows, c.rows);
        assert_eq!(a.rows.len(), 1000);
        assert_eq!(a.sampled, vec![990, 10]);
        let positives = a.rows.iter().filter(|&&r| ids[r as usize] == 1).count();
        assert_eq!(positives, 10);
        assert!(a.rows.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn binary_fast_path_equals_the_general_loop() {
        // The same ids as u8 (two strata, fast path) and spread over three
        // strata with an empty third one (general loop) give the same rows.
        let ids: Vec<u8> = (0..700_000u32)
            .map(|i| (i.wrapping_mul(2654435761u32) >> 30 == 0) as u8)
            .collect();
        let fast = stratified(&ids, 2, Some(5000), 11);
        let general = stratified(&ids, 3, Some(5000), 11);
        assert_eq!(fast.rows, general.rows);
        assert_eq!(fast.totals[..], general.totals[..2]);
    }

    #[test]
    fn deciles_split_evenly() {
        let labels: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let (ids, cuts) = decile_strata(&labels);
        assert_eq!(cuts.len(), 9);
        let mut counts = [0; 10];
        for id in ids {
            counts[id as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (99..=101).contains(&c)),
            "{counts:?}"
        );
    }
}
