//! Bootstrap replicates of the multiclass and regression metrics, through
//! the same weights as the binary passes ([`super::lanes`]): replicate `r`
//! gives row `i` the same weight in every task and every model.
//!
//! - **Regression**: one pass over the rows per batch of replicates,
//!   accumulating `Σw`, `Σw·r²`, `Σw·|r|`, `Σw·y`, `Σw·y²` (labels centred on
//!   their full-data mean) and the largest `|r|` with a positive weight.
//! - **Multiclass**: one pass over the rows per batch for everything that
//!   needs no ordering (accuracy, top-k, the per-class counts behind the
//!   precision/recall/F1 averages, log loss, Brier, the calibration bins),
//!   and one sorted binary pass per class for the one-vs-rest ROC-AUC and
//!   average precision (each class's scores sorted once).
//!
//! Every replicate is finished by the point metrics' own formulas: the lane
//! sums go into [`crate::metrics::multiclass::RowSums`],
//! [`crate::metrics::multiclass::averages`] (per-class counts),
//! [`crate::metrics::multiclass::ovr_averages`],
//! [`crate::metrics::calibration::ece`] and
//! [`crate::metrics::regression::RegressionSums`], as the point metrics'
//! exact sums do (R²'s denominator here comes from the centred lane sums,
//! `Σw·y² − (Σw·y)²/Σw`; the point path's from an exact expansion). So a
//! replicate is the point metrics of the data weighted by its weights
//! (tests check this against the point code, and a replicate of weights 1
//! against the point values).

#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::bootstrap::{BootstrapOptions, Ranking, Replicates, replicates};
use super::lanes::{Batches, LANES, fill_rows};
use crate::data::{Float, Floats};
use crate::metrics::calibration::{self, BINS, bin_of};
use crate::metrics::multiclass::{ClassCounts, RowSums, argmax, averages, ovr_averages};
use crate::metrics::neg_log;
use crate::metrics::regression::RegressionSums;

const BLOCK: usize = 1024;

pub use crate::metrics::multiclass::multiclass_metric_names;
pub use crate::metrics::regression::REGRESSION_METRICS;

fn batches<'a>(
    options: &BootstrapOptions<'a>,
    rows: usize,
    weights: Option<&Floats>,
) -> Batches<'a> {
    let multinomial = options.resample == super::lanes::Resample::Multinomial;
    Batches {
        replicates: options.replicates,
        jackknife: options.jackknife,
        seed: options.seed,
        resample: options.resample,
        rows,
        drawn: if multinomial && options.clusters.is_none() {
            super::lanes::drawn_rows(weights)
        } else {
            None
        },
        clusters: options.clusters,
        // Each class drawn among its rows of positive weight (regression
        // has no classes: one stratum).
        strata: (options.resample == super::lanes::Resample::Stratified).then(|| {
            let positive = |r: usize| weights.is_none_or(|w| w.get(r) > 0.0);
            match options.strata {
                Some(classes) => super::lanes::strata(classes, positive),
                None => super::lanes::strata(&vec![0; rows], positive),
            }
        }),
        // Clusters are drawn among those with a row of positive weight.
        cluster_index: options
            .clusters
            .filter(|_| multinomial)
            .map(|keys| crate::clusters::index(keys, |r| weights.is_none_or(|w| w.get(r) > 0.0))),
    }
}

/// Runs `per_batch` over every batch in parallel and sorts the lanes into
/// replicate values and jackknife values (`values[m][r]`).
fn collect(
    batches: &Batches,
    metrics: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    per_batch: impl Fn(&super::lanes::Source, usize) -> Vec<Vec<f64>> + Sync,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = batches.len();
    let outs: Vec<(bool, Vec<Vec<f64>>)> = (0..total)
        .into_par_iter()
        .map(|b| {
            let (src, count, jk) = batches.source(b);
            let lanes = per_batch(&src, count);
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            (jk, lanes)
        })
        .collect();
    let mut values = vec![Vec::new(); metrics];
    let mut jackknife = vec![Vec::new(); metrics];
    for (jk, lanes) in outs {
        for lane in lanes {
            let target = if jk { &mut jackknife } else { &mut values };
            for (m, v) in lane.into_iter().enumerate() {
                target[m].push(v);
            }
        }
    }
    (values, jackknife)
}

