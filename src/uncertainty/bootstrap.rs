//! The bootstrap of the binary full tier: every metric, B replicates, one sort.
//!
//! # How
//!
//! The rows are sorted once by score ([`Ranking`]). A replicate is a
//! *weighted pass* over that order: each row carries a resampling weight, and
//! the same single pass that computes the point metrics (cumulative positive
//! and negative weight per tie group) gives every metric of the replicate —
//! ROC-AUC by the trapezoid, average precision, the best F1, the confusion
//! matrix at the threshold, log loss, Brier and the calibration bins.
//!
//! - **Weights** come from a counter-based generator keyed by
//!   `(seed, replicate, row)` ([`poisson_weight`]): a replicate's weights do
//!   not depend on the thread count, the batch split, or which model is
//!   evaluated, so `evalkit compare` applies the *same* resamples to both
//!   models. Poisson(1) weights (the default) take 16 random bits per
//!   (replicate, row), mapped through the Poisson(1) distribution function
//!   rounded to multiples of 2⁻¹⁶ (each probability within 1.5e-5 of the
//!   exact one; weights 0 to 8). `--resample multinomial` draws each
//!   replicate's N rows with replacement (draw `d` of replicate `r` is a pure
//!   function of `(seed, r, d)`) and counts them.
//! - **Lane batching**: [`LANES`] replicates go through the data together,
//!   their accumulators side by side, so one read of a row serves them all;
//!   batches are spread over rayon's threads.
//! - **Exact ties**: weights are summed per tie group before the curve
//!   moves, exactly as in the point metrics. Accumulators are `f64` (integer
//!   weight sums are exact below 2⁵³).
//! - **Integer lanes**: without file weights every ranking sum is an
//!   integer, and while a lane's total weight stays at most 2²⁶ every sum
//!   and product of the ranking is exact in `f64` (the divisions of AP and F1
//!   then get the same operands either way). Passes of up to 2²⁵ rows
//!   (about 1.68·10⁷ with multinomial or stratified counts) keep the sums of
//!   all 16 lanes in `u32`/`u64` (and rerun in `f64` when a total ended past
//!   2²⁶)
//!   ([`super::kernel::rank_tile_int_scalar`]), eight lanes to an AVX2
//!   register instead of four, and convert them where the floating-point
//!   formulas (average precision, F1, the bands) take them: the same bits
//!   in fewer instructions (a unit test compares both passes).
//! - **Best F1 needs the replicate's total positive weight** during the pass
//!   (`F1 = 2tp / (tp + fp + P)`), so each batch first sums the weights of the
//!   positive rows (a pass over positives only), then makes the full pass.
//! - **Bands** for the report: the cumulative counts of every replicate are
//!   kept at about 1,024 checkpoints (every N/1024-th row in score order) plus
//!   the threshold grid, the calibration bin edges and `--threshold`; TPR at
//!   100 FPR points and precision at 100 recall points are interpolated from
//!   them, F1 at the grid is exact.
//!
//! # Intervals
//!
//! Percentile intervals, or BCa ([`super::intervals`]). BCa needs influence
//! values; evalkit takes them without an O(N) jackknife: for ROC-AUC they are
//! DeLong's placement values (the exact empirical influence of each row:
//! `N·(V10ᵢ − AUC)/m` for a positive, `N·(V01ⱼ − AUC)/n` for a negative); for
//! every other metric a *grouped* jackknife — the rows are split into 64
//! groups by a hash of the row index and the metric recomputed with each
//! group left out — which costs 64 more weighted passes through the same
//! machinery (weight 0 for the left-out group, 1 elsewhere).
//!
//! Replicates in which a metric is undefined (no positive row drawn, say) are
//! left out of its interval; if more than 10% are, the interval is `null`
//! with the reason.

// Lane loops index several lane arrays at once; indices read best there.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use crate::data::{Float, Floats};
use crate::metrics::binary::{RowSums, binary_log_loss};
use crate::metrics::calibration::{self, BINS, BinSums, bin_of};
use crate::metrics::curves::{self, BinaryCurve, Counts, PrecisionSum, linspace01};
use crate::metrics::sort::sort_descending;

use super::kernel::{
    CHECKPOINT, GROUP_END, GROUP_POS, IntPosEnd, IntRankSums, LABEL, PosEnd, RankSums, V4,
};
#[cfg(target_arch = "x86_64")]
use super::lanes::Avx2Simd;
pub use super::lanes::{
    JACKKNIFE_GROUPS, LANES, Resample, multinomial_counts, multinomial_counts_clustered,
    multinomial_counts_weighted, poisson_weight, poisson_weight_clustered, stratified_counts,
};
use super::lanes::{
    JackknifeLanes, LaneWeights, PoissonLanes, QUADS, ScalarSimd, Simd, multinomial_cluster_lanes,
    multinomial_lanes,
};

/// The rows in descending score order, grouped into ties: the one sort of
/// the binary full tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Original row index of each position.
    pub rows: Vec<u32>,
    /// Label (0/1) of each position.
    pub labels: Vec<u8>,
    /// Exclusive end position of each tie group.
    pub group_end: Vec<u32>,
    /// Score of each tie group, descending.
    pub thresholds: Vec<f64>,
    /// File weight of each position, when the file has weights.
    pub weights: Option<Vec<f64>>,
    /// Rows in the data (rows of weight 0 are not ranked, as scikit-learn
    /// drops them from its curves).
    pub total_rows: usize,
}

