//! The binary task's state: the exact score histogram and the additive
//! sums of the point metrics.
//!
//! - **Histogram**: every distinct score (descending) with its positive and
//!   negative row counts (`u64`) and, for weighted rows, their exact weight
//!   sums. ROC-AUC, average precision, the threshold sweep, best F1 and the
//!   confusion matrix at any threshold come from it. Rows of weight 0 are
//!   left out, as the full tier's curves leave them out.
//! - **Sums**: Σw, Σw·log loss and Σw·(y − p)², and per reliability bin the
//!   row count (rows of weight 0 included, as the full tier reports it),
//!   Σw, Σw·p and Σw·y, all exact.
//!
//! [`BinaryState::finish`] builds the ranking table and the row sums from
//! these and hands them to [`crate::metrics::binary::point_metrics`], the
//! function the full tier uses: one formula per metric.

use super::codec::{Read, Reader, Writer};
use super::exact::{Accumulator, ExactSum};
use rayon::prelude::*;

use crate::data::Floats;
use crate::metrics::MetricSet;
use crate::metrics::binary::{RowSums, binary_log_loss, point_metrics};
use crate::metrics::calibration::{BINS, BinSums, bin_of};
use crate::metrics::curves::BinaryCurve;

/// Rows per chunk of [`BinaryState::from_columns`].
const CHUNK: usize = 1 << 16;

/// One distinct score of the histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Group {
    score: f64,
    positives: u64,
    negatives: u64,
}

/// Exact weight sums of a group's positives and negatives.
type GroupWeights = [ExactSum; 2];

/// The weight sums of a weighted histogram's groups, 16 bytes a group: a
/// pair of doubles that are the exact sums when each sum is one double
/// (a group of one row, or rows whose weights add without rounding: most
/// groups of real scores), else a NaN whose payload indexes the group's
/// exact sums in `wide`. (An exact pair in every group, 64 bytes, made the
/// weighted full tier spend most of its time faulting in memory.)
#[derive(Debug, Clone, Default)]
struct Weights {
    pairs: Vec<[f64; 2]>,
    wide: Vec<GroupWeights>,
}

/// A group's weight sums, as [`Weights`] holds them.
enum Pair<'a> {
    /// Each sum is this double, exactly.
    Plain([f64; 2]),
    /// The exact sums.
    Wide(&'a GroupWeights),
}

/// The quiet-NaN bits that mark a wide pair (the index in the low bits).
const WIDE: u64 = 0x7FF8_0000_0000_0000;

/// `a + b` when the sum is exact in one double.
#[inline]
fn exact_add(a: f64, b: f64) -> Option<f64> {
    // Knuth's two-sum: the rounding error of a + b, exactly.
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    (err == 0.0 && s.is_finite()).then_some(s)
}

