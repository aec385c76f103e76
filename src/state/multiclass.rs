//! The multiclass task's state: the sufficient statistics of every
//! multiclass point metric and of every table of the full tier.
//!
//! - **Confusion**: per (label, predicted class) the row count (`u64`) and,
//!   for weighted rows, the exact weight sum. Accuracy, support, precision,
//!   recall, F1 and their averages come from it.
//! - **Top-k**: the rows (and exact weight) whose label ranks in the top 3
//!   and the top 5 (scikit-learn's tie rule, [`label_rank`]).
//! - **Sums**: Σw·log loss and Σw·Brier term, exact.
//! - **Bins**: per reliability bin of the top class's probability, the rows
//!   and weight, the rows and weight of correct predictions, and Σw·p.
//! - **One-vs-rest**: one [`ScoreHistogram`] per class, of the rows
//!   `(p_c, label = c, w)`.
//! - **Rows of weight 0** count nowhere above; a weighted state only tallies
//!   their labels and predicted classes, because a class seen only in such
//!   rows is still one scikit-learn's averages cover, and the notes say
//!   which classes have rows only of weight 0; and their reliability bins,
//!   whose row counts include them (as the binary tier's do).
//!
//! Counts are integers and every float sum is an [`ExactSum`], so any split
//! of the rows, merged in any tree, finishes to bit-identical results.
//! [`MulticlassState::finish`] rounds each sum once and hands them to
//! [`crate::metrics::multiclass::point_metrics`], the function the full
//! tier finishes through: one formula per metric.

use rayon::prelude::*;

use super::binary::ScoreHistogram;
use super::codec::{Read, Reader, Writer};
use super::exact::{Accumulator, ExactSum};
use crate::data::{Float, Floats};
use crate::metrics::calibration::{BINS, BinSums, bin_of};
use crate::metrics::multiclass::{
    MulticlassFull, MulticlassSums, OvrParts, argmax, label_rank, point_metrics, row_brier,
    row_log_loss,
};
use crate::metrics::sort::sort_descending;

/// The most rows (and, apart, rows of weight 0) a state counts: 2^53, so
/// that every count is exact as an `f64` (the ranking tables hold counts as
/// `f64`).
pub const MAX_ROWS: u64 = 1 << 53;

/// Rows folded per task when a state is built from many rows at once.
const CHUNK: usize = 1 << 14;

/// The caller's rows agree in length (a bug in the caller otherwise).
fn check_rows(classes: usize, labels: &[u32], scores: &Floats, weights: Option<&Floats>) {
    assert_eq!(
        scores.len(),
        labels.len() * classes,
        "one score per row and class"
    );
    if let Some(w) = weights {
        assert_eq!(w.len(), labels.len(), "one weight per row");
    }
}

/// Class `c`'s one-vs-rest rows `(score, label is c, weight)` of the rows
/// `kept` (index, weight), radix-sorted on the score's bits (which order
/// probabilities), highest first, so a histogram's own sort finds them in
/// order.
fn ovr_rows<F: Float>(
    k: usize,
    c: usize,
    labels: &[u32],
    scores: &[F],
    kept: &[(usize, f64)],
    weighted: bool,
) -> Vec<(f64, bool, f64)> {
    let key = |i: usize| {
        let p = scores[i * k + c].to_f64();
        let bits = if p == 0.0 { 0 } else { p.to_bits() };
        (bits << 1) | (labels[i] as usize == c) as u64
    };
    let row = |key: u64, w: f64| (f64::from_bits(key >> 1), key & 1 == 1, w);
    if weighted {
        let items: Vec<(u64, u64)> = kept.iter().map(|&(i, w)| (key(i), w.to_bits())).collect();
        sort_descending(items)
            .into_iter()
            .map(|(key, w)| row(key, f64::from_bits(w)))
            .collect()
    } else {
        let items: Vec<u64> = kept.iter().map(|&(i, _)| key(i)).collect();
        sort_descending(items)
            .into_iter()
            .map(|key| row(key, 1.0))
            .collect()
    }
}

