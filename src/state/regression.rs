//! The regression task's state: exact sums for the point metrics and a
//! mergeable summary of the residuals for their quantiles.
//!
//! Rows of weight 0 count nowhere (as in the full tier); every other row
//! folds into:
//!
//! - **Counts and extremes**: the rows counted (`u64`), the smallest and
//!   largest label and residual `y − ŷ` (signed zeros folded to `+0`, so
//!   the extremes are order-free).
//! - **Exact sums** ([`ExactSum`]): Σw, Σw·(y − ŷ), Σw·(y − ŷ)², Σw·|y − ŷ|
//!   (per-row terms rounded as the full tier always rounded them), and Σw·y,
//!   Σw·y² kept as exact sums of the *exact* products (each product split
//!   into floats with error-free transformations, `f64::mul_add`). R²'s
//!   total sum of squares `Σw·(y − ȳ)² = (Σw·Σw·y² − (Σw·y)²) / Σw` takes
//!   its numerator as one exact expansion (products of the canonical
//!   expansions, every partial product split exactly) rounded once, so
//!   labels like `1e6 + noise` lose nothing to cancellation, and no order of
//!   the rows can change a bit of it. R² stays undefined when the labels of
//!   the rows counted are all equal (compared exactly: the label extremes).
//! - **Residual quantiles**: exact while the residuals take at most
//!   [`EXACT_LIMIT`] distinct values (every distinct residual with its row
//!   count; the quantiles are numpy's linear interpolation of the sorted
//!   residuals, exactly). Past that the state keeps a log-linear sketch
//!   instead: a residual's bucket is its sign, binary exponent and top
//!   [`SKETCH_BITS`] mantissa bits (read from its bits, no logarithm, so
//!   every platform buckets alike), with a row count per bucket, zero in a
//!   bucket of its own. The exact extremes are kept. An order statistic is
//!   read as the midpoint of its bucket, clamped to the extremes (the
//!   smallest and largest are exact), within relative error
//!   [`RELATIVE_ERROR`] = 2⁻¹⁰ (0.098%) of the true order statistic (for
//!   `|x| ≥ 2⁻¹⁰²²`; below it, within 2⁻¹⁰⁷⁴·2⁴³ absolutely); the quantile
//!   interpolates two such values as numpy does, so it is within
//!   `RELATIVE_ERROR · max(|a|, |b|)` of numpy's, `a` and `b` the two order
//!   statistics it interpolates (relative error 2⁻¹⁰ when they share a
//!   sign). Which form the state takes depends on the multiset of residuals
//!   only (more than [`EXACT_LIMIT`] distinct values: the sketch), and the
//!   sketch of a union is the sum of the sketches' counts, so any split,
//!   merged in any tree, gives the same state and the same bytes.
//!
//! [`RegressionState::finish`] computes every field of
//! [`RegressionFull`] from these; the full tier's point metrics
//! ([`crate::full::regression::point`]) fold the rows into a state and
//! finish it: one formula per metric.

use rayon::prelude::*;

use super::codec::{Read, Reader, Writer};
use super::exact::{Accumulator, ExactSum};
use crate::data::Floats;
use crate::metrics::regression::{
    RESIDUAL_PROBABILITIES, RegressionFull, RegressionSums, Residuals,
};

/// Rows per chunk of [`RegressionState::from_columns`].
const CHUNK: usize = 1 << 16;

/// The most distinct residuals a state keeps exactly; past it, the sketch.
pub const EXACT_LIMIT: usize = 1 << 16;

/// Mantissa bits of a sketch bucket: 2⁹ buckets per binade.
pub const SKETCH_BITS: u32 = 9;

/// The sketch's bound on the relative error of an order statistic, 2⁻¹⁰.
pub const RELATIVE_ERROR: f64 = 1.0 / 1024.0;

/// Bits of an `f64` below a sketch bucket's.
const SHIFT: u32 = 52 - SKETCH_BITS;

/// The largest bucket magnitude: the one holding `f64::MAX`.
const MAX_BUCKET: u64 = (f64::MAX.to_bits() >> SHIFT) + 1;

