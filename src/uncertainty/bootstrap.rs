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
use crate::metrics::binary::binary_log_loss;
use crate::metrics::calibration::{BINS, bin_of};
use crate::metrics::curves::{BinaryCurve, Counts, linspace01};
use crate::metrics::sort::sort_descending;
use crate::rng::word;

/// Replicates that go through the data together.
pub const LANES: usize = 16;
const QUADS: usize = LANES / 4;
/// Groups of the grouped jackknife behind BCa's acceleration.
pub const JACKKNIFE_GROUPS: usize = 64;
/// Domain separation of the random streams.
const POISSON_STREAM: u64 = 1 << 40;
const MULTINOMIAL_STREAM: u64 = 2 << 40;
const JACKKNIFE_STREAM: u64 = 3 << 40;

/// `weight = #{k : u ≥ POISSON_T[k]}` for a uniform 16-bit `u`: the
/// Poisson(1) distribution function at 0..7, times 2¹⁶, rounded.
const POISSON_T: [u32; 8] = [24109, 48219, 60273, 64292, 65296, 65497, 65531, 65535];

/// How replicates resample the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// Independent Poisson(1) weight per row (the default).
    Poisson,
    /// N rows drawn with replacement.
    Multinomial,
}

impl Resample {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Resample::Poisson => "poisson",
            Resample::Multinomial => "multinomial",
        }
    }
}

impl std::str::FromStr for Resample {
    type Err = String;
    fn from_str(s: &str) -> Result<Resample, String> {
        match s {
            "poisson" => Ok(Resample::Poisson),
            "multinomial" => Ok(Resample::Multinomial),
            other => Err(format!(
                "unknown resampling '{other}': expected poisson or multinomial"
            )),
        }
    }
}

#[inline(always)]
fn poisson_of(u: u32) -> u32 {
    let mut k = 0;
    for t in POISSON_T {
        k += (u >= t) as u32;
    }
    k
}

/// The Poisson(1) resampling weight of `row` in `replicate` (what the lane
/// passes compute; exposed for reference implementations and tests).
pub fn poisson_weight(seed: u64, replicate: usize, row: u32) -> u32 {
    let quad = (replicate / 4) as u64;
    let w = word(seed, POISSON_STREAM + quad, row as u64);
    poisson_of(((w >> (16 * (replicate % 4))) & 0xFFFF) as u32)
}

/// The multinomial resampling counts of `replicate` over `rows` rows.
pub fn multinomial_counts(seed: u64, replicate: usize, rows: usize) -> Vec<u32> {
    let mut counts = vec![0u32; rows];
    for d in 0..rows as u64 {
        counts[draw_row(seed, replicate, d, rows)] += 1;
    }
    counts
}

#[inline(always)]
fn draw_row(seed: u64, replicate: usize, draw: u64, rows: usize) -> usize {
    let w = word(seed, MULTINOMIAL_STREAM + replicate as u64, draw);
    ((w as u128 * rows as u128) >> 64) as usize
}

/// The jackknife group of a row.
#[inline(always)]
fn jackknife_group(seed: u64, row: u32) -> usize {
    (word(seed, JACKKNIFE_STREAM, row as u64) % JACKKNIFE_GROUPS as u64) as usize
}

/// The rows in descending score order, grouped into ties: the one sort of
/// the binary full tier.
#[derive(Debug, Clone)]
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
}