/// Replicates of [`REGRESSION_METRICS`].
pub fn regression_replicates(
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    options: &BootstrapOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    let n = labels.len();
    let hashes = row_hashes(options, n);
    let fw = |r: usize| weights.map_or(1.0, |w| w.get(r));
    let (sw, swy) = (0..n).fold((0.0, 0.0), |(a, b), r| {
        (a + fw(r), b + fw(r) * labels.get(r))
    });
    let centre = if sw > 0.0 { swy / sw } else { 0.0 };
    // Labels of the rows with positive weight all equal: R² is undefined in
    // every replicate (they draw only those rows), whatever the rounding.
    let mut positive = (0..n).filter(|&r| fw(r) > 0.0).map(|r| labels.get(r));
    let constant = positive.next().is_none_or(|y0| positive.all(|y| y == y0));
    let b = batches(options, n, weights);
    let (values, jackknife) = collect(&b, REGRESSION_METRICS.len(), progress, |src, count| {
        let mut buf = vec![[0u16; LANES]; BLOCK];
        let mut acc = RegSums::default();
        for_each_block(src, n, &hashes, &mut buf, |block, start| {
            reg_block(&mut acc, block, start, labels, scores, weights, centre);
        });
        let RegSums {
            w: w_,
            r2,
            ab,
            y1,
            y2,
            mx,
        } = acc;
        (0..count)
            .map(|l| {
                if w_[l] <= 0.0 {
                    return vec![f64::NAN; REGRESSION_METRICS.len()];
                }
                let ss_tot = y2[l] - y1[l] * y1[l] / w_[l];
                let sums = RegressionSums {
                    weight: w_[l],
                    squared: r2[l],
                    absolute: ab[l],
                    max_abs: mx[l],
                    // A replicate that drew one label value only has
                    // ss_tot of rounding size (relative to Σw(y − ȳ)² about
                    // the data's mean): undefined, as the point value would be.
                    total_sum_of_squares: (!constant && ss_tot > 1e-12 * y2[l]).then_some(ss_tot),
                };
                sums.values()
                    .into_iter()
                    .map(|(_, v)| v.unwrap_or(f64::NAN))
                    .collect()
            })
            .collect()
    });
    Replicates::metrics(REGRESSION_METRICS.to_vec(), values, jackknife)
}

/// Per-row terms of the multiclass row pass.
struct RowTerms {
    y: Vec<u32>,
    pred: Vec<u32>,
    bin: Vec<u8>,
    /// (log loss, Brier, top probability, correct, top-3 hit, top-5 hit)
    t: Vec<[f64; 6]>,
}

fn row_terms<F: Float>(labels: &[u32], scores: &[F], k: usize) -> RowTerms {
    let per_row: Vec<(u32, u8, [f64; 6])> = labels
        .par_iter()
        .zip(scores.par_chunks(k))
        .map(|(&y, row)| {
            let y = y as usize;
            let top = argmax(row);
            let sy = row[y].to_f64();
            let rank = row
                .iter()
                .enumerate()
                .filter(|&(c, s)| {
                    let s = s.to_f64();
                    s > sy || (s == sy && c > y)
                })
                .count();
            let mut sq = 0.0;
            for (j, p) in row.iter().enumerate() {
                let e = p.to_f64() - if j == y { 1.0 } else { 0.0 };
                sq += e * e;
            }
            let ptop = row[top].to_f64();
            (
                top as u32,
                bin_of(ptop) as u8,
                [
                    neg_log(sy),
                    sq,
                    ptop,
                    (top == y) as u8 as f64,
                    (rank < 3) as u8 as f64,
                    (rank < 5) as u8 as f64,
                ],
            )
        })
        .collect();
    RowTerms {
        y: labels.to_vec(),
        pred: per_row.iter().map(|r| r.0).collect(),
        bin: per_row.iter().map(|r| r.1).collect(),
        t: per_row.iter().map(|r| r.2).collect(),
    }
}