impl Ranking {
    /// Sorts the rows (labels 0/1, probabilities in [0, 1]). Ties are
    /// ordered by row index, so the order is unique.
    pub fn build(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> Ranking {
        let items: Vec<(u64, u32)> = crate::with_floats!(scores, s => {
            s.par_iter()
                .zip(labels.par_iter())
                .enumerate()
                .filter(|&(i, _)| weights.is_none_or(|w| w.get(i) > 0.0))
                .map(|(i, (&x, &y))| ((score_bits(x) << 1) | y as u64, i as u32))
                .collect()
        });
        let sorted = sort_descending(items);
        let to_score = |bits: u64| match scores {
            Floats::F32(_) => f32::from_bits(bits as u32) as f64,
            Floats::F64(_) => f64::from_bits(bits),
        };
        let mut group_end = Vec::new();
        let mut thresholds = Vec::new();
        for (i, w) in sorted.windows(2).enumerate() {
            if w[0].0 >> 1 != w[1].0 >> 1 {
                group_end.push(i as u32 + 1);
                thresholds.push(to_score(w[0].0 >> 1));
            }
        }
        if let Some(last) = sorted.last() {
            group_end.push(sorted.len() as u32);
            thresholds.push(to_score(last.0 >> 1));
        }
        let rows: Vec<u32> = sorted.iter().map(|&(_, r)| r).collect();
        Ranking {
            labels: sorted.iter().map(|&(k, _)| (k & 1) as u8).collect(),
            weights: weights.map(|w| rows.iter().map(|&r| w.get(r as usize)).collect()),
            rows,
            group_end,
            thresholds,
            total_rows: labels.len(),
        }
    }

    /// The point-estimate ranking table (identical to
    /// [`BinaryCurve::build`] on the same data).
    pub fn curve(&self) -> BinaryCurve {
        let mut curve = BinaryCurve {
            thresholds: self.thresholds.clone(),
            tps: Vec::with_capacity(self.group_end.len()),
            fps: Vec::with_capacity(self.group_end.len()),
            weighted: self.weights.is_some(),
        };
        let (mut tp_n, mut fp_n, mut tp_w, mut fp_w) = (0u64, 0u64, 0.0f64, 0.0f64);
        let mut start = 0usize;
        for &end in &self.group_end {
            for pos in start..end as usize {
                let w = self.weights.as_ref().map_or(1.0, |w| w[pos]);
                if self.labels[pos] == 1 {
                    tp_n += 1;
                    tp_w += w;
                } else {
                    fp_n += 1;
                    fp_w += w;
                }
            }
            let weighted = self.weights.is_some();
            curve.tps.push(if weighted { tp_w } else { tp_n as f64 });
            curve.fps.push(if weighted { fp_w } else { fp_n as f64 });
            start = end as usize;
        }
        curve
    }

    /// For each row (original order), the index of its tie group.
    pub fn group_of_row(&self) -> Vec<u32> {
        let mut out = vec![0u32; self.total_rows];
        let mut start = 0usize;
        for (g, &end) in self.group_end.iter().enumerate() {
            for pos in start..end as usize {
                out[self.rows[pos] as usize] = g as u32;
            }
            start = end as usize;
        }
        out
    }
}

#[inline(always)]
fn score_bits<F: Float>(x: F) -> u64 {
    let v = x.to_f64();
    if v == 0.0 {
        0
    } else if std::mem::size_of::<F>() == 4 {
        (v as f32).to_bits() as u64
    } else {
        v.to_bits()
    }
}

/// Options of the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions<'a> {
    /// Number of replicates.
    pub replicates: usize,
    /// How rows are resampled.
    pub resample: Resample,
    /// Seed of the resampling.
    pub seed: u64,
    /// Decision threshold of the thresholded metrics.
    pub threshold: f64,
    /// Points of the threshold grid of the F1 band.
    pub grid: usize,
    /// Also run the grouped jackknife (for BCa).
    pub jackknife: bool,
    /// What the pass computes beyond ROC-AUC, average precision and the
    /// counts at the threshold (the one-vs-rest passes of multiclass, and
    /// `--metrics`, need less): the values it skips are NaN.
    pub need: Need,
    /// Each row's cluster key (`keys[row]`, [`crate::clusters`]): replicates
    /// resample whole clusters instead of rows.
    pub clusters: Option<&'a [u64]>,
    /// Each row's class, the strata of [`Resample::Stratified`] (the binary
    /// pass takes its ranking's labels when `None`; the one-vs-rest passes of
    /// multiclass get the multiclass labels, so every pass of a replicate
    /// draws the same rows).
    pub strata: Option<&'a [u32]>,
}

pub use crate::metrics::binary::METRICS;

/// The parts of the binary replicate pass beyond its ranking (ROC-AUC,
/// average precision, the counts at the threshold and the bands), each
/// skipped when no metric asked for needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Per-row terms: log loss, Brier and the calibration error.
    pub rows: bool,
    /// The best F1 over every distinct score and its threshold (a pre-pass
    /// over the positives for each replicate's positive weight).
    pub best_f1: bool,
    /// Multiclass: the one-vs-rest ROC-AUC and average precision averages
    /// (one sorted pass per class, the bulk of a multiclass bootstrap).
    pub one_vs_rest: bool,
}

impl Need {
    /// Every binary metric.
    pub const ALL: Need = Need {
        rows: true,
        best_f1: true,
        one_vs_rest: true,
    };
    /// Only the ranking: ROC-AUC, average precision and the bands (the
    /// one-vs-rest passes of multiclass).
    pub const RANKING: Need = Need {
        rows: false,
        best_f1: false,
        one_vs_rest: false,
    };

    /// What the binary metrics of `selection` need.
    pub fn binary(selection: &crate::metrics::registry::Selection) -> Need {
        let task = crate::data::Task::Binary;
        Need {
            rows: selection.wants_any(task, &["log_loss", "brier", "ece"]),
            best_f1: selection.wants_any(task, &["best_f1", "best_f1_threshold"]),
            one_vs_rest: false,
        }
    }

    /// Whether the pass computes the replicates of metric `name` (the others
    /// are left out of [`Replicates`], so they get no interval and no
    /// warning).
    pub fn computes(&self, name: &str) -> bool {
        match name {
            "log_loss" | "brier" | "ece" => self.rows,
            "best_f1" | "best_f1_threshold" => self.best_f1,
            "macro_roc_auc"
            | "weighted_roc_auc"
            | "macro_average_precision"
            | "weighted_average_precision" => self.one_vs_rest,
            _ => true,
        }
    }

    /// Drops the metrics of `reps` this pass did not compute.
    pub(crate) fn keep_computed(&self, reps: &mut Replicates) {
        let keep: Vec<bool> = reps.names.iter().map(|n| self.computes(n)).collect();
        let filter = |table: &mut Vec<Vec<f64>>| {
            if table.len() == keep.len() {
                let mut k = keep.iter();
                table.retain(|_| *k.next().unwrap_or(&true));
            }
        };
        filter(&mut reps.values);
        filter(&mut reps.jackknife);
        let mut k = keep.iter();
        reps.names.retain(|_| *k.next().unwrap_or(&true));
    }

    /// What the multiclass metrics of `selection` need.
    pub fn multiclass(selection: &crate::metrics::registry::Selection) -> Need {
        Need {
            one_vs_rest: selection.wants_any(
                crate::data::Task::Multiclass,
                &[
                    "macro_roc_auc",
                    "weighted_roc_auc",
                    "macro_average_precision",
                    "weighted_average_precision",
                ],
            ),
            ..Need::ALL
        }
    }
}

/// Points of the ROC and precision–recall bands.
pub const BAND_POINTS: usize = 100;

/// Per-replicate values of every metric and of the bands.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicates {
    /// The metric of each entry of `values` and `jackknife`: intervals are
    /// attached by these names ([`Replicates::of`]), never by position.
    pub names: Vec<&'static str>,
    /// `values[m][r]`: metric `names[m]` in replicate `r` (NaN where
    /// undefined).
    pub values: Vec<Vec<f64>>,
    /// `jackknife[m][g]`: metric `m` with jackknife group `g` left out
    /// (empty unless requested).
    pub jackknife: Vec<Vec<f64>>,
    /// `tpr[r][i]`: TPR at FPR `i / 99` in replicate `r`.
    pub tpr: Vec<Vec<f64>>,
    /// `precision[r][i]`: precision at recall `i / 99`.
    pub precision: Vec<Vec<f64>>,
    /// `f1[r][i]`: F1 at the grid threshold `i`.
    pub f1: Vec<Vec<f64>>,
    /// The F1 band's thresholds.
    pub grid: Vec<f64>,
    /// Multiclass: `per_class_f1[c][r]`, class `c`'s F1 in replicate `r`
    /// (NaN where undefined); empty for the other tasks.
    pub per_class_f1: Vec<Vec<f64>>,
    /// Multiclass: class `c`'s one-vs-rest replicates (its lean binary pass:
    /// ROC-AUC, average precision and the ROC and precision–recall band
    /// points are meaningful, its other values are not); empty for the
    /// other tasks and in differences.
    pub one_vs_rest: Vec<Replicates>,
}

