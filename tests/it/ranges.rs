//! Score ranges (`evalkit::state::ranges`): the full tier assembled from
//! per-range states and parts equals the full tier of one state of every
//! row, bit for bit, whatever the parts, the ranges and the merge order.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, UInt8Array};
use evalkit::data::Predictions;
use evalkit::full::binary::Thresholds;
use evalkit::full::{FullOptions, full_state};
use evalkit::state::file::StateFile;
use evalkit::state::inputs::from_predictions;
use evalkit::state::ranges::{
    Context, Partial, Sketch, Summary, delong_contexts, finish, partial, plan, split,
};
use evalkit::uncertainty::CiMethod;
use proptest::prelude::*;

use crate::common::Rng;

const NAME: &str = "rows";

fn preds(labels: &[u8], scores: &[f32], weights: Option<&[f64]>) -> Predictions {
    let y: ArrayRef = Arc::new(UInt8Array::from(labels.to_vec()));
    let s: ArrayRef = Arc::new(Float32Array::from(scores.to_vec()));
    let w = weights.map(|w| Arc::new(Float64Array::from(w.to_vec())) as ArrayRef);
    Predictions::from_arrays(NAME, y, vec![s], w, None, None).unwrap()
}

/// The JSON of one state of every row.
fn whole(p: &Predictions, options: &FullOptions) -> String {
    let file = from_predictions(p).unwrap();
    let r = full_state(&file, options, &|_, _| {}).unwrap();
    evalkit::json::full(&file.header, options, &r).to_string()
}

fn roundtrip(f: StateFile) -> StateFile {
    StateFile::from_bytes(std::path::Path::new(NAME), &f.to_bytes().unwrap()).unwrap()
}

/// The rows in `parts` blocks of consecutive rows (the empty ones left out).
fn blocks(p: &Predictions, parts: usize) -> Vec<Predictions> {
    let n = p.rows();
    (0..parts)
        .map(|b| {
            let rows: Vec<u32> = (n * b / parts..n * (b + 1) / parts)
                .map(|i| i as u32)
                .collect();
            p.gather(&rows)
        })
        .filter(|b| b.rows() > 0)
        .collect()
}

/// The JSON from `parts` row blocks cut into `ranges` score ranges, every
/// piece passed through its bytes as an engine would.
fn ranged(p: &Predictions, parts: usize, ranges: usize, options: &FullOptions) -> String {
    let blocks = blocks(p, parts);
    let mut sketch = Sketch::new();
    for b in &blocks {
        let mut s = Sketch::new();
        if let evalkit::data::Columns::Binary { scores, .. } = &b.columns {
            s.add(scores);
        }
        sketch.merge(&Sketch::from_bytes(NAME, &s.to_bytes()).unwrap());
    }
    let cuts = sketch.cuts(ranges);
    assert!(cuts.len() < ranges.max(1));
    // Each range's states merged, the later blocks first (any order).
    let mut per_range: Vec<Option<StateFile>> = vec![None; cuts.len() + 1];
    for b in blocks.iter().rev() {
        for (k, st) in split(b, &cuts).unwrap().into_iter().enumerate() {
            if let Some(st) = st {
                let st = roundtrip(st);
                match &mut per_range[k] {
                    Some(acc) => acc.merge(st).unwrap(),
                    slot => *slot = Some(st),
                }
            }
        }
    }
    let states: Vec<StateFile> = per_range.into_iter().flatten().map(roundtrip).collect();
    let summaries: Vec<Summary> = states
        .iter()
        .map(|s| Summary::from_bytes(NAME, &Summary::of(s).unwrap().to_bytes()).unwrap())
        .collect();
    let through = |c: &Context| Context::from_bytes(NAME, &c.to_bytes()).unwrap();
    let part = |s: &StateFile, c: &Context| {
        Partial::from_bytes(NAME, &partial(s, &through(c)).unwrap().to_bytes()).unwrap()
    };
    let contexts = plan(&summaries, options).unwrap();
    let parts: Vec<Partial> = states
        .iter()
        .zip(&contexts)
        .map(|(s, c)| part(s, c))
        .collect();
    let second = delong_contexts(&contexts, &parts).map(|cs| {
        states
            .iter()
            .zip(&cs)
            .map(|(s, c)| part(s, c))
            .collect::<Vec<_>>()
    });
    let (header, r) = finish(NAME, &summaries, &parts, second.as_deref(), options).unwrap();
    evalkit::json::full(&header, options, &r).to_string()
}

