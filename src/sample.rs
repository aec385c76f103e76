//! Stratified, seeded sampling without replacement (docs/spec.md §4).
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
//! Two strata (binary labels) pack the ids into one bit per row first, and
//! both passes then run over 64-row words.

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

/// A stratum id type: `u8` (binary labels, label deciles) or `u32`
/// (multiclass labels).
pub trait StratumId: Copy + Sync + Into<u64> {
    /// Bit `i` set when `block[i]` (at most 64 ids, each 0 or 1) is 1.
    fn pack(block: &[Self]) -> u64 {
        block
            .iter()
            .enumerate()
            .fold(0, |w, (i, &s)| w | (s.into() << i))
    }
}

impl StratumId for u32 {}

impl StratumId for u8 {
    fn pack(block: &[u8]) -> u64 {
        let mut w = 0u64;
        let mut eights = block.chunks_exact(8);
        for (i, e) in eights.by_ref().enumerate() {
            // Eight 0/1 bytes to eight bits: the multiply moves byte j's low
            // bit to bit 56 + j, with no carries into the top byte.
            let x = u64::from_le_bytes(e.try_into().unwrap_or([0; 8]));
            w |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
        }
        let done = block.len() - eights.remainder().len();
        for (i, &s) in eights.remainder().iter().enumerate() {
            w |= (s as u64) << (done + i);
        }
        w
    }
}

