//! Binary ranking curves: ROC, precision–recall and the threshold sweep.
//!
//! Everything here derives from one table, [`BinaryCurve`]: for every
//! distinct score `t` (descending), the number (or weight) of positives and
//! negatives with `score >= t`. This is scikit-learn's `_binary_clf_curve`:
//! one operating point per distinct score, so tied scores form one step and
//! ROC-AUC integrates them as a diagonal (trapezoid) segment.
//!
//! Building the table costs one sort of the rows ([`super::sort`]) and one
//! pass; every metric after that is a pass over the distinct scores.
//! Unweighted counts are accumulated in integers (stored as `f64`, exact below
//! 2⁵³), weighted ones in `f64` — never `f32`.

use rayon::prelude::*;

use super::sort::sort_descending;
use crate::data::Floats;
use crate::state::exact::{ExactSum, TermSum};

/// `x` when finite: the terms summed exactly must be.
#[inline]
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The operating point just above a run of a ranking table's points: the
/// cumulative positives and negatives (or weights) before its first score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    /// Positives (or their weight) above the run.
    pub tp: f64,
    /// Negatives (or their weight) above the run.
    pub fp: f64,
}

impl Start {
    /// The top of a table: nothing above.
    pub const TOP: Start = Start { tp: 0.0, fp: 0.0 };
}

/// A term of the weighted ROC area: `ΔFP·(TP + TP₀)`.
#[inline]
fn area_term(tp0: f64, fp0: f64, tp: f64, fp: f64) -> f64 {
    (fp - fp0) * (tp + tp0)
}

/// A term of the unweighted ROC area in integers (`None` when the counts
/// go down: a `start` that does not fit).
#[inline]
fn count_area_term(tp0: u64, fp0: u64, tp: u64, fp: u64) -> Option<u128> {
    Some(fp.checked_sub(fp0)? as u128 * (tp as u128 + tp0 as u128))
}

/// One pass's parts of a run of points ([`BinaryCurve::parts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// Twice the ROC area's terms.
    pub area2: Area2,
    /// The precision sum's terms.
    pub precision: ExactSum,
    /// The best F1 point, `(F1, threshold)`.
    pub best_f1: Option<(f64, f64)>,
}

/// Twice the ROC area of a run of points ([`BinaryCurve::area2_part`]):
/// exact integers without weights, an exact sum of rounded terms with them.
#[derive(Debug, Clone, PartialEq)]
pub enum Area2 {
    /// Unweighted: `Σ ΔFP·(TP + TP₀)` in integers.
    Counts(u128),
    /// Weighted: the exact sum of the rounded terms.
    Weighted(ExactSum),
}

impl Area2 {
    /// Adds the part of another run (both of one weighting).
    pub fn merge(&mut self, other: &Area2) {
        match (self, other) {
            (Area2::Counts(a), Area2::Counts(b)) => *a += *b,
            (Area2::Weighted(a), Area2::Weighted(b)) => a.merge(b),
            (a, _) => debug_assert!(false, "areas of one weighting merge: {a:?}"),
        }
    }

    /// The area, rounded once.
    pub fn value(&self) -> f64 {
        match self {
            Area2::Counts(a) => *a as f64,
            Area2::Weighted(a) => a.value(),
        }
    }
}

/// What the binary point metrics take from a ranking table
/// ([`crate::metrics::binary::point_metrics_of`]): from a whole table
/// ([`BinaryCurve::ranked`]) or assembled from runs of it
/// (`state::ranges`), the same numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Twice the ROC area ([`BinaryCurve::roc_area2`]).
    pub area2: f64,
    /// [`BinaryCurve::precision_sum`].
    pub precision_sum: f64,
    /// Positives (or their weight).
    pub positives: f64,
    /// Negatives (or their weight).
    pub negatives: f64,
    /// The confusion matrix at the threshold.
    pub confusion: Counts,
    /// [`BinaryCurve::best_f1_point`].
    pub best_f1: Option<(f64, f64)>,
    /// Whether any row counts.
    pub rows: bool,
}

/// Cumulative counts at every distinct score, highest score first.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryCurve {
    /// The distinct scores, strictly descending.
    pub thresholds: Vec<f64>,
    /// Positives (or their weight) with `score >= thresholds[i]`.
    pub tps: Vec<f64>,
    /// Negatives (or their weight) with `score >= thresholds[i]`.
    pub fps: Vec<f64>,
    /// Whether the counts are sums of weights.
    pub weighted: bool,
}

