//! Seeded, counter-based random numbers.
//!
//! Every random draw in evalkit is a pure function of `(seed, stream,
//! counter)`: the same seed gives the same sample or resample whatever the
//! thread count or the order work is done in. The mixer is SplitMix64's
//! finaliser (Steele, Lea & Flood 2014), applied to a combination of the
//! three inputs; it passes BigCrush as a counter-based generator.

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The random 64-bit word number `counter` of stream `stream` under `seed`.
#[inline(always)]
pub fn word(seed: u64, stream: u64, counter: u64) -> u64 {
    keyed_word(stream_key(seed, stream), counter)
}

/// The key of stream `stream` under `seed` (hoist it out of loops over
/// counters).
#[inline(always)]
pub fn stream_key(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_add(GOLDEN)))
}

/// Word number `counter` of the stream with key `key`:
/// `word(seed, stream, c) == keyed_word(stream_key(seed, stream), c)`.
#[inline(always)]
pub fn keyed_word(key: u64, counter: u64) -> u64 {
    mix64(key.wrapping_add(counter.wrapping_mul(GOLDEN)))
}

/// A uniform number in [0, 1) with 53 random bits, from a word.
#[inline(always)]
pub fn unit(word: u64) -> f64 {
    (word >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A sequential generator over one stream: draw `i` is `word(seed, stream, i)`.
#[derive(Debug, Clone)]
pub struct Stream {
    /// `stream_key(seed, stream)`, mixed once.
    key: u64,
    counter: u64,
}

impl Stream {
    /// Stream `stream` under `seed`.
    pub fn new(seed: u64, stream: u64) -> Stream {
        Stream {
            key: stream_key(seed, stream),
            counter: 0,
        }
    }

    /// The next 64-bit word.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let w = keyed_word(self.key, self.counter);
        self.counter += 1;
        w
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias
    /// (Lemire's multiply-and-reject).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = (self.next_u64() as u128) * (n as u128);
        // The rejection threshold `2^64 mod n` is below `n`, so the division
        // that computes it is only needed when the low word is below `n`.
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }
}

/// `k` distinct integers from `0..n`, uniformly (Floyd's algorithm),
/// returned sorted. `k` is capped at `n`.
pub fn choose_sorted(rng: &mut Stream, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    if k == n {
        return (0..n).collect();
    }
    if n / 64 <= k.saturating_mul(64) {
        choose_by_bitmap(rng, n, k)
    } else {
        choose_by_set(rng, n, k)
    }
}

/// Floyd's algorithm: for `j` in `n-k..n`, draw `t` in `0..=j` and take it,
/// or `j` when `t` was taken already. `insert` returns false for a value
/// already taken.
fn floyd(rng: &mut Stream, n: u64, k: u64, mut insert: impl FnMut(u64) -> bool) {
    for j in (n - k)..n {
        let t = rng.below(j + 1);
        if !insert(t) {
            insert(j);
        }
    }
}

/// Floyd's algorithm over a bitmap of `n` bits: small next to the sample,
/// membership is one bit, and reading the bitmap out gives the rows sorted.
fn choose_by_bitmap(rng: &mut Stream, n: u64, k: u64) -> Vec<u64> {
    let mut bits = vec![0u64; n.div_ceil(64) as usize];
    floyd(rng, n, k, |t| {
        let (w, b) = ((t / 64) as usize, 1u64 << (t % 64));
        let fresh = bits[w] & b == 0;
        bits[w] |= b;
        fresh
    });
    let mut v = Vec::with_capacity(k as usize);
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            v.push(w as u64 * 64 + word.trailing_zeros() as u64);
            word &= word - 1;
        }
    }
    v
}

/// Floyd's algorithm over a hash set, for samples far smaller than `n`.
fn choose_by_set(rng: &mut Stream, n: u64, k: u64) -> Vec<u64> {
    let mut chosen = std::collections::HashSet::with_capacity(k as usize);
    floyd(rng, n, k, |t| chosen.insert(t));
    let mut v: Vec<u64> = chosen.into_iter().collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|i| word(7, 1, i)).collect();
        let b: Vec<u64> = (0..4).map(|i| word(7, 1, i)).collect();
        let mut s = Stream::new(7, 1);
        assert_eq!((0..4).map(|_| s.next_u64()).collect::<Vec<_>>(), a);
        let c: Vec<u64> = (0..4).map(|i| word(7, 2, i)).collect();
        let d: Vec<u64> = (0..4).map(|i| word(8, 1, i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn bitmap_and_hash_set_draw_the_same_rows() {
        // The same draws, so the same rows, whichever set holds them.
        for (n, k) in [
            (1, 0),
            (64, 1),
            (65, 64),
            (1000, 10),
            (700_001, 7_000),
            (1 << 20, 5),
        ] {
            for seed in 0..3 {
                let got = choose_by_bitmap(&mut Stream::new(seed, 1), n, k);
                let want = choose_by_set(&mut Stream::new(seed, 1), n, k);
                assert_eq!(got, want, "n={n} k={k} seed={seed}");
            }
        }
    }

    #[test]
    fn below_is_unbiased_at_the_rejection_edge() {
        // n = 2^63 + 1 rejects almost half of the words: every draw must
        // still land below n.
        let mut rng = Stream::new(5, 0);
        let n = (1u64 << 63) + 1;
        assert!((0..1000).all(|_| rng.below(n) < n));
        assert!((0..1000).all(|_| rng.below(1) == 0));
    }

    #[test]
    fn choose_is_uniform_enough() {
        // Each of 10 items should be chosen about 3/10 of the time.
        let mut counts = [0u32; 10];
        let mut rng = Stream::new(1, 0);
        for _ in 0..20_000 {
            let v = choose_sorted(&mut rng, 10, 3);
            assert_eq!(v.len(), 3);
            assert!(v.windows(2).all(|w| w[0] < w[1]));
            for x in v {
                counts[x as usize] += 1;
            }
        }
        for c in counts {
            assert!((5_700..6_300).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn unit_is_in_range() {
        assert_eq!(unit(0), 0.0);
        assert!(unit(u64::MAX) < 1.0);
    }
}
