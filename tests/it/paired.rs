//! Paired states (`evalkit::state::paired`, `compare::compare_states`): a
//! comparison finished from merged paired states equals the comparison of
//! the rows bit for bit without the bootstrap (DeLong's paired test
//! included), and with it depends only on the merged state and the seed.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, ListArray, UInt8Array};
use arrow::datatypes::{DataType, Field};
use evalkit::compare::{Join, compare, compare_states};
use evalkit::data::{Floats, Predictions};
use evalkit::full::FullOptions;
use evalkit::full::binary::Thresholds;
use evalkit::state::paired::{Joint, NoJoint, PairedState};
use evalkit::uncertainty::CiMethod;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::Rng;

fn binary(name: &str, labels: &[u8], scores: &[f32], weights: Option<&[f64]>) -> Predictions {
    let y: ArrayRef = Arc::new(UInt8Array::from(labels.to_vec()));
    let s: ArrayRef = Arc::new(Float32Array::from(scores.to_vec()));
    let w = weights.map(|w| Arc::new(Float64Array::from(w.to_vec())) as ArrayRef);
    Predictions::from_arrays(name, y, vec![s], w, None, None).unwrap()
}

fn options(replicates: usize, method: CiMethod) -> FullOptions {
    let mut o = FullOptions {
        thresholds: Thresholds::Grid(101),
        ..FullOptions::default()
    };
    o.intervals.replicates = replicates;
    o.intervals.method = method;
    o.intervals.seed = 11;
    o
}

/// The comparison of the rows, as `evalkit compare` gives it.
fn of_rows(c: &Predictions, b: &Predictions, o: &FullOptions) -> Value {
    let r = compare(c, b, Join::Position, o, &|_, _| {}).unwrap();
    evalkit::json::compare(c, b, o, &r)
}

/// The paired state of `parts` row blocks, each through its bytes, merged
/// last block first.
fn merged(c: &Predictions, b: &Predictions, parts: usize) -> PairedState {
    let n = c.rows();
    let mut acc: Option<PairedState> = None;
    for k in (0..parts).rev() {
        let rows: Vec<u32> = (n * k / parts..n * (k + 1) / parts)
            .map(|i| i as u32)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let p = PairedState::from_predictions(&c.gather(&rows), &b.gather(&rows)).unwrap();
        let p = PairedState::from_bytes(Path::new("p"), &p.to_bytes().unwrap()).unwrap();
        match &mut acc {
            Some(a) => a.merge(p).unwrap(),
            None => acc = Some(p),
        }
    }
    let acc = acc.unwrap();
    PairedState::from_bytes(Path::new("p"), &acc.to_bytes().unwrap()).unwrap()
}

fn of_state(p: &PairedState, o: &FullOptions) -> Value {
    let r = compare_states(p, o, &|_, _| {}).unwrap();
    let mut doc =
        evalkit::json::compare_of(&p.candidate.header, &p.baseline.header.path, None, o, &r);
    // Merged states count their sources; the rows are one file.
    doc.as_object_mut().unwrap().remove("sources");
    doc
}

fn pair(
    rng: &mut Rng,
    n: usize,
    distinct: Option<f32>,
    weights: bool,
) -> (Predictions, Predictions) {
    let labels: Vec<u8> = (0..n).map(|_| (rng.unit() < 0.35) as u8).collect();
    let mut score = |y: u8, lift: f64| {
        let s = (rng.unit() * 0.7 + lift * y as f64) as f32;
        distinct.map_or(s, |d| (s * d).round() / d)
    };
    let a: Vec<f32> = labels.iter().map(|&y| score(y, 0.3)).collect();
    let b: Vec<f32> = labels.iter().map(|&y| score(y, 0.2)).collect();
    let w: Vec<f64> = (0..n).map(|_| rng.below(4) as f64).collect();
    let w = weights.then_some(&w[..]);
    (
        binary("candidate", &labels, &a, w),
        binary("baseline", &labels, &b, w),
    )
}

#[test]
fn merged_paired_states_compare_as_the_rows_do() {
    let mut rng = Rng(29);
    for weights in [false, true] {
        for distinct in [None, Some(30.0)] {
            let (c, b) = pair(&mut rng, 3000, distinct, weights);
            for o in [
                options(0, CiMethod::Percentile),
                options(0, CiMethod::Wilson),
            ] {
                let want = of_rows(&c, &b, &o);
                for parts in [1, 2, 7] {
                    assert_eq!(
                        of_state(&merged(&c, &b, parts), &o),
                        want,
                        "weights {weights}, distinct {distinct:?}, {parts} parts"
                    );
                }
            }
        }
    }
}

/// Labels, the two models' scores and the weights of a few rows.
type Case = (Vec<u8>, Vec<f32>, Vec<f32>, Option<Vec<f64>>);

