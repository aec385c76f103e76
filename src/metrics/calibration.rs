//! Calibration: reliability bins and the expected calibration error (ECE).
//!
//! 15 equal-width bins on [0, 1], edges `i / 15`. A probability `p` falls in
//! bin `b` when `edge[b] < p <= edge[b+1]` (bin 0 also takes `p = 0`): the
//! convention of scikit-learn's `calibration_curve(strategy="uniform")`,
//! which bins with `searchsorted(edges[1:-1], p)`.
//!
//! `ECE = Σ_b (W_b / W) · |observed_b − predicted_b|`, where `W_b` is the
//! weight (row count without weights) in bin `b`, `observed_b` the weighted
//! fraction of positives (binary) or of correct predictions (multiclass, on
//! the top class), and `predicted_b` the weighted mean probability.

/// Number of reliability bins (docs/spec.md §3).
pub const BINS: usize = 15;

/// One reliability bin.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bin {
    /// Lower edge (exclusive, except 0 for the first bin).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Rows in the bin.
    pub count: u64,
    /// Weight in the bin (equal to `count` without weights).
    pub weight: f64,
    /// Weighted mean predicted probability; `None` for an empty bin.
    pub mean_predicted: Option<f64>,
    /// Weighted fraction of positives (or of correct top-class
    /// predictions); `None` for an empty bin.
    pub observed: Option<f64>,
}

/// Running sums for the bins; merge partial sums in a fixed order to keep
/// results independent of the thread count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinSums {
    count: [u64; BINS],
    weight: [f64; BINS],
    predicted: [f64; BINS],
    observed: [f64; BINS],
}

impl Default for BinSums {
    fn default() -> Self {
        BinSums {
            count: [0; BINS],
            weight: [0.0; BINS],
            predicted: [0.0; BINS],
            observed: [0.0; BINS],
        }
    }
}

/// The bin of a probability in [0, 1] (see the module docs).
#[inline]
pub fn bin_of(p: f64) -> usize {
    // Guess from p·15 (truncated: `ceil` is a library call on the baseline
    // x86-64 target), then settle against the exact edges i/15; the loops
    // reach the one bin whatever the guess.
    let mut b = ((p * BINS as f64) as usize).min(BINS - 1);
    while b > 0 && edge(b) >= p {
        b -= 1;
    }
    while b < BINS - 1 && edge(b + 1) < p {
        b += 1;
    }
    b
}

#[inline]
fn edge(i: usize) -> f64 {
    i as f64 / BINS as f64
}

impl BinSums {
    /// Adds one row: predicted probability `p`, outcome `hit` (1 for a
    /// positive / correct prediction), weight `w`.
    #[inline]
    pub fn add(&mut self, p: f64, hit: bool, w: f64) {
        let b = bin_of(p);
        self.count[b] += 1;
        self.weight[b] += w;
        self.predicted[b] += w * p;
        if hit {
            self.observed[b] += w;
        }
    }

    /// The bins from their parts: per bin the row count, Σw, Σw·p and
    /// Σw·hit (for a state finished from exact sums).
    pub fn from_parts(
        count: [u64; BINS],
        weight: [f64; BINS],
        predicted: [f64; BINS],
        observed: [f64; BINS],
    ) -> BinSums {
        BinSums {
            count,
            weight,
            predicted,
            observed,
        }
    }

    /// Adds another set of sums into this one.
    pub fn merge(&mut self, other: &BinSums) {
        for b in 0..BINS {
            self.count[b] += other.count[b];
            self.weight[b] += other.weight[b];
            self.predicted[b] += other.predicted[b];
            self.observed[b] += other.observed[b];
        }
    }

    /// The bins.
    pub fn bins(&self) -> Vec<Bin> {
        (0..BINS)
            .map(|b| {
                let w = self.weight[b];
                let filled = self.count[b] > 0 && w > 0.0;
                Bin {
                    lower: edge(b),
                    upper: edge(b + 1),
                    count: self.count[b],
                    weight: w,
                    mean_predicted: filled.then(|| self.predicted[b] / w),
                    observed: filled.then(|| self.observed[b] / w),
                }
            })
            .collect()
    }

    /// Expected calibration error ([`ece`] over the bins in order, the
    /// total weight their sum).
    pub fn ece(&self) -> f64 {
        let total: f64 = self.weight.iter().sum();
        ece(
            total,
            (0..BINS).map(|b| (self.weight[b], self.observed[b], self.predicted[b])),
        )
    }
}

/// The expected calibration error from its sufficient numbers: the total
/// weight `W` and, per bin, `(W_b, Σw·hit, Σw·p)`:
/// `Σ_b (W_b / W) · |hits_b / W_b − predicted_b / W_b|` over the bins with
/// weight, summed in the order given. The one formula of the point metrics
/// ([`BinSums::ece`]) and of the bootstrap replicates, which give their bins
/// in score order and their total as `positives + negatives` (each path
/// keeps the order and total it always had, so neither changes a bit).
pub fn ece(total: f64, bins: impl IntoIterator<Item = (f64, f64, f64)>) -> f64 {
    let mut ece = 0.0;
    for (w, observed, predicted) in bins {
        if w > 0.0 {
            ece += (w / total) * (observed / w - predicted / w).abs();
        }
    }
    ece
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_go_to_the_lower_bin() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(1.0 / 15.0), 0);
        assert_eq!(bin_of(f64::from_bits((1.0f64 / 15.0).to_bits() + 1)), 1);
        assert_eq!(bin_of(2.0 / 15.0), 1);
        assert_eq!(bin_of(0.5), 7);
        assert_eq!(bin_of(14.0 / 15.0), 13);
        assert_eq!(bin_of(1.0), 14);
        for i in 0..=10_000 {
            let p = i as f64 / 10_000.0;
            // searchsorted(edges[1:-1], p, side="left") = #interior edges < p
            let expected = (1..BINS).filter(|&e| edge(e) < p).count();
            assert_eq!(bin_of(p), expected, "p = {p}");
        }
        // A few ulps either side of every edge, in f64 and in f32.
        for e in 0..=BINS {
            let x = edge(e);
            let near = (-4i64..=4)
                .map(|d| f64::from_bits((x.to_bits() as i64 + d).max(0) as u64))
                .chain((-4i32..=4).map(|d| {
                    f32::from_bits(((x as f32).to_bits() as i32 + d).max(0) as u32) as f64
                }));
            for p in near.filter(|p| (0.0..=1.0).contains(p)) {
                let expected = (1..BINS).filter(|&e| edge(e) < p).count();
                assert_eq!(bin_of(p), expected, "p = {p:e}");
            }
        }
    }
}
