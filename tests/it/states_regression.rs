//! The regression state: any split of the rows into shards, merged in any
//! tree, finishes to bit-identical metrics and residual quantiles, and
//! those are the full tier's; the encoding is canonical and its decoder
//! never panics.

use evalkit::data::Floats;
use evalkit::full::regression::full;
use evalkit::metrics::regression::{RESIDUAL_PROBABILITIES, RegressionFull};
use evalkit::state::codec::{Reader, Writer};
use evalkit::state::regression::{EXACT_LIMIT, RELATIVE_ERROR, RegressionState};
use evalkit::uncertainty::IntervalOptions;

use crate::common::Rng;

struct Rows {
    labels: Vec<f64>,
    scores: Vec<f64>,
    weights: Option<Vec<f64>>,
}

/// Random regression rows: ties (values on a coarse grid), constant
/// labels, one row, huge offsets (1e6 + noise), spreads over many orders of
/// magnitude, weights with zeros sometimes (all zero now and then).
fn data(rng: &mut Rng) -> Rows {
    let n = if rng.below(15) == 0 {
        1
    } else {
        1 + rng.below(300)
    };
    let kind = rng.below(5);
    let offset = [0.0, 1e6, -3e8][rng.below(3)];
    let spread = 10f64.powi(rng.below(7) as i32 - 3);
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let (y, p) = match kind {
            // Ties: quarters in a small range.
            0 => (
                (rng.below(12) as f64 - 6.0) / 4.0,
                (rng.below(12) as f64 - 6.0) / 4.0,
            ),
            // Constant labels.
            1 => (offset + 2.5, offset + 2.5 + rng.normal() * spread),
            // Many orders of magnitude, signs mixed.
            2 => {
                let y = rng.normal() * 10f64.powi(rng.below(12) as i32 - 6);
                (y, y + rng.normal() * 10f64.powi(rng.below(12) as i32 - 6))
            }
            // Offset + noise, predictions near.
            _ => {
                let y = offset + rng.normal() * spread;
                (y, y + 0.3 * spread * rng.normal())
            }
        };
        labels.push(y);
        scores.push(p);
    }
    let weights = match rng.below(6) {
        0..=2 => None,
        3 if rng.below(6) == 0 => Some(vec![0.0; n]),
        _ => Some(
            (0..n)
                .map(|_| {
                    if rng.below(5) == 0 {
                        0.0
                    } else {
                        0.1 + 3.0 * rng.unit()
                    }
                })
                .collect(),
        ),
    };
    Rows {
        labels,
        scores,
        weights,
    }
}

fn floats(v: &[f64]) -> Floats {
    Floats::from(v.to_vec())
}

/// The rows at `idx` folded into a fresh state in two batches (a stream).
fn state_of(rng: &mut Rng, d: &Rows, idx: &[usize]) -> RegressionState {
    let pick = |v: &[f64]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
    let (y, p) = (pick(&d.labels), pick(&d.scores));
    let w = d.weights.as_deref().map(pick);
    let mut s = RegressionState::new(d.weights.is_some());
    let cut = rng.below(y.len() + 1);
    s.update(
        &floats(&y[..cut]),
        &floats(&p[..cut]),
        w.as_deref().map(|w| floats(&w[..cut])).as_ref(),
    );
    s.update(
        &floats(&y[cut..]),
        &floats(&p[cut..]),
        w.as_deref().map(|w| floats(&w[cut..])).as_ref(),
    );
    s
}

fn whole(d: &Rows) -> RegressionState {
    let mut s = RegressionState::new(d.weights.is_some());
    s.update(
        &floats(&d.labels),
        &floats(&d.scores),
        d.weights.as_deref().map(floats).as_ref(),
    );
    s
}

/// Splits the rows into `shards` random parts, a state per part, merged in
/// a random tree.
fn sharded(rng: &mut Rng, d: &Rows, shards: usize) -> RegressionState {
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); shards];
    for i in 0..d.labels.len() {
        parts[rng.below(shards)].push(i);
    }
    let mut states: Vec<RegressionState> = parts.iter().map(|p| state_of(rng, d, p)).collect();
    while states.len() > 1 {
        let i = rng.below(states.len());
        let a = states.swap_remove(i);
        let j = rng.below(states.len());
        states[j].merge(&a).unwrap();
    }
    states.pop().unwrap()
}

