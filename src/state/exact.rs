//! An exact sum of `f64` values, whatever their order.
//!
//! A float sum depends on the order of its terms; a state that is merged in
//! any tree over any split of the rows must not. [`ExactSum`] keeps the sum
//! as non-overlapping partials whose total is the exact real sum of every
//! value added (Shewchuk's algorithm, as Python's `math.fsum`), and
//! [`ExactSum::value`] rounds that exact total once, to nearest, ties to
//! even. Adding values or merging sums in any order, any grouping, gives
//! the same exact total and so the same `value()`, bit for bit.
//!
//! Values must be finite and their partial totals must stay within the
//! range of `f64` (the readers bound weights and values so they do).

/// The exact sum of the `f64` values added to it. Two sums are equal when
/// their exact totals are (their partials may differ).
///
/// The largest partial lives inline and the rest in a vector that stays
/// unallocated while the sum is one `f64` (a histogram group of one row,
/// or rows whose sum rounds to nothing): most sums in a state never touch
/// the heap.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    /// The largest partial (0 for an empty sum).
    hi: f64,
    /// The other non-overlapping partials, increasing in magnitude, all
    /// smaller than `hi`.
    lo: Vec<f64>,
}

impl ExactSum {
    /// An empty sum (0).
    pub fn new() -> ExactSum {
        ExactSum::default()
    }

    /// The sum of `x` alone.
    pub fn of(x: f64) -> ExactSum {
        ExactSum {
            hi: x,
            lo: Vec::new(),
        }
    }

    /// The total when one double holds it exactly as the sum's only
    /// partial (`None` may also be said of a total one double could hold).
    pub fn single(&self) -> Option<f64> {
        self.lo.is_empty().then_some(self.hi)
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        // Shewchuk's grow-expansion over the partials `lo ++ [hi]`, writing
        // the non-zero low parts back in place.
        let mut x = x;
        let mut i = 0;
        for j in 0..self.lo.len() {
            let mut y = self.lo[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.lo[i] = lo;
                i += 1;
            }
            x = hi;
        }
        let mut y = self.hi;
        if x.abs() < y.abs() {
            std::mem::swap(&mut x, &mut y);
        }
        let hi = x + y;
        let lo = y - (hi - x);
        if lo != 0.0 {
            if i < self.lo.len() {
                self.lo[i] = lo;
            } else {
                self.lo.push(lo);
            }
            i += 1;
        }
        self.lo.truncate(i);
        self.hi = hi;
    }

    /// The partials, smallest first.
    fn partials(&self) -> impl DoubleEndedIterator<Item = f64> + '_ {
        self.lo.iter().copied().chain(std::iter::once(self.hi))
    }

    /// Adds another exact sum.
    pub fn merge(&mut self, other: &ExactSum) {
        for p in other.partials() {
            self.add(p);
        }
    }

    /// The exact total, rounded once to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        // The partials from the largest down, without copying them (the
        // binary state reads a running sum at every distinct score).
        let mut rest = self.partials().rev();
        let Some(mut hi) = rest.next() else {
            return 0.0;
        };
        let mut lo = 0.0;
        for y in rest.by_ref() {
            let x = hi;
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even when the rest of the partials push `lo` past
        // the halfway point (as math.fsum does).
        if let Some(next) = rest.next()
            && ((lo < 0.0 && next < 0.0) || (lo > 0.0 && next > 0.0))
        {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }

    /// The exact total as a canonical expansion: its value rounded to the
    /// nearest `f64`, then the rest rounded, and so on while a rest is left
    /// (largest first). Equal totals give equal parts, whatever partials
    /// built them: what the state encoding writes.
    pub fn canonical(&self) -> Vec<f64> {
        let mut rest = self.clone();
        let mut parts = Vec::new();
        // Each part takes at least 53 bits of the total; 2100 bits span
        // every f64, so 40 parts always suffice.
        for _ in 0..40 {
            let v = rest.value();
            if v == 0.0 {
                break;
            }
            parts.push(v);
            rest.add(-v);
        }
        parts
    }

    /// True when nothing but zeros was added.
    pub fn is_zero(&self) -> bool {
        self.partials().all(|p| p == 0.0)
    }
}

impl PartialEq for ExactSum {
    fn eq(&self, other: &ExactSum) -> bool {
        // Non-overlapping partials total exactly 0 only when all are 0.
        let mut d = self.clone();
        for p in other.partials() {
            d.add(-p);
        }
        d.is_zero()
    }
}

/// Chunks of [`Accumulator`]: 32 bits each, from 2⁻¹⁰⁷⁴ (the least
/// significant bit of a subnormal) past 2¹⁰²⁴, with room for a 53-bit
/// significand shifted by up to 31 bits into the top chunk.
const CHUNKS: usize = 67;
/// Additions after which [`Accumulator`] propagates its carries: each adds
/// less than 2³² to a chunk, so 2³⁰ of them cannot overflow an `i64`.
const CARRY_EVERY: u32 = 1 << 30;