/// Per-position data of the pass, in score order.
struct Terms {
    /// (log loss, squared error, score, label) of each position.
    lsp: Vec<[f64; 4]>,
    /// [`LABEL`], [`GROUP_END`], [`GROUP_POS`], [`CHECKPOINT`] bits.
    flags: Vec<u8>,
    /// Positions of the positive rows.
    positives: Vec<u32>,
    /// Row hash of each position (Poisson weights).
    row_hash: Vec<u32>,
    /// Label of each position as 0.0 or 1.0.
    y: Vec<f64>,
}

/// Positions per tile: every quad of a batch runs over a tile while its
/// rows are in cache.
const BLOCK: usize = 1024;

/// Checkpoints: numbers of groups `j` (1..=G) after which counts are kept.
struct Checkpoints {
    js: Vec<u32>,
}

impl Checkpoints {
    fn index(&self, j: u32) -> Option<usize> {
        self.js.binary_search(&j).ok()
    }
}

/// One batch's raw output: lanes side by side.
struct LaneOut {
    auc2: [f64; LANES],
    ap: [f64; LANES],
    best_f1: [f64; LANES],
    best_group: [u32; LANES],
    ll: [f64; LANES],
    br: [f64; LANES],
    /// Cumulative tp, fp, Σw·p at each checkpoint.
    ck_tp: Vec<[f64; LANES]>,
    ck_fp: Vec<[f64; LANES]>,
    ck_wp: Vec<[f64; LANES]>,
}

/// The weighted pass of one batch, on the best instruction set the CPU has
/// (the arithmetic is the same on every path: no fused multiply-adds).
fn pass<W: LaneWeights>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
    need: Need,
) -> LaneOut {
    match (need.rows, need.best_f1) {
        (true, true) => pass_on::<W, true, true>(rk, terms, checkpoints, lanes),
        (true, false) => pass_on::<W, true, false>(rk, terms, checkpoints, lanes),
        (false, true) => pass_on::<W, false, true>(rk, terms, checkpoints, lanes),
        (false, false) => pass_on::<W, false, false>(rk, terms, checkpoints, lanes),
    }
}