fn bytes(s: &RegressionState) -> Vec<u8> {
    let mut w = Writer::new();
    s.encode(&mut w);
    w.into_bytes()
}

fn decode(b: &[u8], weighted: bool) -> Result<RegressionState, String> {
    let mut r = Reader::new(b);
    let s = RegressionState::decode(&mut r, weighted)?;
    r.finish()?;
    Ok(s)
}

/// The finished metrics and residuals as JSON (bits of every number).
fn as_json(f: &RegressionFull) -> String {
    format!(
        "{} {}",
        serde_json::to_string(&f.metrics).unwrap(),
        serde_json::to_string(&f.residuals).unwrap()
    )
}

fn full_tier(d: &Rows) -> RegressionFull {
    full(
        &floats(&d.labels),
        &floats(&d.scores),
        d.weights.as_deref().map(floats).as_ref(),
        &IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        None,
        &|_, _| {},
    )
}

/// numpy's linear-interpolation quantile of sorted values.
fn numpy_quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The residuals of the rows with positive weight, sorted.
fn sorted_residuals(d: &Rows) -> Vec<f64> {
    let mut r: Vec<f64> = (0..d.labels.len())
        .filter(|&i| d.weights.as_ref().is_none_or(|w| w[i] > 0.0))
        .map(|i| d.labels[i] - d.scores[i])
        .map(|r| if r == 0.0 { 0.0 } else { r })
        .collect();
    r.sort_by(f64::total_cmp);
    r
}

#[test]
fn any_split_and_merge_tree_finishes_to_identical_bits() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..200 {
        let d = data(&mut rng);
        let one = whole(&d);
        let want = as_json(&one.finish());
        let want_bytes = bytes(&one);
        assert_eq!(as_json(&full_tier(&d)), want, "case {case}: full tier");
        for _ in 0..3 {
            let shards = 1 + rng.below(64);
            let merged = sharded(&mut rng, &d, shards);
            assert_eq!(merged, one, "case {case}: {shards} shards, state");
            assert_eq!(bytes(&merged), want_bytes, "case {case}: {shards} shards");
            assert_eq!(as_json(&merged.finish()), want, "case {case}: {shards}");
        }
    }
}

#[test]
fn exact_residual_quantiles_are_numpys_and_metrics_match_loops() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..200 {
        let d = data(&mut rng);
        let f = whole(&d).finish();
        let sorted = sorted_residuals(&d);
        assert_eq!(f.residuals.probabilities, RESIDUAL_PROBABILITIES.to_vec());
        if sorted.is_empty() {
            assert!(f.residuals.quantiles.iter().all(|q| q.is_nan()));
            continue;
        }
        for (&q, &got) in RESIDUAL_PROBABILITIES.iter().zip(&f.residuals.quantiles) {
            let want = numpy_quantile(&sorted, q);
            assert_eq!(got.to_bits(), want.to_bits(), "case {case} q {q}");
        }
        let max = sorted[0].abs().max(sorted[sorted.len() - 1].abs());
        assert_eq!(f.metrics.value("max_error"), Some(max), "case {case}");
        let w = |i: usize| d.weights.as_ref().map_or(1.0, |w| w[i]);
        let n = d.labels.len();
        let sw: f64 = (0..n).map(w).sum();
        let mse = (0..n)
            .map(|i| w(i) * (d.labels[i] - d.scores[i]).powi(2))
            .sum::<f64>()
            / sw;
        let bias = (0..n)
            .map(|i| w(i) * (d.labels[i] - d.scores[i]))
            .sum::<f64>()
            / sw;
        let got = f.metrics.value("mse").unwrap();
        assert!(
            (got - mse).abs() <= 1e-12 * mse,
            "case {case}: {got} vs {mse}"
        );
        let scale = (0..n)
            .map(|i| (d.labels[i] - d.scores[i]).abs())
            .fold(0.0, f64::max);
        assert!(
            (f.residuals.mean - bias).abs() <= 1e-12 * scale,
            "case {case}: {} vs {bias}",
            f.residuals.mean
        );
    }
}