/// The four cells of a binary confusion matrix (counts or weight sums).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Counts {
    /// True positives.
    pub tp: f64,
    /// False positives.
    pub fp: f64,
    /// True negatives.
    pub tn: f64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: f64,
}

impl Counts {
    /// The cells where `tp` positives and `fp` negatives are predicted
    /// positive, of `p` positives and `n` negatives.
    pub fn at(tp: f64, fp: f64, p: f64, n: f64) -> Counts {
        Counts {
            tp,
            fp,
            tn: n - fp,
            fn_: p - tp,
        }
    }
    /// `tp / (tp + fp)`; undefined with no predicted positives.
    pub fn precision(&self) -> Option<f64> {
        let d = self.tp + self.fp;
        (d > 0.0).then(|| self.tp / d)
    }
    /// `tp / (tp + fn)`; undefined with no positive labels.
    pub fn recall(&self) -> Option<f64> {
        let d = self.tp + self.fn_;
        (d > 0.0).then(|| self.tp / d)
    }
    /// `2tp / (2tp + fp + fn)`; undefined only when there are neither
    /// positive labels nor positive predictions (scikit-learn ≥ 1.3).
    pub fn f1(&self) -> Option<f64> {
        let d = 2.0 * self.tp + self.fp + self.fn_;
        (d > 0.0).then(|| 2.0 * self.tp / d)
    }
    /// `tn / (tn + fp)`; undefined with no negative labels.
    pub fn specificity(&self) -> Option<f64> {
        let d = self.tn + self.fp;
        (d > 0.0).then(|| self.tn / d)
    }
    /// `(tp + tn) / total`.
    pub fn accuracy(&self) -> f64 {
        (self.tp + self.tn) / (self.tp + self.tn + self.fp + self.fn_)
    }
    /// Matthews correlation coefficient, computed as scikit-learn does from
    /// the confusion matrix; 0 when a row or column of the matrix is empty
    /// (scikit-learn's convention).
    pub fn mcc(&self) -> f64 {
        let t = [self.tn + self.fp, self.fn_ + self.tp];
        let p = [self.tn + self.fn_, self.fp + self.tp];
        let n_correct = self.tp + self.tn;
        let n = p[0] + p[1];
        let cov_ytyp = n_correct * n - (t[0] * p[0] + t[1] * p[1]);
        let cov_ypyp = n * n - (p[0] * p[0] + p[1] * p[1]);
        let cov_ytyt = n * n - (t[0] * t[0] + t[1] * t[1]);
        let d = cov_ypyp * cov_ytyt;
        if d == 0.0 { 0.0 } else { cov_ytyp / d.sqrt() }
    }
}