impl Weights {
    fn with_capacity(n: usize) -> Weights {
        Weights {
            pairs: Vec::with_capacity(n),
            wide: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn get(&self, i: usize) -> Pair<'_> {
        let p = self.pairs[i];
        if p[0].is_nan() {
            Pair::Wide(&self.wide[(p[0].to_bits() & !WIDE) as usize])
        } else {
            Pair::Plain(p)
        }
    }

    /// Group `i`'s exact sums.
    fn exact(&self, i: usize) -> GroupWeights {
        match self.get(i) {
            Pair::Plain(p) => p.map(ExactSum::of),
            Pair::Wide(ws) => ws.clone(),
        }
    }

    fn push_plain(&mut self, p: [f64; 2]) {
        self.pairs.push(p);
    }

    /// Appends exact sums, as a plain pair when each is one double.
    fn push_exact(&mut self, ws: GroupWeights) {
        match (ws[0].single(), ws[1].single()) {
            (Some(a), Some(b)) => self.pairs.push([a, b]),
            _ => {
                self.pairs
                    .push([f64::from_bits(WIDE | self.wide.len() as u64), f64::NAN]);
                self.wide.push(ws);
            }
        }
    }

    /// Appends group `i` of `other`.
    fn push_from(&mut self, other: &Weights, i: usize) {
        match other.get(i) {
            Pair::Plain(p) => self.push_plain(p),
            Pair::Wide(ws) => self.push_exact(ws.clone()),
        }
    }

    /// Appends the sum of group `i` of `a` and group `j` of `b`.
    fn push_sum(&mut self, a: &Weights, i: usize, b: &Weights, j: usize) {
        if let (Pair::Plain(x), Pair::Plain(y)) = (a.get(i), b.get(j))
            && let (Some(p), Some(n)) = (exact_add(x[0], y[0]), exact_add(x[1], y[1]))
        {
            self.push_plain([p, n]);
            return;
        }
        let mut ws = a.exact(i);
        let other = b.exact(j);
        ws[0].merge(&other[0]);
        ws[1].merge(&other[1]);
        self.push_exact(ws);
    }

    /// Adds `w` to the last group's positive (`class` 0) or negative sum.
    fn add_to_last(&mut self, class: usize, w: f64) {
        let Some(last) = self.pairs.last_mut() else {
            return;
        };
        if last[0].is_nan() {
            let k = (last[0].to_bits() & !WIDE) as usize;
            self.wide[k][class].add(w);
            return;
        }
        if let Some(s) = exact_add(last[class], w) {
            last[class] = s;
            return;
        }
        let mut ws = last.map(ExactSum::of);
        ws[class].add(w);
        self.pairs.pop();
        self.push_exact(ws);
    }
}

/// The accumulators of one batch of rows: Σw, Σw·log loss, Σw·(y − p)²,
/// and per reliability bin Σw, Σw·p, Σw·y.
#[derive(Default)]
struct RowAccumulators {
    weight: Accumulator,
    log_loss: Accumulator,
    brier: Accumulator,
    bins: [[Accumulator; 3]; BINS],
}

/// One reliability bin: rows, Σw, Σw·p, Σw·y.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bin {
    count: u64,
    weight: ExactSum,
    predicted: ExactSum,
    observed: ExactSum,
}

/// The exact score histogram of binary rows: every distinct score,
/// descending, with its positive and negative counts and (weighted) exact
/// weight sums. The binary state keeps one; the multiclass state keeps one
/// per class (one-vs-rest).
#[derive(Debug, Clone)]
pub struct ScoreHistogram {
    weighted: bool,
    /// Distinct scores, strictly descending.
    groups: Vec<Group>,
    /// Weighted histograms: each group's weight sums (kept apart from the
    /// groups so an unweighted histogram carries none).
    weights: Weights,
}

impl PartialEq for ScoreHistogram {
    /// Equal groups with equal exact weight sums (a sum may be held plain
    /// in one and wide in the other).
    fn eq(&self, other: &ScoreHistogram) -> bool {
        self.weighted == other.weighted
            && self.groups == other.groups
            && self.weights.len() == other.weights.len()
            && (0..self.weights.len()).all(|i| match (self.weights.get(i), other.weights.get(i)) {
                (Pair::Plain(a), Pair::Plain(b)) => a == b,
                _ => self.weights.exact(i) == other.weights.exact(i),
            })
    }
}

impl ScoreHistogram {
    /// The histogram of no rows.
    pub fn new(weighted: bool) -> ScoreHistogram {
        ScoreHistogram {
            weighted,
            groups: Vec::new(),
            weights: Weights::default(),
        }
    }

    /// Whether its rows carry weights.
    pub fn weighted(&self) -> bool {
        self.weighted
    }

    /// Folds rows `(score, positive, weight)` into the histogram; `rows` is
    /// sorted in place (and left sorted). Scores are finite; the caller
    /// leaves out rows of weight 0 (for an unweighted histogram, weights
    /// are ignored).
    pub fn update(&mut self, rows: &mut [(f64, bool, f64)]) {
        rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut batch = ScoreHistogram::new(self.weighted);
        for &(p, positive, w) in rows.iter() {
            // -0.0 and 0.0 are one score.
            let p = if p == 0.0 { 0.0 } else { p };
            batch.push(p, positive, self.weighted.then_some(w));
        }
        self.merge_owned(batch);
    }