/// A fast exact accumulator for many additions, flushed into an
/// [`ExactSum`] ([`ExactSum::add_accumulator`]): a "small
/// superaccumulator" (R. M. Neal, *Fast exact summation using small and
/// large superaccumulators*, 2015). A value's significand is added, as
/// integers, into the 32-bit chunks its bits fall in; no rounding happens
/// anywhere, so the total is exact and independent of the order of the
/// additions. An addition is a few integer operations, without the
/// branches and the loop of [`ExactSum::add`]: the states sum their rows
/// here and merge as [`ExactSum`]s.
///
/// Values must be finite (as for [`ExactSum`]).
#[derive(Clone)]
pub struct Accumulator {
    /// Chunk `k` counts units of 2^(32k − 1074); signed, carries pending.
    chunks: [i64; CHUNKS],
    /// Additions since the carries were last propagated.
    pending: u32,
}

impl Default for Accumulator {
    fn default() -> Accumulator {
        Accumulator::new()
    }
}

impl Accumulator {
    /// An empty accumulator (0).
    pub fn new() -> Accumulator {
        Accumulator {
            chunks: [0; CHUNKS],
            pending: 0,
        }
    }

    /// Adds `x` (finite) exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as u32;
        debug_assert!(exponent < 0x7ff, "exact sums take finite values");
        let fraction = bits & ((1 << 52) - 1);
        // value = significand · 2^(position − 1074)
        let (significand, position) = if exponent == 0 {
            (fraction, 0)
        } else {
            (fraction | (1 << 52), exponent - 1)
        };
        let shifted = (significand as u128) << (position & 31);
        let k = (position >> 5) as usize;
        // Two's-complement negation without a branch: (p ^ s) − s.
        let sign = (bits as i64) >> 63;
        let part = |p: u64| ((p as i64) ^ sign) - sign;
        self.chunks[k] += part(shifted as u64 & 0xffff_ffff);
        self.chunks[k + 1] += part((shifted >> 32) as u64 & 0xffff_ffff);
        self.chunks[k + 2] += part((shifted >> 64) as u64);
        self.pending += 1;
        if self.pending == CARRY_EVERY {
            self.carry();
        }
    }

    /// Propagates carries so every chunk but the last is in [−2³¹, 2³¹):
    /// balanced digits, so a negative total keeps the top chunks at 0.
    fn carry(&mut self) {
        for k in 0..CHUNKS - 1 {
            let c = self.chunks[k];
            let digit = (c << 32) >> 32;
            self.chunks[k] = digit;
            self.chunks[k + 1] += (c - digit) >> 32;
        }
        self.pending = 0;
    }
}

/// 2^e, exactly, for −1074 ≤ e ≤ 1023.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1074..=1023).contains(&e));
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// x · 2^e for an integer `x` below 2³² and −1074 ≤ e < 1100: exact while
/// the product is finite (the top chunks' exponents pass 1023).
fn scaled(x: f64, e: i32) -> f64 {
    if e > 1023 {
        x * pow2(e - 128) * pow2(128)
    } else {
        x * pow2(e)
    }
}

impl ExactSum {
    /// Adds the total of an [`Accumulator`] exactly: each chunk as two
    /// pieces of its magnitude's bits, at most 32 significant bits each,
    /// which are `f64`s exactly (and no larger than the chunk).
    pub fn add_accumulator(&mut self, acc: &Accumulator) {
        for (k, &c) in acc.chunks.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let e = 32 * k as i32 - 1074;
            let (sign, m) = (c.signum() as f64, c.unsigned_abs());
            let lo = sign * (m & 0xffff_ffff) as f64;
            let hi = sign * (m >> 32) as f64;
            if lo != 0.0 {
                self.add(scaled(lo, e));
            }
            if hi != 0.0 {
                self.add(scaled(hi, e + 32));
            }
        }
    }
}

/// An exact sum of many terms with one bucket per binary exponent: a
/// term's signed significand is added, as an integer, to its exponent's
/// `i128` bucket (2⁷⁴ additions before one could overflow), one addition
/// instead of [`Accumulator`]'s three chunk updates. 2,048 buckets (32 KB)
/// stay in the first-level cache; [`TermSum::exact`] turns the nonzero
/// ones into an [`ExactSum`]. For the sums over a ranking table's distinct
/// scores (`metrics::curves`, `uncertainty::delong`), which are local to
/// one pass; states keep [`ExactSum`]s.
///
/// Values must be finite (as for [`ExactSum`]).
#[derive(Clone)]
pub struct TermSum {
    buckets: Box<[i128; 2048]>,
}

impl Default for TermSum {
    fn default() -> TermSum {
        TermSum::new()
    }
}

impl TermSum {
    /// An empty sum (0).
    pub fn new() -> TermSum {
        TermSum {
            buckets: Box::new([0; 2048]),
        }
    }