fn options(threshold: f64, grid: usize, method: CiMethod) -> FullOptions {
    let mut o = FullOptions {
        threshold,
        thresholds: Thresholds::Grid(grid),
        ..FullOptions::default()
    };
    o.intervals.replicates = 0;
    o.intervals.method = method;
    o
}

fn data(rng: &mut Rng, n: usize, distinct: Option<usize>, weights: bool) -> Predictions {
    let labels: Vec<u8> = (0..n).map(|_| (rng.unit() < 0.3) as u8).collect();
    let scores: Vec<f32> = labels
        .iter()
        .map(|&y| {
            let s = (rng.unit() * 0.7 + 0.3 * y as f64) as f32;
            match distinct {
                Some(d) => (s * d as f32).round() / d as f32,
                None => s,
            }
        })
        .collect();
    let w: Vec<f64> = (0..n)
        .map(|_| match rng.below(5) {
            0 => 0.0,
            k => rng.unit() * k as f64,
        })
        .collect();
    preds(&labels, &scores, weights.then_some(&w[..]))
}

#[test]
fn ranges_give_the_whole_states_json_bit_for_bit() {
    let mut rng = Rng(17);
    for weights in [false, true] {
        for distinct in [None, Some(40)] {
            let p = data(&mut rng, 5000, distinct, weights);
            for o in [
                options(0.5, 1000, CiMethod::Percentile),
                options(0.3, 11, CiMethod::Wilson),
            ] {
                let want = whole(&p, &o);
                for (parts, ranges) in [(1, 1), (1, 7), (3, 2), (4, 64), (7, 500)] {
                    assert_eq!(
                        ranged(&p, parts, ranges, &o),
                        want,
                        "weights {weights}, distinct {distinct:?}, {parts} parts, {ranges} ranges"
                    );
                }
            }
        }
    }
}

#[test]
fn weird_rows_through_ranges() {
    let o = options(0.5, 101, CiMethod::Percentile);
    // One row; one class; every score tied; a score of exactly 0 and 1.
    let cases: Vec<Predictions> = vec![
        preds(&[1], &[0.7], None),
        preds(&[0, 0, 0], &[0.1, 0.5, 0.9], None),
        preds(&[1, 0, 1, 0], &[0.5; 4], None),
        preds(&[1, 0, 1, 0], &[0.0, 0.0, 1.0, 1.0], None),
        preds(
            &[1, 0, 1, 0],
            &[0.2, 0.4, 0.6, 0.8],
            Some(&[0.0, 1.0, 2.5, 0.0]),
        ),
        // The best F1 (2/3) is reached at 0.9 and again at 0.6, in other
        // ranges: the highest threshold wins, as over the whole table.
        preds(&[1, 0, 0, 1], &[0.9, 0.8, 0.7, 0.6], None),
    ];
    for (i, p) in cases.iter().enumerate() {
        let want = whole(p, &o);
        for (parts, ranges) in [(1, 1), (2, 3), (4, 16)] {
            assert_eq!(ranged(p, parts, ranges, &o), want, "case {i}");
        }
    }
}

