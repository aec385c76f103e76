//! The binary task's state: the exact score histogram and the additive
//! sums of the point metrics.
//!
//! - **Histogram**: every distinct score (descending) with its positive and
//!   negative row counts (`u64`) and, for weighted rows, their exact weight
//!   sums. ROC-AUC, average precision, the threshold sweep, best F1 and the
//!   confusion matrix at any threshold come from it. Rows of weight 0 are
//!   left out, as the full tier's curves leave them out.
//! - **Sums**: Σw, Σw·log loss and Σw·(y − p)², and per reliability bin the
//!   row count, Σw, Σw·p and Σw·y, all exact.
//!
//! [`BinaryState::finish`] builds the ranking table and the row sums from
//! these and hands them to [`crate::metrics::binary::point_metrics`], the
//! function the full tier uses: one formula per metric.

use super::exact::ExactSum;
use crate::metrics::MetricSet;
use crate::metrics::binary::{RowSums, binary_log_loss, point_metrics};
use crate::metrics::calibration::{BINS, BinSums, bin_of};
use crate::metrics::curves::BinaryCurve;

/// One distinct score of the histogram.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    score: f64,
    positives: u64,
    negatives: u64,
    /// Exact weight sums of the positives and negatives (weighted states).
    weight: Option<Box<[ExactSum; 2]>>,
}

/// One reliability bin: rows, Σw, Σw·p, Σw·y.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bin {
    count: u64,
    weight: ExactSum,
    predicted: ExactSum,
    observed: ExactSum,
}

/// The binary state of a set of rows (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryState {
    weighted: bool,
    /// Distinct scores, strictly descending.
    groups: Vec<Group>,
    weight: ExactSum,
    log_loss: ExactSum,
    brier: ExactSum,
    bins: Vec<Bin>,
}

impl BinaryState {
    /// The state of no rows; `weighted` says whether rows will carry
    /// weights (states of weighted and unweighted rows do not merge).
    pub fn new(weighted: bool) -> BinaryState {
        BinaryState {
            weighted,
            groups: Vec::new(),
            weight: ExactSum::new(),
            log_loss: ExactSum::new(),
            brier: ExactSum::new(),
            bins: vec![Bin::default(); BINS],
        }
    }

    /// The state of rows with labels 0/1, probabilities in [0, 1] and, when
    /// the state is weighted, weights ≥ 0 (validated, as the readers give
    /// them).
    pub fn from_rows(labels: &[u8], scores: &[f64], weights: Option<&[f64]>) -> BinaryState {
        let mut s = BinaryState::new(weights.is_some());
        s.update(labels, scores, weights);
        s
    }