/// The residual summary: distinct residuals (or sketch buckets) with their
/// row counts, keys strictly increasing.
#[derive(Debug, Clone, PartialEq)]
struct ResidualCounts {
    /// False while the keys are exact residuals ([`exact_key`]), true once
    /// they are sketch buckets ([`bucket_key`]).
    sketch: bool,
    entries: Vec<(i64, u64)>,
}

/// The regression state of a set of rows (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionState {
    weighted: bool,
    /// Rows with positive weight.
    rows: u64,
    /// Σw (weighted states; an unweighted state's is `rows`).
    weight: ExactSum,
    /// Σw·y, Σw·y²: exact sums of the exact products.
    wy: ExactSum,
    wyy: ExactSum,
    /// Σw·r, Σw·r², Σw·|r| with `r = y − ŷ`.
    wr: ExactSum,
    wrr: ExactSum,
    wabs: ExactSum,
    /// Smallest and largest label and residual (±∞ while no row counts).
    label_min: f64,
    label_max: f64,
    residual_min: f64,
    residual_max: f64,
    residuals: ResidualCounts,
}

impl RegressionState {
    /// The state of no rows; `weighted` says whether rows will carry
    /// weights (states of weighted and unweighted rows do not merge).
    pub fn new(weighted: bool) -> RegressionState {
        RegressionState {
            weighted,
            rows: 0,
            weight: ExactSum::new(),
            wy: ExactSum::new(),
            wyy: ExactSum::new(),
            wr: ExactSum::new(),
            wrr: ExactSum::new(),
            wabs: ExactSum::new(),
            label_min: f64::INFINITY,
            label_max: f64::NEG_INFINITY,
            residual_min: f64::INFINITY,
            residual_max: f64::NEG_INFINITY,
            residuals: ResidualCounts {
                sketch: false,
                entries: Vec::new(),
            },
        }
    }