/// Replicates of [`multiclass_metric_names`]`(k)`.
pub fn multiclass_replicates(
    labels: &[u32],
    scores: &Floats,
    k: usize,
    weights: Option<&Floats>,
    options: &BootstrapOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    // Stratified replicates keep the multiclass class counts, in the row
    // pass and in every one-vs-rest pass alike.
    let stratified = BootstrapOptions {
        strata: Some(labels),
        ..*options
    };
    let options = &stratified;
    let n = labels.len();
    let names = multiclass_metric_names(k);
    let terms = crate::with_floats!(scores, s => row_terms(labels, s, k));
    // Classes present as a label or a prediction (by row), as in the point
    // metrics.
    let mut seen = vec![false; k];
    for (&y, &p) in terms.y.iter().zip(&terms.pred) {
        seen[y as usize] = true;
        seen[p as usize] = true;
    }
    let seen: Vec<usize> = (0..k).filter(|&c| seen[c]).collect();

    // One-vs-rest AUC and AP per class: a sorted binary pass per class.
    let steps = k + 1;
    // Not asked for (`--metrics` without them): no pass, and the averages
    // stay NaN, withheld.
    let ovr_classes = if options.need.one_vs_rest { k } else { 0 };
    let ovr: Vec<Replicates> = (0..ovr_classes)
        .map(|c| {
            let y: Vec<u8> = labels.iter().map(|&l| (l as usize == c) as u8).collect();
            let col = crate::metrics::multiclass::column(scores, k, c);
            let rk = Ranking::build(&y, &col, weights);
            let per_class = |d: usize, t: usize| progress(c * t + d, steps * t);
            let opts = BootstrapOptions {
                grid: 2,
                need: super::bootstrap::Need::RANKING,
                ..*options
            };
            replicates(&rk, &col, &opts, &per_class)
        })
        .collect();

    let hashes = row_hashes(options, n);
    let b = batches(options, n, weights);
    let last = |d: usize, t: usize| progress(k * t + d, steps * t);
    // Each lane carries the named metrics, then its k class supports (for
    // the one-vs-rest averages, filled in after the per-class passes), then
    // its k per-class F1 values.
    let (values, jackknife) = collect(&b, names.len() + 2 * k, &last, |src, count| {
        let mut buf = vec![[0u16; LANES]; BLOCK];
        let mut acc = McSums {
            sums: [[0f64; LANES]; 6],
            support: vec![[0f64; LANES]; k],
            predicted: vec![[0f64; LANES]; k],
            tp: vec![[0f64; LANES]; k],
            bins: vec![[[0f64; LANES]; 3]; BINS],
        };
        for_each_block(src, n, &hashes, &mut buf, |block, start| {
            mc_block(&mut acc, block, start, &terms, weights);
        });
        let McSums {
            sums,
            support,
            predicted,
            tp,
            bins,
        } = acc;
        (0..count)
            .map(|l| {
                let total = sums[0][l];
                if total <= 0.0 {
                    // Nothing drawn: every metric undefined; zero supports.
                    let mut out = vec![f64::NAN; names.len()];
                    out.extend(std::iter::repeat_n(0.0, k));
                    out.extend(std::iter::repeat_n(f64::NAN, k));
                    return out;
                }
                let rows = RowSums {
                    weight: total,
                    log_loss: sums[1][l],
                    brier: sums[2][l],
                    correct: sums[3][l],
                    top3: sums[4][l],
                    top5: sums[5][l],
                };
                let mut out = vec![rows.accuracy()];
                if k > 3 {
                    out.push(rows.top_3_accuracy());
                }
                if k > 5 {
                    out.push(rows.top_5_accuracy());
                }
                let classes: Vec<ClassCounts> = seen
                    .iter()
                    .map(|&c| ClassCounts {
                        tp: tp[c][l],
                        predicted: predicted[c][l],
                        support: support[c][l],
                    })
                    .collect();
                let avg = averages(&classes);
                out.extend(avg.macro_);
                out.extend(avg.micro);
                out.extend(avg.weighted.unwrap_or([f64::NAN; 3]));
                // One-vs-rest averages: filled in from the per-class passes.
                out.push(f64::NAN);
                out.push(f64::NAN);
                out.push(f64::NAN);
                out.push(f64::NAN);
                out.push(rows.mean_log_loss());
                out.push(rows.mean_brier());
                out.push(calibration::ece(
                    total,
                    (0..BINS).map(|bn| (bins[bn][0][l], bins[bn][2][l], bins[bn][1][l])),
                ));
                // Per-class supports ride along for the OvR averages.
                out.extend((0..k).map(|c| support[c][l]));
                // Per-class F1, by the point metric's formula.
                out.extend((0..k).map(|c| {
                    ClassCounts {
                        tp: tp[c][l],
                        predicted: predicted[c][l],
                        support: support[c][l],
                    }
                    .f1()
                    .unwrap_or(f64::NAN)
                }));
                out
            })
            .collect()
    });
    // Fill the one-vs-rest averages from the per-class replicates, using each
    // replicate's class supports (carried past the named metrics).
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or(0);
    let (mac_auc, wt_auc, mac_ap, wt_ap) = (
        at("macro_roc_auc"),
        at("weighted_roc_auc"),
        at("macro_average_precision"),
        at("weighted_average_precision"),
    );
    // The one-vs-rest averages, from each class's replicate (or jackknife)
    // values looked up by name.
    let finish = |mut vals: Vec<Vec<f64>>, jk: bool| -> Vec<Vec<f64>> {
        let reps = vals.first().map_or(0, Vec::len);
        let per_class = |metric: &str| -> Vec<&[f64]> {
            ovr.iter()
                .map(|rep| {
                    rep.of(metric)
                        .map_or(&[][..], |(v, j)| if jk { j } else { v })
                })
                .collect()
        };
        let (auc, ap) = (per_class("roc_auc"), per_class("average_precision"));
        for r in (0..reps).filter(|_| !ovr.is_empty()) {
            for (m_mac, m_wtd, class_values) in [(mac_auc, wt_auc, &auc), (mac_ap, wt_ap, &ap)] {
                let values = (0..k).map(|c| {
                    let v = class_values[c].get(r).copied().filter(|v| v.is_finite());
                    (v, vals[names.len() + c][r])
                });
                let (mac, wtd) = ovr_averages(values).unwrap_or((f64::NAN, f64::NAN));
                vals[m_mac][r] = mac;
                vals[m_wtd][r] = wtd;
            }
        }
        vals
    };
    let mut values = finish(values, false);
    let per_class_f1 = values.split_off(names.len() + k);
    values.truncate(names.len());
    let mut jackknife = finish(jackknife, true);
    jackknife.truncate(names.len());
    let mut reps = Replicates {
        per_class_f1,
        one_vs_rest: ovr,
        ..Replicates::metrics(names, values, jackknife)
    };
    options.need.keep_computed(&mut reps);
    reps
}