/// Rows and, in a weighted state, their exact weight sum (left empty in an
/// unweighted state, where the weight is the count).
#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    count: u64,
    weight: ExactSum,
}

impl Tally {
    fn add(&mut self, w: f64, weighted: bool) {
        self.count += 1;
        if weighted {
            self.weight.add(w);
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.count += other.count;
        self.weight.merge(&other.weight);
    }

    /// The weight (the count when unweighted) as an exact sum.
    fn exact(&self, weighted: bool) -> ExactSum {
        if weighted {
            self.weight.clone()
        } else {
            let mut s = ExactSum::new();
            s.add(self.count as f64);
            s
        }
    }

    /// The weight, rounded once (the count when unweighted).
    fn value(&self, weighted: bool) -> f64 {
        if weighted {
            self.weight.value()
        } else {
            self.count as f64
        }
    }

    /// The count, then (weighted, and only when rows are counted) the
    /// weight sum.
    fn encode(&self, w: &mut Writer, weighted: bool) {
        w.varint(self.count);
        if weighted && self.count > 0 {
            w.exact(&self.weight);
        }
    }

    /// Reads a tally: a weighted tally of rows has a positive weight.
    fn decode(r: &mut Reader, weighted: bool, what: &str) -> Read<Tally> {
        let count = r.varint(what)?;
        let weight = if weighted && count > 0 {
            let s = r.exact(what)?;
            if s.value() <= 0.0 {
                return Err(format!("{what}: {count} rows of weight {}", s.value()));
            }
            s
        } else {
            ExactSum::new()
        };
        Ok(Tally { count, weight })
    }
}

/// The accumulators of one batch of rows (see [`Accumulator`]): Σw·log
/// loss, Σw·Brier, the top-3 and top-5 weights, and per reliability bin
/// its rows' and hits' weights and Σw·p.
#[derive(Default)]
struct FoldAccumulators {
    log_loss: Accumulator,
    brier: Accumulator,
    top3: Accumulator,
    top5: Accumulator,
    bins: [[Accumulator; 3]; BINS],
}

/// One reliability bin of the top class's probability.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bin {
    /// Rows (and weight) in the bin.
    rows: Tally,
    /// Rows (and weight) whose predicted class is the label.
    hits: Tally,
    /// Σw·p of the top class's probability.
    predicted: ExactSum,
}

/// The multiclass state of a set of rows (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassState {
    classes: usize,
    weighted: bool,
    /// `[actual * classes + predicted]`.
    confusion: Vec<Tally>,
    top3: Tally,
    top5: Tally,
    log_loss: ExactSum,
    brier: ExactSum,
    bins: Vec<Bin>,
    /// Rows of weight 0 per label, and per predicted class (weighted
    /// states; all 0 otherwise).
    zero_labels: Vec<u64>,
    zero_predicted: Vec<u64>,
    /// Rows of weight 0 per reliability bin: the bins' row counts include
    /// them, as the binary tier's do (weighted states; all 0 otherwise).
    zero_bins: Vec<u64>,
    /// One-vs-rest histogram per class.
    ovr: Vec<ScoreHistogram>,
}