    /// The state of many rows at once: chunks of rows fold into states in
    /// parallel, merged (in any order: the state is exact, so the result
    /// does not depend on it). Arguments as [`RegressionState::update`].
    pub fn from_columns(
        labels: &Floats,
        scores: &Floats,
        weights: Option<&Floats>,
    ) -> RegressionState {
        let n = labels.len();
        let weighted = weights.is_some();
        (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let (start, len) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
                let mut s = RegressionState::new(weighted);
                s.update(
                    &labels.slice(start, len),
                    &scores.slice(start, len),
                    weights.map(|w| w.slice(start, len)).as_ref(),
                );
                s
            })
            .reduce(
                || RegressionState::new(weighted),
                |mut a, b| {
                    // Both are of these rows: equally weighted, and counting
                    // fewer than 2⁶⁴ rows.
                    if let Err(e) = a.merge(&b) {
                        unreachable!("{e}");
                    }
                    a
                },
            )
    }

    /// Whether its rows carry weights.
    pub fn weighted(&self) -> bool {
        self.weighted
    }

    /// Rows counted (rows of positive weight).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True once the residuals are kept as a sketch (more than
    /// [`EXACT_LIMIT`] distinct values), not exactly.
    pub fn sketched(&self) -> bool {
        self.residuals.sketch
    }

    /// Folds rows into the state (a batch of a stream): finite labels and
    /// predictions and, for a weighted state, finite weights ≥ 0 (as the
    /// readers validate them).
    ///
    /// # Panics
    /// When `weights` is given to an unweighted state or missing for a
    /// weighted one, or the columns differ in length (a bug in the caller,
    /// not bad data).
    pub fn update(&mut self, labels: &Floats, scores: &Floats, weights: Option<&Floats>) {
        assert_eq!(
            weights.is_some(),
            self.weighted,
            "weighted rows fold into a weighted state"
        );
        let n = labels.len();
        assert!(
            scores.len() == n && weights.is_none_or(|w| w.len() == n),
            "labels, predictions and weights have one value per row"
        );
        let mut keys: Vec<i64> = Vec::with_capacity(n);
        // Sums go through accumulators (exact, fast to add to), flushed
        // into the exact sums once per batch.
        let mut acc: [Accumulator; 6] = Default::default();
        let [weight, wy, wyy, wr, wrr, wabs] = &mut acc;
        for i in 0..n {
            let w = weights.map_or(1.0, |w| w.get(i));
            if w.is_nan() || w <= 0.0 {
                continue;
            }
            let y = zero_to_positive(labels.get(i));
            let r = zero_to_positive(y - scores.get(i));
            if self.weighted {
                weight.add(w);
                accumulate_product(wy, w, y);
                let (s, t) = two_product(y, y);
                accumulate_product(wyy, w, s);
                accumulate_product(wyy, w, t);
            } else {
                wy.add(y);
                let (s, t) = two_product(y, y);
                wyy.add(s);
                wyy.add(t);
            }
            wr.add(w * r);
            wrr.add(w * r * r);
            wabs.add(w * r.abs());
            self.label_min = self.label_min.min(y);
            self.label_max = self.label_max.max(y);
            self.residual_min = self.residual_min.min(r);
            self.residual_max = self.residual_max.max(r);
            keys.push(exact_key(r));
        }
        for (sum, a) in [
            &mut self.weight,
            &mut self.wy,
            &mut self.wyy,
            &mut self.wr,
            &mut self.wrr,
            &mut self.wabs,
        ]
        .into_iter()
        .zip(&acc)
        {
            sum.add_accumulator(a);
        }
        self.rows += keys.len() as u64;
        keys.sort_unstable();
        let batch = ResidualCounts {
            sketch: false,
            entries: run_lengths(keys.into_iter().map(|k| (k, 1))),
        };
        self.residuals = merge_counts(&self.residuals, &batch);
    }

    /// Adds another state (of other rows) into this one; an error, and
    /// this state unchanged, when one is weighted and the other is not or
    /// the row counts would overflow.
    pub fn merge(&mut self, other: &RegressionState) -> Result<(), String> {
        if self.weighted != other.weighted {
            return Err(format!(
                "a {} regression state does not merge with a {} one",
                weightedness(self.weighted),
                weightedness(other.weighted)
            ));
        }
        let Some(rows) = self.rows.checked_add(other.rows) else {
            return Err("the merged regression state counts more than 2⁶⁴ rows".to_string());
        };
        self.rows = rows;
        self.weight.merge(&other.weight);
        self.wy.merge(&other.wy);
        self.wyy.merge(&other.wyy);
        self.wr.merge(&other.wr);
        self.wrr.merge(&other.wrr);
        self.wabs.merge(&other.wabs);
        self.label_min = self.label_min.min(other.label_min);
        self.label_max = self.label_max.max(other.label_max);
        self.residual_min = self.residual_min.min(other.residual_min);
        self.residual_max = self.residual_max.max(other.residual_max);
        self.residuals = merge_counts(&self.residuals, &other.residuals);
        Ok(())
    }

    /// Σw as an exact sum (an unweighted state's is its row count).
    fn total_weight(&self) -> ExactSum {
        if self.weighted {
            return self.weight.clone();
        }
        // Two halves, each exact in an f64.
        let mut s = ExactSum::new();
        add_nonzero(&mut s, (self.rows >> 32 << 32) as f64);
        add_nonzero(&mut s, (self.rows & 0xFFFF_FFFF) as f64);
        s
    }

    /// R²'s total sum of squares `Σw·(y − ȳ)²`, from one exact expansion of
    /// `Σw·Σw·y² − (Σw·y)²` rounded once, divided by Σw; 0 when nothing
    /// counts.
    fn total_sum_of_squares(&self) -> f64 {
        let w = self.total_weight();
        let (wv, bv, av) = (w.value(), self.wyy.value(), self.wy.value());
        if wv <= 0.0 || bv <= 0.0 {
            return 0.0;
        }
        // Scale by powers of two (exactly, unless a tiny part underflows) so
        // that Σw lies in [1, 2) and Σw·y² and Σw·y below 2: every product
        // below stays under 4, whatever the sums (a decoded state need not
        // satisfy Cauchy–Schwarz).
        let ew = exponent(wv);
        let half = (exponent(bv) + ew + 1).div_euclid(2);
        let k = if av == 0.0 {
            half
        } else {
            half.max(exponent(av))
        };
        let scaled = |s: &ExactSum, e: i32| -> Vec<f64> {
            s.canonical().into_iter().map(|p| scale(p, -e)).collect()
        };
        let (ws, bs, as_) = (
            scaled(&w, ew),
            scaled(&self.wyy, 2 * k - ew),
            scaled(&self.wy, k),
        );
        let mut numerator = ExactSum::new();
        for &x in &ws {
            for &y in &bs {
                add_product(&mut numerator, x, y);
            }
        }
        for &x in &as_ {
            for &y in &as_ {
                add_product(&mut numerator, -x, y);
            }
        }
        // N = 2^(2k) · N', Σw = 2^ew · W'.
        scale(numerator.value() / scale(wv, -ew), 2 * k - ew)
    }

    /// The value of order statistic `k` (0-based) of the residuals:
    /// exact, or (sketch) its bucket's midpoint clamped to the extremes.
    fn order_statistic(&self, k: u64, cumulative: &[u64]) -> f64 {
        if k == 0 {
            return self.residual_min;
        }
        if k >= self.rows - 1 {
            return self.residual_max;
        }
        let i = cumulative
            .partition_point(|&c| c <= k)
            .min(cumulative.len() - 1);
        let key = self.residuals.entries[i].0;
        if self.residuals.sketch {
            bucket_midpoint(key).clamp(self.residual_min, self.residual_max)
        } else {
            exact_value(key)
        }
    }

    /// The residual summary: the weighted mean and the quantiles at
    /// [`RESIDUAL_PROBABILITIES`] (numpy's linear interpolation).
    fn residual_summary(&self, total_weight: f64) -> Residuals {
        let mut cumulative = Vec::with_capacity(self.residuals.entries.len());
        let mut c = 0u64;
        for &(_, n) in &self.residuals.entries {
            c += n;
            cumulative.push(c);
        }
        let quantiles = RESIDUAL_PROBABILITIES
            .iter()
            .map(|&q| {
                if self.rows == 0 {
                    return f64::NAN;
                }
                let pos = q * (self.rows - 1) as f64;
                let lo = pos.floor();
                let hi = pos.ceil();
                let frac = pos - lo;
                let a = self.order_statistic(lo as u64, &cumulative);
                let b = self.order_statistic(hi as u64, &cumulative);
                a + (b - a) * frac
            })
            .collect();
        Residuals {
            mean: self.wr.value() / total_weight,
            probabilities: RESIDUAL_PROBABILITIES.to_vec(),
            quantiles,
        }
    }

    /// Every field of the full tier's result, by its formulas (no
    /// intervals, no notes).
    pub fn finish(&self) -> RegressionFull {
        let w = self.total_weight().value();
        let sums = RegressionSums {
            weight: w,
            squared: self.wrr.value(),
            absolute: self.wabs.value(),
            max_abs: if self.rows > 0 {
                self.residual_min.abs().max(self.residual_max.abs())
            } else {
                0.0
            },
            // Two distinct labels make the exact total positive; the
            // rounded one is checked too (a weight·label² may underflow).
            total_sum_of_squares: (self.rows > 0 && self.label_min < self.label_max)
                .then(|| self.total_sum_of_squares()),
        };
        RegressionFull {
            metrics: sums.metrics(),
            residuals: self.residual_summary(w),
            notes: Vec::new(),
        }
    }

    /// Writes the state canonically: the row count; when rows count, Σw
    /// (weighted states), the five other exact sums, the label extremes, a
    /// byte 0 (exact residuals) or 1 (sketch, then the residual extremes),
    /// and the entries: their number, the first key zigzag-encoded and each
    /// next as its (positive) difference from the one before, each with its
    /// row count, as varints.
    pub fn encode(&self, w: &mut Writer) {
        w.varint(self.rows);
        if self.rows == 0 {
            return;
        }
        if self.weighted {
            w.exact(&self.weight);
        }
        for s in [&self.wy, &self.wyy, &self.wr, &self.wrr, &self.wabs] {
            w.exact(s);
        }
        w.f64(self.label_min);
        w.f64(self.label_max);
        w.u8(self.residuals.sketch as u8);
        if self.residuals.sketch {
            w.f64(self.residual_min);
            w.f64(self.residual_max);
        }
        w.len(self.residuals.entries.len());
        let mut prev: Option<i64> = None;
        for &(key, count) in &self.residuals.entries {
            match prev {
                None => w.varint(((key << 1) ^ (key >> 63)) as u64),
                Some(p) => w.varint(key.wrapping_sub(p) as u64),
            }
            prev = Some(key);
            w.varint(count);
        }
    }

    /// Reads a state written by [`RegressionState::encode`], checking what
    /// a state of real rows satisfies: non-negative sums of squares and
    /// absolute values, a positive Σw, ordered extremes, keys that are
    /// finite residuals (or sketch buckets) strictly increasing, at most
    /// [`EXACT_LIMIT`] exact residuals, counts that add up to the rows and
    /// extremes that are the first and last residuals. Never panics.
    pub fn decode(r: &mut Reader, weighted: bool) -> Read<RegressionState> {
        let mut s = RegressionState::new(weighted);
        s.rows = r.varint("the regression row count")?;
        if s.rows == 0 {
            return Ok(s);
        }
        if weighted {
            s.weight = r.exact("the regression weight sum")?;
            if s.weight.value() <= 0.0 {
                return Err("the regression weight sum is not positive".to_string());
            }
        }
        s.wy = r.exact("the sum of weight·label")?;
        s.wyy = r.exact("the sum of weight·label²")?;
        s.wr = r.exact("the sum of weighted residuals")?;
        s.wrr = r.exact("the sum of weighted squared residuals")?;
        s.wabs = r.exact("the sum of weighted absolute residuals")?;
        for (sum, what) in [
            (&s.wyy, "weight·label²"),
            (&s.wrr, "weighted squared residuals"),
            (&s.wabs, "weighted absolute residuals"),
        ] {
            if sum.value() < 0.0 {
                return Err(format!("the sum of {what} is negative"));
            }
        }
        s.label_min = r.f64("the smallest label")?;
        s.label_max = r.f64("the largest label")?;
        if s.label_min > s.label_max
            || is_negative_zero(s.label_min)
            || is_negative_zero(s.label_max)
        {
            return Err("the label extremes are out of order".to_string());
        }
        let sketch = match r.u8("the residual form")? {
            0 => false,
            1 => true,
            t => return Err(format!("the residual form is {t}, not 0 or 1")),
        };
        if sketch {
            s.residual_min = r.f64("the smallest residual")?;
            s.residual_max = r.f64("the largest residual")?;
            if s.residual_min > s.residual_max
                || is_negative_zero(s.residual_min)
                || is_negative_zero(s.residual_max)
            {
                return Err("the residual extremes are out of order".to_string());
            }
        }
        let n = r.len("the number of residual entries", r.remaining() / 2)?;
        if n == 0 {
            return Err("a regression state that counts rows has no residuals".to_string());
        }
        if !sketch && n > EXACT_LIMIT {
            return Err(format!(
                "{n} exact residuals, more than the {EXACT_LIMIT} a state keeps exactly"
            ));
        }
        let mut entries = Vec::with_capacity(n);
        let mut prev: Option<i64> = None;
        let mut total: u64 = 0;
        for i in 0..n {
            let v = r.varint("a residual key")?;
            let key = match prev {
                None => ((v >> 1) as i64) ^ -((v & 1) as i64),
                // Differences may pass i64::MAX (keys span the i64 range).
                Some(p) => match i64::try_from(p as i128 + v as i128) {
                    Ok(k) if v > 0 => k,
                    _ => return Err(format!("residual key {i} is not above the one before it")),
                },
            };
            prev = Some(key);
            let valid = if sketch {
                valid_bucket(key)
            } else {
                valid_exact(key)
            };
            if !valid {
                return Err(format!("residual key {i} is not a finite residual"));
            }
            let count = r.varint("a residual count")?;
            total = total
                .checked_add(count)
                .filter(|_| count > 0)
                .ok_or_else(|| format!("residual key {i} counts no row, or the counts overflow"))?;
            entries.push((key, count));
        }
        if total != s.rows {
            return Err(format!(
                "the residual counts add up to {total}, not the {} rows",
                s.rows
            ));
        }
        let (first, last) = (entries[0].0, entries[n - 1].0);
        if sketch {
            if bucket_key(s.residual_min) != first || bucket_key(s.residual_max) != last {
                return Err("the residual extremes are not in the first and last buckets".into());
            }
        } else {
            s.residual_min = exact_value(first);
            s.residual_max = exact_value(last);
        }
        s.residuals = ResidualCounts { sketch, entries };
        Ok(s)
    }
}

