//! The resampling weights of the bootstrap, B replicates at a time in lanes,
//! and the instruction sets the passes are compiled for.
//!
//! Weights are pure functions of (seed, replicate, row) (see
//! [`poisson_weight`] and [`multinomial_counts`]), so every task's pass —
//! binary rankings, multiclass, regression — and every model of a comparison
//! sees the same resamples.
//!
//! With clusters ([`crate::clusters`]) the unit of resampling is the
//! cluster: a row's Poisson weight is a function of (seed, replicate,
//! cluster key) ([`poisson_weight_clustered`]), multinomial replicates draw
//! as many clusters as there are, with replacement
//! ([`multinomial_counts_clustered`]), and the jackknife behind BCa leaves
//! out groups of clusters. Every row of a cluster gets its cluster's weight.

// Lane loops index several lane arrays at once; indices read best there.
#![allow(clippy::needless_range_loop)]

use super::kernel::{self, IntPosEnd, IntRankSums, PosEnd, RankSums, Scalar4, V4};
use crate::rng::word;

/// Replicates that go through the data together.
pub const LANES: usize = 16;
pub(crate) const QUADS: usize = LANES / 4;
pub(crate) const PAIRS: usize = LANES / 2;
/// Groups of the grouped jackknife behind BCa's acceleration.
pub const JACKKNIFE_GROUPS: usize = 64;
/// Domain separation of the random streams.
const POISSON_STREAM: u64 = 1 << 40;
const MULTINOMIAL_STREAM: u64 = 2 << 40;
const JACKKNIFE_STREAM: u64 = 3 << 40;
const CLUSTER_STREAM: u64 = 4 << 40;
const CLUSTER_MULTINOMIAL_STREAM: u64 = 5 << 40;
const CLUSTER_JACKKNIFE_STREAM: u64 = 6 << 40;
const STRATIFIED_STREAM: u64 = 7 << 40;

/// How replicates resample the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// Independent Poisson(1) weight per row (the default).
    Poisson,
    /// N rows drawn with replacement, N the rows of positive weight (rows
    /// of weight 0 are never drawn, so they do not dilute the replicates).
    Multinomial,
    /// Multinomial within each class: as many rows of each class drawn as
    /// it has (of positive weight), so every replicate keeps the class
    /// counts (pROC's default for ROC curves).
    Stratified,
    /// Every weight 1 in every replicate ([`OnesLanes`]): each replicate is
    /// the data itself, so finishing it must give the point values (unit
    /// tests only).
    #[cfg(test)]
    Ones,
}

impl Resample {
    /// The choices, for messages.
    pub const CHOICES: &'static str = "poisson, multinomial or stratified";

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Resample::Poisson => "poisson",
            Resample::Multinomial => "multinomial",
            Resample::Stratified => "stratified",
            #[cfg(test)]
            Resample::Ones => "ones",
        }
    }
}

impl std::str::FromStr for Resample {
    type Err = String;
    fn from_str(s: &str) -> Result<Resample, String> {
        match s {
            "poisson" => Ok(Resample::Poisson),
            "multinomial" => Ok(Resample::Multinomial),
            "stratified" => Ok(Resample::Stratified),
            other => Err(format!(
                "unknown resampling '{other}': expected {}",
                Resample::CHOICES
            )),
        }
    }
}

/// The per-row hash behind the Poisson weights (shared by all replicates).
#[inline(always)]
pub(crate) fn row_hash(row_key: u64, row: u32) -> u32 {
    (crate::rng::keyed_word(row_key, row as u64) >> 32) as u32
}

/// The key of the replicate pair `pair` (replicates `2·pair`, `2·pair + 1`).
fn pair_key(seed: u64, pair: usize) -> u32 {
    (crate::rng::stream_key(seed, POISSON_STREAM + 1 + pair as u64) >> 32) as u32
}

