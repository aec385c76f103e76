//! The low-FPR metrics: the partial ROC-AUC equals scikit-learn's
//! `roc_auc_score(max_fpr=...)` on every binary fixture, TPR at fixed FPR
//! equals a brute-force search, their intervals equal a
//! resample-and-recompute reference, and bad ranges exit 2.

use evalkit::data::{ReadOptions, read_predictions};
use evalkit::full::{FullOptions, FullResult};
use evalkit::partial::{LowFpr, attach};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{Rng, evalkit, fixture, stderr};

fn no_bootstrap() -> IntervalOptions {
    IntervalOptions {
        replicates: 0,
        ..IntervalOptions::default()
    }
}

#[test]
fn partial_auc_equals_scikit_learn() {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("expected/partial_auc.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (name, cases) in golden.as_object().unwrap() {
        let preds =
            read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
        let options = FullOptions {
            intervals: no_bootstrap(),
            ..FullOptions::default()
        };
        for (m, want) in cases.as_object().unwrap() {
            let mut r = evalkit::full::full(&preds, &options).unwrap();
            let low = LowFpr {
                max_fpr: Some(m.parse().unwrap()),
                tpr_at_fpr: Vec::new(),
            };
            attach(&mut r, Some(&preds), &low, &options.intervals);
            let got = r.metrics().value("partial_roc_auc").unwrap();
            let want = want.as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-9,
                "{name} max_fpr {m}: {got} vs {want}"
            );
            if m == "1.0" {
                assert!((got - r.metrics().value("roc_auc").unwrap()).abs() < 1e-12);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 48);
}

/// Weighted ROC points `(fpr, tpr)` from (0, 0), one per distinct score.
fn roc(labels: &[u8], scores: &[f64], w: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..labels.len()).filter(|&r| w[r] > 0.0).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let p: f64 = order
        .iter()
        .filter(|&&r| labels[r] == 1)
        .map(|&r| w[r])
        .sum();
    let n: f64 = order
        .iter()
        .filter(|&&r| labels[r] == 0)
        .map(|&r| w[r])
        .sum();
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &r) in order.iter().enumerate() {
        if labels[r] == 1 {
            tp += w[r];
        } else {
            fp += w[r];
        }
        if i + 1 == order.len() || scores[order[i + 1]] != scores[r] {
            pts.push((fp / n, tp / p));
        }
    }
    pts
}

/// scikit-learn's algorithm: cut at the first point past `m`,
/// interpolate, trapezoids, McClish.
fn reference_partial(pts: &[(f64, f64)], m: f64) -> f64 {
    let stop = pts.partition_point(|p| p.0 <= m);
    let mut xs: Vec<f64> = pts[..stop].iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = pts[..stop].iter().map(|p| p.1).collect();
    if stop < pts.len() {
        let (a, b) = (pts[stop - 1], pts[stop]);
        xs.push(m);
        ys.push(a.1 + (b.1 - a.1) * (m - a.0) / (b.0 - a.0));
    }
    let area: f64 = (1..xs.len())
        .map(|i| (xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2.0)
        .sum();
    0.5 * (1.0 + (area - m * m / 2.0) / (m - m * m / 2.0))
}

fn data(n: usize, seed: u64) -> (Vec<u8>, Vec<f64>, Vec<f64>) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut y = Vec::new();
    let mut s = Vec::new();
    let mut w = Vec::new();
    for _ in 0..n {
        let label = (rng.unit() < 0.3) as u8;
        y.push(label);
        s.push(((rng.normal() + 1.3 * f64::from(label)) * 8.0).round() / 8.0 / 10.0 + 0.5);
        w.push(if seed.is_multiple_of(2) {
            1.0
        } else {
            (rng.unit() * 3.0).round()
        });
    }
    (y, s, w)
}

fn binary_full(
    y: &[u8],
    s: &[f64],
    w: &[f64],
    weighted: bool,
    iv: IntervalOptions,
) -> (evalkit::data::Predictions, FullResult) {
    use arrow::array::{ArrayRef, Float64Array, UInt8Array};
    use std::sync::Arc;
    let preds = evalkit::data::Predictions::from_arrays(
        "mem",
        Arc::new(UInt8Array::from(y.to_vec())) as ArrayRef,
        vec![Arc::new(Float64Array::from(s.to_vec())) as ArrayRef],
        weighted.then(|| Arc::new(Float64Array::from(w.to_vec())) as ArrayRef),
        Some(evalkit::data::Task::Binary),
        None,
    )
    .unwrap();
    let r = evalkit::full::full(
        &preds,
        &FullOptions {
            intervals: iv,
            ..FullOptions::default()
        },
    )
    .unwrap();
    (preds, r)
}