/// Per-lane sums of the regression row pass.
#[derive(Default)]
struct RegSums {
    w: [f64; LANES],
    r2: [f64; LANES],
    ab: [f64; LANES],
    y1: [f64; LANES],
    y2: [f64; LANES],
    mx: [f64; LANES],
}

#[inline(always)]
fn reg_block_body(
    acc: &mut RegSums,
    buf: &[[u16; LANES]],
    start: usize,
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    centre: f64,
) {
    for (i, b) in buf.iter().enumerate() {
        let r = start + i;
        let (y, p, f) = (
            labels.get(r),
            scores.get(r),
            weights.map_or(1.0, |w| w.get(r)),
        );
        let res = y - p;
        let yc = y - centre;
        for l in 0..LANES {
            let w = b[l] as f64 * f;
            acc.w[l] += w;
            acc.r2[l] += w * res * res;
            acc.ab[l] += w * res.abs();
            acc.y1[l] += w * yc;
            acc.y2[l] += w * yc * yc;
            if w > 0.0 && res.abs() > acc.mx[l] {
                acc.mx[l] = res.abs();
            }
        }
    }
}

/// One block of the regression row pass, with AVX2 when the CPU has it
/// (the same arithmetic: no fused multiply-adds).
fn reg_block(
    acc: &mut RegSums,
    buf: &[[u16; LANES]],
    start: usize,
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    centre: f64,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { reg_block_avx2(acc, buf, start, labels, scores, weights, centre) };
            return;
        }
    }
    reg_block_body(acc, buf, start, labels, scores, weights, centre);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn reg_block_avx2(
    acc: &mut RegSums,
    buf: &[[u16; LANES]],
    start: usize,
    labels: &Floats,
    scores: &Floats,
    weights: Option<&Floats>,
    centre: f64,
) {
    reg_block_body(acc, buf, start, labels, scores, weights, centre);
}

