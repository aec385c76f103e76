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

/// The JSON from `parts` row blocks cut into `ranges` score ranges, every
/// piece passed through its bytes as an engine would.
fn ranged(p: &Predictions, parts: usize, ranges: usize, options: &FullOptions) -> String {
    let n = p.rows();
    let blocks: Vec<Predictions> = (0..parts)
        .map(|b| {
            let rows: Vec<u32> = (n * b / parts..n * (b + 1) / parts)
                .map(|i| i as u32)
                .collect();
            p.gather(&rows)
        })
        .filter(|b| b.rows() > 0)
        .collect();
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