#[test]
fn tpr_at_fpr_equals_a_brute_force_search_and_intervals_equal_the_reference() {
    let xs = [0.0, 0.01, 0.05, 0.2, 1.0];
    for seed in 0..8u64 {
        let (y, s, w) = data(300, seed);
        let weighted = seed % 2 == 1;
        let (preds, mut r) = binary_full(&y, &s, &w, weighted, no_bootstrap());
        let low = LowFpr {
            max_fpr: Some(0.2),
            tpr_at_fpr: xs.to_vec(),
        };
        attach(&mut r, Some(&preds), &low, &no_bootstrap());
        let ones = vec![1.0; y.len()];
        let pts = roc(&y, &s, if weighted { &w } else { &ones });
        for &x in &xs {
            let want = pts
                .iter()
                .filter(|p| p.0 <= x)
                .map(|p| p.1)
                .fold(0.0, f64::max);
            assert_eq!(
                r.metrics().value(&format!("tpr_at_fpr_{x}")),
                Some(want),
                "seed {seed} x {x}"
            );
        }
        let want = reference_partial(&pts, 0.2);
        assert!((r.metrics().value("partial_roc_auc").unwrap() - want).abs() < 1e-12);
    }
    // Intervals: the percentile interval of each value on the rows weighted
    // by each replicate's Poisson counts.
    let (y, s, w) = data(400, 11);
    let (b, seed) = (200usize, 9u64);
    let iv = IntervalOptions {
        replicates: b,
        seed,
        ..IntervalOptions::default()
    };
    let (preds, mut r) = binary_full(&y, &s, &w, true, no_bootstrap());
    let low = LowFpr {
        max_fpr: Some(0.1),
        tpr_at_fpr: vec![0.05],
    };
    attach(&mut r, Some(&preds), &low, &iv);
    let (mut pauc, mut tpr) = (Vec::new(), Vec::new());
    for rep in 0..b {
        let rw: Vec<f64> = (0..y.len())
            .map(|i| {
                w[i] * f64::from(evalkit::uncertainty::lanes::poisson_weight(
                    seed, rep, i as u32,
                ))
            })
            .collect();
        let pts = roc(&y, &s, &rw);
        pauc.push(reference_partial(&pts, 0.1));
        tpr.push(
            pts.iter()
                .filter(|p| p.0 <= 0.05)
                .map(|p| p.1)
                .fold(0.0, f64::max),
        );
    }
    for (name, mut v) in [("partial_roc_auc", pauc), ("tpr_at_fpr_0.05", tpr)] {
        v.sort_by(f64::total_cmp);
        let want = evalkit::uncertainty::intervals::percentile(&v, 0.95);
        let got = r.metrics().get(name).unwrap().ci.unwrap();
        assert!(
            (got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12,
            "{name}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn bad_ranges_and_tasks_exit_2() {
    let f = fixture("binary_balanced.arrow");
    let r = fixture("regression.arrow");
    let (f, r) = (f.to_str().unwrap(), r.to_str().unwrap());
    for (args, message) in [
        (vec!["full", f, "--max-fpr", "0"], "(0, 1]"),
        (vec!["full", f, "--max-fpr", "1.5"], "(0, 1]"),
        (vec!["full", f, "--tpr-at-fpr", "-0.1"], "[0, 1]"),
        (vec!["full", r, "--max-fpr", "0.1"], "binary classifier"),
    ] {
        let out = evalkit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

/// In a comparison, the partial ROC-AUC's paired difference has the
/// percentile interval of the two models' differences on the same
/// replicates (the same rows drawn for both).
#[test]
fn paired_differences_equal_the_reference() {
    let (y, s, w) = data(400, 13);
    let other: Vec<f64> = s
        .iter()
        .enumerate()
        .map(|(i, v)| v * 0.8 + 0.1 * ((i % 7) as f64 / 7.0))
        .collect();
    let (b, seed) = (200usize, 4u64);
    let iv = IntervalOptions {
        replicates: b,
        seed,
        ..IntervalOptions::default()
    };
    let (cand, _) = binary_full(&y, &s, &w, false, no_bootstrap());
    let (base, _) = binary_full(&y, &other, &w, false, no_bootstrap());
    let options = FullOptions {
        intervals: iv,
        ..FullOptions::default()
    };
    let mut c = evalkit::compare::compare(
        &cand,
        &base,
        evalkit::compare::Join::Position,
        &options,
        &|_, _| {},
    )
    .unwrap();
    let low = LowFpr {
        max_fpr: Some(0.2),
        tpr_at_fpr: Vec::new(),
    };
    evalkit::partial::attach_paired(&mut c, &cand, &base, &low, &iv).unwrap();
    let mut diffs = Vec::new();
    for rep in 0..b {
        let rw: Vec<f64> = (0..y.len())
            .map(|i| {
                f64::from(evalkit::uncertainty::lanes::poisson_weight(
                    seed, rep, i as u32,
                ))
            })
            .collect();
        diffs.push(
            reference_partial(&roc(&y, &s, &rw), 0.2)
                - reference_partial(&roc(&y, &other, &rw), 0.2),
        );
    }
    diffs.sort_by(f64::total_cmp);
    let want = evalkit::uncertainty::intervals::percentile(&diffs, 0.95);
    let d = c.delta.get("partial_roc_auc").unwrap();
    let got = d.ci.unwrap();
    assert!(
        (got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12,
        "{got:?} vs {want:?}"
    );
    let point = c.candidate.metrics().value("partial_roc_auc").unwrap()
        - c.baseline.metrics().value("partial_roc_auc").unwrap();
    assert_eq!(d.value, Some(point));
}