/// Per-lane sums of the multiclass row pass.
struct McSums {
    /// Σw, Σw·ll, Σw·brier, Σw·correct, Σw·top3, Σw·top5.
    sums: [[f64; LANES]; 6],
    support: Vec<[f64; LANES]>,
    predicted: Vec<[f64; LANES]>,
    tp: Vec<[f64; LANES]>,
    /// Per calibration bin: Σw, Σw·p, Σw·correct.
    bins: Vec<[[f64; LANES]; 3]>,
}

#[inline(always)]
fn mc_block_body(
    acc: &mut McSums,
    buf: &[[u16; LANES]],
    start: usize,
    terms: &RowTerms,
    weights: Option<&Floats>,
) {
    for (i, b) in buf.iter().enumerate() {
        let r = start + i;
        let f = weights.map_or(1.0, |w| w.get(r));
        let (y, p, bn) = (
            terms.y[r] as usize,
            terms.pred[r] as usize,
            terms.bin[r] as usize,
        );
        let t = &terms.t[r];
        let hit = y == p;
        for l in 0..LANES {
            let w = b[l] as f64 * f;
            acc.sums[0][l] += w;
            acc.sums[1][l] += w * t[0];
            acc.sums[2][l] += w * t[1];
            acc.sums[3][l] += w * t[3];
            acc.sums[4][l] += w * t[4];
            acc.sums[5][l] += w * t[5];
            acc.support[y][l] += w;
            acc.predicted[p][l] += w;
            acc.bins[bn][0][l] += w;
            acc.bins[bn][1][l] += w * t[2];
            acc.bins[bn][2][l] += w * t[3];
        }
        if hit {
            for l in 0..LANES {
                acc.tp[y][l] += b[l] as f64 * f;
            }
        }
    }
}

/// One block of the multiclass row pass, with AVX2 when the CPU has it
/// (the same arithmetic: no fused multiply-adds).
fn mc_block(
    acc: &mut McSums,
    buf: &[[u16; LANES]],
    start: usize,
    terms: &RowTerms,
    weights: Option<&Floats>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { mc_block_avx2(acc, buf, start, terms, weights) };
            return;
        }
    }
    mc_block_body(acc, buf, start, terms, weights);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mc_block_avx2(
    acc: &mut McSums,
    buf: &[[u16; LANES]],
    start: usize,
    terms: &RowTerms,
    weights: Option<&Floats>,
) {
    mc_block_body(acc, buf, start, terms, weights);
}

/// Hashes of the Poisson weights of rows `0..n`: one per row (or per
/// cluster), keyed by the seed.
fn row_hashes(options: &BootstrapOptions, n: usize) -> Vec<u32> {
    super::lanes::unit_hashes(
        options.seed,
        (0..n as u32).into_par_iter(),
        options.clusters,
    )
}

/// Fills the lanes' weights of rows `0..n` block by block and hands each
/// block (weights, first row) to `f`.
fn for_each_block(
    src: &super::lanes::Source,
    n: usize,
    hashes: &[u32],
    buf: &mut [[u16; LANES]],
    mut f: impl FnMut(&[[u16; LANES]], usize),
) {
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        fill_rows(
            src,
            start as u32..end as u32,
            hashes,
            &mut buf[..end - start],
        );
        f(&buf[..end - start], start);
        start = end;
    }
}