impl BinaryCurve {
    /// Builds the table from labels (0/1), probabilities of class 1 in
    /// [0, 1], and optional non-negative weights.
    pub fn build(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> BinaryCurve {
        match weights {
            None => {
                let items: Vec<u64> = crate::with_floats!(scores, s => {
                    s.par_iter()
                        .zip(labels.par_iter())
                        .map(|(&x, &y)| (score_bits(x) << 1) | y as u64)
                        .collect()
                });
                let sorted = sort_descending(items);
                Self::walk(sorted.iter().map(|&k| (k, 1.0)), false, scores)
            }
            Some(w) => {
                // Rows of weight 0 are left out, as scikit-learn does: they
                // would add operating points that move no count.
                let items: Vec<(u64, u64)> = crate::with_floats!(scores, s => {
                    s.par_iter()
                        .zip(labels.par_iter())
                        .enumerate()
                        .filter(|&(i, _)| w.get(i) > 0.0)
                        .map(|(i, (&x, &y))| ((score_bits(x) << 1) | y as u64, w.get(i).to_bits()))
                        .collect()
                });
                let sorted = sort_descending(items);
                Self::walk(
                    sorted.iter().map(|&(k, w)| (k, f64::from_bits(w))),
                    true,
                    scores,
                )
            }
        }
    }

    fn walk(
        items: impl Iterator<Item = (u64, f64)>,
        weighted: bool,
        scores: &Floats,
    ) -> BinaryCurve {
        let to_score = |bits: u64| match scores {
            Floats::F32(_) => f32::from_bits(bits as u32) as f64,
            Floats::F64(_) => f64::from_bits(bits),
        };
        let mut curve = BinaryCurve {
            thresholds: Vec::new(),
            tps: Vec::new(),
            fps: Vec::new(),
            weighted,
        };
        // Integer counts when unweighted, f64 weight sums otherwise.
        let (mut tp_n, mut fp_n) = (0u64, 0u64);
        let (mut tp_w, mut fp_w) = (0f64, 0f64);
        let mut current: Option<u64> = None;
        for (key, w) in items {
            let score = key >> 1;
            if current != Some(score) {
                if let Some(prev) = current {
                    curve.thresholds.push(to_score(prev));
                    curve.tps.push(if weighted { tp_w } else { tp_n as f64 });
                    curve.fps.push(if weighted { fp_w } else { fp_n as f64 });
                }
                current = Some(score);
            }
            if key & 1 == 1 {
                tp_n += 1;
                tp_w += w;
            } else {
                fp_n += 1;
                fp_w += w;
            }
        }
        if let Some(prev) = current {
            curve.thresholds.push(to_score(prev));
            curve.tps.push(if weighted { tp_w } else { tp_n as f64 });
            curve.fps.push(if weighted { fp_w } else { fp_n as f64 });
        }
        curve
    }

    /// Number of distinct scores.
    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    /// True for an empty table (no rows).
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    /// Total positives (or positive weight).
    pub fn positives(&self) -> f64 {
        self.tps.last().copied().unwrap_or(0.0)
    }

    /// Total negatives (or negative weight).
    pub fn negatives(&self) -> f64 {
        self.fps.last().copied().unwrap_or(0.0)
    }

    /// The confusion matrix at operating point `i` (predict positive for
    /// `score >= thresholds[i]`).
    pub fn counts_at_index(&self, i: usize) -> Counts {
        Counts::at(self.tps[i], self.fps[i], self.positives(), self.negatives())
    }

    /// How many distinct scores are `>= threshold` (binary search).
    pub fn points_at_or_above(&self, threshold: f64) -> usize {
        self.thresholds.partition_point(|&t| t >= threshold)
    }

    /// The confusion matrix for "positive iff `score >= threshold`".
    pub fn counts_at(&self, threshold: f64) -> Counts {
        match self.points_at_or_above(threshold) {
            0 => Counts {
                tp: 0.0,
                fp: 0.0,
                tn: self.negatives(),
                fn_: self.positives(),
            },
            k => self.counts_at_index(k - 1),
        }
    }

    /// Twice the area under the ROC staircase in count (or weight) units,
    /// `Σ (FPₙ − FPₙ₋₁)(TPₙ + TPₙ₋₁)` over the distinct scores: exact in
    /// integers without weights, an exact sum of the rounded terms with
    /// them; rounded once.
    pub fn roc_area2(&self) -> f64 {
        self.area2_part(Start::TOP).map_or(f64::NAN, |a| a.value())
    }

    /// The terms of [`BinaryCurve::roc_area2`] of this table's points,
    /// which follow the point `start` (the top of the whole table, or the
    /// last point of the run of scores above: a table of one score range,
    /// `state::ranges`). Parts of consecutive runs add up to the whole
    /// table's area exactly. `None` when a term is not finite (weights past
    /// the readers' bound, or a `start` that does not fit the table).
    pub fn area2_part(&self, start: Start) -> Option<Area2> {
        if self.weighted {
            let mut area = TermSum::new();
            let (mut tp0, mut fp0) = (start.tp, start.fp);
            for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
                area.add(finite(area_term(tp0, fp0, tp, fp))?);
                tp0 = tp;
                fp0 = fp;
            }
            Some(Area2::Weighted(area.exact()))
        } else {
            // Exact: twice the area in integer units.
            let mut area2: u128 = 0;
            let (mut tp0, mut fp0) = (start.tp as u64, start.fp as u64);
            for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
                let (tp, fp) = (tp as u64, fp as u64);
                area2 += count_area_term(tp0, fp0, tp, fp)?;
                tp0 = tp;
                fp0 = fp;
            }
            Some(Area2::Counts(area2))
        }
    }

    /// Area under the ROC curve (trapezoidal, ties as diagonal segments),
    /// equal to scikit-learn's `roc_auc_score`: [`roc_auc`] of
    /// [`BinaryCurve::roc_area2`]. `Err` names why it is undefined (one
    /// class only).
    pub fn roc_auc(&self) -> Result<f64, String> {
        roc_auc(self.roc_area2(), self.positives(), self.negatives())
    }

    /// `Σ (Rₙ − Rₙ₋₁) Pₙ` over the distinct scores (scikit-learn's step
    /// formula, no interpolation), the terms summed exactly and rounded
    /// once; 0 without positives.
    pub fn precision_sum(&self) -> f64 {
        let (p, n) = (self.positives(), self.negatives());
        self.parts(Start::TOP, p, n)
            .map_or(f64::NAN, |t| t.precision.value())
    }

    /// Average precision: [`average_precision`] of
    /// [`BinaryCurve::precision_sum`]. Undefined without positive labels
    /// (scikit-learn returns 0 with a warning there).
    pub fn average_precision(&self) -> Result<f64, String> {
        average_precision(
            PrecisionSum::RecallSteps(self.precision_sum()),
            self.positives(),
        )
    }

    /// The operating point of the highest F1 over every distinct score,
    /// `(F1, threshold)`: the highest score attaining it (`None` without
    /// rows). F1 is [`Counts::f1`], 0 where undefined.
    pub fn best_f1_point(&self) -> Option<(f64, f64)> {
        let (p, n) = (self.positives(), self.negatives());
        self.parts(Start::TOP, p, n).and_then(|t| t.best_f1)
    }

    /// In one pass over this table's points, which follow `start`, for `p`
    /// positives and `n` negatives in the whole table: the terms of the ROC
    /// area ([`BinaryCurve::area2_part`]) and of the precision sum
    /// ([`BinaryCurve::precision_sum`]), each an exact sum, and the best F1
    /// point ([`BinaryCurve::best_f1_point`]). The parts of consecutive runs
    /// of a table add up to the whole table's, and the best of runs is the
    /// first run's best unless a later one's F1 is strictly higher, as over
    /// the whole table (`state::ranges`). `None` when a term is not finite
    /// (weights past the readers' bound, or a `start` that does not fit).
    pub fn parts(&self, start: Start, p: f64, n: f64) -> Option<Parts> {
        let mut area_w = TermSum::new();
        let mut area_n: u128 = 0;
        let mut ap = TermSum::new();
        let mut best: Option<(f64, f64)> = None;
        let (mut tp0, mut fp0) = (start.tp, start.fp);
        let mut r0 = if start.tp + start.fp > 0.0 && p > 0.0 {
            start.tp / p
        } else {
            0.0
        };
        for i in 0..self.len() {
            let (tp, fp) = (self.tps[i], self.fps[i]);
            if self.weighted {
                area_w.add(finite(area_term(tp0, fp0, tp, fp))?);
            } else {
                area_n += count_area_term(tp0 as u64, fp0 as u64, tp as u64, fp as u64)?;
            }
            // Leading scores whose rows all have weight 0 carry no precision
            // (scikit-learn sets it to 0 there) and no recall step.
            if p > 0.0 && tp + fp > 0.0 {
                let r = tp / p;
                ap.add(finite((r - r0) * (tp / (tp + fp)))?);
                r0 = r;
            }
            let f1 = Counts::at(tp, fp, p, n).f1().unwrap_or(0.0);
            if best.is_none_or(|(b, _)| f1 > b) {
                best = Some((f1, self.thresholds[i]));
            }
            tp0 = tp;
            fp0 = fp;
        }
        Some(Parts {
            area2: if self.weighted {
                Area2::Weighted(area_w.exact())
            } else {
                Area2::Counts(area_n)
            },
            precision: ap.exact(),
            best_f1: best,
        })
    }

    /// What the point metrics take from the table ([`Ranked`]), with the
    /// confusion matrix at `threshold`.
    pub fn ranked(&self, threshold: f64) -> Ranked {
        let (p, n) = (self.positives(), self.negatives());
        let parts = self.parts(Start::TOP, p, n);
        Ranked {
            area2: parts.as_ref().map_or(f64::NAN, |t| t.area2.value()),
            precision_sum: parts.as_ref().map_or(f64::NAN, |t| t.precision.value()),
            positives: p,
            negatives: n,
            confusion: self.counts_at(threshold),
            best_f1: parts.and_then(|t| t.best_f1),
            rows: !self.is_empty(),
        }
    }

    /// The highest F1 over every distinct score and the highest score that
    /// attains it, with [`best_f1`]'s conventions (no positive labels: the
    /// best F1 is 0 and no threshold is best).
    pub fn best_f1(&self) -> Result<(f64, f64), (Option<f64>, String)> {
        let p = self.positives();
        let best = if p > 0.0 { self.best_f1_point() } else { None };
        best_f1(best, p, !self.is_empty())
    }

    /// The sweep at every distinct score.
    pub fn sweep_distinct(&self) -> Sweep {
        let points = (0..self.len()).map(|i| (self.thresholds[i], self.counts_at_index(i)));
        Sweep::from_points(points)
    }

    /// The sweep at `n` evenly spaced thresholds in [0, 1] (both ends
    /// included), as numpy's `linspace(0, 1, n)`.
    pub fn sweep_grid(&self, n: usize) -> Sweep {
        let grid = linspace01(n);
        let points = grid.iter().map(|&t| (t, self.counts_at(t)));
        Sweep::from_points(points)
    }

    /// ROC points `(fpr, tpr)` from (0, 0), one per distinct score. Empty
    /// when a class is missing.
    pub fn roc_points(&self) -> Vec<(f64, f64)> {
        let (p, n) = (self.positives(), self.negatives());
        if p <= 0.0 || n <= 0.0 {
            return Vec::new();
        }
        std::iter::once((0.0, 0.0))
            .chain(
                self.tps
                    .iter()
                    .zip(&self.fps)
                    .map(|(&tp, &fp)| (fp / n, tp / p)),
            )
            .collect()
    }

    /// Precision–recall points `(recall, precision)`, one per distinct score.
    pub fn pr_points(&self) -> Vec<(f64, f64)> {
        let p = self.positives();
        if p <= 0.0 {
            return Vec::new();
        }
        self.tps
            .iter()
            .zip(&self.fps)
            .filter(|&(&tp, &fp)| tp + fp > 0.0)
            .map(|(&tp, &fp)| (tp / p, tp / (tp + fp)))
            .collect()
    }
}