    /// Counts one row at `score`, not above the last group's score (a new
    /// group when below it), with its weight when weighted.
    #[inline]
    fn push(&mut self, score: f64, positive: bool, weight: Option<f64>) {
        if self.groups.last().is_none_or(|g| g.score != score) {
            self.groups.push(Group {
                score,
                positives: 0,
                negatives: 0,
            });
            if self.weighted {
                self.weights.push_plain([0.0; 2]);
            }
        }
        if let Some(g) = self.groups.last_mut() {
            if positive {
                g.positives += 1;
            } else {
                g.negatives += 1;
            }
        }
        if let Some(w) = weight {
            self.weights.add_to_last(!positive as usize, w);
        }
    }

    /// Adds another histogram, consumed, into this one.
    fn merge_owned(&mut self, other: ScoreHistogram) {
        let weighted = self.weighted;
        let a = std::mem::replace(self, ScoreHistogram::new(weighted));
        *self = merge_histograms(a, other);
    }

    /// Adds another histogram into this one.
    ///
    /// # Panics
    /// When one is weighted and the other is not (a bug in the caller).
    pub fn merge(&mut self, other: &ScoreHistogram) {
        assert_eq!(
            self.weighted, other.weighted,
            "weighted histograms merge with weighted histograms"
        );
        self.merge_owned(other.clone());
    }

    /// Distinct scores.
    pub fn distinct_scores(&self) -> usize {
        self.groups.len()
    }