impl MulticlassState {
    /// The state of no rows of `classes` classes; `weighted` says whether
    /// rows will carry weights (states of weighted and unweighted rows do
    /// not merge).
    ///
    /// # Panics
    /// When `classes` is 0.
    pub fn new(classes: usize, weighted: bool) -> MulticlassState {
        assert!(classes > 0, "a multiclass state has at least one class");
        MulticlassState {
            classes,
            weighted,
            confusion: vec![Tally::default(); classes * classes],
            top3: Tally::default(),
            top5: Tally::default(),
            log_loss: ExactSum::new(),
            brier: ExactSum::new(),
            bins: vec![Bin::default(); BINS],
            zero_labels: vec![0; classes],
            zero_predicted: vec![0; classes],
            zero_bins: vec![0; BINS],
            ovr: (0..classes)
                .map(|_| ScoreHistogram::new(weighted))
                .collect(),
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Whether its rows carry weights.
    pub fn weighted(&self) -> bool {
        self.weighted
    }

    /// Rows counted (rows of weight 0 left out).
    pub fn rows(&self) -> u64 {
        self.confusion.iter().map(|t| t.count).sum()
    }

    /// The exact weight of the rows with label `c`, and of every row (the
    /// counts, unweighted).
    pub fn label_weight(&self, c: usize) -> (ExactSum, ExactSum) {
        let k = self.classes;
        let wt = self.weighted;
        let mut label = ExactSum::new();
        let mut all = ExactSum::new();
        for (i, t) in self.confusion.iter().enumerate() {
            let w = t.exact(wt);
            if i / k == c {
                label.merge(&w);
            }
            all.merge(&w);
        }
        (label, all)
    }

    /// Rows of positive weight with label `c` (every row, unweighted).
    pub fn label_rows(&self, c: usize) -> u64 {
        let k = self.classes;
        self.confusion[c * k..(c + 1) * k]
            .iter()
            .map(|t| t.count)
            .sum()
    }

    /// The state of many rows at once: chunks of rows fold into states in
    /// parallel, merged exactly (so the result does not depend on the
    /// chunking or the thread count). Arguments as [`MulticlassState::update`].
    pub fn from_rows(
        classes: usize,
        labels: &[u32],
        scores: &Floats,
        weights: Option<&Floats>,
    ) -> MulticlassState {
        // The row sums, confusion and bins in parallel chunks; the
        // one-vs-rest histograms in one sort per class (merging per-chunk
        // histograms would copy every distinct score once per level).
        let (mut state, kept) = MulticlassState::sums_of_rows(classes, labels, scores, weights);
        crate::with_floats!(scores, p => state.fold_histograms(labels, p, &kept));
        state
    }

    /// The state of many rows without its one-vs-rest histograms (left
    /// empty: `state::ranges` builds them per score range), and the rows
    /// that count there, `(row, weight)`. Chunks of rows fold in parallel,
    /// merged exactly. Arguments as [`MulticlassState::update`].
    pub fn sums_of_rows(
        classes: usize,
        labels: &[u32],
        scores: &Floats,
        weights: Option<&Floats>,
    ) -> (MulticlassState, Vec<(usize, f64)>) {
        let n = labels.len();
        let chunk = n
            .div_ceil(4 * rayon::current_num_threads().max(1))
            .max(CHUNK);
        let k = classes;
        let weighted = weights.is_some();
        check_rows(k, labels, scores, weights);
        let state = labels
            .par_chunks(chunk)
            .enumerate()
            .map(|(i, ys)| {
                let start = i * chunk;
                let mut s = MulticlassState::new(k, weighted);
                let w = weights.map(|w| w.slice(start, ys.len()));
                crate::with_floats!(&scores.slice(start * k, ys.len() * k), p => {
                    s.fold_rows(ys, p, w.as_ref());
                });
                s
            })
            .reduce(
                || MulticlassState::new(k, weighted),
                |mut a, b| {
                    a.add(&b);
                    a
                },
            );
        let kept: Vec<(usize, f64)> = match weights {
            None => (0..n).map(|i| (i, 1.0)).collect(),
            Some(w) => (0..n)
                .map(|i| (i, w.get(i)))
                .filter(|&(_, w)| w > 0.0)
                .collect(),
        };
        (state, kept)
    }

    /// Class `c`'s one-vs-rest rows `(score, label is c, weight)` of the
    /// rows `kept` ([`MulticlassState::sums_of_rows`]), highest score
    /// first: what its histogram folds.
    pub fn ovr_rows(
        classes: usize,
        c: usize,
        labels: &[u32],
        scores: &Floats,
        kept: &[(usize, f64)],
        weighted: bool,
    ) -> Vec<(f64, bool, f64)> {
        crate::with_floats!(scores, p => ovr_rows(classes, c, labels, p, kept, weighted))
    }

    /// Folds rows into the state (a batch of a stream): labels in
    /// `0..classes`, scores row-major `rows × classes` (validated
    /// probabilities), weights ≥ 0.
    ///
    /// # Panics
    /// When `weights` is given to an unweighted state or missing for a
    /// weighted one, when the lengths disagree or a label is not below the
    /// class count (a bug in the caller, not bad data).
    pub fn update(&mut self, labels: &[u32], scores: &Floats, weights: Option<&Floats>) {
        assert_eq!(
            weights.is_some(),
            self.weighted,
            "weighted rows fold into a weighted state"
        );
        check_rows(self.classes, labels, scores, weights);
        crate::with_floats!(scores, s => {
            let kept = self.fold_rows(labels, s, weights);
            self.fold_histograms(labels, s, &kept);
        });
    }

    /// Folds rows into everything but the histograms; returns the rows
    /// that count, with their weights.
    fn fold_rows<F: Float>(
        &mut self,
        labels: &[u32],
        scores: &[F],
        weights: Option<&Floats>,
    ) -> Vec<(usize, f64)> {
        let k = self.classes;
        let weighted = self.weighted;
        let mut kept: Vec<(usize, f64)> = Vec::with_capacity(labels.len());
        // The fixed-size sums go through accumulators (exact, fast to add
        // to), flushed once; the k² confusion tallies stay exact sums.
        let mut acc = Box::new(FoldAccumulators::default());
        for (i, (&y, row)) in labels.iter().zip(scores.chunks_exact(k)).enumerate() {
            let y = y as usize;
            let w = weights.map_or(1.0, |w| w.get(i));
            let top = argmax(row);
            if weighted && w <= 0.0 {
                self.zero_labels[y] += 1;
                self.zero_predicted[top] += 1;
                self.zero_bins[bin_of(row[top].to_f64())] += 1;
                continue;
            }
            let rank = label_rank(row, y);
            acc.log_loss.add(w * row_log_loss(row, y));
            acc.brier.add(w * row_brier(row, y));
            self.confusion[y * k + top].add(w, weighted);
            let tally = |t: &mut Tally, a: &mut Accumulator| {
                t.count += 1;
                if weighted {
                    a.add(w);
                }
            };
            if rank < 3 {
                tally(&mut self.top3, &mut acc.top3);
            }
            if rank < 5 {
                tally(&mut self.top5, &mut acc.top5);
            }
            let p = row[top].to_f64();
            let b = bin_of(p);
            let [rows, hits, predicted] = &mut acc.bins[b];
            tally(&mut self.bins[b].rows, rows);
            predicted.add(w * p);
            if top == y {
                tally(&mut self.bins[b].hits, hits);
            }
            kept.push((i, w));
        }
        self.log_loss.add_accumulator(&acc.log_loss);
        self.brier.add_accumulator(&acc.brier);
        self.top3.weight.add_accumulator(&acc.top3);
        self.top5.weight.add_accumulator(&acc.top5);
        for (bin, [rows, hits, predicted]) in self.bins.iter_mut().zip(acc.bins.iter()) {
            bin.rows.weight.add_accumulator(rows);
            bin.hits.weight.add_accumulator(hits);
            bin.predicted.add_accumulator(predicted);
        }
        kept
    }

    /// Folds the rows `kept` (index, weight) into the one-vs-rest
    /// histograms, a class per task. The rows are radix-sorted here (on the
    /// score's bits, which order probabilities), so the histogram's own sort
    /// finds them in order.
    fn fold_histograms<F: Float>(&mut self, labels: &[u32], scores: &[F], kept: &[(usize, f64)]) {
        let k = self.classes;
        let weighted = self.weighted;
        self.ovr.par_iter_mut().enumerate().for_each(|(c, h)| {
            h.update(&mut ovr_rows(k, c, labels, scores, kept, weighted));
        });
    }

    /// Adds another state (of other rows) into this one.
    ///
    /// `Err` when the class counts or the weightedness differ, or when the
    /// counts would overflow; the state is then left as it was.
    pub fn merge(&mut self, other: &MulticlassState) -> Result<(), String> {
        if self.classes != other.classes {
            return Err(format!(
                "a state of {} classes cannot merge with one of {}",
                self.classes, other.classes
            ));
        }
        if self.weighted != other.weighted {
            let what = |w: bool| if w { "weighted" } else { "unweighted" };
            return Err(format!(
                "a state of {} rows cannot merge with one of {} rows",
                what(self.weighted),
                what(other.weighted)
            ));
        }
        // Every count is at most the rows (or the rows of weight 0).
        let fits = |a: Option<u64>, b: Option<u64>| {
            a.zip(b)
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|n| n <= MAX_ROWS)
        };
        if !fits(self.rows_checked(), other.rows_checked())
            || !fits(self.zero_rows(), other.zero_rows())
        {
            return Err(format!(
                "the merged state would count more than {MAX_ROWS} rows"
            ));
        }
        self.add(other);
        Ok(())
    }

    fn zero_rows(&self) -> Option<u64> {
        self.zero_labels
            .iter()
            .try_fold(0u64, |a, &b| a.checked_add(b))
    }

    fn rows_checked(&self) -> Option<u64> {
        self.confusion
            .iter()
            .try_fold(0u64, |a, t| a.checked_add(t.count))
    }

    /// [`MulticlassState::merge`] of a state known to fit.
    fn add(&mut self, other: &MulticlassState) {
        for (a, b) in self.confusion.iter_mut().zip(&other.confusion) {
            a.merge(b);
        }
        self.top3.merge(&other.top3);
        self.top5.merge(&other.top5);
        self.log_loss.merge(&other.log_loss);
        self.brier.merge(&other.brier);
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            a.rows.merge(&b.rows);
            a.hits.merge(&b.hits);
            a.predicted.merge(&b.predicted);
        }
        for (a, b) in self.zero_labels.iter_mut().zip(&other.zero_labels) {
            *a += b;
        }
        for (a, b) in self.zero_predicted.iter_mut().zip(&other.zero_predicted) {
            *a += b;
        }
        for (a, b) in self.zero_bins.iter_mut().zip(&other.zero_bins) {
            *a += b;
        }
        for (a, b) in self.ovr.iter_mut().zip(&other.ovr) {
            a.merge(b);
        }
    }

