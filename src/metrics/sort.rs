//! The one sort of the full tier: rows in descending score order.
//!
//! One parallel radix pass scatters the items into up to 2¹⁶ buckets by the
//! top varying bits of their key, then rayon sorts the buckets (each small
//! enough to stay in cache) with `sort_unstable`. Items are compared by their
//! whole value (`Ord`), not only the key, so the result is one well-defined
//! order whatever the thread count: sums over a tie group are then
//! bit-identical from run to run.

use rayon::prelude::*;

/// An item to sort: its radix key is the most significant part of its order.
pub trait SortItem: Copy + Send + Sync + Ord {
    /// The leading 64 bits of the item's order.
    fn radix_key(&self) -> u64;
}

impl SortItem for u64 {
    #[inline(always)]
    fn radix_key(&self) -> u64 {
        *self
    }
}

impl SortItem for (u64, u64) {
    #[inline(always)]
    fn radix_key(&self) -> u64 {
        self.0
    }
}

impl SortItem for (u64, u32) {
    #[inline(always)]
    fn radix_key(&self) -> u64 {
        self.0
    }
}

const BUCKET_BITS: u32 = 16;
/// Below this size a plain sort is faster than bucketing.
const SMALL: usize = 1 << 15;

/// A raw pointer that may cross threads; every write through it goes to a
/// distinct index (see `sort_descending`).
#[derive(Clone, Copy)]
struct SharedOut<T>(*mut T);
unsafe impl<T: Send> Send for SharedOut<T> {}
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// The pointer (a method, so closures capture the whole wrapper).
    fn get(&self) -> *mut T {
        self.0
    }
}

/// Sorts `items` in descending order and returns them.
pub fn sort_descending<T: SortItem>(mut items: Vec<T>) -> Vec<T> {
    let n = items.len();
    if n <= SMALL {
        items.sort_unstable_by(|a, b| b.cmp(a));
        return items;
    }
    let (min, max) = items
        .par_chunks(1 << 16)
        .map(|c| {
            c.iter().fold((u64::MAX, 0u64), |(lo, hi), t| {
                (lo.min(t.radix_key()), hi.max(t.radix_key()))
            })
        })
        .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let varying = 64 - (min ^ max).leading_zeros();
    let shift = varying.saturating_sub(BUCKET_BITS);
    let base = min >> shift;
    let buckets = ((max >> shift) - base + 1) as usize;
    // Descending: the largest key goes to bucket 0.
    let bucket_of = |t: &T| buckets - 1 - ((t.radix_key() >> shift) - base) as usize;

    let threads = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(threads * 4).max(1 << 14);
    let histograms: Vec<Vec<u32>> = items
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0u32; buckets];
            for t in c {
                h[bucket_of(t)] += 1;
            }
            h
        })
        .collect();

    // Start offset of each (chunk, bucket): buckets in order, chunks in order
    // within a bucket.
    let mut starts: Vec<Vec<usize>> = vec![vec![0; buckets]; histograms.len()];
    let mut bucket_bounds = Vec::with_capacity(buckets + 1);
    let mut at = 0usize;
    for b in 0..buckets {
        bucket_bounds.push(at);
        for (c, h) in histograms.iter().enumerate() {
            starts[c][b] = at;
            at += h[b] as usize;
        }
    }
    bucket_bounds.push(at);
    debug_assert_eq!(at, n);

    let mut out: Vec<T> = Vec::with_capacity(n);
    let shared = SharedOut(out.as_mut_ptr());
    items
        .par_chunks(chunk)
        .zip(starts.into_par_iter())
        .for_each(|(c, mut next)| {
            for t in c {
                let b = bucket_of(t);
                // SAFETY: the offsets of different (chunk, bucket) pairs are
                // disjoint ranges of 0..n, sized by the histogram of exactly
                // these items, so every index is written once and in bounds.
                unsafe { shared.get().add(next[b]).write(*t) };
                next[b] += 1;
            }
        });
    // SAFETY: all n slots were written above.
    unsafe { out.set_len(n) };
    drop(items);

    // Sort each bucket.
    let mut slices: Vec<&mut [T]> = Vec::with_capacity(buckets);
    let mut rest: &mut [T] = &mut out;
    for b in 0..buckets {
        let len = bucket_bounds[b + 1] - bucket_bounds[b];
        let (head, tail) = rest.split_at_mut(len);
        if len > 1 {
            slices.push(head);
        }
        rest = tail;
    }
    slices
        .into_par_iter()
        .for_each(|s| s.sort_unstable_by(|a, b| b.cmp(a)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(v: Vec<(u64, u32)>) {
        let mut expected = v.clone();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sort_descending(v), expected);
    }

    #[test]
    fn large_inputs_match_std_sort() {
        let mut x = 0x2545F4914F6CDD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Wide keys, narrow keys (few distinct values), and one constant key.
        check((0..200_000u32).map(|i| (next(), i)).collect());
        check((0..200_000u32).map(|i| (next() % 100, i)).collect());
        check((0..100_000u32).map(|i| (42, i)).collect());
        let probs: Vec<(u64, u32)> = (0..300_000u32)
            .map(|i| (((next() >> 11) as f64 / (1u64 << 53) as f64).to_bits(), i))
            .collect();
        check(probs);
    }

    proptest! {
        #[test]
        fn small_inputs_match_std_sort(v in proptest::collection::vec((0u64..50, 0u32..10), 0..300)) {
            check(v);
        }
    }
}