#[test]
fn what_ranges_cannot_give_is_refused() {
    let p = data(&mut Rng(3), 200, None, false);
    let file = from_predictions(&p).unwrap();
    let s = vec![Summary::of(&file).unwrap()];
    let mut o = options(0.5, 11, CiMethod::Percentile);
    o.thresholds = Thresholds::Distinct;
    let e = plan(&s, &o).unwrap_err().to_string();
    assert!(e.contains("distinct"), "{e}");
    let o = options(0.5, 11, CiMethod::Percentile);
    let c = plan(&s, &o).unwrap();
    let part = vec![partial(&file, &c[0]).unwrap()];
    let mut with_bootstrap = o;
    with_bootstrap.intervals.replicates = 10;
    let e = finish(NAME, &s, &part, None, &with_bootstrap)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bootstrap=0"), "{e}");
    // Ranges out of order are refused, not summed into a wrong number.
    let sk = {
        let mut k = Sketch::new();
        if let evalkit::data::Columns::Binary { scores, .. } = &p.columns {
            k.add(scores);
        }
        k
    };
    let cuts = sk.cuts(2);
    let mut states: Vec<StateFile> = split(&p, &cuts).unwrap().into_iter().flatten().collect();
    states.reverse();
    let sums: Vec<Summary> = states.iter().map(|f| Summary::of(f).unwrap()).collect();
    let e = plan(&sums, &o).unwrap_err().to_string();
    assert!(e.contains("overlap"), "{e}");
    // Bytes of another kind are a clear error.
    let e = Summary::from_bytes("x", b"EVSTATE\0garbage")
        .unwrap_err()
        .to_string();
    assert!(e.contains("range summary"), "{e}");
    assert!(Partial::from_bytes("x", &[]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn any_parts_and_ranges_give_the_whole(
        seed in 0u64..1000,
        n in 1usize..400,
        parts in 1usize..6,
        ranges in 1usize..40,
        weights in any::<bool>(),
        distinct in prop::option::of(2usize..30),
    ) {
        let p = data(&mut Rng(seed), n, distinct, weights);
        let o = options(0.5, 21, CiMethod::Percentile);
        prop_assert_eq!(ranged(&p, parts, ranges, &o), whole(&p, &o));
    }
}

#[test]
fn corrupt_range_bytes_never_panic() {
    let p = data(&mut Rng(5), 600, None, true);
    let o = options(0.5, 11, CiMethod::Percentile);
    let mut sk = Sketch::new();
    if let evalkit::data::Columns::Binary { scores, .. } = &p.columns {
        sk.add(scores);
    }
    let states: Vec<StateFile> = split(&p, &sk.cuts(3))
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let sums: Vec<Summary> = states.iter().map(|f| Summary::of(f).unwrap()).collect();
    let ctx = plan(&sums, &o).unwrap();
    let parts: Vec<Partial> = states
        .iter()
        .zip(&ctx)
        .map(|(s, c)| partial(s, c).unwrap())
        .collect();
    let mut rng = Rng(9);
    let flip = |b: &[u8], rng: &mut Rng| {
        let mut b = b.to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = 8 + rng.below(b.len() - 8);
            b[i] ^= 1 << rng.below(8);
        }
        if rng.below(4) == 0 {
            b.truncate(8 + rng.below(b.len() - 8));
        }
        b
    };
    for _ in 0..1500 {
        let k = rng.below(sums.len());
        // Whatever decodes is planned, computed and finished without a panic.
        if let Ok(s) = Summary::from_bytes(NAME, &flip(&sums[k].to_bytes(), &mut rng)) {
            let mut all = sums.clone();
            all[k] = s;
            if let Ok(c) = plan(&all, &o) {
                let _ = partial(&states[k], &c[k]);
            }
            let _ = finish(NAME, &all, &parts, None, &o);
        }
        if let Ok(c) = Context::from_bytes(NAME, &flip(&ctx[k].to_bytes(), &mut rng)) {
            let _ = partial(&states[k], &c);
        }
        if let Ok(part) = Partial::from_bytes(NAME, &flip(&parts[k].to_bytes(), &mut rng)) {
            let mut all = parts.clone();
            all[k] = part;
            let _ = finish(NAME, &sums, &all, None, &o);
        }
    }
}

// --- Multiclass: each class's one-vs-rest table cut by score ranges -------

use evalkit::state::ranges::{ClassSums, finish_multiclass, sketches, split_classes};

/// Multiclass rows of `k` classes: probabilities from small integers (many
/// ties) when `coarse`, else unrounded; weights with zeros when `weights`.
fn mc_data(rng: &mut Rng, n: usize, k: usize, coarse: bool, weights: bool) -> Predictions {
    let labels: Vec<i64> = (0..n).map(|_| rng.below(k) as i64).collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n); k];
    for &y in &labels {
        let raw: Vec<f64> = (0..k)
            .map(|c| {
                let bump: f64 = if c as i64 == y { 1.5 } else { 0.0 };
                if coarse {
                    (1 + rng.below(3)) as f64 + bump.round()
                } else {
                    rng.unit() + bump * rng.unit()
                }
            })
            .collect();
        let total: f64 = raw.iter().sum();
        for (c, r) in raw.iter().enumerate() {
            cols[c].push(r / total);
        }
    }
    let w: Vec<f64> = (0..n)
        .map(|_| match rng.below(5) {
            0 => 0.0,
            j => rng.unit() * j as f64,
        })
        .collect();
    mc_preds(&labels, cols, weights.then_some(&w[..]))
}