/// The Poisson(1) resampling weight of `row` in `replicate`: what the lane
/// passes compute, one row and replicate at a time (for reference
/// implementations and tests). A row hash `h = hash(seed, row)` is combined
/// with the key of the replicate pair, `triple32(h ^ key)`, and 16 of its bits
/// are mapped through the Poisson(1) distribution function.
pub fn poisson_weight(seed: u64, replicate: usize, row: u32) -> u32 {
    let rh = row_hash(crate::rng::stream_key(seed, POISSON_STREAM), row);
    poisson_of_hash(replicate_key(seed, replicate), replicate, rh)
}

/// The key of `replicate`'s pair, for [`poisson_of_hash`].
pub(crate) fn replicate_key(seed: u64, replicate: usize) -> u32 {
    pair_key(seed, replicate / 2)
}

/// The Poisson(1) weight in `replicate` (whose pair key is `key`,
/// [`replicate_key`]) of the unit whose hash is `hash` ([`unit_hashes`]):
/// [`poisson_weight`] and [`poisson_weight_clustered`] with the hashes
/// computed once.
#[inline(always)]
pub(crate) fn poisson_of_hash(key: u32, replicate: usize, hash: u32) -> u32 {
    let w = kernel::triple32(hash ^ key);
    kernel::poisson_of((w >> (16 * (replicate % 2))) & 0xFFFF) as u32
}

/// The hash behind the Poisson weights of every row of the cluster with key
/// `cluster` (shared by all replicates; see [`row_hash`]).
#[inline(always)]
pub(crate) fn cluster_hash(cluster_key: u64, cluster: u64) -> u32 {
    (crate::rng::keyed_word(cluster_key, cluster) >> 32) as u32
}

/// The Poisson(1) resampling weight of every row of the cluster with key
/// `cluster` in `replicate` (the reference of the clustered lane passes):
/// as [`poisson_weight`], with the cluster's hash in place of the row's.
pub fn poisson_weight_clustered(seed: u64, replicate: usize, cluster: u64) -> u32 {
    let h = cluster_hash(crate::rng::stream_key(seed, CLUSTER_STREAM), cluster);
    poisson_of_hash(replicate_key(seed, replicate), replicate, h)
}

/// The hashes of the Poisson weights of `rows`, indexed like them: one per
/// row, or, with clusters (`keys[row]`), one per cluster.
pub(crate) fn unit_hashes(
    seed: u64,
    rows: impl rayon::iter::IndexedParallelIterator<Item = u32>,
    clusters: Option<&[u64]>,
) -> Vec<u32> {
    use rayon::iter::ParallelIterator;
    match clusters {
        None => {
            let key = row_key(seed);
            rows.map(|r| row_hash(key, r)).collect()
        }
        Some(keys) => {
            let key = crate::rng::stream_key(seed, CLUSTER_STREAM);
            rows.map(|r| cluster_hash(key, keys[r as usize])).collect()
        }
    }
}

/// The multinomial resampling counts of `replicate` for rows in clusters
/// `keys` (file weights `weights`): as many clusters drawn with replacement
/// as there are clusters with a row of positive weight, each among those
/// clusters (in key order); every row gets its cluster's count, rows of
/// weight 0 count 0.
pub fn multinomial_counts_clustered(
    seed: u64,
    replicate: usize,
    keys: &[u64],
    weights: Option<&[f64]>,
) -> Vec<u32> {
    let positive = |r: usize| weights.is_none_or(|w| w[r] > 0.0);
    let (of_row, c) = crate::clusters::index(keys, positive);
    let mut counts = vec![0u32; c];
    for d in 0..c as u64 {
        counts[draw_cluster(seed, replicate, d, c)] += 1;
    }
    (0..keys.len())
        .map(|r| {
            if positive(r) {
                counts[of_row[r] as usize]
            } else {
                0
            }
        })
        .collect()
}

#[inline(always)]
fn draw_cluster(seed: u64, replicate: usize, draw: u64, clusters: usize) -> usize {
    let w = word(seed, CLUSTER_MULTINOMIAL_STREAM + replicate as u64, draw);
    ((w as u128 * clusters as u128) >> 64) as usize
}

