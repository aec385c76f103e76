//! The binary state: any split of the rows into shards, merged in any
//! tree, finishes to bit-identical metrics; and those metrics are the full
//! tier's.

use evalkit::data::Floats;
use evalkit::full::binary::{BinaryOptions, full};
use evalkit::state::binary::BinaryState;
use evalkit::uncertainty::IntervalOptions;

use crate::common::{Rng, close};

/// Random binary rows: ties (scores rounded to 1, 2 or no decimals), one
/// class sometimes, weights with zeros sometimes.
fn data(rng: &mut Rng) -> (Vec<u8>, Vec<f64>, Option<Vec<f64>>) {
    let n = 1 + rng.below(400);
    let round = [1.0, 10.0, 100.0, 0.0][rng.below(4)];
    let one_class = rng.below(8) == 0;
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let y = if one_class {
            0
        } else {
            (rng.unit() < 0.4) as u8
        };
        let mut p = (0.35 * y as f64 + 0.65 * rng.unit()).min(1.0);
        if round > 0.0 {
            p = (p * round).round() / round;
        }
        labels.push(y);
        scores.push(p);
    }
    let weights = (rng.below(2) == 0).then(|| {
        (0..n)
            .map(|_| {
                if rng.below(5) == 0 {
                    0.0
                } else {
                    0.1 + 3.0 * rng.unit()
                }
            })
            .collect()
    });
    (labels, scores, weights)
}

fn as_json(m: &evalkit::metrics::MetricSet) -> String {
    serde_json::to_string(m).unwrap()
}

/// Splits rows into `shards` random contiguous-or-not parts, builds a state
/// per part and merges them in a random tree.
fn sharded(
    rng: &mut Rng,
    labels: &[u8],
    scores: &[f64],
    weights: Option<&[f64]>,
    shards: usize,
) -> BinaryState {
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); shards];
    for i in 0..labels.len() {
        parts[rng.below(shards)].push(i);
    }
    let mut states: Vec<BinaryState> = parts
        .iter()
        .map(|rows| {
            let y: Vec<u8> = rows.iter().map(|&i| labels[i]).collect();
            let p: Vec<f64> = rows.iter().map(|&i| scores[i]).collect();
            let w: Option<Vec<f64>> = weights.map(|w| rows.iter().map(|&i| w[i]).collect());
            // Some shards fold in two batches, as a stream does.
            let mut s = BinaryState::new(weights.is_some());
            let cut = if y.is_empty() {
                0
            } else {
                rng.below(y.len() + 1)
            };
            s.update(&y[..cut], &p[..cut], w.as_deref().map(|w| &w[..cut]));
            s.update(&y[cut..], &p[cut..], w.as_deref().map(|w| &w[cut..]));
            s
        })
        .collect();
    while states.len() > 1 {
        let i = rng.below(states.len());
        let a = states.swap_remove(i);
        let j = rng.below(states.len());
        states[j].merge(&a);
    }
    states.pop().unwrap()
}

#[test]
fn any_split_and_merge_tree_finishes_to_identical_metrics() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..150 {
        let (labels, scores, weights) = data(&mut rng);
        let whole = BinaryState::from_rows(&labels, &scores, weights.as_deref());
        let want = as_json(&whole.finish(0.5));
        for _ in 0..3 {
            let shards = 1 + rng.below(64);
            let merged = sharded(&mut rng, &labels, &scores, weights.as_deref(), shards);
            assert_eq!(merged, whole, "case {case}: {shards} shards, state");
            assert_eq!(
                as_json(&merged.finish(0.5)),
                want,
                "case {case}: {shards} shards"
            );
        }
    }
}

#[test]
fn a_state_finishes_to_the_full_tiers_point_metrics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let no_intervals = BinaryOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..BinaryOptions::default()
    };
    for case in 0..150 {
        let (labels, scores, weights) = data(&mut rng);
        if weights
            .as_ref()
            .is_some_and(|w| w.iter().all(|&x| x == 0.0))
        {
            continue;
        }
        let state = BinaryState::from_rows(&labels, &scores, weights.as_deref());
        let got = state.finish(0.5);
        let want = full(
            &labels,
            &Floats::from(scores.clone()),
            weights.clone().map(Floats::from).as_ref(),
            &no_intervals,
            &|_, _| {},
        )
        .metrics;
        for (name, w) in want.iter() {
            let g = got.get(name).unwrap();
            match (g.value, w.value) {
                (Some(a), Some(b)) => {
                    // Unweighted curve metrics count integers: identical.
                    // Float sums differ only by the order they were added in.
                    assert!(close(a, b), "case {case} {name}: {a} vs {b}");
                    if weights.is_none() && !["log_loss", "brier", "ece"].contains(&name) {
                        assert_eq!(a.to_bits(), b.to_bits(), "case {case} {name}");
                    }
                }
                (None, None) => assert_eq!(g.reason, w.reason, "case {case} {name}"),
                other => panic!("case {case} {name}: {other:?}"),
            }
        }
        assert_eq!(got.len(), want.len());
    }
}
