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
}