fn weightedness(weighted: bool) -> &'static str {
    if weighted { "weighted" } else { "unweighted" }
}

/// `-0.0` as `0.0` (one residual, one label; extremes stay order-free).
fn zero_to_positive(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x }
}

fn is_negative_zero(x: f64) -> bool {
    x == 0.0 && x.is_sign_negative()
}

fn add_nonzero(s: &mut ExactSum, x: f64) {
    if x != 0.0 {
        s.add(x);
    }
}

/// `a·b = hi + lo` exactly (unless it underflows), by a fused multiply-add.
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let hi = a * b;
    (hi, a.mul_add(b, -hi))
}

/// Accumulates `a·b` exactly (both parts of the two-product).
fn accumulate_product(acc: &mut Accumulator, a: f64, b: f64) {
    let (hi, lo) = two_product(a, b);
    acc.add(hi);
    acc.add(lo);
}

/// Adds `a·b` exactly (both parts of the two-product).
fn add_product(s: &mut ExactSum, a: f64, b: f64) {
    let (hi, lo) = two_product(a, b);
    add_nonzero(s, hi);
    add_nonzero(s, lo);
}

/// `⌊log₂ |x|⌋` of a finite nonzero `x`.
fn exponent(x: f64) -> i32 {
    let bits = x.abs().to_bits();
    let e = (bits >> 52) as i32;
    if e == 0 {
        63 - bits.leading_zeros() as i32 - 1074
    } else {
        e - 1023
    }
}