/// R² against a two-pass reference (the weighted mean, corrected once by
/// the mean deviation from it, then the squared deviations) on
/// well-conditioned data, offsets up to 1e8.
#[test]
fn r2_matches_a_two_pass_reference() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for case in 0..300 {
        let n = 2 + rng.below(500);
        let offset = [0.0, 1e6, 1e8, -5e7][rng.below(4)];
        let spread = 10f64.powi(rng.below(5) as i32 - 2);
        let labels: Vec<f64> = (0..n).map(|_| offset + spread * rng.normal()).collect();
        let scores: Vec<f64> = labels
            .iter()
            .map(|y| y + 0.5 * spread * rng.normal())
            .collect();
        let weights: Option<Vec<f64>> =
            (rng.below(2) == 0).then(|| (0..n).map(|_| 0.5 + rng.unit()).collect());
        let w = |i: usize| weights.as_ref().map_or(1.0, |w| w[i]);
        let sw: f64 = (0..n).map(w).sum();
        let rough = (0..n).map(|i| w(i) * labels[i]).sum::<f64>() / sw;
        let mean = rough + (0..n).map(|i| w(i) * (labels[i] - rough)).sum::<f64>() / sw;
        let tot: f64 = (0..n).map(|i| w(i) * (labels[i] - mean).powi(2)).sum();
        let res: f64 = (0..n).map(|i| w(i) * (labels[i] - scores[i]).powi(2)).sum();
        let want = 1.0 - res / tot;
        let d = Rows {
            labels,
            scores,
            weights,
        };
        let got = whole(&d).finish().metrics.value("r2").unwrap();
        assert!(
            (got - want).abs() <= 1e-11 * (1.0 - want).abs().max(1.0),
            "case {case}: offset {offset}: {got} vs {want}"
        );
    }
}

/// At huge offsets the exact total sum of squares gives R² exactly where
/// `Σy² − (Σy)²/n` in floats loses every digit.
#[test]
fn r2_is_exact_at_huge_offsets() {
    let d = Rows {
        labels: (0..4).map(|i| 1e8 + i as f64).collect(),
        scores: vec![1e8, 1e8 + 1.0, 1e8 + 2.0, 1e8 + 2.0],
        weights: None,
    };
    // Σ(y − ŷ)² = 1, Σ(y − ȳ)² = 5.
    let f = whole(&d).finish();
    assert_eq!(f.metrics.value("r2"), Some(1.0 - 1.0 / 5.0));
    let naive = {
        let (s, s2) = d
            .labels
            .iter()
            .fold((0.0, 0.0), |(a, b), y| (a + y, b + y * y));
        s2 - s * s / 4.0
    };
    assert_ne!(naive, 5.0, "the naive formula should have lost digits here");
}

#[test]
fn constant_labels_and_one_row_leave_r2_undefined() {
    for (labels, weights) in [
        (vec![3.0], None),
        (vec![1e6 + 0.1; 50], None),
        (vec![2.0, 7.0, 2.0], Some(vec![1.0, 0.0, 2.0])),
    ] {
        let n = labels.len();
        let d = Rows {
            labels,
            scores: (0..n).map(|i| i as f64).collect(),
            weights,
        };
        let f = whole(&d).finish();
        let r2 = f.metrics.get("r2").unwrap();
        assert!(r2.value.is_none(), "{:?}", d.labels);
        assert!(r2.reason.as_deref().unwrap().contains("constant"));
        assert_eq!(as_json(&f), as_json(&full_tier(&d)));
    }
}