/// Draws a stratified sample of about `n` rows (`None`: every row) from rows
/// whose stratum ids are `ids` (each `< strata`).
pub fn stratified<S: StratumId>(ids: &[S], strata: usize, n: Option<usize>, seed: u64) -> Sample {
    if strata == 2 {
        return stratified_binary(ids, n, seed);
    }
    let histograms: Vec<Vec<u64>> = ids
        .par_chunks(CHUNK)
        .map(|c| {
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
    if let Some(all) = everything(ids.len(), n, &totals) {
        return all;
    }
    let quota = allocate(&totals, n.unwrap_or(0) as u64);
    let chosen = choose(&totals, &quota, seed);

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

/// What a stratified sample takes from rows whose strata hold `totals`
/// rows, for rows that come in order, a chunk at a time (several files):
/// the same rows [`stratified`] takes from all of them at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Rows taken per stratum.
    pub quota: Vec<u64>,
    /// The ranks taken in each stratum, ascending; `None` takes every row.
    chosen: Option<Vec<Vec<u64>>>,
}

impl Plan {
    /// The plan of a sample of about `n` rows (`None`: every row) with
    /// [`stratified`]'s allocation and draws.
    pub fn new(totals: &[u64], n: Option<usize>, seed: u64) -> Plan {
        let rows: u64 = totals.iter().sum();
        if n.is_none_or(|n| n as u64 >= rows) {
            return Plan {
                quota: totals.to_vec(),
                chosen: None,
            };
        }
        let quota = allocate(totals, n.unwrap_or(0) as u64);
        let chosen = choose(totals, &quota, seed);
        Plan {
            quota,
            chosen: Some(chosen),
        }
    }

    /// Calls `take(i)` for each row `i` of `ids` (the next rows, in order)
    /// that the sample takes; `seen` counts each stratum's rows before them
    /// and is advanced past them.
    pub fn pick<S: StratumId>(&self, ids: &[S], seen: &mut [u64], mut take: impl FnMut(usize)) {
        for (i, &s) in ids.iter().enumerate() {
            let h = s.into() as usize;
            let taken = match &self.chosen {
                None => true,
                Some(chosen) => chosen[h].binary_search(&seen[h]).is_ok(),
            };
            if taken {
                take(i);
            }
            seen[h] += 1;
        }
    }
}

/// The whole file as the sample, when `n` asks for every row.
fn everything(rows: usize, n: Option<usize>, totals: &[u64]) -> Option<Sample> {
    n.is_none_or(|n| n as u64 >= rows as u64).then(|| Sample {
        rows: (0..rows as u32).collect(),
        sampled: totals.to_vec(),
        totals: totals.to_vec(),
    })
}

/// The chosen ranks of each stratum, on the stream `(seed, stratum)`.
fn choose(totals: &[u64], quota: &[u64], seed: u64) -> Vec<Vec<u64>> {
    (0..totals.len())
        .map(|h| choose_sorted(&mut Stream::new(seed, h as u64), totals[h], quota[h]))
        .collect()
}

/// Two strata (binary labels): the ids become one bit per row, so counting
/// is a popcount and finding the row of a chosen rank is a select inside a
/// 64-row word; the pass touches each id once. Same rows as the general loop.
fn stratified_binary<S: StratumId>(ids: &[S], n: Option<usize>, seed: u64) -> Sample {
    const WORDS: usize = CHUNK / 64;

    let mut words = vec![0u64; ids.len().div_ceil(64)];
    words
        .par_chunks_mut(WORDS)
        .zip(ids.par_chunks(CHUNK))
        .for_each(|(w, c)| {
            for (w, block) in w.iter_mut().zip(c.chunks(64)) {
                *w = S::pack(block);
            }
        });
    // Ones before each chunk.
    let chunk_ones: Vec<u64> = words
        .chunks(WORDS)
        .map(|w| w.iter().map(|w| w.count_ones() as u64).sum())
        .collect();
    let ones: u64 = chunk_ones.iter().sum();
    let totals = vec![ids.len() as u64 - ones, ones];
    if let Some(all) = everything(ids.len(), n, &totals) {
        return all;
    }
    let quota = allocate(&totals, n.unwrap_or(0) as u64);
    let chosen = choose(&totals, &quota, seed);
    let mut starts = Vec::with_capacity(chunk_ones.len());
    let mut before = 0u64;
    for (c, &o) in chunk_ones.iter().enumerate() {
        starts.push(((c * CHUNK) as u64 - before, before));
        before += o;
    }
    let len = ids.len();
    let parts: Vec<Vec<u32>> = words
        .par_chunks(WORDS)
        .zip(starts.into_par_iter())
        .enumerate()
        .map(|(c, (w, (mut r0, mut r1)))| {
            let target = |h: usize, i: usize| chosen[h].get(i).copied().unwrap_or(u64::MAX);
            let mut n0 = chosen[0].partition_point(|&r| r < r0);
            let mut n1 = chosen[1].partition_point(|&r| r < r1);
            let (mut t0, mut t1) = (target(0, n0), target(1, n1));
            let mut rows = Vec::new();
            for (i, &w) in w.iter().enumerate() {
                let base = c * CHUNK + i * 64;
                let valid = (len - base).min(64);
                let mask = if valid == 64 { !0 } else { (1u64 << valid) - 1 };
                let (w1, w0) = (w, !w & mask);
                let (o, z) = (w1.count_ones() as u64, w0.count_ones() as u64);
                let mut hits = 0u64;
                while t1 < r1 + o {
                    hits |= 1 << select(w1, t1 - r1);
                    n1 += 1;
                    t1 = target(1, n1);
                }
                while t0 < r0 + z {
                    hits |= 1 << select(w0, t0 - r0);
                    n0 += 1;
                    t0 = target(0, n0);
                }
                r1 += o;
                r0 += z;
                while hits != 0 {
                    rows.push((base + hits.trailing_zeros() as usize) as u32);
                    hits &= hits - 1;
                }
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

/// Position of the `k`-th set bit of `w` (from 0; `k < w.count_ones()`).
fn select(w: u64, k: u64) -> u32 {
    let mut k = k as u32;
    let mut shift = 0;
    while shift < 56 {
        let c = ((w >> shift) & 0xff).count_ones();
        if k < c {
            break;
        }
        k -= c;
        shift += 8;
    }
    let mut b = (w >> shift) & 0xff;
    for _ in 0..k {
        b &= b - 1;
    }
    shift + b.trailing_zeros()
}

/// Label-decile strata for regression: stratum `h` holds the labels between
/// the `h`-th and `(h+1)`-th decile. The deciles come from an evenly spaced
/// subsample of at most 65,536 labels (exact for smaller files); any fixed
/// partition keeps the stratified estimate unbiased.
pub fn decile_strata(labels: &[f64]) -> (Vec<u8>, Vec<f64>) {
    let step = decile_probe_step(labels.len() as u64) as usize;
    let cuts = decile_cuts(labels.iter().step_by(step).copied().collect());
    let ids = labels.par_iter().map(|&v| decile_of(&cuts, v)).collect();
    (ids, cuts)
}

/// The deciles are read from the labels of rows `0, step, 2·step, …` of
/// `rows` rows (at most 65,536 of them).
pub fn decile_probe_step(rows: u64) -> u64 {
    rows.div_ceil(65_536).max(1)
}

/// The nine cuts between label deciles, from the probed labels.
pub fn decile_cuts(mut probe: Vec<f64>) -> Vec<f64> {
    probe.sort_unstable_by(f64::total_cmp);
    if probe.is_empty() {
        return Vec::new();
    }
    (1..10)
        .map(|d| probe[(d * (probe.len() - 1)) / 10])
        .collect()
}

/// The decile stratum of a label.
pub fn decile_of(cuts: &[f64], label: f64) -> u8 {
    cuts.partition_point(|&c| c < label) as u8
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
        // u32 ids pack bit by bit; u8 ids eight at a time.
        let wide: Vec<u32> = ids.iter().map(|&v| v as u32).collect();
        assert_eq!(stratified(&wide, 2, Some(5000), 11), fast);
        // Short files, a partial last word, a single row of a class, and
        // every-row samples.
        for len in [1usize, 2, 63, 64, 65, 130, 1000] {
            let ids: Vec<u8> = (0..len).map(|i| (i % 7 == 3) as u8).collect();
            for n in [1, 2, 5, 64, len, len + 1] {
                let fast = stratified(&ids, 2, Some(n), 5);
                let general = stratified(&ids, 3, Some(n), 5);
                assert_eq!(fast.rows, general.rows, "len={len} n={n}");
                assert_eq!(fast.sampled[..], general.sampled[..2]);
            }
        }
    }

    #[test]
    fn packing_and_select_agree_with_bit_loops() {
        let block: Vec<u8> = (0..61).map(|i| ((i * 37) % 5 == 1) as u8).collect();
        let wide: Vec<u32> = block.iter().map(|&v| v as u32).collect();
        let want: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &v)| (v as u64) << i)
            .sum();
        assert_eq!(u8::pack(&block), want);
        assert_eq!(u32::pack(&wide), want);
        let w = 0xF0F0_0000_8001_0013u64;
        let set: Vec<u32> = (0..64).filter(|&b| w >> b & 1 == 1).collect();
        for (k, &b) in set.iter().enumerate() {
            assert_eq!(select(w, k as u64), b);
        }
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