impl Ranking {
    /// Sorts the rows (labels 0/1, probabilities in [0, 1]). Ties are
    /// ordered by row index, so the order is unique.
    pub fn build(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> Ranking {
        let items: Vec<(u64, u32)> = crate::with_floats!(scores, s => {
            s.par_iter()
                .zip(labels.par_iter())
                .enumerate()
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
        let mut out = vec![0u32; self.rows.len()];
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
pub struct BootstrapOptions {
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
}

/// Names of the metrics the binary bootstrap produces, in the point
/// metrics' order.
pub const METRICS: [&str; 12] = [
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "mcc",
    "best_f1",
    "best_f1_threshold",
    "ece",
];

/// Points of the ROC and precision–recall bands.
pub const BAND_POINTS: usize = 100;

/// Per-replicate values of every metric and of the bands.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicates {
    /// `values[m][r]`: metric [`METRICS`]`[m]` in replicate `r` (NaN where
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
}

/// Per-position terms of the pass.
struct Terms {
    /// Log loss, squared error and score of each position.
    ll: Vec<f64>,
    sq: Vec<f64>,
    p: Vec<f64>,
    /// Positions of the positive rows.
    positives: Vec<u32>,
}

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

/// The weights of one batch's lanes for a row.
trait LaneWeights: Sync {
    fn fill(&self, row: u32, out: &mut [f64; LANES]);
}

struct PoissonLanes {
    keys: [u64; QUADS],
}

impl PoissonLanes {
    fn new(seed: u64, first_replicate: usize) -> PoissonLanes {
        let mut keys = [0u64; QUADS];
        for (q, k) in keys.iter_mut().enumerate() {
            // word(seed, stream, counter) = mix64(key + counter·γ), with key
            // depending on (seed, stream) only.
            *k = crate::rng::stream_key(seed, POISSON_STREAM + (first_replicate / 4 + q) as u64);
        }
        PoissonLanes { keys }
    }
}

impl LaneWeights for PoissonLanes {
    #[inline(always)]
    fn fill(&self, row: u32, out: &mut [f64; LANES]) {
        for q in 0..QUADS {
            let w = crate::rng::keyed_word(self.keys[q], row as u64);
            for j in 0..4 {
                out[q * 4 + j] = poisson_of(((w >> (16 * j)) & 0xFFFF) as u32) as f64;
            }
        }
    }
}

struct CountLanes {
    /// counts[row][lane]
    counts: Vec<[u16; LANES]>,
}

impl LaneWeights for CountLanes {
    #[inline(always)]
    fn fill(&self, row: u32, out: &mut [f64; LANES]) {
        let c = &self.counts[row as usize];
        for l in 0..LANES {
            out[l] = c[l] as f64;
        }
    }
}

struct JackknifeLanes {
    seed: u64,
    first_group: usize,
}

impl LaneWeights for JackknifeLanes {
    #[inline(always)]
    fn fill(&self, row: u32, out: &mut [f64; LANES]) {
        let g = jackknife_group(self.seed, row);
        for (l, o) in out.iter_mut().enumerate() {
            *o = if g == self.first_group + l { 0.0 } else { 1.0 };
        }
    }
}

fn multinomial_lanes(seed: u64, first_replicate: usize, rows: usize) -> CountLanes {
    let mut counts = vec![[0u16; LANES]; rows];
    for l in 0..LANES {
        for d in 0..rows as u64 {
            let r = draw_row(seed, first_replicate + l, d, rows);
            counts[r][l] = counts[r][l].saturating_add(1);
        }
    }
    CountLanes { counts }
}

/// The weighted pass of one batch of lanes.
fn pass<W: LaneWeights>(rk: &Ranking, terms: &Terms, ck: &Checkpoints, lanes: &W) -> LaneOut {
    let file_w = rk.weights.as_deref();
    let mut w = [0f64; LANES];
    // Phase 1: total positive weight per lane.
    let mut p_total = [0f64; LANES];
    for &pos in &terms.positives {
        let pos = pos as usize;
        lanes.fill(rk.rows[pos], &mut w);
        let fw = file_w.map_or(1.0, |f| f[pos]);
        for l in 0..LANES {
            p_total[l] += w[l] * fw;
        }
    }
    // Phase 2: the pass.
    let mut out = LaneOut {
        auc2: [0.0; LANES],
        ap: [0.0; LANES],
        best_f1: [-1.0; LANES],
        best_group: [u32::MAX; LANES],
        ll: [0.0; LANES],
        br: [0.0; LANES],
        ck_tp: Vec::with_capacity(ck.js.len()),
        ck_fp: Vec::with_capacity(ck.js.len()),
        ck_wp: Vec::with_capacity(ck.js.len()),
    };
    let (mut tp, mut fp, mut wp) = ([0f64; LANES], [0f64; LANES], [0f64; LANES]);
    let mut next_ck = 0usize;
    let mut start = 0usize;
    for (g, &end) in rk.group_end.iter().enumerate() {
        let end = end as usize;
        let (mut dtp, mut dfp) = ([0f64; LANES], [0f64; LANES]);
        let mut has_pos = false;
        for pos in start..end {
            lanes.fill(rk.rows[pos], &mut w);
            if let Some(f) = file_w {
                let fw = f[pos];
                for x in w.iter_mut() {
                    *x *= fw;
                }
            }
            let (ll, sq, p) = (terms.ll[pos], terms.sq[pos], terms.p[pos]);
            if rk.labels[pos] == 1 {
                has_pos = true;
                for l in 0..LANES {
                    dtp[l] += w[l];
                }
            } else {
                for l in 0..LANES {
                    dfp[l] += w[l];
                }
            }
            for l in 0..LANES {
                out.ll[l] += w[l] * ll;
                out.br[l] += w[l] * sq;
                wp[l] += w[l] * p;
            }
        }
        for l in 0..LANES {
            out.auc2[l] += dfp[l] * (2.0 * tp[l] + dtp[l]);
            tp[l] += dtp[l];
            fp[l] += dfp[l];
        }
        if has_pos {
            for l in 0..LANES {
                let ratio = tp[l] / (tp[l] + fp[l]).max(f64::MIN_POSITIVE);
                out.ap[l] += dtp[l] * ratio;
                let f1 = 2.0 * tp[l] / (tp[l] + fp[l] + p_total[l]);
                if f1 > out.best_f1[l] {
                    out.best_f1[l] = f1;
                    out.best_group[l] = g as u32;
                }
            }
        }
        if ck.js.get(next_ck) == Some(&(g as u32 + 1)) {
            out.ck_tp.push(tp);
            out.ck_fp.push(fp);
            out.ck_wp.push(wp);
            next_ck += 1;
        }
        start = end;
    }
    out
}

/// The metrics of lane `l` of a batch, in [`METRICS`] order, plus bands.
struct LaneMetrics {
    values: [f64; 12],
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

fn lane_metrics(rk: &Ranking, out: &LaneOut, l: usize, layout: &Layout) -> LaneMetrics {
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
    let c = at(layout.threshold_ck);
    let mut ece = 0.0;
    let mut prev = (0.0, 0.0, 0.0);
    for &(ck, _) in &layout.bin_ends {
        let cur = (out.ck_tp[ck][l], out.ck_fp[ck][l], out.ck_wp[ck][l]);
        let wb = (cur.0 + cur.1) - (prev.0 + prev.1);
        if wb > 0.0 {
            let observed = (cur.0 - prev.0) / wb;
            let predicted = (cur.2 - prev.2) / wb;
            ece += wb / total * (observed - predicted).abs();
        }
        prev = cur;
    }
    let best_defined = p > 0.0 && out.best_group[l] != u32::MAX;
    let values = [
        if p > 0.0 && n > 0.0 {
            out.auc2[l] / (2.0 * p * n)
        } else {
            nan
        },
        if p > 0.0 { out.ap[l] / p } else { nan },
        if total > 0.0 { out.ll[l] / total } else { nan },
        if total > 0.0 { out.br[l] / total } else { nan },
        if total > 0.0 { c.accuracy() } else { nan },
        c.precision().unwrap_or(nan),
        c.recall().unwrap_or(nan),
        c.f1().unwrap_or(nan),
        if total > 0.0 { c.mcc() } else { nan },
        if best_defined { out.best_f1[l] } else { nan },
        if best_defined {
            rk.thresholds[out.best_group[l] as usize]
        } else {
            nan
        },
        if total > 0.0 { ece } else { nan },
    ];

    // Bands from the checkpoints (plus the origin).
    let mut tpr = vec![nan; BAND_POINTS];
    let mut precision = vec![nan; BAND_POINTS];
    if p > 0.0 && n > 0.0 {
        let pts: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
            .chain(
                out.ck_tp
                    .iter()
                    .zip(&out.ck_fp)
                    .map(|(t, f)| (f[l] / n, t[l] / p)),
            )
            .collect();
        // TPR at x: the last point with FPR <= x (the top of a vertical
        // step), interpolated towards the next one.
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
            while k < out.ck_tp.len() && (out.ck_tp[k][l] / p < r || out.ck_tp[k][l] <= 0.0) {
                k += 1;
            }
            if k < out.ck_tp.len() {
                *slot = out.ck_tp[k][l] / (out.ck_tp[k][l] + out.ck_fp[k][l]);
            }
        }
    }
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
    // Per-position terms.
    let (ll, sq, p): (Vec<f64>, Vec<f64>, Vec<f64>) = {
        let triples: Vec<(f64, f64, f64)> = rk
            .rows
            .par_iter()
            .zip(rk.labels.par_iter())
            .map(|(&r, &y)| {
                let s = scores.get(r as usize);
                let e = y as f64 - s;
                (binary_log_loss(y, s), e * e, s)
            })
            .collect();
        (
            triples.iter().map(|t| t.0).collect(),
            triples.iter().map(|t| t.1).collect(),
            triples.iter().map(|t| t.2).collect(),
        )
    };
    let positives: Vec<u32> = (0..n as u32)
        .filter(|&i| rk.labels[i as usize] == 1)
        .collect();
    let terms = Terms {
        ll,
        sq,
        p,
        positives,
    };

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
    let layout = Layout {
        threshold_ck: (threshold_j > 0).then(|| ck.index(threshold_j)).flatten(),
        bin_ends: bin_ends_j
            .iter()
            .filter_map(|&(j, b)| ck.index(j).map(|c| (c, b)))
            .collect(),
        grid_ck: grid.iter().map(|&t| ck.index(above(t))).collect(),
    };
    debug_assert!(layout.bin_ends.len() <= BINS);

    let b = options.replicates;
    let batches = b.div_ceil(LANES);
    let jk_batches = if options.jackknife {
        JACKKNIFE_GROUPS.div_ceil(LANES)
    } else {
        0
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total_batches = batches + jk_batches;
    let run_batch = |batch: usize| -> LaneOut {
        let out = if batch < batches {
            let first = batch * LANES;
            match options.resample {
                Resample::Poisson => pass(rk, &terms, &ck, &PoissonLanes::new(options.seed, first)),
                Resample::Multinomial => {
                    pass(rk, &terms, &ck, &multinomial_lanes(options.seed, first, n))
                }
            }
        } else {
            let lanes = JackknifeLanes {
                seed: options.seed,
                first_group: (batch - batches) * LANES,
            };
            pass(rk, &terms, &ck, &lanes)
        };
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(d, total_batches);
        out
    };
    let outs: Vec<LaneOut> = (0..total_batches).into_par_iter().map(run_batch).collect();

    let mut values = vec![Vec::with_capacity(b); METRICS.len()];
    let mut jackknife = vec![Vec::new(); METRICS.len()];
    let (mut tpr, mut precision, mut f1) = (
        Vec::with_capacity(b),
        Vec::with_capacity(b),
        Vec::with_capacity(b),
    );
    for (batch, out) in outs.iter().enumerate() {
        let (count, is_jk) = if batch < batches {
            ((b - batch * LANES).min(LANES), false)
        } else {
            (
                (JACKKNIFE_GROUPS - (batch - batches) * LANES).min(LANES),
                true,
            )
        };
        for l in 0..count {
            let m = lane_metrics(rk, out, l, &layout);
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
    Replicates {
        values,
        jackknife,
        tpr,
        precision,
        f1,
        grid,
    }
}

/// Empirical influence values of ROC-AUC per row (original order), from
/// DeLong's placements: `N·(V10ᵢ − AUC)/m` for a positive, `N·(V01ⱼ − AUC)/n`
/// for a negative. Unweighted data only.
pub fn auc_influence(rk: &Ranking, curve: &BinaryCurve, auc: f64) -> Vec<f64> {
    let (m, n) = (curve.positives(), curve.negatives());
    let total = m + n;
    let mut out = vec![0.0; rk.rows.len()];
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