/// `linspace(0, 1, n)` exactly as numpy computes it (`i * (1 / (n - 1))`,
/// last point exactly 1).
pub fn linspace01(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => {
            let step = 1.0 / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step).collect();
            v[n - 1] = 1.0;
            v
        }
    }
}

pub(crate) fn one_class_reason(p: f64, n: f64, what: &str) -> String {
    let missing = if p <= 0.0 { "positive" } else { "negative" };
    let _ = n;
    format!("only one class is present (no {missing} labels), so {what} is undefined")
}

// The final formulas of the ranking metrics, over their sufficient numbers.
// The point path (the methods of [`BinaryCurve`] above) and the bootstrap
// replicate lanes (`uncertainty::bootstrap`, which accumulates the same
// numbers lane by lane in one pass) both finish here, so each formula and
// each convention for undefined values exists once.

/// ROC-AUC from twice the area under the ROC staircase (`area2`, see
/// [`BinaryCurve::roc_area2`]) and the positive and negative totals `p` and
/// `n`: `area2 / (2·p·n)`. `Err` with one class only. (Without weights the
/// counts are integers below 2⁵³: `2·p·n` is the exact product rounded once,
/// as is `area2`.)
pub fn roc_auc(area2: f64, p: f64, n: f64) -> Result<f64, String> {
    if p <= 0.0 || n <= 0.0 {
        return Err(one_class_reason(p, n, "ROC-AUC"));
    }
    Ok(area2 / (2.0 * p * n))
}

