//! A float column that is either `f32` or `f64`, kept in the width it was
//! stored in (no widening copy), zero-copy over an Arrow buffer.

use arrow::buffer::ScalarBuffer;

/// A float type a column may hold: `f32` or `f64`. Metric code is generic
/// over it and computes in `f64`.
pub trait Float: Copy + Send + Sync + PartialOrd + std::fmt::Debug + 'static {
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
    /// A `u64` whose unsigned order is the order of the values, for values
    /// that are not NaN. `-0.0` and `0.0` get the same key.
    fn order_key(self) -> u64;
}

impl Float for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn order_key(self) -> u64 {
        let bits = if self == 0.0 { 0 } else { self.to_bits() };
        // Flip all bits of negatives, only the sign bit of positives.
        let flipped = if bits >> 31 == 1 {
            !bits
        } else {
            bits | (1 << 31)
        };
        flipped as u64
    }
}

impl Float for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn order_key(self) -> u64 {
        let bits = if self == 0.0 { 0 } else { self.to_bits() };
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        }
    }
}

/// A column of `f32` or `f64` values.
#[derive(Debug, Clone, PartialEq)]
pub enum Floats {
    /// 32-bit floats.
    F32(ScalarBuffer<f32>),
    /// 64-bit floats.
    F64(ScalarBuffer<f64>),
}

impl Floats {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Floats::F32(v) => v.len(),
            Floats::F64(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`, widened to `f64`.
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Floats::F32(v) => v[i] as f64,
            Floats::F64(v) => v[i],
        }
    }

    /// "f32" or "f64".
    pub fn type_name(&self) -> &'static str {
        match self {
            Floats::F32(_) => "f32",
            Floats::F64(_) => "f64",
        }
    }

    /// All values widened to `f64` (a copy).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Floats::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Floats::F64(v) => v.to_vec(),
        }
    }

    /// Values `start..start+len` (zero-copy).
    pub fn slice(&self, start: usize, len: usize) -> Floats {
        match self {
            Floats::F32(v) => Floats::F32(v.slice(start, len)),
            Floats::F64(v) => Floats::F64(v.slice(start, len)),
        }
    }

    /// The values at `rows`, in that order (a copy).
    pub fn gather(&self, rows: &[u32]) -> Floats {
        match self {
            Floats::F32(v) => Floats::F32(rows.iter().map(|&r| v[r as usize]).collect()),
            Floats::F64(v) => Floats::F64(rows.iter().map(|&r| v[r as usize]).collect()),
        }
    }
}

impl From<Vec<f64>> for Floats {
    fn from(v: Vec<f64>) -> Floats {
        Floats::F64(ScalarBuffer::from(v))
    }
}

impl From<Vec<f32>> for Floats {
    fn from(v: Vec<f32>) -> Floats {
        Floats::F32(ScalarBuffer::from(v))
    }
}

/// Runs `$body` with `$s` bound to the column's native slice (`&[f32]` or
/// `&[f64]`), so generic code is monomorphised for both widths.
#[macro_export]
#[doc(hidden)]
macro_rules! with_floats {
    ($floats:expr, $s:ident => $body:expr) => {
        match $floats {
            $crate::data::Floats::F32(buf) => {
                let $s: &[f32] = buf;
                $body
            }
            $crate::data::Floats::F64(buf) => {
                let $s: &[f64] = buf;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys_sort_like_values() {
        let mut v: Vec<f64> = vec![
            -f64::INFINITY,
            -1e300,
            -1.0,
            -1e-300,
            -0.0,
            0.0,
            1e-310,
            0.25,
            0.5,
            1.0,
            2.0,
            f64::INFINITY,
        ];
        let keys: Vec<u64> = v.iter().map(|x| x.order_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((-0.0f64).order_key(), 0.0f64.order_key());
        v.reverse();
        let k32: Vec<u64> = v.iter().map(|&x| (x as f32).order_key()).collect();
        assert!(k32.windows(2).all(|w| w[0] >= w[1]));
    }
}