    /// The sums the metrics are computed from, each rounded once.
    pub fn sums(&self) -> MulticlassSums {
        self.sums_with(
            self.ovr
                .par_iter()
                .map(|h| OvrParts::of(&h.curve()))
                .collect(),
        )
    }

    /// [`MulticlassState::sums`] with each class's one-vs-rest numbers
    /// given (added up from its score ranges, `state::ranges`) rather than
    /// taken from this state's histograms.
    ///
    /// # Panics
    /// When `ovr` does not hold one entry per class (a bug in the caller).
    pub fn sums_with(&self, ovr: Vec<OvrParts>) -> MulticlassSums {
        assert_eq!(
            ovr.len(),
            self.classes,
            "one set of one-vs-rest numbers per class"
        );
        let k = self.classes;
        let wt = self.weighted;
        let cell = |a: usize, p: usize| &self.confusion[a * k + p];
        let exact_of = |cells: &mut dyn Iterator<Item = &Tally>| -> f64 {
            let mut s = ExactSum::new();
            let mut n = 0u64;
            for t in cells {
                s.merge(&t.weight);
                n += t.count;
            }
            if wt { s.value() } else { n as f64 }
        };
        let each =
            |f: &dyn Fn(&Bin) -> f64| -> [f64; BINS] { std::array::from_fn(|b| f(&self.bins[b])) };
        MulticlassSums {
            weight: exact_of(&mut self.confusion.iter()),
            log_loss: self.log_loss.value(),
            brier: self.brier.value(),
            correct: exact_of(&mut (0..k).map(|c| cell(c, c))),
            top3: self.top3.value(wt),
            top5: self.top5.value(wt),
            confusion: (0..k)
                .map(|a| (0..k).map(|p| cell(a, p).value(wt)).collect())
                .collect(),
            support: (0..k)
                .map(|a| exact_of(&mut (0..k).map(|p| cell(a, p))))
                .collect(),
            predicted: (0..k)
                .map(|p| exact_of(&mut (0..k).map(|a| cell(a, p))))
                .collect(),
            label_rows: (0..k)
                .map(|a| (0..k).map(|p| cell(a, p).count).sum::<u64>() + self.zero_labels[a])
                .collect(),
            predicted_rows: (0..k)
                .map(|p| (0..k).map(|a| cell(a, p).count).sum::<u64>() + self.zero_predicted[p])
                .collect(),
            ovr,
            bins: BinSums::from_parts(
                std::array::from_fn(|b| self.bins[b].rows.count + self.zero_bins[b]),
                each(&|b| b.rows.value(wt)),
                each(&|b| b.predicted.value()),
                each(&|b| b.hits.value(wt)),
            ),
        }
    }