    /// Adds `x` (finite) exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as usize;
        debug_assert!(exponent < 0x7ff, "exact sums take finite values");
        let fraction = bits & ((1 << 52) - 1);
        // value = significand · 2^(max(exponent, 1) − 1075): subnormals
        // (exponent 0) share the scale of exponent 1, without the hidden bit.
        let significand = if exponent == 0 {
            fraction
        } else {
            fraction | (1 << 52)
        } as i128;
        let sign = ((bits as i64) >> 63) as i128;
        self.buckets[exponent.max(1)] += (significand ^ sign) - sign;
    }

    /// The exact total: each nonzero bucket as four pieces of at most 32
    /// bits of its magnitude, each an `f64` exactly once scaled.
    pub fn exact(&self) -> ExactSum {
        let mut out = ExactSum::new();
        for (e, &b) in self.buckets.iter().enumerate() {
            if b == 0 {
                continue;
            }
            let (sign, m) = (if b < 0 { -1.0 } else { 1.0 }, b.unsigned_abs());
            for k in 0..4 {
                let piece = ((m >> (32 * k)) & 0xffff_ffff) as f64;
                if piece != 0.0 {
                    out.add(scaled(sign * piece, e as i32 - 1075 + 32 * k));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(values: &[f64]) -> f64 {
        let mut s = ExactSum::new();
        for &v in values {
            s.add(v);
        }
        s.value()
    }

    #[test]
    fn sums_exactly_where_floats_round() {
        assert_eq!(sum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(sum(&[0.1; 10]), 1.0);
        assert_eq!(sum(&[]), 0.0);
        // Python: math.fsum([1e-16, 1, 1e16]) == 1.0000000000000002e16
        assert_eq!(sum(&[1e-16, 1.0, 1e16]), 1.0000000000000002e16);
    }

    #[test]
    fn order_and_grouping_do_not_change_the_value() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let n = (next() % 60) as usize + 1;
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    let m = (next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    m * 10f64.powi((next() % 30) as i32 - 15)
                })
                .collect();
            let want = sum(&values);
            let mut reversed = values.clone();
            reversed.reverse();
            assert_eq!(sum(&reversed).to_bits(), want.to_bits());
            let cut = (next() as usize) % n;
            let (mut a, mut b) = (ExactSum::new(), ExactSum::new());
            values[..cut].iter().for_each(|&v| a.add(v));
            values[cut..].iter().for_each(|&v| b.add(v));
            b.merge(&a);
            assert_eq!(b.value().to_bits(), want.to_bits());
            let mut whole = ExactSum::new();
            values.iter().for_each(|&v| whole.add(v));
            assert_eq!(b, whole);
            assert_eq!(b.canonical(), whole.canonical());
            let mut again = ExactSum::new();
            whole.canonical().iter().for_each(|&v| again.add(v));
            assert_eq!(again, whole);
            whole.add(1e-300);
            assert_ne!(b, whole);
        }
    }

    #[test]
    fn the_accumulators_sum_exactly_as_exact_sum_does() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let specials = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-310,
            f64::MAX / 4.0,
            -f64::MAX / 4.0,
            1.0,
            -1.0,
            0.1,
        ];
        for round in 0..300 {
            let n = (next() % 200) as usize + 1;
            let values: Vec<f64> = (0..n)
                .map(|_| match next() % 4 {
                    0 => specials[(next() % specials.len() as u64) as usize],
                    1 => f64::from_bits(next() >> 2) * if next() & 1 == 1 { -1.0 } else { 1.0 },
                    _ => {
                        let m = (next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        m * 10f64.powi((next() % 40) as i32 - 20)
                    }
                })
                .filter(|v| v.abs() < f64::MAX / 1024.0)
                .collect();
            let mut want = ExactSum::new();
            values.iter().for_each(|&v| want.add(v));
            let mut acc = Accumulator::new();
            values.iter().for_each(|&v| acc.add(v));
            if round % 3 == 0 {
                acc.carry();
            }
            let mut got = ExactSum::new();
            got.add_accumulator(&acc);
            assert_eq!(got, want, "{values:?}");
            assert_eq!(got.value().to_bits(), want.value().to_bits());
            // The per-exponent buckets give the same exact total.
            let mut terms = TermSum::new();
            values.iter().for_each(|&v| terms.add(v));
            assert_eq!(terms.exact(), want, "{values:?}");
            assert_eq!(terms.exact().value().to_bits(), want.value().to_bits());
        }
        // Carries: many additions of the largest chunk values.
        let mut acc = Accumulator::new();
        let mut want = ExactSum::new();
        for i in 0..100_000u32 {
            let v = f64::from_bits(0x3FEF_FFFF_FFFF_FFFF) * if i % 7 == 0 { -1.0 } else { 1.0 };
            acc.add(v);
            want.add(v);
        }
        acc.carry();
        let mut got = ExactSum::new();
        got.add_accumulator(&acc);
        assert_eq!(got, want);
    }
}