fn mc_preds(labels: &[i64], cols: Vec<Vec<f64>>, weights: Option<&[f64]>) -> Predictions {
    let y: ArrayRef = Arc::new(arrow::array::Int64Array::from(labels.to_vec()));
    let s: Vec<ArrayRef> = cols
        .into_iter()
        .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
        .collect();
    let w = weights.map(|w| Arc::new(Float64Array::from(w.to_vec())) as ArrayRef);
    Predictions::from_arrays(NAME, y, s, w, Some(evalkit::data::Task::Multiclass), None).unwrap()
}

/// The multiclass JSON from `parts` row blocks, each class's scores cut
/// into `ranges` ranges; every piece through its bytes, merged in reverse
/// block order.
fn ranged_mc(p: &Predictions, parts: usize, ranges: usize, options: &FullOptions) -> String {
    let blocks = blocks(p, parts);
    let mut merged: Vec<Sketch> = Vec::new();
    for b in &blocks {
        let s = sketches(b).unwrap();
        if merged.is_empty() {
            merged = vec![Sketch::new(); s.len()];
        }
        for (m, s) in merged.iter_mut().zip(&s) {
            m.merge(&Sketch::from_bytes(NAME, &s.to_bytes()).unwrap());
        }
    }
    let cuts: Vec<Vec<f64>> = merged.iter().map(|s| s.cuts(ranges)).collect();
    let mut sums: Option<ClassSums> = None;
    let mut per: Vec<Vec<Option<StateFile>>> =
        cuts.iter().map(|c| vec![None; c.len() + 1]).collect();
    for b in blocks.iter().rev() {
        let (s, classes) = split_classes(b, &cuts).unwrap();
        let s = ClassSums::from_bytes(NAME, &s.to_bytes()).unwrap();
        match &mut sums {
            Some(acc) => acc.merge(s).unwrap(),
            slot => *slot = Some(s),
        }
        for (c, states) in classes.into_iter().enumerate() {
            for (r, st) in states.into_iter().enumerate() {
                if let Some(st) = st {
                    let st = roundtrip(st);
                    match &mut per[c][r] {
                        Some(acc) => acc.merge(st).unwrap(),
                        slot => *slot = Some(st),
                    }
                }
            }
        }
    }
    let sums = ClassSums::from_bytes(NAME, &sums.unwrap().to_bytes()).unwrap();
    let classes: Vec<(Vec<Summary>, Vec<Partial>)> = per
        .into_iter()
        .map(|states| {
            let states: Vec<StateFile> = states.into_iter().flatten().map(roundtrip).collect();
            let summaries: Vec<Summary> = states
                .iter()
                .map(|s| Summary::from_bytes(NAME, &Summary::of(s).unwrap().to_bytes()).unwrap())
                .collect();
            if summaries.is_empty() {
                return (summaries, Vec::new());
            }
            let contexts = plan(&summaries, options).unwrap();
            let parts = states
                .iter()
                .zip(&contexts)
                .map(|(s, c)| {
                    let c = Context::from_bytes(NAME, &c.to_bytes()).unwrap();
                    Partial::from_bytes(NAME, &partial(s, &c).unwrap().to_bytes()).unwrap()
                })
                .collect();
            (summaries, parts)
        })
        .collect();
    let (header, r) = finish_multiclass(NAME, &sums, &classes, options).unwrap();
    evalkit::json::full(&header, options, &r).to_string()
}