    /// The full tier's result without intervals: metrics, confusion matrix,
    /// per-class table, reliability bins and notes, by the full tier's
    /// formulas. `class_names` name the classes in the notes (a class
    /// without a name is named by its index).
    pub fn finish(&self, class_names: &[String]) -> MulticlassFull {
        point_metrics(&self.sums(), class_names)
    }

    /// [`MulticlassState::finish`] with each class's one-vs-rest numbers
    /// given ([`MulticlassState::sums_with`]).
    pub fn finish_with(&self, class_names: &[String], ovr: Vec<OvrParts>) -> MulticlassFull {
        point_metrics(&self.sums_with(ovr), class_names)
    }

    /// This state without its one-vs-rest histograms (what
    /// [`MulticlassState::encode_sums`] keeps).
    pub fn sums_only(&self) -> MulticlassState {
        MulticlassState {
            ovr: (0..self.classes)
                .map(|_| ScoreHistogram::new(self.weighted))
                .collect(),
            ..self.clone()
        }
    }

    /// Writes the state: the confusion cells row-major, the top-3 and top-5
    /// tallies, the log-loss and Brier sums, the reliability bins, (weighted)
    /// the rows of weight 0 per label and per predicted class, then one
    /// histogram per class ([`ScoreHistogram::encode`]). A tally is its
    /// count and, weighted and non-empty, its exact weight sum. The class
    /// count and the weightedness are the caller's to write.
    pub fn encode(&self, w: &mut Writer) {
        self.encode_sums(w);
        for h in &self.ovr {
            h.encode(w);
        }
    }