/// [`pass`] with its parts fixed at compile time (the full pass pays
/// nothing for the choice).
fn pass_on<W: LaneWeights, const ROWS: bool, const F1: bool>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
) -> LaneOut {
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    if integer_fits(rk, W::MAX) {
        #[cfg(target_arch = "x86_64")]
        let int = if avx2 {
            // SAFETY: the CPU supports AVX2 (checked above).
            unsafe { pass_avx2_int::<W, ROWS, F1>(rk, terms, checkpoints, lanes) }
        } else {
            pass_body_int::<ScalarSimd, W, ROWS, F1>(rk, terms, checkpoints, lanes)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let int = pass_body_int::<ScalarSimd, W, ROWS, F1>(rk, terms, checkpoints, lanes);
        if let Some(out) = int {
            return out;
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        if avx2 {
            // SAFETY: the CPU supports AVX2 (checked above).
            return unsafe { pass_avx2::<W, ROWS, F1>(rk, terms, checkpoints, lanes) };
        }
    }
    pass_body::<ScalarSimd, W, ROWS, F1>(rk, terms, checkpoints, lanes)
}

/// A lane's total weight up to which every `f64` operation of the ranking
/// pass is exact (see [`super::kernel::rank_tile_int_scalar`]).
const EXACT_TOTAL: u64 = 1 << 26;

/// Whether the integer pass ([`pass_body_int`]) is tried: rows without file
/// weights, few enough that a lane's total weight (at most `max` a row)
/// stays below 2³² — so its integer sums cannot wrap and the check after
/// the pass is sound — and at most 2²⁵ rows, so that the total (about one a
/// row) is expected well within [`EXACT_TOTAL`].
fn integer_fits(rk: &Ranking, max: u16) -> bool {
    rk.weights.is_none() && rows_fit(rk.rows.len(), max)
}

/// [`integer_fits`]'s bound on the rows: at most 2²⁵ (Poisson and jackknife
/// weights), and `max` a row staying below 2³² (multinomial and stratified
/// counts, up to 255 a row: about 1.68·10⁷ rows).
fn rows_fit(n: usize, max: u16) -> bool {
    let n = n as u64;
    n <= 1 << 25 && (max as u64) * n < 1 << 32
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pass_avx2<W: LaneWeights, const ROWS: bool, const F1: bool>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
) -> LaneOut {
    pass_body::<Avx2Simd, W, ROWS, F1>(rk, terms, checkpoints, lanes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pass_avx2_int<W: LaneWeights, const ROWS: bool, const F1: bool>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
) -> Option<LaneOut> {
    pass_body_int::<Avx2Simd, W, ROWS, F1>(rk, terms, checkpoints, lanes)
}

/// The per-quad results other than the ranking and row sums.
#[derive(Clone, Copy)]
struct Quad {
    auc2: [f64; 4],
    ap: [f64; 4],
    ll: [f64; 4],
    br: [f64; 4],
    best: [f64; 4],
    best_group: [f64; 4],
    p_total: [f64; 4],
}

impl Quad {
    const START: Quad = Quad {
        auc2: [0.0; 4],
        ap: [0.0; 4],
        ll: [0.0; 4],
        br: [0.0; 4],
        best: [-1.0; 4],
        best_group: [-1.0; 4],
        p_total: [0.0; 4],
    };

    /// The deferred updates, in group order, of one tile's positive group
    /// ends `(dtp, tp, fp, group)`: average precision and the best F1.
    #[inline(always)]
    fn deferred<S: Simd, const F1: bool>(
        &mut self,
        ends: impl Iterator<Item = (S::F, S::F, S::F, f64)>,
    ) {
        type F<S> = <S as Simd>::F;
        let two = F::<S>::splat(2.0);
        let tiny = F::<S>::splat(f64::MIN_POSITIVE);
        let (mut ap, mut best, mut best_group) = (
            F::<S>::load(&self.ap),
            F::<S>::load(&self.best),
            F::<S>::load(&self.best_group),
        );
        let p_total = F::<S>::load(&self.p_total);
        if !F1 {
            for (edtp, etp, efp, _) in ends {
                ap = ap.add(edtp.mul(etp.div(etp.add(efp).max(tiny))));
            }
        } else {
            for (edtp, etp, efp, group) in ends {
                let sum = etp.add(efp);
                ap = ap.add(edtp.mul(etp.div(sum.max(tiny))));
                let f1 = two.mul(etp).div(sum.add(p_total));
                best_group = F::<S>::select_gt(f1, best, F::<S>::splat(group), best_group);
                best = F::<S>::select_gt(f1, best, f1, best);
            }
        }
        self.ap = ap.store();
        self.best = best.store();
        self.best_group = best_group.store();
    }
}

/// A batch's lanes side by side, from its quads and checkpoints.
fn lane_out(
    quads: &[Quad; QUADS],
    ck_tp: Vec<[f64; LANES]>,
    ck_fp: Vec<[f64; LANES]>,
    ck_wp: Vec<[f64; LANES]>,
) -> LaneOut {
    let mut out = LaneOut {
        auc2: [0.0; LANES],
        ap: [0.0; LANES],
        best_f1: [0.0; LANES],
        best_group: [0; LANES],
        ll: [0.0; LANES],
        br: [0.0; LANES],
        ck_tp,
        ck_fp,
        ck_wp,
    };
    for (q, s) in quads.iter().enumerate() {
        for j in 0..4 {
            let l = 4 * q + j;
            out.auc2[l] = s.auc2[j];
            out.ap[l] = s.ap[j];
            out.best_f1[l] = s.best[j];
            out.best_group[l] = if s.best_group[j] < 0.0 {
                u32::MAX
            } else {
                s.best_group[j] as u32
            };
            out.ll[l] = s.ll[j];
            out.br[l] = s.br[j];
        }
    }
    out
}

#[inline(always)]
fn pass_body<S: Simd, W: LaneWeights, const ROWS: bool, const F1: bool>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
) -> LaneOut {
    type F<S> = <S as Simd>::F;
    let file_w = rk.weights.as_deref();
    let n = rk.rows.len();
    let mut quads = [Quad::START; QUADS];
    let mut buf = vec![[0u16; LANES]; BLOCK];

    // Phase 1: each lane's total positive weight (F1 needs it in the pass).
    let prepass: &[u32] = if F1 { &terms.positives } else { &[] };
    for chunk in prepass.chunks(BLOCK) {
        for (i, &pos) in chunk.iter().enumerate() {
            lanes.fill::<S>(
                rk.rows[pos as usize],
                terms.row_hash[pos as usize],
                &mut buf[i],
            );
        }
        for (q, s) in quads.iter_mut().enumerate() {
            let mut acc = F::<S>::load(&s.p_total);
            for (i, &pos) in chunk.iter().enumerate() {
                let mut w = F::<S>::from_u16(&buf[i][4 * q..4 * q + 4]);
                if let Some(f) = file_w {
                    w = w.mul(F::<S>::splat(f[pos as usize]));
                }
                acc = acc.add(w);
            }
            s.p_total = acc.store();
        }
    }

    let mut ck_tp = vec![[0.0; LANES]; checkpoints];
    let mut ck_fp = vec![[0.0; LANES]; checkpoints];
    let mut ck_wp = vec![[0.0; LANES]; checkpoints];
    let mut scratch = vec![PosEnd::default(); BLOCK + 1];
    let mut wq = vec![[0.0f64; 4]; BLOCK];
    let mut rank = [RankSums::default(); QUADS];
    let mut rows = [[[0.0f64; 4]; 3]; QUADS];
    let (mut group0, mut ck0) = (0u32, 0usize);
    let mut block_start = 0;
    while block_start < n {
        let block_end = (block_start + BLOCK).min(n);
        let len = block_end - block_start;
        for (i, pos) in (block_start..block_end).enumerate() {
            lanes.fill::<S>(rk.rows[pos], terms.row_hash[pos], &mut buf[i]);
        }
        let flags = &terms.flags[block_start..block_end];
        let lsp = &terms.lsp[block_start..block_end];
        let y = &terms.y[block_start..block_end];
        let (mut group_next, mut ck_next) = (group0, ck0);
        for (q, s) in quads.iter_mut().enumerate() {
            // This quad's weights for the tile, times the file weights.
            for (o, b) in wq[..len].iter_mut().zip(&buf[..len]) {
                *o = F::<S>::from_u16(&b[4 * q..4 * q + 4]).store();
            }
            if let Some(f) = file_w {
                for (o, &fw) in wq[..len].iter_mut().zip(&f[block_start..block_end]) {
                    *o = F::<S>::load(o).mul(F::<S>::splat(fw)).store();
                }
            }
            let (mut g, mut c) = (group0, ck0);
            let k = S::rank_tile(
                &wq[..len],
                y,
                flags,
                &mut rank[q],
                &mut scratch,
                &mut g,
                &mut c,
                &mut ck_tp,
                &mut ck_fp,
                4 * q,
            );
            if ROWS {
                let mut c2 = ck0;
                S::row_tile(
                    &wq[..len],
                    lsp,
                    flags,
                    &mut rows[q],
                    &mut c2,
                    &mut ck_wp,
                    4 * q,
                );
            }
            s.deferred::<S, F1>(scratch[..k].iter().map(|e| {
                (
                    F::<S>::load(&e.dtp),
                    F::<S>::load(&e.tp),
                    F::<S>::load(&e.fp),
                    e.group,
                )
            }));
            group_next = g;
            ck_next = c;
        }
        group0 = group_next;
        ck0 = ck_next;
        block_start = block_end;
    }
    for q in 0..QUADS {
        quads[q].auc2 = rank[q].auc2;
        quads[q].ll = rows[q][0];
        quads[q].br = rows[q][1];
    }
    lane_out(&quads, ck_tp, ck_fp, ck_wp)
}

/// [`pass_body`] for rankings that pass [`integer_fits`]: the ranking sums
/// of all 16 lanes in integers ([`super::kernel::rank_tile_int_scalar`]),
/// converted to `f64` where the floating-point formulas take them (average
/// precision, F1, checkpoints, the area). When every lane's total weight is
/// at most [`EXACT_TOTAL`], the same bits as [`pass_body`] in fewer
/// instructions (the unit tests compare the two); otherwise `None` (the
/// sums may have left the exact range, and the caller runs [`pass_body`]).
#[inline(always)]
fn pass_body_int<S: Simd, W: LaneWeights, const ROWS: bool, const F1: bool>(
    rk: &Ranking,
    terms: &Terms,
    checkpoints: usize,
    lanes: &W,
) -> Option<LaneOut> {
    type F<S> = <S as Simd>::F;
    debug_assert!(integer_fits(rk, W::MAX));
    let n = rk.rows.len();
    // On the heap, like the other state: kept in registers across the
    // tile loop, it crowded the kernels' accumulators out of them.
    let mut quads = Box::new([Quad::START; QUADS]);
    let mut buf = vec![[0u16; LANES]; BLOCK];

    // Phase 1: each lane's total positive weight (F1 needs it in the pass).
    if F1 {
        let mut p_total = [0u32; LANES];
        for chunk in terms.positives.chunks(BLOCK) {
            for (i, &pos) in chunk.iter().enumerate() {
                lanes.fill::<S>(
                    rk.rows[pos as usize],
                    terms.row_hash[pos as usize],
                    &mut buf[i],
                );
            }
            for b in &buf[..chunk.len()] {
                for l in 0..LANES {
                    // Below 2³² (`integer_fits`): never wraps.
                    p_total[l] = p_total[l].wrapping_add(b[l] as u32);
                }
            }
        }
        for (q, s) in quads.iter_mut().enumerate() {
            s.p_total = F::<S>::from_u32(&p_total[4 * q..]).store();
        }
    }

    let mut ck_tp = vec![[0.0; LANES]; checkpoints];
    let mut ck_fp = vec![[0.0; LANES]; checkpoints];
    let mut ck_wp = vec![[0.0; LANES]; checkpoints];
    let mut scratch = vec![IntPosEnd::default(); BLOCK + 1];
    let mut rank = Box::new(IntRankSums::default());
    let mut rows = Box::new([[[0.0f64; 4]; 3]; QUADS]);
    let (mut group, mut ck0) = (0u32, 0usize);
    let mut block_start = 0;
    while block_start < n {
        let block_end = (block_start + BLOCK).min(n);
        let len = block_end - block_start;
        for (i, pos) in (block_start..block_end).enumerate() {
            lanes.fill::<S>(rk.rows[pos], terms.row_hash[pos], &mut buf[i]);
            // The end-of-pass check relies on it (no unnoticed wrap).
            debug_assert!(buf[i].iter().all(|&w| w <= W::MAX));
        }
        let flags = &terms.flags[block_start..block_end];
        let mut ck = ck0;
        let k = S::rank_tile_int(
            &buf[..len],
            flags,
            &mut rank,
            &mut scratch,
            &mut group,
            &mut ck,
            &mut ck_tp,
            &mut ck_fp,
        );
        if ROWS {
            let mut c2 = ck0;
            S::row_tile16(
                &buf[..len],
                &terms.lsp[block_start..block_end],
                flags,
                &mut rows,
                &mut c2,
                &mut ck_wp,
            );
        }
        for (q, s) in quads.iter_mut().enumerate() {
            let lane = 4 * q;
            s.deferred::<S, F1>(scratch[..k].iter().map(|e| {
                (
                    F::<S>::from_u32(&e.dtp[lane..]),
                    F::<S>::from_u32(&e.tp[lane..]),
                    F::<S>::from_u32(&e.fp[lane..]),
                    e.group as f64,
                )
            }));
        }
        ck0 = ck;
        block_start = block_end;
    }
    // Every sum is at most a lane's total; within EXACT_TOTAL each was
    // exact, else the f64 pass must run.
    if (0..LANES).any(|l| rank.tp[l] as u64 + rank.fp[l] as u64 > EXACT_TOTAL) {
        return None;
    }
    for q in 0..QUADS {
        // At most 2⁵², so exact.
        quads[q].auc2 = std::array::from_fn(|j| rank.auc2_of(4 * q + j) as f64);
        quads[q].ll = rows[q][0];
        quads[q].br = rows[q][1];
    }
    Some(lane_out(&quads, ck_tp, ck_fp, ck_wp))
}

/// The metrics of lane `l` of a batch, in [`METRICS`] order, plus bands.
struct LaneMetrics {
    values: [f64; METRICS.len()],
    tpr: Vec<f64>,
    precision: Vec<f64>,
    f1: Vec<f64>,
}

struct Layout {
    /// Checkpoint index of the threshold's counts (`None`: nothing above it).
    threshold_ck: Option<usize>,
    /// Checkpoint indices of the calibration bin ends, with the bin of each.
    bin_ends: Vec<(usize, usize)>,
    /// Checkpoint index per grid threshold (`None`: nothing above it).
    grid_ck: Vec<Option<usize>>,
}

/// Lane `l`'s metrics: its sums handed to the point metrics' formulas
/// ([`curves::roc_auc`], [`curves::average_precision`], [`curves::best_f1`],
/// [`RowSums`], [`Counts`], [`calibration::ece`]), undefined values as NaN.
fn lane_metrics(rk: &Ranking, out: &LaneOut, l: usize, layout: &Layout, need: Need) -> LaneMetrics {
    let last = out.ck_tp.len() - 1;
    let (p, n) = (out.ck_tp[last][l], out.ck_fp[last][l]);
    let total = p + n;
    let at = |ck: Option<usize>| -> Counts {
        let (tp, fp) = ck.map_or((0.0, 0.0), |c| (out.ck_tp[c][l], out.ck_fp[c][l]));
        Counts {
            tp,
            fp,
            tn: n - fp,
            fn_: p - tp,
        }
    };
    let nan = f64::NAN;
    // A replicate that drew no weight: every metric undefined.
    let values = if total > 0.0 {
        let c = at(layout.threshold_ck);
        let sums = RowSums {
            weight: total,
            log_loss: out.ll[l],
            brier: out.br[l],
            bins: BinSums::default(),
        };
        // The calibration bins from the checkpoints at their ends, in score
        // order (highest first): (Σw, Σw·y, Σw·p) of each.
        let mut prev = (0.0, 0.0, 0.0);
        let bins = layout.bin_ends.iter().map(|&(ck, _)| {
            let cur = (out.ck_tp[ck][l], out.ck_fp[ck][l], out.ck_wp[ck][l]);
            let bin = (
                (cur.0 + cur.1) - (prev.0 + prev.1),
                cur.0 - prev.0,
                cur.2 - prev.2,
            );
            prev = cur;
            bin
        });
        let ece = calibration::ece(total, bins);
        // The pass's best F1 (over the groups holding positives).
        let best = (out.best_group[l] != u32::MAX)
            .then(|| (out.best_f1[l], rk.thresholds[out.best_group[l] as usize]));
        let (best_f1, best_threshold) = match curves::best_f1(best, p, true) {
            Ok((f1, t)) => (f1, t),
            Err((f1, _)) => (f1.unwrap_or(nan), nan),
        };
        [
            curves::roc_auc(out.auc2[l], p, n).unwrap_or(nan),
            curves::average_precision(PrecisionSum::PositiveSteps(out.ap[l]), p).unwrap_or(nan),
            if need.rows { sums.mean_log_loss() } else { nan },
            if need.rows { sums.mean_brier() } else { nan },
            c.accuracy(),
            c.precision().unwrap_or(nan),
            c.recall().unwrap_or(nan),
            c.specificity().unwrap_or(nan),
            c.f1().unwrap_or(nan),
            c.mcc(),
            if need.best_f1 { best_f1 } else { nan },
            if need.best_f1 { best_threshold } else { nan },
            if need.rows { ece } else { nan },
        ]
    } else {
        [nan; METRICS.len()]
    };

    // Bands from the checkpoints (plus the origin).
    let (tpr, precision) = band_points(
        out.ck_tp.iter().zip(&out.ck_fp).map(|(t, f)| (t[l], f[l])),
        p,
        n,
    );
    let f1 = layout
        .grid_ck
        .iter()
        .map(|&ck| at(ck).f1().unwrap_or(nan))
        .collect();
    LaneMetrics {
        values,
        tpr,
        precision,
        f1,
    }
}

/// One replicate's band values from its cumulative `(tp, fp)` points in
/// score order (without the origin) and its positive and negative totals:
/// TPR at each FPR `i / 99` (the last point with FPR ≤ x, interpolated
/// towards the next) and precision at each recall `i / 99` (at the first
/// point reaching it). NaN without positives or negatives.
pub(crate) fn band_points(
    points: impl Iterator<Item = (f64, f64)>,
    p: f64,
    n: f64,
) -> (Vec<f64>, Vec<f64>) {
    let nan = f64::NAN;
    let mut tpr = vec![nan; BAND_POINTS];
    let mut precision = vec![nan; BAND_POINTS];
    if p <= 0.0 || n <= 0.0 {
        return (tpr, precision);
    }
    let counts: Vec<(f64, f64)> = points.collect();
    let pts: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
        .chain(counts.iter().map(|&(t, f)| (f / n, t / p)))
        .collect();
    let mut k = 0;
    for (i, slot) in tpr.iter_mut().enumerate() {
        let x = i as f64 / (BAND_POINTS - 1) as f64;
        while k + 1 < pts.len() && pts[k + 1].0 <= x {
            k += 1;
        }
        let a = pts[k];
        *slot = match pts.get(k + 1) {
            Some(b) if b.0 > a.0 => a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0),
            _ => a.1,
        };
    }
    let mut k = 0;
    for (i, slot) in precision.iter_mut().enumerate() {
        let r = i as f64 / (BAND_POINTS - 1) as f64;
        while k < counts.len() && (counts[k].0 / p < r || counts[k].0 <= 0.0) {
            k += 1;
        }
        if k < counts.len() {
            *slot = counts[k].0 / (counts[k].0 + counts[k].1);
        }
    }
    (tpr, precision)
}

/// Per-position terms, checkpoints and their layout for a ranking.
fn prepare(
    rk: &Ranking,
    scores: &Floats,
    options: &BootstrapOptions,
) -> (Terms, Checkpoints, Layout, Vec<f64>) {
    let n = rk.rows.len();
    // Checkpoints (numbers of groups included, 1..=G).
    let groups = rk.group_end.len();
    let above = |t: f64| rk.thresholds.partition_point(|&x| x >= t) as u32;
    let mut js: Vec<u32> = Vec::new();
    let step = (n / 1024).max(1);
    let mut pos = step;
    while pos < n {
        js.push(rk.group_end.partition_point(|&e| e as usize <= pos) as u32 + 1);
        pos += step;
    }
    let grid = linspace01(options.grid.max(2));
    js.extend(grid.iter().map(|&t| above(t)).filter(|&j| j > 0));
    let threshold_j = above(options.threshold);
    if threshold_j > 0 {
        js.push(threshold_j);
    }
    // Calibration bin ends: after the last group of each bin (bins fall as
    // scores fall).
    let mut bin_ends_j = Vec::new();
    for g in 0..groups {
        let b = bin_of(rk.thresholds[g]);
        if g + 1 == groups || bin_of(rk.thresholds[g + 1]) != b {
            bin_ends_j.push((g as u32 + 1, b));
        }
    }
    js.extend(bin_ends_j.iter().map(|&(j, _)| j));
    js.push(groups as u32);
    js.sort_unstable();
    js.dedup();
    let ck = Checkpoints { js };

    // Per-position terms and flags.
    let lsp: Vec<[f64; 4]> = rk
        .rows
        .par_iter()
        .zip(rk.labels.par_iter())
        .map(|(&r, &y)| {
            let s = scores.get(r as usize);
            let e = y as f64 - s;
            [binary_log_loss(y, s), e * e, s, y as f64]
        })
        .collect();
    let mut flags: Vec<u8> = rk
        .labels
        .iter()
        .map(|&y| if y == 1 { LABEL } else { 0 })
        .collect();
    let mut start = 0usize;
    for (g, &end) in rk.group_end.iter().enumerate() {
        let last = end as usize - 1;
        flags[last] |= GROUP_END;
        if rk.labels[start..end as usize].contains(&1) {
            flags[last] |= GROUP_POS;
        }
        if ck.index(g as u32 + 1).is_some() {
            flags[last] |= CHECKPOINT;
        }
        start = end as usize;
    }
    let positives: Vec<u32> = (0..n as u32)
        .filter(|&i| rk.labels[i as usize] == 1)
        .collect();
    let row_hash =
        super::lanes::unit_hashes(options.seed, rk.rows.par_iter().copied(), options.clusters);
    let y: Vec<f64> = rk.labels.iter().map(|&l| l as f64).collect();
    let terms = Terms {
        lsp,
        flags,
        positives,
        row_hash,
        y,
    };
    let layout = Layout {
        threshold_ck: (threshold_j > 0).then(|| ck.index(threshold_j)).flatten(),
        bin_ends: bin_ends_j
            .iter()
            .filter_map(|&(j, b)| ck.index(j).map(|c| (c, b)))
            .collect(),
        grid_ck: grid.iter().map(|&t| ck.index(above(t))).collect(),
    };
    debug_assert!(layout.bin_ends.len() <= BINS);
    (terms, ck, layout, grid)
}

/// Runs `replicates` bootstrap replicates (and, when asked, the grouped
/// jackknife) of every binary metric over a ranking. `progress` is called
/// with (batches done, batches in all) after each batch.
pub fn replicates(
    rk: &Ranking,
    scores: &Floats,
    options: &BootstrapOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    let n = rk.rows.len();
    let (terms, ck, layout, grid) = prepare(rk, scores, options);

    let b = options.replicates;
    // Rows of weight 0 are not ranked: multinomial replicates draw among
    // the ranked rows (by row index, as every task's pass does).
    let multinomial = options.resample == Resample::Multinomial;
    let drawn = (multinomial && n < rk.total_rows && options.clusters.is_none()).then(|| {
        let mut rows = rk.rows.clone();
        rows.par_sort_unstable();
        rows
    });
    // Stratified replicates draw each class among its ranked rows.
    let strata = (options.resample == Resample::Stratified).then(|| {
        let mut ranked = vec![false; rk.total_rows];
        for &r in &rk.rows {
            ranked[r as usize] = true;
        }
        let classes: Vec<u32> = match options.strata {
            Some(c) => c.to_vec(),
            None => {
                let mut c = vec![0u32; rk.total_rows];
                for (&r, &y) in rk.rows.iter().zip(&rk.labels) {
                    c[r as usize] = y as u32;
                }
                c
            }
        };
        super::lanes::strata(&classes, |r| ranked[r])
    });
    // Clusters drawn among those with a ranked row.
    let cluster_index = options.clusters.filter(|_| multinomial).map(|keys| {
        let mut ranked = vec![false; rk.total_rows];
        for &r in &rk.rows {
            ranked[r as usize] = true;
        }
        crate::clusters::index(keys, |r| ranked[r])
    });
    let batches = b.div_ceil(LANES);
    let jk_batches = if options.jackknife {
        JACKKNIFE_GROUPS.div_ceil(LANES)
    } else {
        0
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total_batches = batches + jk_batches;
    // Each batch is reduced to its lanes' metrics right away, so memory
    // stays O(B · bands) rather than O(B · checkpoints).
    let run_batch = |batch: usize| -> Vec<LaneMetrics> {
        let out = if batch < batches {
            let first = batch * LANES;
            match options.resample {
                Resample::Poisson => pass(
                    rk,
                    &terms,
                    ck.js.len(),
                    &PoissonLanes::new(options.seed, first),
                    options.need,
                ),
                Resample::Multinomial => pass(
                    rk,
                    &terms,
                    ck.js.len(),
                    &match &cluster_index {
                        Some((of_row, c)) => {
                            multinomial_cluster_lanes(options.seed, first, of_row, *c)
                        }
                        None => {
                            multinomial_lanes(options.seed, first, rk.total_rows, drawn.as_deref())
                        }
                    },
                    options.need,
                ),
                Resample::Stratified => pass(
                    rk,
                    &terms,
                    ck.js.len(),
                    &super::lanes::stratified_lanes(
                        options.seed,
                        first,
                        rk.total_rows,
                        strata.as_deref().unwrap_or_default(),
                    ),
                    options.need,
                ),
                #[cfg(test)]
                Resample::Ones => pass(
                    rk,
                    &terms,
                    ck.js.len(),
                    &super::lanes::OnesLanes,
                    options.need,
                ),
            }
        } else {
            let lanes = JackknifeLanes {
                seed: options.seed,
                first_group: (batch - batches) * LANES,
                clusters: options.clusters,
            };
            pass(rk, &terms, ck.js.len(), &lanes, options.need)
        };
        let count = if batch < batches {
            (b - batch * LANES).min(LANES)
        } else {
            (JACKKNIFE_GROUPS - (batch - batches) * LANES).min(LANES)
        };
        let lanes: Vec<LaneMetrics> = (0..count)
            .map(|l| lane_metrics(rk, &out, l, &layout, options.need))
            .collect();
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(d, total_batches);
        lanes
    };
    let outs: Vec<Vec<LaneMetrics>> = (0..total_batches).into_par_iter().map(run_batch).collect();

    let mut values = vec![Vec::with_capacity(b); METRICS.len()];
    let mut jackknife = vec![Vec::new(); METRICS.len()];
    let (mut tpr, mut precision, mut f1) = (
        Vec::with_capacity(b),
        Vec::with_capacity(b),
        Vec::with_capacity(b),
    );
    for (batch, lanes) in outs.into_iter().enumerate() {
        let is_jk = batch >= batches;
        for m in lanes {
            let target = if is_jk { &mut jackknife } else { &mut values };
            for (k, v) in m.values.iter().enumerate() {
                target[k].push(*v);
            }
            if !is_jk {
                tpr.push(m.tpr);
                precision.push(m.precision);
                f1.push(m.f1);
            }
        }
    }
    let mut reps = Replicates {
        names: METRICS.to_vec(),
        values,
        jackknife,
        tpr,
        precision,
        f1,
        grid,
        per_class_f1: Vec::new(),
        one_vs_rest: Vec::new(),
    };
    options.need.keep_computed(&mut reps);
    reps
}

impl Replicates {
    /// Replicates of per-metric values only (no curves), one entry per name.
    pub fn metrics(
        names: Vec<&'static str>,
        values: Vec<Vec<f64>>,
        jackknife: Vec<Vec<f64>>,
    ) -> Replicates {
        assert_eq!(names.len(), values.len(), "one replicate row per metric");
        Replicates {
            names,
            values,
            jackknife,
            tpr: Vec::new(),
            precision: Vec::new(),
            f1: Vec::new(),
            grid: Vec::new(),
            per_class_f1: Vec::new(),
            one_vs_rest: Vec::new(),
        }
    }

    /// The replicate values of `name` and its jackknife values (empty when
    /// none were asked for), or `None` when `name` has no replicates.
    pub fn of(&self, name: &str) -> Option<(&[f64], &[f64])> {
        let i = self.names.iter().position(|n| *n == name)?;
        let jk = self.jackknife.get(i).map_or(&[][..], Vec::as_slice);
        Some((&self.values[i], jk))
    }

    /// `self − other`, metric by metric and replicate by replicate (the
    /// same resamples of two models): the paired differences, for the
    /// metrics both have.
    pub fn difference(&self, other: &Replicates) -> Replicates {
        let sub =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(p, q)| p - q).collect() };
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut jackknife = Vec::new();
        for &name in &self.names {
            if let (Some((va, ja)), Some((vb, jb))) = (self.of(name), other.of(name)) {
                names.push(name);
                values.push(sub(va, vb));
                jackknife.push(sub(ja, jb));
            }
        }
        Replicates {
            per_class_f1: self
                .per_class_f1
                .iter()
                .zip(&other.per_class_f1)
                .map(|(a, b)| sub(a, b))
                .collect(),
            ..Replicates::metrics(names, values, jackknife)
        }
    }
}

