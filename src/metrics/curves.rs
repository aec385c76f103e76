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
        let (p, n) = (self.positives(), self.negatives());
        Counts {
            tp: self.tps[i],
            fp: self.fps[i],
            tn: n - self.fps[i],
            fn_: p - self.tps[i],
        }
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

    /// Area under the ROC curve (trapezoidal, ties as diagonal segments),
    /// equal to scikit-learn's `roc_auc_score`. `Err` names why it is
    /// undefined (one class only).
    pub fn roc_auc(&self) -> Result<f64, String> {
        let (p, n) = (self.positives(), self.negatives());
        if p <= 0.0 || n <= 0.0 {
            return Err(one_class_reason(p, n, "ROC-AUC"));
        }
        if self.weighted {
            let mut area = 0.0;
            let (mut tp0, mut fp0) = (0.0, 0.0);
            for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
                area += (fp - fp0) * (tp + tp0);
                tp0 = tp;
                fp0 = fp;
            }
            Ok(area / (2.0 * p * n))
        } else {
            // Exact: twice the area in integer units, rounded once.
            let mut area2: u128 = 0;
            let (mut tp0, mut fp0) = (0u64, 0u64);
            for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
                let (tp, fp) = (tp as u64, fp as u64);
                area2 += (fp - fp0) as u128 * (tp + tp0) as u128;
                tp0 = tp;
                fp0 = fp;
            }
            Ok(ratio_u128(area2, 2 * p as u128 * n as u128))
        }
    }

    /// Average precision `Σ (Rₙ − Rₙ₋₁) Pₙ` over the distinct scores
    /// (scikit-learn's step formula, no interpolation). Undefined without
    /// positive labels (scikit-learn returns 0 with a warning there).
    pub fn average_precision(&self) -> Result<f64, String> {
        let p = self.positives();
        if p <= 0.0 {
            return Err(
                "no positive labels, so recall (and average precision) is undefined".into(),
            );
        }
        let mut ap = 0.0;
        let mut r0 = 0.0;
        for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
            // Leading scores whose rows all have weight 0 carry no precision
            // (scikit-learn sets it to 0 there) and no recall step.
            if tp + fp > 0.0 {
                let r = tp / p;
                ap += (r - r0) * (tp / (tp + fp));
                r0 = r;
            }
        }
        Ok(ap)
    }

    /// The highest F1 over every distinct score and the highest score that
    /// attains it. Without positive labels F1 is 0 at every distinct score
    /// (each calls some negatives positive), as `f1` is at any threshold
    /// that predicts a row positive: the best F1 is then 0 and no threshold
    /// is best (`Err` carries the reason for the threshold).
    pub fn best_f1(&self) -> Result<(f64, f64), (Option<f64>, String)> {
        if self.is_empty() {
            return Err((None, "no rows".to_string()));
        }
        if self.positives() <= 0.0 {
            return Err((
                Some(0.0),
                "no positive labels: F1 is 0 at every threshold, so no threshold is best".into(),
            ));
        }
        let mut best: Option<(f64, f64)> = None;
        for i in 0..self.len() {
            let f1 = self.counts_at_index(i).f1().unwrap_or(0.0);
            if best.is_none_or(|(b, _)| f1 > b) {
                best = Some((f1, self.thresholds[i]));
            }
        }
        best.ok_or_else(|| (None, "no rows".to_string()))
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

fn ratio_u128(num: u128, den: u128) -> f64 {
    // Both are exact integers; when they exceed 2^53 the division of the
    // rounded values still carries a relative error of a few ulps at most.
    num as f64 / den as f64
}

pub(crate) fn one_class_reason(p: f64, n: f64, what: &str) -> String {
    let missing = if p <= 0.0 { "positive" } else { "negative" };
    let _ = n;
    format!("only one class is present (no {missing} labels), so {what} is undefined")
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
    fn from_points(points: impl Iterator<Item = (f64, Counts)>) -> Sweep {
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
