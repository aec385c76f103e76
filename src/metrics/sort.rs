//! The one sort of the full tier: rows in descending score order.
//!
//! A most-significant-digit radix sort. One parallel pass scatters the items
//! into up to 2¹¹ buckets by the top varying bits of their key; then rayon
//! takes the buckets, and each is scattered again by its own top 8 varying
//! bits (into the first pass's buffer, so nothing more is allocated) until
//! it is small, when `sort_unstable` finishes it. Few buckets per pass keep
//! the scatter's write streams in cache: one pass into 2¹⁶ buckets spent
//! most of the sort in cache and TLB misses. Items are compared by their
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

/// Bits of the first, parallel pass.
const TOP_BITS: u32 = 11;
/// Bits of each later pass (within one bucket, on one thread).
const BUCKET_BITS: u32 = 8;
/// Below this size a plain sort is faster than bucketing.
const SMALL: usize = 1 << 15;
/// Below this size a bucket is finished by `sort_unstable`.
const LEAF: usize = 192;

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

fn descending<T: Ord>(a: &T, b: &T) -> std::cmp::Ordering {
    b.cmp(a)
}

/// The smallest and largest radix keys of `items` (not empty).
fn key_range<T: SortItem>(items: &[T]) -> (u64, u64) {
    items.iter().fold((u64::MAX, 0u64), |(lo, hi), t| {
        (lo.min(t.radix_key()), hi.max(t.radix_key()))
    })
}

/// How a pass buckets keys in `[min, max]` (`min < max`) into at most
/// `2^bits` buckets by their top varying bits: `(shift, base, buckets)`.
fn digit(min: u64, max: u64, bits: u32) -> (u32, u64, usize) {
    let varying = 64 - (min ^ max).leading_zeros();
    let shift = varying.saturating_sub(bits);
    let base = min >> shift;
    (shift, base, ((max >> shift) - base + 1) as usize)
}

/// Sorts `items` in descending order and returns them.
pub fn sort_descending<T: SortItem>(mut items: Vec<T>) -> Vec<T> {
    let n = items.len();
    if n <= SMALL {
        items.sort_unstable_by(descending);
        return items;
    }
    let (min, max) = items
        .par_chunks(1 << 16)
        .map(key_range)
        .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    if min == max {
        items.par_sort_unstable_by(descending);
        return items;
    }
    let (shift, base, buckets) = digit(min, max, TOP_BITS);
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

    // Each bucket, with the same range of `items` as its scratch space.
    let mut pairs: Vec<(&mut [T], &mut [T])> = Vec::with_capacity(buckets);
    let (mut rest, mut spare): (&mut [T], &mut [T]) = (&mut out, &mut items);
    for b in 0..buckets {
        let len = bucket_bounds[b + 1] - bucket_bounds[b];
        let (head, tail) = rest.split_at_mut(len);
        let (scratch, spare_tail) = spare.split_at_mut(len);
        if len > 1 {
            pairs.push((head, scratch));
        }
        rest = tail;
        spare = spare_tail;
    }
    pairs
        .into_par_iter()
        .with_max_len(1)
        .for_each(|(s, scratch)| sort_bucket(s, scratch));
    out
}

/// Sorts `items` descending, with `scratch` (as long) as working space:
/// scatters by the top [`BUCKET_BITS`] varying key bits and recurses, or
/// finishes a small or single-key bucket with `sort_unstable`.
fn sort_bucket<T: SortItem>(items: &mut [T], scratch: &mut [T]) {
    if items.len() <= LEAF {
        items.sort_unstable_by(descending);
        return;
    }
    let (min, max) = key_range(items);
    if min == max {
        items.sort_unstable_by(descending);
        return;
    }
    let (shift, base, buckets) = digit(min, max, BUCKET_BITS);
    let bucket_of = |t: &T| buckets - 1 - ((t.radix_key() >> shift) - base) as usize;
    let mut next = [0usize; 1 << BUCKET_BITS];
    for t in items.iter() {
        next[bucket_of(t)] += 1;
    }
    let mut at = 0;
    for slot in next.iter_mut().take(buckets) {
        let len = *slot;
        *slot = at;
        at += len;
    }
    let starts = next;
    for t in items.iter() {
        let b = bucket_of(t);
        scratch[next[b]] = *t;
        next[b] += 1;
    }
    items.copy_from_slice(scratch);
    // After the scatter `next[b]` is where bucket b ends.
    for b in 0..buckets {
        let (lo, hi) = (starts[b], next[b]);
        if hi - lo > 1 {
            sort_bucket(&mut items[lo..hi], &mut scratch[lo..hi]);
        }
    }
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

    #[test]
    fn every_item_type_and_skewed_keys_match_std_sort() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Float32 scores widened to f64 (29 trailing zero bits) with a label
        // bit, skewed towards 1 as a confident model's are.
        let keys: Vec<u64> = (0..400_000)
            .map(|_| {
                let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
                let p = (1.0 - u * u * u) as f32 as f64;
                (p.to_bits() << 1) | (next() & 1)
            })
            .collect();
        let mut want = keys.clone();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sort_descending(keys.clone()), want);
        // Few distinct keys, each with many weights.
        let pairs: Vec<(u64, u64)> = keys.iter().map(|&k| (k % 7, next() % 1000)).collect();
        let mut want = pairs.clone();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sort_descending(pairs), want);
        // Keys varying only in the low bits, then only in the top bit.
        check((0..100_000u32).map(|i| (next() & 0x3ff, i)).collect());
        check((0..100_000u32).map(|i| (next() & (1 << 63), i)).collect());
    }

    proptest! {
        #[test]
        fn buckets_match_std_sort(v in proptest::collection::vec((0u64..5000, 0u32..4), 0..3000)) {
            let mut want = v.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            let mut got = v.clone();
            let mut scratch = v;
            sort_bucket(&mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn small_inputs_match_std_sort(v in proptest::collection::vec((0u64..50, 0u32..10), 0..300)) {
            check(v);
        }
    }
}