/// How the sum behind an average precision was accumulated over the
/// distinct scores (both are `AP` in exact arithmetic; their roundings
/// differ, and each path keeps its own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PrecisionSum {
    /// `Σ (Rₙ − Rₙ₋₁)·Pₙ`, recall steps term by term: scikit-learn's form,
    /// the point metrics' ([`BinaryCurve::precision_sum`]).
    RecallSteps(f64),
    /// `Σ (TPₙ − TPₙ₋₁)·Pₙ`, steps in positive weight, divided by the
    /// positives once: the replicate lanes', which know a replicate's
    /// positives only at the end of their pass.
    PositiveSteps(f64),
}

/// Average precision from its sum and the positive total `p`; undefined
/// without positives.
pub fn average_precision(sum: PrecisionSum, p: f64) -> Result<f64, String> {
    if p <= 0.0 {
        return Err("no positive labels, so recall (and average precision) is undefined".into());
    }
    Ok(match sum {
        PrecisionSum::RecallSteps(s) => s,
        PrecisionSum::PositiveSteps(s) => s / p,
    })
}

/// The best F1 and its threshold from the best operating point of the
/// sweep over the distinct scores (`(F1, threshold)`: the highest F1, at the
/// highest score attaining it; needed only with positives), the positive
/// total `p`, and whether any row counts. Without positives F1 is 0 at
/// every distinct score, as `f1` is at any threshold that predicts a row
/// positive: the best F1 is 0 and no threshold is best (`Err` carries the
/// best F1, if any, and the reason for the threshold).
pub fn best_f1(
    best: Option<(f64, f64)>,
    p: f64,
    rows: bool,
) -> Result<(f64, f64), (Option<f64>, String)> {
    if !rows {
        return Err((None, "no rows".to_string()));
    }
    if p <= 0.0 {
        return Err((
            Some(0.0),
            "no positive labels: F1 is 0 at every threshold, so no threshold is best".into(),
        ));
    }
    best.ok_or_else(|| (None, "no rows".to_string()))
}

