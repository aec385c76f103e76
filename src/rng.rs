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
    seed: u64,
    stream: u64,
    counter: u64,
}

impl Stream {
    /// Stream `stream` under `seed`.
    pub fn new(seed: u64, stream: u64) -> Stream {
        Stream {
            seed,
            stream,
            counter: 0,
        }
    }

    /// The next 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        let w = word(self.seed, self.stream, self.counter);
        self.counter += 1;
        w
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias
    /// (Lemire's multiply-and-reject).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}

/// `k` distinct integers from `0..n`, uniformly (Floyd's algorithm),
/// returned sorted. `k` is capped at `n`.
pub fn choose_sorted(rng: &mut Stream, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    if k == n {
        return (0..n).collect();
    }
    let mut chosen = std::collections::HashSet::with_capacity(k as usize);
    for j in (n - k)..n {
        let t = rng.below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
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
        let c: Vec<u64> = (0..4).map(|i| word(7, 2, i)).collect();
        let d: Vec<u64> = (0..4).map(|i| word(8, 1, i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
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