    /// Each distinct score, descending, with its positive and negative
    /// row counts.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = (f64, u64, u64)> + '_ {
        self.groups
            .iter()
            .map(|g| (g.score, g.positives, g.negatives))
    }

    /// Each distinct score, descending, with its positive and negative
    /// counts as frequencies: the row counts of an unweighted histogram;
    /// for a weighted one, its exact weight sums when every one is a whole
    /// number below 2⁵³ (frequency weights: a row of weight k is k rows),
    /// else `None`.
    pub fn frequency_groups(&self) -> Option<Vec<(f64, u64, u64)>> {
        if !self.weighted {
            return Some(self.groups().collect());
        }
        let whole = |w: &ExactSum| -> Option<u64> {
            let v = w.value();
            let mut exact = ExactSum::new();
            exact.add(v);
            (v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&v) && exact == *w)
                .then_some(v as u64)
        };
        self.groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let ws = self.weights.exact(i);
                Some((g.score, whole(&ws[0])?, whole(&ws[1])?))
            })
            .collect()
    }

    /// Rows counted (positives and negatives).
    pub fn rows(&self) -> u64 {
        self.groups.iter().map(|g| g.positives + g.negatives).sum()
    }

    /// The ranking table: cumulative positives and negatives (or their
    /// exact weight sums, rounded once) at each distinct score.
    pub fn curve(&self) -> BinaryCurve {
        self.curve_after([0, 0], &[ExactSum::new(), ExactSum::new()])
    }

    /// The ranking table of these scores when `counts` positives and
    /// negatives (of exact weights `weights`) score above them: the
    /// cumulative numbers count those too, so a histogram of one score
    /// range gives the rows of the whole table at its scores, bit for bit
    /// (`state::ranges`).
    pub fn curve_after(&self, counts: [u64; 2], weights: &[ExactSum; 2]) -> BinaryCurve {
        let mut curve = BinaryCurve {
            thresholds: Vec::with_capacity(self.groups.len()),
            tps: Vec::with_capacity(self.groups.len()),
            fps: Vec::with_capacity(self.groups.len()),
            weighted: self.weighted,
        };
        let [mut tp, mut fp] = counts;
        let [mut tw, mut fw] = weights.clone();
        for (i, g) in self.groups.iter().enumerate() {
            curve.thresholds.push(g.score);
            // Saturating: a decoded context's counts are bounded (2⁵³).
            tp = tp.saturating_add(g.positives);
            fp = fp.saturating_add(g.negatives);
            if self.weighted {
                match self.weights.get(i) {
                    Pair::Plain(p) => {
                        tw.add(p[0]);
                        fw.add(p[1]);
                    }
                    Pair::Wide(ws) => {
                        tw.merge(&ws[0]);
                        fw.merge(&ws[1]);
                    }
                }
                curve.tps.push(tw.value());
                curve.fps.push(fw.value());
            } else {
                curve.tps.push(tp as f64);
                curve.fps.push(fp as f64);
            }
        }
        curve
    }

    /// The positive and negative rows, and (weighted) their exact weight
    /// sums.
    pub fn totals(&self) -> ([u64; 2], [ExactSum; 2]) {
        let mut counts = [0u64; 2];
        let mut weights = [ExactSum::new(), ExactSum::new()];
        for (i, g) in self.groups.iter().enumerate() {
            counts[0] += g.positives;
            counts[1] += g.negatives;
            if self.weighted {
                match self.weights.get(i) {
                    Pair::Plain(p) => {
                        weights[0].add(p[0]);
                        weights[1].add(p[1]);
                    }
                    Pair::Wide(ws) => {
                        weights[0].merge(&ws[0]);
                        weights[1].merge(&ws[1]);
                    }
                }
            }
        }
        (counts, weights)
    }

    /// The highest and the lowest score (`None` without rows).
    pub fn score_span(&self) -> Option<(f64, f64)> {
        Some((self.groups.first()?.score, self.groups.last()?.score))
    }

    /// Writes the histogram: the group count, then per group the score as
    /// the difference of its bits from the previous (larger) score's,
    /// shifted right by the trailing zero bits every score shares (float32
    /// scores widened to f64 share 29), and the counts as varints; weighted
    /// groups add their two exact sums.
    pub fn encode(&self, w: &mut Writer) {
        w.len(self.groups.len());
        let shift = self
            .groups
            .iter()
            .map(|g| g.score.to_bits().trailing_zeros())
            .min()
            .unwrap_or(0)
            .min(63);
        w.u8(shift as u8);
        let mut prev: Option<u64> = None;
        for (i, g) in self.groups.iter().enumerate() {
            let bits = g.score.to_bits() >> shift;
            match prev {
                None => w.varint(bits),
                Some(p) => w.varint(p - bits),
            }
            prev = Some(bits);
            w.varint(g.positives);
            w.varint(g.negatives);
            if self.weighted {
                let ws = self.weights.exact(i);
                w.exact(&ws[0]);
                w.exact(&ws[1]);
            }
        }
    }

    /// Reads a histogram written by [`ScoreHistogram::encode`], checking
    /// that scores are probabilities in strictly descending order and that
    /// every group counts a row.
    pub fn decode(r: &mut Reader, weighted: bool) -> Read<ScoreHistogram> {
        let n = r.len("the number of distinct scores", r.remaining() / 3)?;
        let shift = r.u8("the score shift")? as u32;
        if shift > 63 {
            return Err(format!("the score shift is {shift}, more than 63"));
        }
        let mut groups = Vec::with_capacity(n);
        let mut weights = Weights::with_capacity(if weighted { n } else { 0 });
        let mut prev: Option<u64> = None;
        let mut rows: u64 = 0;
        for i in 0..n {
            let v = r.varint("a score")?;
            let bits = match prev {
                None => v,
                Some(p) => match p.checked_sub(v) {
                    Some(b) if v > 0 => b,
                    _ => return Err(format!("score {i} is not below the one before it")),
                },
            };
            prev = Some(bits);
            let score = (bits << shift >> shift == bits)
                .then(|| f64::from_bits(bits << shift))
                .filter(|p| p.is_sign_positive() && *p <= 1.0)
                .ok_or_else(|| format!("score {i} is not a probability in [0, 1]"))?;
            let positives = r.varint("a positive count")?;
            let negatives = r.varint("a negative count")?;
            rows = positives
                .checked_add(negatives)
                .and_then(|g| if g == 0 { None } else { rows.checked_add(g) })
                .ok_or_else(|| format!("score {i} counts no row, or the counts overflow"))?;
            if weighted {
                let ws = [r.exact("a positive weight")?, r.exact("a negative weight")?];
                if ws.iter().any(|s| s.value() < 0.0) {
                    return Err(format!("score {i} has a negative weight"));
                }
                // No more than its rows may weigh (the readers' bound), so
                // the ranking table's sums and products stay finite.
                let bound = |rows: u64| 2.0 * crate::data::WEIGHT_LIMIT * rows as f64;
                if ws[0].value() > bound(positives) || ws[1].value() > bound(negatives) {
                    return Err(format!(
                        "score {i}'s weights are more than its rows may weigh"
                    ));
                }
                weights.push_exact(ws);
            }
            groups.push(Group {
                score,
                positives,
                negatives,
            });
        }
        Ok(ScoreHistogram {
            weighted,
            groups,
            weights,
        })
    }
}