/// More distinct residuals than the state keeps exactly: the sketch, still
/// identical over any split and tree, within its error bound of numpy.
#[test]
fn many_distinct_residuals_sketch_identically_and_within_the_bound() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for case in 0..4 {
        let n = EXACT_LIMIT + 5_000 + rng.below(20_000);
        let labels: Vec<f64> = (0..n).map(|_| 1e3 * rng.normal()).collect();
        let scores: Vec<f64> = labels
            .iter()
            .map(|y| y + rng.normal() * 10f64.powi(rng.below(6) as i32 - 3))
            .collect();
        let weights = (case % 2 == 1).then(|| {
            (0..n)
                .map(|_| if rng.below(10) == 0 { 0.0 } else { rng.unit() })
                .collect::<Vec<f64>>()
        });
        let d = Rows {
            labels,
            scores,
            weights,
        };
        let one = whole(&d);
        assert!(one.sketched(), "case {case}");
        let want = as_json(&one.finish());
        assert_eq!(as_json(&full_tier(&d)), want, "case {case}: full tier");
        let want_bytes = bytes(&one);
        for _ in 0..2 {
            let shards = 1 + rng.below(64);
            let merged = sharded(&mut rng, &d, shards);
            assert_eq!(bytes(&merged), want_bytes, "case {case}: {shards} shards");
            assert_eq!(as_json(&merged.finish()), want, "case {case}: {shards}");
        }
        let back = decode(&want_bytes, d.weights.is_some()).unwrap();
        assert_eq!(back, one);
        assert_eq!(bytes(&back), want_bytes);
        let sorted = sorted_residuals(&d);
        let f = one.finish();
        for (&q, &got) in RESIDUAL_PROBABILITIES.iter().zip(&f.residuals.quantiles) {
            let pos = q * (sorted.len() - 1) as f64;
            let (a, b) = (sorted[pos.floor() as usize], sorted[pos.ceil() as usize]);
            let want = numpy_quantile(&sorted, q);
            assert!(
                (got - want).abs() <= (RELATIVE_ERROR + 1e-15) * a.abs().max(b.abs()),
                "case {case} q {q}: {got} vs {want}"
            );
            if q == 0.0 || q == 1.0 {
                assert_eq!(got, want, "case {case}: the extremes are exact");
            }
        }
        // The sums stay exact in the sketch form.
        let exact = sorted[0].abs().max(sorted[sorted.len() - 1].abs());
        assert_eq!(f.metrics.value("max_error"), Some(exact));
    }
}

/// Many rows but few distinct residuals: exact quantiles, however many
/// rows.
#[test]
fn many_rows_with_few_distinct_residuals_stay_exact() {
    let mut rng = Rng(0x0F0F_1234_5555_AAAA);
    let n = EXACT_LIMIT * 2;
    let labels: Vec<f64> = (0..n).map(|_| rng.below(1000) as f64 / 8.0).collect();
    let scores = vec![60.0; n];
    let d = Rows {
        labels,
        scores,
        weights: None,
    };
    let s = sharded(&mut rng, &d, 7);
    assert!(!s.sketched());
    let sorted = sorted_residuals(&d);
    for (&q, &got) in RESIDUAL_PROBABILITIES
        .iter()
        .zip(&s.finish().residuals.quantiles)
    {
        assert_eq!(got.to_bits(), numpy_quantile(&sorted, q).to_bits());
    }
}

#[test]
fn encodings_round_trip_and_are_canonical() {
    let mut rng = Rng(0x5151_7272_9393_B4B4);
    for case in 0..150 {
        let d = data(&mut rng);
        let one = whole(&d);
        let b = bytes(&one);
        let back = decode(&b, d.weights.is_some()).unwrap();
        assert_eq!(back, one, "case {case}");
        assert_eq!(bytes(&back), b, "case {case}");
        assert_eq!(as_json(&back.finish()), as_json(&one.finish()));
        // Merge order: a+b and b+a encode alike.
        let cut = rng.below(d.labels.len() + 1);
        let idx: Vec<usize> = (0..d.labels.len()).collect();
        let (x, y) = (
            state_of(&mut rng, &d, &idx[..cut]),
            state_of(&mut rng, &d, &idx[cut..]),
        );
        let mut xy = x.clone();
        xy.merge(&y).unwrap();
        let mut yx = y.clone();
        yx.merge(&x).unwrap();
        assert_eq!(bytes(&xy), bytes(&yx), "case {case}");
        assert_eq!(bytes(&xy), b, "case {case}");
    }
}