    /// Folds rows into the state (a batch of a stream).
    ///
    /// # Panics
    /// When `weights` is given to an unweighted state or missing for a
    /// weighted one (a bug in the caller, not bad data).
    pub fn update(&mut self, labels: &[u8], scores: &[f64], weights: Option<&[f64]>) {
        assert_eq!(
            weights.is_some(),
            self.weighted,
            "weighted rows fold into a weighted state"
        );
        let mut rows: Vec<(f64, u8, f64)> = Vec::with_capacity(labels.len());
        for (i, (&y, &p)) in labels.iter().zip(scores).enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            if self.weighted && w <= 0.0 {
                continue;
            }
            // -0.0 and 0.0 are one score.
            let p = if p == 0.0 { 0.0 } else { p };
            self.weight.add(w);
            self.log_loss.add(w * binary_log_loss(y, p));
            let e = y as f64 - p;
            self.brier.add(w * e * e);
            let bin = &mut self.bins[bin_of(p)];
            bin.count += 1;
            bin.weight.add(w);
            bin.predicted.add(w * p);
            if y == 1 {
                bin.observed.add(w);
            }
            rows.push((p, y, w));
        }
        rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut batch: Vec<Group> = Vec::new();
        for (p, y, w) in rows {
            if batch.last().is_none_or(|g| g.score != p) {
                batch.push(Group {
                    score: p,
                    positives: 0,
                    negatives: 0,
                    weight: self.weighted.then(Default::default),
                });
            }
            let Some(g) = batch.last_mut() else { continue };
            if y == 1 {
                g.positives += 1;
            } else {
                g.negatives += 1;
            }
            if let Some(ws) = g.weight.as_mut() {
                ws[(y == 0) as usize].add(w);
            }
        }
        self.groups = merge_groups(std::mem::take(&mut self.groups), batch);
    }

    /// Adds another state (of other rows) into this one.
    ///
    /// # Panics
    /// When one state is weighted and the other is not.
    pub fn merge(&mut self, other: &BinaryState) {
        assert_eq!(
            self.weighted, other.weighted,
            "weighted states merge with weighted states"
        );
        self.weight.merge(&other.weight);
        self.log_loss.merge(&other.log_loss);
        self.brier.merge(&other.brier);
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            a.count += b.count;
            a.weight.merge(&b.weight);
            a.predicted.merge(&b.predicted);
            a.observed.merge(&b.observed);
        }
        self.groups = merge_groups(std::mem::take(&mut self.groups), other.groups.clone());
    }

    /// Distinct scores in the state.
    pub fn distinct_scores(&self) -> usize {
        self.groups.len()
    }

    /// The ranking table: cumulative positives and negatives (or their
    /// exact weight sums, rounded once) at each distinct score.
    pub fn curve(&self) -> BinaryCurve {
        let mut curve = BinaryCurve {
            thresholds: Vec::with_capacity(self.groups.len()),
            tps: Vec::with_capacity(self.groups.len()),
            fps: Vec::with_capacity(self.groups.len()),
            weighted: self.weighted,
        };
        let (mut tp, mut fp) = (0u64, 0u64);
        let (mut tw, mut fw) = (ExactSum::new(), ExactSum::new());
        for g in &self.groups {
            curve.thresholds.push(g.score);
            tp += g.positives;
            fp += g.negatives;
            match &g.weight {
                Some(ws) => {
                    tw.merge(&ws[0]);
                    fw.merge(&ws[1]);
                    curve.tps.push(tw.value());
                    curve.fps.push(fw.value());
                }
                None => {
                    curve.tps.push(tp as f64);
                    curve.fps.push(fp as f64);
                }
            }
        }
        curve
    }

    /// The additive sums, each rounded once.
    pub fn sums(&self) -> RowSums {
        let each =
            |f: &dyn Fn(&Bin) -> f64| -> [f64; BINS] { std::array::from_fn(|b| f(&self.bins[b])) };
        RowSums {
            weight: self.weight.value(),
            log_loss: self.log_loss.value(),
            brier: self.brier.value(),
            bins: BinSums::from_parts(
                std::array::from_fn(|b| self.bins[b].count),
                each(&|b| b.weight.value()),
                each(&|b| b.predicted.value()),
                each(&|b| b.observed.value()),
            ),
        }
    }

    /// The binary point metrics at `threshold`, by the full tier's formulas.
    pub fn finish(&self, threshold: f64) -> MetricSet {
        point_metrics(&self.curve(), &self.sums(), threshold)
    }
}

/// Two descending histograms merged into one (equal scores add up).
fn merge_groups(a: Vec<Group>, b: Vec<Group>) -> Vec<Group> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.score == y.score => {
                let (Some(mut x), Some(y)) = (a.next(), b.next()) else {
                    break;
                };
                x.positives += y.positives;
                x.negatives += y.negatives;
                if let (Some(xw), Some(yw)) = (x.weight.as_mut(), &y.weight) {
                    xw[0].merge(&yw[0]);
                    xw[1].merge(&yw[1]);
                }
                x
            }
            (Some(x), Some(y)) if x.score > y.score => match a.next() {
                Some(x) => x,
                None => break,
            },
            (Some(_), Some(_)) | (None, Some(_)) => match b.next() {
                Some(y) => y,
                None => break,
            },
            (Some(_), None) => match a.next() {
                Some(x) => x,
                None => break,
            },
            (None, None) => break,
        };
        out.push(next);
    }
    out
}