    /// [`MulticlassState::encode`] without the histograms: the state's
    /// sums (a score range's multiclass table, `state::ranges`).
    pub fn encode_sums(&self, w: &mut Writer) {
        let wt = self.weighted;
        for t in &self.confusion {
            t.encode(w, wt);
        }
        self.top3.encode(w, wt);
        self.top5.encode(w, wt);
        w.exact(&self.log_loss);
        w.exact(&self.brier);
        for b in &self.bins {
            b.rows.encode(w, wt);
            b.hits.encode(w, wt);
            w.exact(&b.predicted);
        }
        if wt {
            for &z in self
                .zero_labels
                .iter()
                .chain(&self.zero_predicted)
                .chain(&self.zero_bins)
            {
                w.varint(z);
            }
        }
    }

    /// Reads a state written by [`MulticlassState::encode`] for `classes`
    /// classes, checking every invariant (counts add up across the tables,
    /// weights are positive, the histograms hold the same rows as the
    /// confusion matrix). A corrupt payload is an error, never a panic, and
    /// allocates at most a fixed multiple of its own size.
    pub fn decode(r: &mut Reader, classes: usize, weighted: bool) -> Read<MulticlassState> {
        let mut s = MulticlassState::decode_fields(r, classes, weighted)?;
        for (c, h) in s.ovr.iter_mut().enumerate() {
            *h = ScoreHistogram::decode(r, weighted)
                .map_err(|e| format!("class {c}'s one-vs-rest histogram: {e}"))?;
        }
        s.check_sums()?;
        s.check_histograms()?;
        Ok(s)
    }