#[test]
fn multiclass_ranges_give_the_whole_states_json_bit_for_bit() {
    let mut rng = Rng(29);
    let o = options(0.5, 101, CiMethod::Percentile);
    for k in [3, 7] {
        for weights in [false, true] {
            for coarse in [false, true] {
                let p = mc_data(&mut rng, 3000, k, coarse, weights);
                let want = whole(&p, &o);
                assert!(want.contains("macro_roc_auc"), "{want}");
                for (parts, ranges) in [(1, 1), (1, 9), (3, 2), (5, 64)] {
                    assert_eq!(
                        ranged_mc(&p, parts, ranges, &o),
                        want,
                        "{k} classes, weights {weights}, coarse {coarse}, {parts} parts, {ranges} ranges"
                    );
                }
            }
        }
    }
}

#[test]
fn weird_multiclass_rows_through_ranges() {
    let o = options(0.5, 11, CiMethod::Percentile);
    let third = vec![1.0 / 3.0; 4];
    let cases: Vec<Predictions> = vec![
        // One row.
        mc_preds(&[1], vec![vec![0.2], vec![0.5], vec![0.3]], None),
        // One class among the labels; every score tied.
        mc_preds(
            &[0; 4],
            vec![third.clone(), third.clone(), third.clone()],
            None,
        ),
        // A class never a label; scores of exactly 0 and 1.
        mc_preds(
            &[0, 1, 0, 1],
            vec![
                vec![1.0, 0.0, 0.5, 0.0],
                vec![0.0, 1.0, 0.5, 1.0],
                vec![0.0, 0.0, 0.0, 0.0],
            ],
            None,
        ),
        // Weights of 0 on some rows, and on every row of a class.
        mc_preds(
            &[0, 1, 2, 2],
            vec![
                vec![0.6, 0.1, 0.3, 0.2],
                vec![0.2, 0.7, 0.3, 0.2],
                vec![0.2, 0.2, 0.4, 0.6],
            ],
            Some(&[1.0, 0.0, 2.5, 0.0]),
        ),
        // Probabilities of -0.0 beside 0.0 (one score).
        mc_preds(
            &[0, 1, 2, 0],
            vec![
                vec![1.0, 0.5, -0.0, 0.0],
                vec![0.0, 0.5, 0.5, 1.0],
                vec![-0.0, 0.0, 0.5, 0.0],
            ],
            None,
        ),
        // Every weight 0.
        mc_preds(
            &[0, 1, 2],
            vec![
                vec![0.6, 0.1, 0.3],
                vec![0.2, 0.7, 0.3],
                vec![0.2, 0.2, 0.4],
            ],
            Some(&[0.0, 0.0, 0.0]),
        ),
    ];
    for (i, p) in cases.iter().enumerate() {
        let want = whole(p, &o);
        for (parts, ranges) in [(1, 1), (2, 3), (4, 16)] {
            assert_eq!(ranged_mc(p, parts, ranges, &o), want, "case {i}");
        }
    }
}

/// Each class's summaries and parts of one block's states (no merging).
fn class_parts(
    classes: Vec<Vec<Option<StateFile>>>,
    o: &FullOptions,
) -> Vec<(Vec<Summary>, Vec<Partial>)> {
    classes
        .into_iter()
        .map(|states| {
            let states: Vec<StateFile> = states.into_iter().flatten().collect();
            let s: Vec<Summary> = states.iter().map(|f| Summary::of(f).unwrap()).collect();
            let c = plan(&s, o).unwrap();
            let parts = states
                .iter()
                .zip(&c)
                .map(|(f, c)| partial(f, c).unwrap())
                .collect();
            (s, parts)
        })
        .collect()
}