/// The hash of each cluster's Poisson weights (`keys`, one per cluster):
/// [`poisson_weight_clustered`]'s, computed once.
pub(crate) fn cluster_hashes(seed: u64, keys: &[u64]) -> Vec<u32> {
    let key = crate::rng::stream_key(seed, CLUSTER_STREAM);
    keys.iter().map(|&k| cluster_hash(key, k)).collect()
}

/// Each of `out.len()` clusters' multinomial count in `replicate`
/// (clusters in key order): as many draws among them as there are,
/// [`multinomial_counts_clustered`]'s draws. Whole-unit resampling of the
/// units a metric is averaged over (a ranking's queries); their Poisson
/// counts are [`poisson_of_hash`] of [`cluster_hashes`].
pub(crate) fn multinomial_cluster_counts(seed: u64, replicate: usize, out: &mut [u32]) {
    out.fill(0);
    let c = out.len();
    for d in 0..c as u64 {
        out[draw_cluster(seed, replicate, d, c)] += 1;
    }
}

/// The rows of each class (`classes[row]`) for which `drawn(row)` holds,
/// ascending: the strata of stratified replicates.
pub(crate) fn strata(classes: &[u32], drawn: impl Fn(usize) -> bool) -> Vec<Vec<u32>> {
    let k = classes.iter().max().map_or(0, |&m| m as usize + 1);
    let mut out = vec![Vec::new(); k];
    for (r, &c) in classes.iter().enumerate() {
        if drawn(r) {
            out[c as usize].push(r as u32);
        }
    }
    out
}

/// The stratified resampling counts of `replicate` for rows of classes
/// `classes` (file weights `weights`): each class's rows of positive weight
/// drawn with replacement as many times as there are (draw `d` of class
/// `c` a pure function of `(seed, replicate, c, d)`); rows of weight 0
/// count 0.
pub fn stratified_counts(
    seed: u64,
    replicate: usize,
    classes: &[u32],
    weights: Option<&[f64]>,
) -> Vec<u32> {
    let mut counts = vec![0u32; classes.len()];
    for (c, rows) in strata(classes, |r| weights.is_none_or(|w| w[r] > 0.0))
        .iter()
        .enumerate()
    {
        for d in 0..rows.len() as u64 {
            counts[rows[draw_in_stratum(seed, replicate, c, d, rows.len())] as usize] += 1;
        }
    }
    counts
}

#[inline(always)]
fn draw_in_stratum(seed: u64, replicate: usize, class: usize, draw: u64, rows: usize) -> usize {
    let w = word(
        seed,
        STRATIFIED_STREAM + replicate as u64,
        ((class as u64) << 40) | draw,
    );
    ((w as u128 * rows as u128) >> 64) as usize
}

/// The stratified counts of replicates `first_replicate..+LANES` over
/// `rows` rows (see [`stratified_counts`]).
pub(crate) fn stratified_lanes(
    seed: u64,
    first_replicate: usize,
    rows: usize,
    strata: &[Vec<u32>],
) -> CountLanes {
    let mut counts = vec![[0u8; LANES]; rows];
    for l in 0..LANES {
        for (c, members) in strata.iter().enumerate() {
            for d in 0..members.len() as u64 {
                let p = draw_in_stratum(seed, first_replicate + l, c, d, members.len());
                let r = members[p] as usize;
                counts[r][l] = counts[r][l].saturating_add(1);
            }
        }
    }
    CountLanes { counts }
}

/// The multinomial resampling counts of `replicate` over `rows` rows.
pub fn multinomial_counts(seed: u64, replicate: usize, rows: usize) -> Vec<u32> {
    let mut counts = vec![0u32; rows];
    for d in 0..rows as u64 {
        counts[draw_row(seed, replicate, d, rows)] += 1;
    }
    counts
}

/// The multinomial resampling counts of `replicate` for rows with file
/// weights `weights`: as many draws as rows of positive weight, each among
/// those rows (in row order); rows of weight 0 get count 0. Without zero
/// weights this is [`multinomial_counts`].
pub fn multinomial_counts_weighted(seed: u64, replicate: usize, weights: &[f64]) -> Vec<u32> {
    let used: Vec<u32> = (0..weights.len() as u32)
        .filter(|&r| weights[r as usize] > 0.0)
        .collect();
    let mut counts = vec![0u32; weights.len()];
    for d in 0..used.len() as u64 {
        counts[used[draw_row(seed, replicate, d, used.len())] as usize] += 1;
    }
    counts
}