#[inline(always)]
fn score_bits<F: crate::data::Float>(x: F) -> u64 {
    // Scores are validated to lie in [0, 1]: the IEEE bits of a non-negative
    // float increase with its value. -0.0 is mapped to 0.0.
    let v = x.to_f64();
    if v == 0.0 { 0 } else { raw_bits(x) }
}

#[inline(always)]
fn raw_bits<F: crate::data::Float>(x: F) -> u64 {
    // f32 keeps its own 32-bit pattern (so thresholds are exactly the f32
    // values); f64 its 64-bit one. Bit 63 of a non-negative f64 is 0, which
    // leaves room for the label bit.
    if std::mem::size_of::<F>() == 4 {
        (x.to_f64() as f32).to_bits() as u64
    } else {
        x.to_f64().to_bits()
    }
}

/// Confusion counts and rates at a list of thresholds.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Sweep {
    /// Thresholds (positive iff `score >= threshold`).
    pub threshold: Vec<f64>,
    /// True positives at each threshold.
    pub tp: Vec<f64>,
    /// False positives.
    pub fp: Vec<f64>,
    /// True negatives.
    pub tn: Vec<f64>,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: Vec<f64>,
    /// Precision; 0 where nothing is predicted positive (docs/spec.md §3).
    pub precision: Vec<f64>,
    /// Recall; `None` without positive labels.
    pub recall: Vec<Option<f64>>,
    /// F1; `None` without positive labels or predictions.
    pub f1: Vec<Option<f64>>,
    /// Specificity; `None` without negative labels.
    pub specificity: Vec<Option<f64>>,
    /// Accuracy.
    pub accuracy: Vec<f64>,
    /// Matthews correlation coefficient.
    pub mcc: Vec<f64>,
}

impl Sweep {
    pub(crate) fn from_points(points: impl Iterator<Item = (f64, Counts)>) -> Sweep {
        let mut s = Sweep::default();
        for (t, c) in points {
            s.threshold.push(t);
            s.tp.push(c.tp);
            s.fp.push(c.fp);
            s.tn.push(c.tn);
            s.fn_.push(c.fn_);
            s.precision.push(c.precision().unwrap_or(0.0));
            s.recall.push(c.recall());
            s.f1.push(c.f1());
            s.specificity.push(c.specificity());
            s.accuracy.push(c.accuracy());
            s.mcc.push(c.mcc());
        }
        s
    }

    /// Number of thresholds.
    pub fn len(&self) -> usize {
        self.threshold.len()
    }

    /// True when there are no thresholds.
    pub fn is_empty(&self) -> bool {
        self.threshold.is_empty()
    }
}