#[test]
fn weird_rows_compare_as_the_rows_do() {
    let o = options(0, CiMethod::Percentile);
    let cases: Vec<Case> = vec![
        (vec![1], vec![0.7], vec![0.2], None),
        (
            vec![0, 0, 0],
            vec![0.1, 0.5, 0.9],
            vec![0.2, 0.2, 0.3],
            None,
        ),
        (vec![1, 0, 1, 0], vec![0.5; 4], vec![0.5; 4], None),
        // Identical models: no variance for DeLong's test.
        (
            vec![1, 0, 1, 0, 1],
            vec![0.9, 0.1, 0.8, 0.3, 0.2],
            vec![0.9, 0.1, 0.8, 0.3, 0.2],
            None,
        ),
        (
            vec![1, 0, 1, 0],
            vec![0.0, 0.0, 1.0, 1.0],
            vec![1.0, 0.0, 0.0, 1.0],
            None,
        ),
        (
            vec![1, 0, 1, 0, 1, 0],
            vec![0.2, 0.4, 0.6, 0.8, 0.3, 0.1],
            vec![0.1, 0.4, 0.7, 0.2, 0.3, 0.9],
            Some(vec![0.0, 1.0, 2.0, 0.0, 5.0, 1.0]),
        ),
        // Whole-number weights whose sum at a score passes 2⁵³: not
        // counts, so no pairing, and still the rows' comparison.
        (
            vec![1, 1, 0, 0],
            vec![0.9, 0.9, 0.1, 0.2],
            vec![0.2, 0.3, 0.1, 0.4],
            Some(vec![5e15, 5e15, 1.0, 2.0]),
        ),
    ];
    for (i, (y, a, s, w)) in cases.iter().enumerate() {
        let c = binary("candidate", y, a, w.as_deref());
        let b = binary("baseline", y, s, w.as_deref());
        let want = of_rows(&c, &b, &o);
        for parts in [1, 2, 3] {
            assert_eq!(
                of_state(&merged(&c, &b, parts), &o),
                want,
                "case {i}, {parts} parts"
            );
        }
    }
}