/// The rows a multinomial replicate draws from when some rows have weight
/// 0 (ascending), or `None` when every row is drawn from.
pub(crate) fn drawn_rows(weights: Option<&crate::data::Floats>) -> Option<Vec<u32>> {
    let w = weights?;
    let n = w.len();
    let used: Vec<u32> = (0..n as u32).filter(|&r| w.get(r as usize) > 0.0).collect();
    (used.len() < n).then_some(used)
}

#[inline(always)]
fn draw_row(seed: u64, replicate: usize, draw: u64, rows: usize) -> usize {
    let w = word(seed, MULTINOMIAL_STREAM + replicate as u64, draw);
    ((w as u128 * rows as u128) >> 64) as usize
}

/// The jackknife group of a row.
#[inline(always)]
pub(crate) fn jackknife_group(seed: u64, row: u32) -> usize {
    (word(seed, JACKKNIFE_STREAM, row as u64) % JACKKNIFE_GROUPS as u64) as usize
}

/// The jackknife group of every row of the cluster with key `cluster`.
#[inline(always)]
pub(crate) fn cluster_jackknife_group(seed: u64, cluster: u64) -> usize {
    (word(seed, CLUSTER_JACKKNIFE_STREAM, cluster) % JACKKNIFE_GROUPS as u64) as usize
}

/// The key of the per-row hashes under `seed` (see [`row_hash`]).
pub(crate) fn row_key(seed: u64) -> u64 {
    crate::rng::stream_key(seed, POISSON_STREAM)
}