/// The binary state of a set of rows (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryState {
    weighted: bool,
    histogram: ScoreHistogram,
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
            histogram: ScoreHistogram::new(weighted),
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

    /// The state of a file's validated columns, built in parallel: the sums
    /// over chunks of rows, merged exactly (so the thread count and the
    /// chunking do not change a bit of the result), and the histogram from
    /// one parallel radix sort of (score, label[, weight]) keys.
    pub fn from_columns(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> BinaryState {
        let weighted = weights.is_some();
        let chunk = |c: usize| -> BinaryState {
            let lo = c * CHUNK;
            let hi = (lo + CHUNK).min(labels.len());
            let mut s = BinaryState::new(weighted);
            let rows = s.add_sums(
                &labels[lo..hi],
                |i| scores.get(lo + i),
                |i| weights.map_or(1.0, |w| w.get(lo + i)),
                false,
            );
            debug_assert!(rows.is_empty());
            s
        };
        let mut state = (0..labels.len().div_ceil(CHUNK))
            .into_par_iter()
            .map(chunk)
            .reduce(
                || BinaryState::new(weighted),
                |mut a, b| {
                    a.merge_owned(b);
                    a
                },
            );
        state.histogram = histogram(labels, scores, weights);
        state
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
        self.update_with(labels, |i| scores[i], |i| weights.map_or(1.0, |w| w[i]));
    }

    /// Folds rows into the state: row `i` has label `labels[i]`, score
    /// `score(i)` and weight `weight(i)` (read only by weighted states).
    fn update_with(
        &mut self,
        labels: &[u8],
        score: impl Fn(usize) -> f64,
        weight: impl Fn(usize) -> f64,
    ) {
        let mut rows = self.add_sums(labels, score, weight, true);
        self.histogram.update(&mut rows);
    }

    /// Adds rows to the sums and bins and, with `keep`, returns the rows
    /// the histogram takes: `(score, positive, weight)`, weight-0 rows left
    /// out.
    fn add_sums(
        &mut self,
        labels: &[u8],
        score: impl Fn(usize) -> f64,
        weight: impl Fn(usize) -> f64,
        keep: bool,
    ) -> Vec<(f64, bool, f64)> {
        let mut rows: Vec<(f64, bool, f64)> =
            Vec::with_capacity(if keep { labels.len() } else { 0 });
        // Rows are summed in accumulators (exact, and fast to add to), then
        // flushed into the state's exact sums once. Unweighted, Σw and each
        // bin's Σw and Σw·y are counts (exact as f64 below 2⁵³ rows).
        let mut acc = Box::new(RowAccumulators::default());
        let mut hits = [0u64; BINS];
        let mut counts = [0u64; BINS];
        for (i, &y) in labels.iter().enumerate() {
            let w = if self.weighted { weight(i) } else { 1.0 };
            // -0.0 and 0.0 are one score.
            let p = score(i);
            let p = if p == 0.0 { 0.0 } else { p };
            let b = bin_of(p);
            // Weighted bins count the rows of weight 0 too (as the full
            // tier reports them); they count nowhere else.
            counts[b] += 1;
            if self.weighted {
                if w <= 0.0 {
                    continue;
                }
                acc.weight.add(w);
                acc.bins[b][0].add(w);
                if y == 1 {
                    acc.bins[b][2].add(w);
                }
            } else {
                hits[b] += (y == 1) as u64;
            }
            let e = y as f64 - p;
            acc.log_loss.add(w * binary_log_loss(y, p));
            acc.brier.add(w * e * e);
            acc.bins[b][1].add(w * p);
            if keep {
                rows.push((p, y == 1, w));
            }
        }
        if self.weighted {
            self.weight.add_accumulator(&acc.weight);
        } else {
            self.weight.add(labels.len() as f64);
        }
        self.log_loss.add_accumulator(&acc.log_loss);
        self.brier.add_accumulator(&acc.brier);
        for (b, sums) in acc.bins.iter().enumerate() {
            let bin = &mut self.bins[b];
            bin.count += counts[b];
            bin.predicted.add_accumulator(&sums[1]);
            if self.weighted {
                bin.weight.add_accumulator(&sums[0]);
                bin.observed.add_accumulator(&sums[2]);
            } else {
                bin.weight.add(counts[b] as f64);
                bin.observed.add(hits[b] as f64);
            }
        }
        rows
    }

    /// Adds another state (of other rows) into this one.
    ///
    /// # Panics
    /// When one state is weighted and the other is not.
    pub fn merge(&mut self, other: &BinaryState) {
        self.merge_owned(other.clone());
    }

    /// Adds another state into this one, reusing its histogram (no copy of
    /// it, unlike [`BinaryState::merge`]).
    ///
    /// # Panics
    /// When one is weighted and the other is not (a bug in the caller).
    pub fn merge_owned(&mut self, other: BinaryState) {
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
        self.histogram.merge_owned(other.histogram);
    }

    /// Takes the score histogram out, leaving the sums (and an empty
    /// histogram).
    pub fn take_histogram(&mut self) -> ScoreHistogram {
        std::mem::replace(&mut self.histogram, ScoreHistogram::new(self.weighted))
    }

    /// A copy of the state's sums with an empty histogram (the histogram,
    /// which may hold a group per row, is not copied).
    pub fn sums_only(&self) -> BinaryState {
        BinaryState {
            weighted: self.weighted,
            histogram: ScoreHistogram::new(self.weighted),
            weight: self.weight.clone(),
            log_loss: self.log_loss.clone(),
            brier: self.brier.clone(),
            bins: self.bins.clone(),
        }
    }

    /// The score histogram.
    pub fn histogram(&self) -> &ScoreHistogram {
        &self.histogram
    }

    /// Distinct scores in the state.
    pub fn distinct_scores(&self) -> usize {
        self.histogram.distinct_scores()
    }

    /// The ranking table (see [`ScoreHistogram::curve`]).
    pub fn curve(&self) -> BinaryCurve {
        self.histogram.curve()
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

    /// Whether the state's rows carry weights.
    pub fn weighted(&self) -> bool {
        self.weighted
    }

    /// Rows of positive weight counted (every row, unweighted).
    pub fn rows(&self) -> u64 {
        self.histogram.rows()
    }

    /// Writes the state (the weighted flag is the caller's, in the file
    /// header): the histogram, Σw, Σw·log loss, Σw·(y − p)², then per
    /// reliability bin its count and three sums.
    pub fn encode(&self, w: &mut Writer) {
        self.histogram.encode(w);
        self.encode_sums(w);
    }

    /// Writes the state's sums (Σw, Σw·log loss, Σw·(y − p)², the
    /// reliability bins): [`BinaryState::encode`] after the histogram.
    pub fn encode_sums(&self, w: &mut Writer) {
        w.exact(&self.weight);
        w.exact(&self.log_loss);
        w.exact(&self.brier);
        for b in &self.bins {
            w.varint(b.count);
            w.exact(&b.weight);
            w.exact(&b.predicted);
            w.exact(&b.observed);
        }
    }

    /// Reads a state written by [`BinaryState::encode`], checking that its
    /// parts agree (bin counts total the histogram's rows).
    pub fn decode(r: &mut Reader, weighted: bool) -> Read<BinaryState> {
        let histogram = ScoreHistogram::decode(r, weighted)?;
        let mut s = BinaryState::decode_sums(r, weighted)?;
        let binned = s.bins.iter().try_fold(0u64, |t, b| t.checked_add(b.count));
        // Weighted bins also count the rows of weight 0, which the
        // histogram leaves out.
        let agree = match binned {
            Some(b) if weighted => b >= histogram.rows(),
            Some(b) => b == histogram.rows(),
            None => false,
        };
        if !agree {
            return Err("the reliability bins and the score histogram count different rows".into());
        }
        if !weighted && s.weight.value() != histogram.rows() as f64 {
            return Err("the total weight of an unweighted state is not its row count".into());
        }
        s.histogram = histogram;
        Ok(s)
    }

    /// Reads the sums written by [`BinaryState::encode_sums`] into a state
    /// whose histogram is empty, checking that no sum is negative.
    pub fn decode_sums(r: &mut Reader, weighted: bool) -> Read<BinaryState> {
        let mut s = BinaryState::new(weighted);
        s.weight = r.exact("the total weight")?;
        s.log_loss = r.exact("the log loss sum")?;
        s.brier = r.exact("the Brier sum")?;
        for (i, b) in s.bins.iter_mut().enumerate() {
            b.count = r.varint("a reliability bin count")?;
            b.weight = r.exact("a reliability bin weight")?;
            b.predicted = r.exact("a reliability bin sum")?;
            b.observed = r.exact("a reliability bin sum")?;
            if b.weight.value() < 0.0 || b.predicted.value() < 0.0 || b.observed.value() < 0.0 {
                return Err(format!("reliability bin {i} has a negative sum"));
            }
        }
        if s.log_loss.value() < 0.0 || s.brier.value() < 0.0 || s.weight.value() < 0.0 {
            return Err("a loss or weight sum is negative".into());
        }
        Ok(s)
    }

    /// The binary point metrics at `threshold`, by the full tier's formulas.
    pub fn finish(&self, threshold: f64) -> MetricSet {
        point_metrics(&self.curve(), &self.sums(), threshold)
    }
}

/// The histogram of a file's rows: keys `(score bits << 1) | label` (the
/// bits of a non-negative f64 increase with its value; -0.0 is 0.0), with
/// the weight's bits for weighted rows of positive weight, sorted
/// descending by the parallel radix sort, then counted (and their weights
/// summed exactly) per score.
fn histogram(labels: &[u8], scores: &Floats, weights: Option<&Floats>) -> ScoreHistogram {
    let key = |i: usize, y: u8| {
        let p = scores.get(i);
        let p = if p == 0.0 { 0.0 } else { p };
        (p.to_bits() << 1) | (y == 1) as u64
    };
    let mut h = ScoreHistogram::new(weights.is_some());
    let mut add = |k: u64, w: Option<f64>| h.push(f64::from_bits(k >> 1), k & 1 == 1, w);
    match weights {
        None => {
            let keys: Vec<u64> = labels
                .par_iter()
                .enumerate()
                .map(|(i, &y)| key(i, y))
                .collect();
            for k in crate::metrics::sort::sort_descending(keys) {
                add(k, None);
            }
        }
        Some(w) => {
            let keys: Vec<(u64, u64)> = labels
                .par_iter()
                .enumerate()
                .filter(|&(i, _)| w.get(i) > 0.0)
                .map(|(i, &y)| (key(i, y), w.get(i).to_bits()))
                .collect();
            for (k, w) in crate::metrics::sort::sort_descending(keys) {
                add(k, Some(f64::from_bits(w)));
            }
        }
    }
    h
}

/// Two descending histograms merged into one (equal scores add up).
fn merge_histograms(a: ScoreHistogram, b: ScoreHistogram) -> ScoreHistogram {
    let weighted = a.weighted;
    let mut out = ScoreHistogram::new(weighted);
    out.groups.reserve(a.groups.len() + b.groups.len());
    if weighted {
        out.weights = Weights::with_capacity(a.groups.len() + b.groups.len());
    }
    let (mut i, mut j) = (0, 0);
    loop {
        let group = match (a.groups.get(i), b.groups.get(j)) {
            (Some(x), Some(y)) if x.score == y.score => {
                if weighted {
                    out.weights.push_sum(&a.weights, i, &b.weights, j);
                }
                i += 1;
                j += 1;
                Group {
                    score: x.score,
                    positives: x.positives + y.positives,
                    negatives: x.negatives + y.negatives,
                }
            }
            (Some(x), Some(y)) if x.score > y.score => {
                if weighted {
                    out.weights.push_from(&a.weights, i);
                }
                i += 1;
                *x
            }
            (Some(x), None) => {
                if weighted {
                    out.weights.push_from(&a.weights, i);
                }
                i += 1;
                *x
            }
            (_, Some(y)) => {
                if weighted {
                    out.weights.push_from(&b.weights, j);
                }
                j += 1;
                *y
            }
            (None, None) => break,
        };
        out.groups.push(group);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_wide_group_weights_merge_to_the_same_histogram() {
        // Ten tied scores of many rows with weights of very different
        // sizes (sums that one double cannot hold: wide groups) and weights
        // on a 2⁻⁸ grid (sums that stay plain), folded at once and in
        // pieces merged in two orders: equal histograms, equal bytes, and
        // each group's sums are the exact sums of its rows.
        let mut x = 0x0BAD_5EED_1234_5678u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let rows: Vec<(f64, bool, f64)> = (0..6000)
            .map(|i| {
                let score = (i % 10) as f64 / 10.0;
                let w = if i % 10 < 5 {
                    (next() >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi(i % 7 - 3)
                } else {
                    (next() % 512) as f64 / 256.0 + 1.0
                };
                (score, next() & 1 == 1, w)
            })
            .collect();
        let mut whole = ScoreHistogram::new(true);
        whole.update(&mut rows.clone());
        let pieces: Vec<ScoreHistogram> = rows
            .chunks(777)
            .map(|c| {
                let mut h = ScoreHistogram::new(true);
                h.update(&mut c.to_vec());
                h
            })
            .collect();
        let mut forward = ScoreHistogram::new(true);
        for p in &pieces {
            forward.merge(p);
        }
        let mut backward = ScoreHistogram::new(true);
        for p in pieces.iter().rev() {
            backward.merge(p);
        }
        assert!(
            !whole.weights.wide.is_empty(),
            "some sums need more than a double"
        );
        assert!(
            (0..whole.weights.len()).any(|i| matches!(whole.weights.get(i), Pair::Plain(_))),
            "some sums stay plain"
        );
        assert_eq!(forward, whole);
        assert_eq!(backward, whole);
        let bytes = |h: &ScoreHistogram| {
            let mut w = Writer::default();
            h.encode(&mut w);
            w.into_bytes()
        };
        assert_eq!(bytes(&forward), bytes(&whole));
        assert_eq!(bytes(&backward), bytes(&whole));
        for (i, (score, _, _)) in whole.groups().enumerate() {
            let mut want = [ExactSum::new(), ExactSum::new()];
            for &(s, positive, w) in &rows {
                if s == score {
                    want[!positive as usize].add(w);
                }
            }
            assert_eq!(whole.weights.exact(i), want, "group {i}");
        }
    }

    #[test]
    fn the_weighted_ranking_table_is_the_running_exact_sums() {
        // Many groups, weights of very different sizes: every entry is the
        // exact prefix sum rounded once.
        let n = 50_000;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut rows: Vec<(f64, bool, f64)> = (0..n)
            .map(|i| {
                let w =
                    ((next() >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi((i % 9) as i32 - 4);
                (1.0 - i as f64 / n as f64, next() & 1 == 1, w)
            })
            .collect();
        let mut h = ScoreHistogram::new(true);
        h.update(&mut rows);
        assert_eq!(h.distinct_scores(), n);
        let curve = h.curve();
        let (mut tw, mut fw) = (ExactSum::new(), ExactSum::new());
        for i in 0..h.weights.len() {
            let ws = h.weights.exact(i);
            tw.merge(&ws[0]);
            fw.merge(&ws[1]);
            assert_eq!(curve.tps[i].to_bits(), tw.value().to_bits(), "group {i}");
            assert_eq!(curve.fps[i].to_bits(), fw.value().to_bits(), "group {i}");
        }
    }
}