    /// Reads [`MulticlassState::encode_sums`], checking every invariant
    /// of the sums; its histograms are empty.
    pub fn decode_sums(r: &mut Reader, classes: usize, weighted: bool) -> Read<MulticlassState> {
        let s = MulticlassState::decode_fields(r, classes, weighted)?;
        s.check_sums()?;
        Ok(s)
    }

    fn decode_fields(r: &mut Reader, classes: usize, weighted: bool) -> Read<MulticlassState> {
        let k = classes;
        if k == 0 {
            return Err("a multiclass state has at least one class".into());
        }
        // Each confusion cell takes at least a byte.
        if k.checked_mul(k).is_none_or(|cells| cells > r.remaining()) {
            return Err(format!(
                "{k} classes need {k}² confusion cells, more than the state holds"
            ));
        }
        let wt = weighted;
        let mut s = MulticlassState::new(k, weighted);
        for (i, t) in s.confusion.iter_mut().enumerate() {
            *t = Tally::decode(r, wt, &format!("confusion cell [{}][{}]", i / k, i % k))?;
        }
        s.top3 = Tally::decode(r, wt, "the top-3 hits")?;
        s.top5 = Tally::decode(r, wt, "the top-5 hits")?;
        s.log_loss = r.exact("the log-loss sum")?;
        s.brier = r.exact("the Brier sum")?;
        for (i, b) in s.bins.iter_mut().enumerate() {
            b.rows = Tally::decode(r, wt, &format!("reliability bin {i}"))?;
            b.hits = Tally::decode(r, wt, &format!("reliability bin {i}'s hits"))?;
            b.predicted = r.exact(&format!("reliability bin {i}'s probability sum"))?;
        }
        if wt {
            for z in s
                .zero_labels
                .iter_mut()
                .chain(s.zero_predicted.iter_mut())
                .chain(s.zero_bins.iter_mut())
            {
                *z = r.varint("a count of rows of weight 0")?;
            }
        }
        Ok(s)
    }