/// The instruction set a pass is compiled for.
pub(crate) trait Simd {
    /// Four `f64` lanes.
    type F: V4;
    /// Poisson weights of 16 replicates for one row hash.
    fn poisson16(rh: u32, keys: &[u32; 8], out: &mut [u16; 16]);
    /// See [`kernel::rank_tile_scalar`].
    #[allow(clippy::too_many_arguments)]
    fn rank_tile(
        w: &[[f64; 4]],
        y: &[f64],
        flags: &[u8],
        st: &mut RankSums,
        scratch: &mut [PosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
        lane: usize,
    ) -> usize;
    /// See [`kernel::row_tile_scalar`].
    fn row_tile(
        w: &[[f64; 4]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[f64; 4]; 3],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
        lane: usize,
    );
    /// See [`kernel::row_tile16_scalar`].
    fn row_tile16(
        w: &[[u16; 16]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[[f64; 4]; 3]; 4],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
    );
    /// See [`kernel::rank_tile_int_scalar`].
    #[allow(clippy::too_many_arguments)]
    fn rank_tile_int(
        w: &[[u16; 16]],
        flags: &[u8],
        st: &mut IntRankSums,
        scratch: &mut [IntPosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
    ) -> usize;
}

pub(crate) struct ScalarSimd;

impl Simd for ScalarSimd {
    type F = Scalar4;
    #[inline(always)]
    fn poisson16(rh: u32, keys: &[u32; 8], out: &mut [u16; 16]) {
        kernel::poisson16_scalar(rh, keys, out)
    }
    #[inline(always)]
    fn rank_tile(
        w: &[[f64; 4]],
        y: &[f64],
        flags: &[u8],
        st: &mut RankSums,
        scratch: &mut [PosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
        lane: usize,
    ) -> usize {
        kernel::rank_tile_scalar(w, y, flags, st, scratch, group, ck, ck_tp, ck_fp, lane)
    }
    #[inline(always)]
    fn row_tile(
        w: &[[f64; 4]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[f64; 4]; 3],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
        lane: usize,
    ) {
        kernel::row_tile_scalar(w, t, flags, sums, ck, ck_wp, lane)
    }
    #[inline(always)]
    fn rank_tile_int(
        w: &[[u16; 16]],
        flags: &[u8],
        st: &mut IntRankSums,
        scratch: &mut [IntPosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
    ) -> usize {
        kernel::rank_tile_int_scalar(w, flags, st, scratch, group, ck, ck_tp, ck_fp)
    }
    #[inline(always)]
    fn row_tile16(
        w: &[[u16; 16]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[[f64; 4]; 3]; 4],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
    ) {
        kernel::row_tile16_scalar(w, t, flags, sums, ck, ck_wp)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx2Simd;

#[cfg(target_arch = "x86_64")]
impl Simd for Avx2Simd {
    type F = kernel::Avx4;
    #[inline(always)]
    fn poisson16(rh: u32, keys: &[u32; 8], out: &mut [u16; 16]) {
        // SAFETY (every method): Avx2Simd is only used by the `*_avx2`
        // functions (`pass_avx2`, `pass_avx2_int`, the fills), which run after
        // the CPU was checked for AVX2, and by tests that check it first.
        unsafe { kernel::poisson16_avx2(rh, keys, out) }
    }
    #[inline(always)]
    fn rank_tile(
        w: &[[f64; 4]],
        y: &[f64],
        flags: &[u8],
        st: &mut RankSums,
        scratch: &mut [PosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
        lane: usize,
    ) -> usize {
        unsafe { kernel::rank_tile_avx2(w, y, flags, st, scratch, group, ck, ck_tp, ck_fp, lane) }
    }
    #[inline(always)]
    fn row_tile(
        w: &[[f64; 4]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[f64; 4]; 3],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
        lane: usize,
    ) {
        unsafe { kernel::row_tile_avx2(w, t, flags, sums, ck, ck_wp, lane) }
    }
    #[inline(always)]
    fn rank_tile_int(
        w: &[[u16; 16]],
        flags: &[u8],
        st: &mut IntRankSums,
        scratch: &mut [IntPosEnd],
        group: &mut u32,
        ck: &mut usize,
        ck_tp: &mut [[f64; 16]],
        ck_fp: &mut [[f64; 16]],
    ) -> usize {
        unsafe { kernel::rank_tile_int_avx2(w, flags, st, scratch, group, ck, ck_tp, ck_fp) }
    }
    #[inline(always)]
    fn row_tile16(
        w: &[[u16; 16]],
        t: &[[f64; 4]],
        flags: &[u8],
        sums: &mut [[[f64; 4]; 3]; 4],
        ck: &mut usize,
        ck_wp: &mut [[f64; 16]],
    ) {
        unsafe { kernel::row_tile16_avx2(w, t, flags, sums, ck, ck_wp) }
    }
}

/// The resampling weights of a batch.
pub(crate) trait LaneWeights: Sync {
    /// The largest weight a lane can give a row (bounds the integer pass,
    /// [`kernel::rank_tile_int_scalar`]).
    const MAX: u16;
    /// Every lane's weight for `row` (whose hash under the run's seed is
    /// `row_hash`).
    fn fill<S: Simd>(&self, row: u32, row_hash: u32, out: &mut [u16; LANES]);
}

pub(crate) struct PoissonLanes {
    keys: [u32; PAIRS],
}

impl PoissonLanes {
    pub(crate) fn new(seed: u64, first_replicate: usize) -> PoissonLanes {
        PoissonLanes {
            keys: std::array::from_fn(|i| pair_key(seed, first_replicate / 2 + i)),
        }
    }
}

impl LaneWeights for PoissonLanes {
    const MAX: u16 = 8;
    #[inline(always)]
    fn fill<S: Simd>(&self, _row: u32, row_hash: u32, out: &mut [u16; LANES]) {
        S::poisson16(row_hash, &self.keys, out);
    }
}

pub(crate) struct CountLanes {
    /// counts[row][lane]; a count reaching 255 (probability below 10⁻⁵⁰⁰
    /// for a row drawn N times out of N) would saturate.
    counts: Vec<[u8; LANES]>,
}

impl LaneWeights for CountLanes {
    const MAX: u16 = u8::MAX as u16;
    #[inline(always)]
    fn fill<S: Simd>(&self, row: u32, _row_hash: u32, out: &mut [u16; LANES]) {
        let c = &self.counts[row as usize];
        *out = std::array::from_fn(|l| c[l] as u16);
    }
}

/// Every lane's weight 1: replicates equal to the data (unit tests of the
/// replicate path against the point path).
#[cfg(test)]
pub(crate) struct OnesLanes;

#[cfg(test)]
impl LaneWeights for OnesLanes {
    const MAX: u16 = 1;
    #[inline(always)]
    fn fill<S: Simd>(&self, _row: u32, _row_hash: u32, out: &mut [u16; LANES]) {
        *out = [1; LANES];
    }
}

pub(crate) struct JackknifeLanes<'a> {
    pub(crate) seed: u64,
    pub(crate) first_group: usize,
    /// Each row's cluster key, when clusters are the unit.
    pub(crate) clusters: Option<&'a [u64]>,
}

impl LaneWeights for JackknifeLanes<'_> {
    const MAX: u16 = 1;
    #[inline(always)]
    fn fill<S: Simd>(&self, row: u32, _row_hash: u32, out: &mut [u16; LANES]) {
        let g = match self.clusters {
            None => jackknife_group(self.seed, row),
            Some(keys) => cluster_jackknife_group(self.seed, keys[row as usize]),
        };
        for (l, o) in out.iter_mut().enumerate() {
            *o = (g != self.first_group + l) as u16;
        }
    }
}

/// The multinomial counts of replicates `first_replicate..+LANES`, indexed
/// by row (`rows` rows in all). Draws are among `drawn` (the rows of
/// positive weight, ascending) when given, else among every row; see
/// [`multinomial_counts_weighted`].
pub(crate) fn multinomial_lanes(
    seed: u64,
    first_replicate: usize,
    rows: usize,
    drawn: Option<&[u32]>,
) -> CountLanes {
    let mut counts = vec![[0u8; LANES]; rows];
    let m = drawn.map_or(rows, <[u32]>::len);
    for l in 0..LANES {
        for d in 0..m as u64 {
            let p = draw_row(seed, first_replicate + l, d, m);
            let r = drawn.map_or(p, |u| u[p] as usize);
            counts[r][l] = counts[r][l].saturating_add(1);
        }
    }
    CountLanes { counts }
}

/// The multinomial counts of replicates `first_replicate..+LANES` by
/// cluster: `of_row[row]` is the row's cluster among `clusters` drawn from
/// (`u32::MAX`: never drawn); see [`multinomial_counts_clustered`].
pub(crate) fn multinomial_cluster_lanes(
    seed: u64,
    first_replicate: usize,
    of_row: &[u32],
    clusters: usize,
) -> CountLanes {
    let mut per_cluster = vec![[0u8; LANES]; clusters];
    for l in 0..LANES {
        for d in 0..clusters as u64 {
            let c = draw_cluster(seed, first_replicate + l, d, clusters);
            per_cluster[c][l] = per_cluster[c][l].saturating_add(1);
        }
    }
    CountLanes {
        counts: of_row
            .iter()
            .map(|&c| per_cluster.get(c as usize).copied().unwrap_or([0; LANES]))
            .collect(),
    }
}

/// Fills `out[i]` with every lane's weight for row `rows[i]` (rows given by
/// index, their hashes in `row_hash` indexed by row), on the best
/// instruction set the CPU has.
pub(crate) fn fill_rows<W: LaneWeights>(
    lanes: &W,
    rows: impl Iterator<Item = u32> + Clone,
    row_hash: &[u32],
    out: &mut [[u16; LANES]],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { fill_rows_avx2(lanes, rows, row_hash, out) };
            return;
        }
    }
    for (o, r) in out.iter_mut().zip(rows) {
        lanes.fill::<ScalarSimd>(r, row_hash[r as usize], o);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_rows_avx2<W: LaneWeights>(
    lanes: &W,
    rows: impl Iterator<Item = u32>,
    row_hash: &[u32],
    out: &mut [[u16; LANES]],
) {
    for (o, r) in out.iter_mut().zip(rows) {
        lanes.fill::<Avx2Simd>(r, row_hash[r as usize], o);
    }
}

/// The weight source of batch `batch`: Poisson or multinomial replicates
/// first, then (when `jackknife`) the jackknife groups. Returns the source
/// and how many of its lanes are real replicates.
pub(crate) enum Source<'a> {
    /// Poisson replicates.
    Poisson(PoissonLanes),
    /// Multinomial replicates.
    Counts(CountLanes),
    /// Jackknife groups.
    Jackknife(JackknifeLanes<'a>),
    /// Every weight 1 (unit tests).
    #[cfg(test)]
    Ones(OnesLanes),
}

impl LaneWeights for Source<'_> {
    const MAX: u16 = u8::MAX as u16;
    #[inline(always)]
    fn fill<S: Simd>(&self, row: u32, row_hash: u32, out: &mut [u16; LANES]) {
        match self {
            Source::Poisson(p) => p.fill::<S>(row, row_hash, out),
            Source::Counts(c) => c.fill::<S>(row, row_hash, out),
            Source::Jackknife(j) => j.fill::<S>(row, row_hash, out),
            #[cfg(test)]
            Source::Ones(o) => o.fill::<S>(row, row_hash, out),
        }
    }
}

/// The batches of a bootstrap run: `replicates` resamples, then (when
/// `jackknife`) the jackknife groups. `batch` → (source, real lanes, is
/// jackknife).
pub(crate) struct Batches<'a> {
    pub(crate) replicates: usize,
    pub(crate) jackknife: bool,
    pub(crate) seed: u64,
    pub(crate) resample: Resample,
    pub(crate) rows: usize,
    /// The rows multinomial replicates draw from, when not every row (see
    /// [`drawn_rows`]).
    pub(crate) drawn: Option<Vec<u32>>,
    /// Each row's cluster key, when clusters are the unit.
    pub(crate) clusters: Option<&'a [u64]>,
    /// Multinomial replicates of clusters: each row's cluster among those
    /// drawn from, and their number (see [`multinomial_cluster_lanes`]).
    pub(crate) cluster_index: Option<(Vec<u32>, usize)>,
    /// Stratified replicates: the rows of each class (see [`strata`]).
    pub(crate) strata: Option<Vec<Vec<u32>>>,
}

impl<'a> Batches<'a> {
    /// Replicate batches.
    pub(crate) fn resample_batches(&self) -> usize {
        self.replicates.div_ceil(LANES)
    }

    /// All batches.
    pub(crate) fn len(&self) -> usize {
        self.resample_batches()
            + if self.jackknife {
                JACKKNIFE_GROUPS.div_ceil(LANES)
            } else {
                0
            }
    }

    /// The source of batch `b`, its number of real lanes, and whether it is
    /// a jackknife batch.
    pub(crate) fn source(&self, b: usize) -> (Source<'a>, usize, bool) {
        let rb = self.resample_batches();
        if b < rb {
            let first = b * LANES;
            let src = match self.resample {
                Resample::Poisson => Source::Poisson(PoissonLanes::new(self.seed, first)),
                Resample::Multinomial => Source::Counts(match &self.cluster_index {
                    Some((of_row, clusters)) => {
                        multinomial_cluster_lanes(self.seed, first, of_row, *clusters)
                    }
                    None => multinomial_lanes(self.seed, first, self.rows, self.drawn.as_deref()),
                }),
                Resample::Stratified => Source::Counts(stratified_lanes(
                    self.seed,
                    first,
                    self.rows,
                    self.strata.as_deref().unwrap_or_default(),
                )),
                #[cfg(test)]
                Resample::Ones => Source::Ones(OnesLanes),
            };
            (src, (self.replicates - first).min(LANES), false)
        } else {
            let first = (b - rb) * LANES;
            (
                Source::Jackknife(JackknifeLanes {
                    seed: self.seed,
                    first_group: first,
                    clusters: self.clusters,
                }),
                (JACKKNIFE_GROUPS - first).min(LANES),
                true,
            )
        }
    }
}