#[test]
fn multiclass_ranges_refuse_what_does_not_fit() {
    let p = mc_data(&mut Rng(4), 300, 4, false, false);
    let cuts: Vec<Vec<f64>> = sketches(&p).unwrap().iter().map(|s| s.cuts(4)).collect();
    // Cuts of another number of classes, and a binary split of multiclass rows.
    let e = split_classes(&p, &cuts[..3]).unwrap_err().to_string();
    assert!(e.contains("cuts for 3 classes"), "{e}");
    let e = split(&p, &cuts[0]).unwrap_err().to_string();
    assert!(e.contains("binary"), "{e}");
    // Regression rows have no ranges.
    let y: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0]));
    let s: ArrayRef = Arc::new(Float64Array::from(vec![1.5, 2.5]));
    let r = Predictions::from_arrays(NAME, y, vec![s], None, None, None).unwrap();
    let e = sketches(&r).unwrap_err().to_string();
    assert!(e.contains("binary and multiclass"), "{e}");
    // A class's ranges of other rows, and the bootstrap, are refused.
    let (sums, classes) = split_classes(&p, &cuts).unwrap();
    let o = options(0.5, 11, CiMethod::Percentile);
    let mut per = class_parts(classes, &o);
    assert!(finish_multiclass(NAME, &sums, &per, &o).is_ok());
    let mut with_bootstrap = o;
    with_bootstrap.intervals.replicates = 10;
    let e = finish_multiclass(NAME, &sums, &per, &with_bootstrap)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bootstrap=0"), "{e}");
    // Two classes' ranges swapped: refused, even where their row counts agree.
    per.swap(0, 2);
    let e = finish_multiclass(NAME, &sums, &per, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another class's"), "{e}");
    per.swap(0, 2);
    // Ranges of the same class but other rows (a range missing).
    per[1].0.pop();
    per[1].1.pop();
    let e = finish_multiclass(NAME, &sums, &per, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other rows"), "{e}");
    // Ranges of the same rows with other weights.
    let mut w = vec![1.0; p.rows()];
    w[0] = 2.0;
    let weighted = |w: &[f64]| {
        let mut q = p.clone();
        q.weights = Some(evalkit::data::Floats::from(w.to_vec()));
        q.weight_column = Some("w".into());
        q
    };
    let (wsums, _) = split_classes(&weighted(&w), &cuts).unwrap();
    w[0] = 3.0;
    let (_, other) = split_classes(&weighted(&w), &cuts).unwrap();
    let wper = class_parts(other, &o);
    let e = finish_multiclass(NAME, &wsums, &wper, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other rows"), "{e}");
    per.pop();
    let e = finish_multiclass(NAME, &sums, &per, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 classes"), "{e}");
    // The sums' bytes: another kind is a clear error; corrupt ones never panic.
    let e = ClassSums::from_bytes("x", b"EVRSUM1\0")
        .unwrap_err()
        .to_string();
    assert!(e.contains("multiclass range sums"), "{e}");
    let bytes = sums.to_bytes();
    let mut rng = Rng(11);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let i = 8 + rng.below(b.len() - 8);
        b[i] ^= 1 << rng.below(8);
        if rng.below(4) == 0 {
            b.truncate(8 + rng.below(b.len() - 8));
        }
        if let Ok(s) = ClassSums::from_bytes(NAME, &b) {
            let _ = finish_multiclass(NAME, &s, &per, &o);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_parts_and_ranges_give_the_whole_multiclass(
        seed in 0u64..1000,
        n in 1usize..300,
        k in 2usize..7,
        parts in 1usize..5,
        ranges in 1usize..30,
        weights in any::<bool>(),
        coarse in any::<bool>(),
    ) {
        let p = mc_data(&mut Rng(seed), n, k, coarse, weights);
        let o = options(0.5, 21, CiMethod::Percentile);
        prop_assert_eq!(ranged_mc(&p, parts, ranges, &o), whole(&p, &o));
    }
}