/// Empirical influence values of ROC-AUC per row (original order), from
/// DeLong's placements: `N·(V10ᵢ − AUC)/m` for a positive, `N·(V01ⱼ − AUC)/n`
/// for a negative. Unweighted data only.
pub fn auc_influence(rk: &Ranking, curve: &BinaryCurve, auc: f64) -> Vec<f64> {
    let (m, n) = (curve.positives(), curve.negatives());
    let total = m + n;
    let mut out = vec![0.0; rk.total_rows];
    let (mut tp0, mut fp0) = (0.0, 0.0);
    let mut start = 0usize;
    for (g, &end) in rk.group_end.iter().enumerate() {
        let (tp, fp) = (curve.tps[g], curve.fps[g]);
        let (dtp, dfp) = (tp - tp0, fp - fp0);
        let v10 = (n - fp + 0.5 * dfp) / n;
        let v01 = (tp0 + 0.5 * dtp) / m;
        for pos in start..end as usize {
            out[rk.rows[pos] as usize] = if rk.labels[pos] == 1 {
                total * (v10 - auc) / m
            } else {
                total * (v01 - auc) / n
            };
        }
        tp0 = tp;
        fp0 = fp;
        start = end as usize;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One batch of Poisson replicates, every metric, 11 grid points.
    fn one_batch(seed: u64) -> BootstrapOptions<'static> {
        BootstrapOptions {
            replicates: 16,
            resample: Resample::Poisson,
            seed,
            threshold: 0.5,
            grid: 11,
            jackknife: false,
            need: Need::ALL,
            clusters: None,
            strata: None,
        }
    }

    /// The scalar pass (used on CPUs without AVX2) and the AVX2 pass give
    /// bit-identical results: the reference tests run the AVX2 one here.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn scalar_and_avx2_passes_are_bit_identical() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let n = 5000u32;
        let labels: Vec<u8> = (0..n)
            .map(|i| (crate::rng::word(1, 0, i as u64) & 1) as u8)
            .collect();
        // Scores on a grid of 40 values: ties across tiles.
        let scores: Vec<f64> = (0..n)
            .map(|i| (crate::rng::word(1, 1, i as u64) % 40) as f64 / 39.0)
            .collect();
        let weights: Vec<f64> = (0..n)
            .map(|i| 0.25 + (crate::rng::word(1, 2, i as u64) % 7) as f64 / 3.0)
            .collect();
        for weighted in [false, true] {
            let w = Floats::from(weights.clone());
            let rk = Ranking::build(
                &labels,
                &Floats::from(scores.clone()),
                weighted.then_some(&w),
            );
            let scores = Floats::from(scores.clone());
            // Build the terms and checkpoints as `replicates` does, through
            // a one-batch run, then rerun the pass both ways.
            let options = one_batch(9);
            let reference = replicates(&rk, &scores, &options, &|_, _| {});
            let (terms, ck, _, _) = prepare(&rk, &scores, &options);
            let lanes = PoissonLanes::new(9, 0);
            let avx = unsafe { pass_avx2::<_, true, true>(&rk, &terms, ck.js.len(), &lanes) };
            let scalar = pass_body::<ScalarSimd, _, true, true>(&rk, &terms, ck.js.len(), &lanes);
            assert_eq!(avx.auc2, scalar.auc2);
            assert_eq!(avx.ap, scalar.ap);
            assert_eq!(avx.best_f1, scalar.best_f1);
            assert_eq!(avx.best_group, scalar.best_group);
            assert_eq!(avx.ll, scalar.ll);
            assert_eq!(avx.br, scalar.br);
            assert_eq!(avx.ck_tp, scalar.ck_tp);
            assert_eq!(avx.ck_fp, scalar.ck_fp);
            assert_eq!(avx.ck_wp, scalar.ck_wp);
            assert!(reference.values[0].iter().all(|v| v.is_finite()));
        }
    }

    fn assert_same(a: &LaneOut, b: &LaneOut, what: &str) {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.auc2), bits(&b.auc2), "auc2, {what}");
        assert_eq!(bits(&a.ap), bits(&b.ap), "ap, {what}");
        assert_eq!(bits(&a.best_f1), bits(&b.best_f1), "best_f1, {what}");
        assert_eq!(a.best_group, b.best_group, "best_group, {what}");
        assert_eq!(bits(&a.ll), bits(&b.ll), "ll, {what}");
        assert_eq!(bits(&a.br), bits(&b.br), "br, {what}");
        let rows = |v: &[[f64; LANES]]| v.iter().map(|r| bits(r)).collect::<Vec<_>>();
        assert_eq!(rows(&a.ck_tp), rows(&b.ck_tp), "ck_tp, {what}");
        assert_eq!(rows(&a.ck_fp), rows(&b.ck_fp), "ck_fp, {what}");
        assert_eq!(rows(&a.ck_wp), rows(&b.ck_wp), "ck_wp, {what}");
    }

    /// Both passes, every part (rows, F1) on and off.
    fn both_ways<S: Simd, W: LaneWeights>(
        rk: &Ranking,
        terms: &Terms,
        ck: usize,
        lanes: &W,
        what: &str,
    ) {
        macro_rules! check {
            ($rows:literal, $f1:literal) => {
                let a = pass_body::<S, W, $rows, $f1>(rk, terms, ck, lanes);
                let b = pass_body_int::<S, W, $rows, $f1>(rk, terms, ck, lanes);
                let b = b.unwrap_or_else(|| panic!("{what}: the integer pass declined"));
                assert_same(&a, &b, &format!("{what}, rows {}, f1 {}", $rows, $f1));
            };
        }
        check!(true, true);
        check!(true, false);
        check!(false, true);
        check!(false, false);
    }

    /// The integer pass gives the floating-point pass's results bit for
    /// bit: ties within and across tiles, no ties, one row, one class, a
    /// lone positive, every weight source (Poisson, multinomial counts, the
    /// jackknife), scalar and AVX2.
    #[test]
    fn integer_and_float_passes_are_bit_identical() {
        let mut cases: Vec<(String, Vec<u8>, Vec<f64>)> = Vec::new();
        for (n, distinct, rate) in [
            (1usize, 1u64, 2u64),
            (2, 1, 2),
            (7, 3, 2),
            (3000, 40, 3),
            (3000, 0, 3),
            (2500, 0, 0),
            (2500, 0, 100),
            (5000, 2, 5),
            (4097, 0, 2),
        ] {
            let labels: Vec<u8> = (0..n)
                .map(|i| match rate {
                    0 => 0,
                    100 => 1,
                    r => crate::rng::word(3, 0, i as u64).is_multiple_of(r) as u8,
                })
                .collect();
            // distinct 0: a distinct score per row (what models write).
            let scores: Vec<f64> = (0..n)
                .map(|i| {
                    let h = crate::rng::word(3, 1, i as u64);
                    if distinct == 0 {
                        (h >> 11) as f64 / (1u64 << 53) as f64
                    } else {
                        (h % distinct) as f64 / distinct as f64
                    }
                })
                .collect();
            cases.push((
                format!("n {n}, {distinct} scores, rate {rate}"),
                labels,
                scores,
            ));
        }
        for (what, labels, scores) in &cases {
            let scores = Floats::from(scores.clone());
            let rk = Ranking::build(labels, &scores, None);
            assert!(integer_fits(&rk, PoissonLanes::MAX));
            let options = one_batch(11);
            let (terms, ck, _, _) = prepare(&rk, &scores, &options);
            let ck = ck.js.len();
            let poisson = PoissonLanes::new(11, 32);
            let counts = multinomial_lanes(11, 16, rk.rows.len(), None);
            let jackknife = JackknifeLanes {
                seed: 11,
                first_group: 16,
                clusters: None,
            };
            both_ways::<ScalarSimd, _>(&rk, &terms, ck, &poisson, &format!("{what}, poisson"));
            both_ways::<ScalarSimd, _>(&rk, &terms, ck, &counts, &format!("{what}, counts"));
            both_ways::<ScalarSimd, _>(&rk, &terms, ck, &jackknife, &format!("{what}, jk"));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                unsafe fn avx<W: LaneWeights>(
                    rk: &Ranking,
                    terms: &Terms,
                    ck: usize,
                    lanes: &W,
                    what: &str,
                ) {
                    both_ways::<Avx2Simd, W>(rk, terms, ck, lanes, what)
                }
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe {
                    avx(&rk, &terms, ck, &poisson, &format!("{what}, poisson, avx2"));
                    avx(&rk, &terms, ck, &counts, &format!("{what}, counts, avx2"));
                    avx(&rk, &terms, ck, &jackknife, &format!("{what}, jk, avx2"));
                }
            }
        }
    }

    /// Lane 15's weight `self.0` (up to 255 a row), the other lanes' 1.
    struct Constant(u16);

    impl LaneWeights for Constant {
        const MAX: u16 = 255;
        fn fill<S: Simd>(&self, _row: u32, _row_hash: u32, out: &mut [u16; LANES]) {
            *out = [1; LANES];
            out[LANES - 1] = self.0;
        }
    }

    /// File weights, and rows whose lane totals could wrap 32 bits, stay on
    /// the floating-point pass; a pass whose totals end above 2²⁶ (where
    /// `f64` sums may round) is declined, and one that stays within is the
    /// floating-point pass's bits even where the bound per row allowed more.
    #[test]
    fn integer_pass_only_where_exact() {
        let rk = |n: usize, weighted: bool| Ranking {
            rows: (0..n as u32).collect(),
            labels: (0..n).map(|i| (i % 3 == 0) as u8).collect(),
            group_end: (1..=n as u32).collect(),
            thresholds: (0..n).map(|i| 1.0 - i as f64 / n as f64).collect(),
            weights: weighted.then(|| vec![1.0; n]),
            total_rows: n,
        };
        assert!(rows_fit(1 << 23, 8));
        assert!(rows_fit(1 << 25, 8));
        assert!(!rows_fit((1 << 25) + 1, 8));
        assert!(rows_fit(1 << 24, 255));
        assert!(!rows_fit(16_843_010, 255));
        assert!(integer_fits(&rk(100, false), 8));
        assert!(!integer_fits(&rk(100, true), 8));

        let n = 300_000;
        let ranking = rk(n, false);
        let scores = Floats::from(ranking.thresholds.clone());
        let options = one_batch(1);
        let (terms, ck, _, _) = prepare(&ranking, &scores, &options);
        let ck = ck.js.len();
        // Lane 15: 255 × 300,000 > 2²⁶: declined (the other lanes fit).
        let heavy = Constant(255);
        assert!(pass_body_int::<ScalarSimd, _, true, true>(&ranking, &terms, ck, &heavy).is_none());
        // Weight 1: a total of 300,000, exact.
        let light = Constant(1);
        let a = pass_body::<ScalarSimd, _, true, true>(&ranking, &terms, ck, &light);
        let b = pass_body_int::<ScalarSimd, _, true, true>(&ranking, &terms, ck, &light);
        assert_same(&a, &b.expect("within 2^26"), "constant weight 1");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            let c = unsafe { pass_avx2_int::<_, true, true>(&ranking, &terms, ck, &heavy) };
            assert!(c.is_none());
            let d = unsafe { pass_avx2_int::<_, true, true>(&ranking, &terms, ck, &light) };
            assert_same(&a, &d.expect("within 2^26"), "constant weight 1, avx2");
        }
    }
}