/// `x · 2^e`, exact unless it leaves the normal range.
fn scale(mut x: f64, mut e: i32) -> f64 {
    let pow2 = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// An order-preserving integer key of a residual (not `-0.0`).
fn exact_key(r: f64) -> i64 {
    let bits = r.to_bits() as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

/// The residual of an exact key.
fn exact_value(key: i64) -> f64 {
    let bits = if key < 0 { key ^ i64::MAX } else { key };
    f64::from_bits(bits as u64)
}

/// An exact key of a finite residual other than `-0.0`.
fn valid_exact(key: i64) -> bool {
    key != -1 && exact_value(key).is_finite()
}

/// The sketch bucket of a residual: 0 for zero, else its sign times one
/// more than its bits above [`SHIFT`] (exponent and top mantissa bits).
fn bucket_key(r: f64) -> i64 {
    if r == 0.0 {
        return 0;
    }
    let m = ((r.abs().to_bits() >> SHIFT) + 1) as i64;
    if r < 0.0 { -m } else { m }
}

/// A key of a bucket that holds finite residuals.
fn valid_bucket(key: i64) -> bool {
    key.unsigned_abs() <= MAX_BUCKET
}

/// The midpoint of a bucket (∞ for the topmost; the caller clamps).
fn bucket_midpoint(key: i64) -> f64 {
    if key == 0 {
        return 0.0;
    }
    let m = key.unsigned_abs();
    let lo = f64::from_bits((m - 1) << SHIFT);
    let hi = f64::from_bits(m << SHIFT);
    let mid = lo + (hi - lo) * 0.5;
    if key < 0 { -mid } else { mid }
}

/// Sorted `(key, count)` pairs with equal keys added up.
fn run_lengths(sorted: impl Iterator<Item = (i64, u64)>) -> Vec<(i64, u64)> {
    let mut out: Vec<(i64, u64)> = Vec::new();
    for (k, c) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 += c,
            _ => out.push((k, c)),
        }
    }
    out
}