#[test]
fn multiclass_and_regression_compare_as_the_rows_do() {
    let mut rng = Rng(5);
    let n = 600;
    let labels: Vec<u8> = (0..n).map(|_| rng.below(3) as u8).collect();
    let list = |rng: &mut Rng| -> ArrayRef {
        let values: Vec<f64> = (0..n)
            .flat_map(|_| {
                let v = [rng.unit() + 0.01, rng.unit() + 0.01, rng.unit() + 0.01];
                let t: f64 = v.iter().sum();
                v.map(|x| x / t)
            })
            .collect();
        let field = Arc::new(Field::new("item", DataType::Float64, false));
        Arc::new(
            ListArray::try_new(
                field,
                arrow::buffer::OffsetBuffer::from_lengths(vec![3; n]),
                Arc::new(Float64Array::from(values)),
                None,
            )
            .unwrap(),
        )
    };
    let y: ArrayRef = Arc::new(UInt8Array::from(labels.clone()));
    let c = Predictions::from_arrays(
        "candidate",
        y.clone(),
        vec![list(&mut rng)],
        None,
        None,
        None,
    )
    .unwrap();
    let b =
        Predictions::from_arrays("baseline", y, vec![list(&mut rng)], None, None, None).unwrap();
    let truth: ArrayRef = Arc::new(Float64Array::from(
        (0..n).map(|_| rng.normal()).collect::<Vec<_>>(),
    ));
    let fit = |rng: &mut Rng| -> ArrayRef {
        Arc::new(Float64Array::from(
            (0..n).map(|_| rng.normal()).collect::<Vec<_>>(),
        ))
    };
    let rc = Predictions::from_arrays(
        "candidate",
        truth.clone(),
        vec![fit(&mut rng)],
        None,
        None,
        None,
    )
    .unwrap();
    let rb =
        Predictions::from_arrays("baseline", truth, vec![fit(&mut rng)], None, None, None).unwrap();
    let o = options(0, CiMethod::Percentile);
    for (c, b) in [(&c, &b), (&rc, &rb)] {
        let want = of_rows(c, b, &o);
        for parts in [1, 4] {
            let p = merged(c, b, parts);
            assert_eq!(p.joint, Err(NoJoint::NotBinary));
            assert_eq!(of_state(&p, &o), want, "{}", c.task);
        }
        let e = compare_states(
            &merged(c, b, 2),
            &options(50, CiMethod::Percentile),
            &|_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not built") && e.contains("bootstrap=0"), "{e}");
    }
}

#[test]
fn the_paired_bootstrap_depends_on_the_merged_state_and_the_seed_only() {
    let (c, b) = pair(&mut Rng(41), 2000, Some(50.0), false);
    let o = options(200, CiMethod::Percentile);
    let one = of_state(&merged(&c, &b, 1), &o);
    assert_eq!(of_state(&merged(&c, &b, 5), &o), one);
    let delta = &one["delta"]["roc_auc"];
    let ci = delta["ci"].as_array().unwrap();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    let d = delta["value"].as_f64().unwrap();
    assert!(lo < d && d < hi, "{delta}");
    // The paired interval of the difference is narrower than the two
    // models' own intervals put side by side (the draws are shared).
    let width = |m: &Value| {
        let ci = m["ci"].as_array().unwrap();
        ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap()
    };
    assert!(
        hi - lo < width(&one["metrics"]["roc_auc"]) + width(&one["baseline"]["roc_auc"]),
        "{one}"
    );
    // Another seed, other draws.
    let mut other = o;
    other.intervals.seed = 12;
    assert_ne!(of_state(&merged(&c, &b, 1), &other)["delta"], one["delta"]);
    // A model against itself: every replicate's difference is 0.
    let same = of_state(&merged(&c, &c, 3), &o);
    assert_eq!(
        same["delta"]["roc_auc"]["ci"],
        serde_json::json!([0.0, 0.0])
    );
}

#[test]
fn what_a_paired_state_cannot_give_is_refused() {
    let y = [1u8, 0, 1, 0, 1, 0];
    let a = [0.9, 0.1, 0.8, 0.3, 0.6, 0.4];
    let s = [0.7, 0.2, 0.6, 0.5, 0.3, 0.4];
    let w = [0.5, 1.0, 1.0, 2.0, 1.0, 1.0];
    let p = merged(
        &binary("candidate", &y, &a, Some(&w)),
        &binary("baseline", &y, &s, Some(&w)),
        2,
    );
    assert_eq!(p.joint, Err(NoJoint::Weights));
    let e = compare_states(&p, &options(20, CiMethod::Percentile), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole number"), "{e}");
    let unweighted = merged(
        &binary("candidate", &y, &a, None),
        &binary("baseline", &y, &s, None),
        2,
    );
    for (method, resample, want) in [
        (CiMethod::Bca, "poisson", "percentile"),
        (CiMethod::Percentile, "multinomial", "Poisson"),
    ] {
        let mut o = options(20, method);
        o.intervals.resample = resample.parse().unwrap();
        let e = compare_states(&unweighted, &o, &|_, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
    // Weights past 2⁵³ at one score are not counts: no paired bootstrap.
    let w = [5e15, 5e15, 1.0, 2.0];
    let big = merged(
        &binary("candidate", &[1, 1, 0, 0], &[0.9, 0.9, 0.1, 0.2], Some(&w)),
        &binary("baseline", &[1, 1, 0, 0], &[0.2, 0.3, 0.1, 0.4], Some(&w)),
        2,
    );
    assert!(big.joint.is_ok());
    let e = compare_states(&big, &options(20, CiMethod::Percentile), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("2⁵³"), "{e}");
    // A joint histogram of other rows is refused, never tested.
    let mut other = unweighted.clone();
    other.joint = Ok(Joint::of_rows(
        &y,
        &Floats::from(a.iter().map(|&x| x as f64).collect::<Vec<_>>()),
        &Floats::from(a.iter().map(|&x| x as f64).collect::<Vec<_>>()),
        None,
    )
    .unwrap());
    let read = PairedState::from_bytes(Path::new("p"), &other.to_bytes().unwrap()).unwrap();
    let e = compare_states(&read, &options(0, CiMethod::Percentile), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("not the baseline's"), "{e}");
    // States of different tasks or weighting do not merge.
    let mut q = unweighted.clone();
    let e = q.merge(p).unwrap_err().to_string();
    assert!(e.contains("weighted"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(30))]

    /// Any rows, any split: DeLong's paired test and every point difference
    /// from the merged states equal the rows'.
    #[test]
    fn any_split_gives_the_rows_comparison(
        rows in prop::collection::vec((0u8..2, 0u8..12, 0u8..12), 1..120),
        parts in 1usize..6,
    ) {
        let y: Vec<u8> = rows.iter().map(|r| r.0).collect();
        let a: Vec<f32> = rows.iter().map(|r| r.1 as f32 / 11.0).collect();
        let s: Vec<f32> = rows.iter().map(|r| r.2 as f32 / 11.0).collect();
        let c = binary("candidate", &y, &a, None);
        let b = binary("baseline", &y, &s, None);
        let o = options(0, CiMethod::Percentile);
        prop_assert_eq!(of_state(&merged(&c, &b, parts), &o), of_rows(&c, &b, &o));
    }
}