    /// The invariants of the sums a state built from rows keeps.
    fn check_sums(&self) -> Read<()> {
        let k = self.classes;
        let wt = self.weighted;
        let overflow = || "the counts overflow 64 bits".to_string();
        let sum = |it: &mut dyn Iterator<Item = u64>| -> Read<u64> {
            let mut total = 0u64;
            for b in it {
                total = total.checked_add(b).ok_or_else(overflow)?;
            }
            Ok(total)
        };
        let exact = |it: &mut dyn Iterator<Item = &Tally>| -> ExactSum {
            let mut s = ExactSum::new();
            it.for_each(|t| s.merge(&t.exact(wt)));
            s
        };
        let rows = sum(&mut self.confusion.iter().map(|t| t.count))?;
        let total = exact(&mut self.confusion.iter());
        let diagonal = sum(&mut (0..k).map(|c| self.confusion[c * k + c].count))?;
        let zero_labels = sum(&mut self.zero_labels.iter().copied())?;
        let zero_predicted = sum(&mut self.zero_predicted.iter().copied())?;
        if rows > MAX_ROWS || zero_labels > MAX_ROWS {
            return Err(format!("the state counts more than {MAX_ROWS} rows"));
        }

        if self.top3.count > self.top5.count || self.top5.count > rows {
            return Err(format!(
                "{} top-3 and {} top-5 hits in {rows} rows",
                self.top3.count, self.top5.count
            ));
        }
        // The label always ranks below the class count.
        if (k <= 3 && self.top3.count != rows) || (k <= 5 && self.top5.count != rows) {
            return Err(format!(
                "with {k} classes every row is a top-{} hit",
                3.min(k)
            ));
        }
        if wt
            && (self.top3.value(wt) > self.top5.value(wt)
                || self.top5.value(wt) > total.value()
                || (k <= 3 && self.top3.weight != total)
                || (k <= 5 && self.top5.weight != total))
        {
            return Err("the top-k hits' weights do not add up".into());
        }

        for (name, s) in [("log-loss", &self.log_loss), ("Brier", &self.brier)] {
            if s.value() < 0.0 || (rows == 0 && !s.is_zero()) {
                return Err(format!("the {name} sum is {} over {rows} rows", s.value()));
            }
        }

        let bin_rows = sum(&mut self.bins.iter().map(|b| b.rows.count))?;
        let bin_hits = sum(&mut self.bins.iter().map(|b| b.hits.count))?;
        if bin_rows != rows || bin_hits != diagonal {
            return Err(format!(
                "the reliability bins hold {bin_rows} rows and {bin_hits} correct predictions, the confusion matrix {rows} and {diagonal}"
            ));
        }
        if wt
            && (exact(&mut self.bins.iter().map(|b| &b.rows)) != total
                || exact(&mut self.bins.iter().map(|b| &b.hits))
                    != exact(&mut (0..k).map(|c| &self.confusion[c * k + c])))
        {
            return Err("the reliability bins' weights differ from the confusion matrix's".into());
        }
        for (i, b) in self.bins.iter().enumerate() {
            let p = b.predicted.value();
            if b.hits.count > b.rows.count
                || (wt && b.hits.value(wt) > b.rows.value(wt))
                || p < 0.0
                || p > b.rows.value(wt)
                || (b.rows.count == 0 && !b.predicted.is_zero())
            {
                return Err(format!("reliability bin {i} does not add up"));
            }
        }

        let zero_bins = sum(&mut self.zero_bins.iter().copied())?;
        if zero_labels != zero_predicted || zero_labels != zero_bins {
            return Err(format!(
                "{zero_labels} rows of weight 0 by label, {zero_predicted} by predicted class, {zero_bins} by reliability bin"
            ));
        }
        Ok(())
    }

    /// The histograms hold the rows of the confusion matrix.
    fn check_histograms(&self) -> Read<()> {
        let k = self.classes;
        let wt = self.weighted;
        let rows: u64 = self.confusion.iter().map(|t| t.count).sum();
        let exact = |it: &mut dyn Iterator<Item = &Tally>| -> ExactSum {
            let mut s = ExactSum::new();
            it.for_each(|t| s.merge(&t.exact(wt)));
            s
        };
        let total = exact(&mut self.confusion.iter());
        for (c, h) in self.ovr.iter().enumerate() {
            let positives = exact(&mut (0..k).map(|p| &self.confusion[c * k + p]));
            let mut negatives = total.clone();
            for part in positives.canonical() {
                negatives.add(-part);
            }
            let curve = h.curve();
            let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
            if h.rows() != rows
                || last(&curve.tps) != positives.value()
                || last(&curve.fps) != negatives.value()
            {
                return Err(format!(
                    "class {c}'s one-vs-rest histogram holds other rows than the confusion matrix"
                ));
            }
        }
        Ok(())
    }
}