/// Exact residual entries as sketch buckets (order-preserving).
fn to_sketch(entries: &[(i64, u64)]) -> Vec<(i64, u64)> {
    run_lengths(
        entries
            .iter()
            .map(|&(k, c)| (bucket_key(exact_value(k)), c)),
    )
}

/// The residual counts of the union of two sets of rows: exact while the
/// union has at most [`EXACT_LIMIT`] distinct residuals, else the sketch
/// (the same whatever the order of the merges).
fn merge_counts(a: &ResidualCounts, b: &ResidualCounts) -> ResidualCounts {
    if !a.sketch && !b.sketch {
        let merged = merge_sorted(&a.entries, &b.entries);
        if merged.len() <= EXACT_LIMIT {
            return ResidualCounts {
                sketch: false,
                entries: merged,
            };
        }
        return ResidualCounts {
            sketch: true,
            entries: to_sketch(&merged),
        };
    }
    let (sa, sb) = (sketch_entries(a), sketch_entries(b));
    ResidualCounts {
        sketch: true,
        entries: merge_sorted(&sa, &sb),
    }
}

/// The entries of residual counts as sketch buckets.
fn sketch_entries(c: &ResidualCounts) -> std::borrow::Cow<'_, [(i64, u64)]> {
    if c.sketch {
        std::borrow::Cow::Borrowed(&c.entries)
    } else {
        std::borrow::Cow::Owned(to_sketch(&c.entries))
    }
}