#[test]
fn weighted_and_unweighted_states_do_not_merge() {
    let d = Rows {
        labels: vec![1.0, 2.0, 4.0],
        scores: vec![1.5, 2.0, 3.0],
        weights: None,
    };
    let mut a = whole(&d);
    let before = bytes(&a);
    let mut b = RegressionState::new(true);
    b.update(
        &floats(&d.labels),
        &floats(&d.scores),
        Some(&floats(&[1.0, 2.0, 0.5])),
    );
    assert!(a.merge(&b).is_err());
    assert_eq!(
        bytes(&a),
        before,
        "a failed merge leaves the state as it was"
    );
    assert!(b.merge(&a).is_err());
    assert!(!a.weighted() && b.weighted());
    assert!(a.merge(&RegressionState::new(false)).is_ok());
    assert_eq!(bytes(&a), before);
}

/// Decodes corrupt bytes: an error or a valid state (which then finishes
/// and encodes), never a panic.
fn survives(b: &[u8], weighted: bool) {
    if let Ok(s) = decode(b, weighted) {
        let again = bytes(&s);
        let _ = s.finish();
        // A state that decodes is canonical: its bytes read back to it.
        assert_eq!(decode(&again, weighted).unwrap(), s);
    }
}

#[test]
fn cut_and_corrupt_encodings_are_errors_or_valid_states() {
    let mut rng = Rng(0x7777_3333_1111_9999);
    let mut samples: Vec<(Vec<u8>, bool)> = Vec::new();
    for _ in 0..40 {
        let d = data(&mut rng);
        samples.push((bytes(&whole(&d)), d.weights.is_some()));
    }
    // A sketch with few buckets: 70 000 distinct residuals near ±1.
    let n = EXACT_LIMIT + 4_464;
    let d = Rows {
        labels: (0..n)
            .map(|i| {
                let r = 1.0 + i as f64 * 2f64.powi(-30);
                if i % 2 == 0 { r } else { -r }
            })
            .collect(),
        scores: vec![0.0; n],
        weights: Some((0..n).map(|i| 1.0 + (i % 3) as f64).collect()),
    };
    let sketch = whole(&d);
    assert!(sketch.sketched());
    let sketch_bytes = bytes(&sketch);
    assert!(sketch_bytes.len() < 400, "{} bytes", sketch_bytes.len());
    samples.push((sketch_bytes, true));
    for (b, weighted) in &samples {
        for cut in 0..b.len() {
            survives(&b[..cut], *weighted);
        }
        survives(b, !weighted);
        for _ in 0..200 {
            let mut c = b.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(c.len());
                c[i] ^= 1 << rng.below(8);
            }
            survives(&c, *weighted);
        }
        for _ in 0..50 {
            let mut c = b.clone();
            let i = rng.below(c.len());
            c[i] = rng.next() as u8;
            survives(&c, *weighted);
        }
    }
}

#[test]
fn decoding_rejects_what_no_rows_give() {
    let d = Rows {
        labels: vec![1.0, 2.0, 4.0],
        scores: vec![1.5, 2.0, 3.0],
        weights: None,
    };
    let b = bytes(&whole(&d));
    assert!(decode(&b, false).is_ok());
    // The row count (first byte, 3) disagrees with the residual counts.
    let mut wrong = b.clone();
    wrong[0] = 4;
    assert!(decode(&wrong, false).unwrap_err().contains("add up"));
    // Trailing bytes.
    let mut long = b.clone();
    long.push(0);
    assert!(decode(&long, false).is_err());
    // The empty state is one byte.
    assert_eq!(bytes(&RegressionState::new(true)), vec![0]);
    assert_eq!(decode(&[0], true).unwrap(), RegressionState::new(true));
}