/// Two key-sorted entry lists merged (equal keys add up).
fn merge_sorted(a: &[(i64, u64)], b: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0 == y.0 {
            out.push((x.0, x.1 + y.1));
            i += 1;
            j += 1;
        } else if x.0 < y.0 {
            out.push(x);
            i += 1;
        } else {
            out.push(y);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_order_of_residuals() {
        let values = [
            -f64::MAX,
            -1e100,
            -1.5,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            1.0 + f64::EPSILON,
            1e100,
            f64::MAX,
        ];
        for pair in values.windows(2) {
            assert!(exact_key(pair[0]) < exact_key(pair[1]), "{pair:?}");
            assert!(bucket_key(pair[0]) <= bucket_key(pair[1]), "{pair:?}");
        }
        for &v in &values {
            assert_eq!(exact_value(exact_key(v)).to_bits(), v.to_bits());
            assert!(valid_exact(exact_key(v)) && valid_bucket(bucket_key(v)));
            // The midpoint is within the relative error of any value in
            // its bucket (normal values; ±MAX's bucket midpoint overflows
            // and is clamped by the caller).
            if v.abs() >= f64::MIN_POSITIVE && v.abs() < 1e300 {
                let mid = bucket_midpoint(bucket_key(v));
                assert!((mid - v).abs() <= RELATIVE_ERROR * v.abs(), "{v} vs {mid}");
            }
        }
        assert!(!valid_exact(-1) && !valid_exact(exact_key(f64::INFINITY)));
        assert!(!valid_bucket(bucket_key(f64::INFINITY)));
        assert_eq!(bucket_key(1.0), bucket_key(1.0 + 1.0 / 1024.0));
        assert_ne!(bucket_key(1.0), bucket_key(1.0 + 1.0 / 512.0));
    }

    #[test]
    fn scaling_and_exponents_are_exact() {
        for &x in &[1.0, 3.0, 1e-310, 5e-324, 1e300, -7.5, f64::MAX] {
            let e = exponent(x);
            let m = scale(x, -e).abs();
            assert!((1.0..2.0).contains(&m), "{x}: {e} {m}");
            assert_eq!(scale(scale(x, -e), e), x);
        }
    }

    #[test]
    fn the_total_sum_of_squares_survives_huge_offsets() {
        // Labels 1e8 + {0, 1, 2, 3}: Σ(y − ȳ)² = 5 exactly.
        let labels: Vec<f64> = (0..4).map(|i| 1e8 + i as f64).collect();
        let mut s = RegressionState::new(false);
        s.update(
            &Floats::from(labels.clone()),
            &Floats::from(vec![0.0; 4]),
            None,
        );
        assert_eq!(s.total_sum_of_squares(), 5.0);
        let mut w = RegressionState::new(true);
        w.update(
            &Floats::from(labels),
            &Floats::from(vec![0.0; 4]),
            Some(&Floats::from(vec![0.5, 0.5, 0.5, 0.5])),
        );
        assert_eq!(w.total_sum_of_squares(), 2.5);
    }
}
