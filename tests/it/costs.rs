//! Costs: the cost-optimal threshold equals a brute-force search over
//! every distinct score (constant and per-row costs, with and without
//! weights), the decision curve equals its formula, and bad costs exit 2.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use evalkit::costs::{Costs, analyse, decision_curve};
use evalkit::data::{ReadOptions, read_predictions};

use crate::common::{Rng, evalkit, fixture, stderr, stdout, write_ipc};

/// A prediction file of `n` rows with scores rounded to `decimals` (ties),
/// a per-row cost column `amount`, and weights when `weighted`.
fn file(
    dir: &std::path::Path,
    n: usize,
    decimals: i32,
    weighted: bool,
    seed: u64,
) -> std::path::PathBuf {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    let mut amount = Vec::new();
    let mut weight = Vec::new();
    for _ in 0..n {
        let y = (rng.unit() < 0.35) as i64;
        let s = 1.0 / (1.0 + (-(1.2 * y as f64 + rng.normal())).exp());
        labels.push(y);
        scores.push((s * 10f64.powi(decimals)).round() / 10f64.powi(decimals));
        amount.push((rng.unit() * 50.0).round());
        weight.push(if rng.unit() < 0.1 {
            0.0
        } else {
            (rng.unit() * 4.0).round() / 2.0
        });
    }
    let path = dir.join(format!("c{seed}.arrow"));
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("label", Arc::new(Int64Array::from(labels))),
        ("score", Arc::new(Float64Array::from(scores))),
        ("amount", Arc::new(Float64Array::from(amount))),
    ];
    if weighted {
        cols.push(("weight", Arc::new(Float64Array::from(weight))));
    }
    write_ipc(&path, cols, &[("evalkit.task", "binary")]);
    path
}

#[test]
fn the_cost_optimal_threshold_equals_a_brute_force_search() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..12u64 {
        let weighted = seed % 2 == 1;
        let path = file(
            dir.path(),
            [50, 300, 900][seed as usize % 3],
            [1, 2, 3][(seed / 3) as usize % 3],
            weighted,
            seed,
        );
        let read = ReadOptions {
            extra: vec!["amount".to_string()],
            ..ReadOptions::default()
        };
        let preds = read_predictions(&path, &read).unwrap();
        let evalkit::data::Columns::Binary { labels, scores } = &preds.columns else {
            unreachable!()
        };
        let s = scores.to_f64_vec();
        let w: Vec<f64> = (0..labels.len())
            .map(|r| preds.weights.as_ref().map_or(1.0, |w| w.get(r)))
            .collect();
        let amount: Vec<f64> = {
            let (_, a) = preds.extra.iter().find(|(n, _)| n == "amount").unwrap();
            a.as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        let result = evalkit::full::full(
            &preds,
            &evalkit::full::FullOptions {
                intervals: evalkit::uncertainty::IntervalOptions {
                    replicates: 0,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
        let evalkit::full::FullResult::Binary(b) = &result else {
            unreachable!()
        };
        for spec in ["fp=1,fn=5", "fp=3,fn=1", "fp=1,fn=amount", "fp=amount,fn=2"] {
            let costs: Costs = spec.parse().unwrap();
            let got = analyse(&costs, &b.curve, Some(&preds), 0.5).unwrap();
            let cost_of = |row: usize, fp: bool| {
                let which = if fp { &costs.fp } else { &costs.fn_ };
                match which {
                    evalkit::costs::Cost::Constant(v) => *v,
                    evalkit::costs::Cost::Column(_) => amount[row],
                }
            };
            // Every candidate: none positive, then each distinct score
            // (rows of weight 0 are not candidates, as in the curve).
            let mut cands: Vec<f64> = (0..s.len()).filter(|&r| w[r] > 0.0).map(|r| s[r]).collect();
            cands.sort_by(|a, b| b.total_cmp(a));
            cands.dedup();
            let total = |t: Option<f64>| -> f64 {
                (0..s.len())
                    .map(|r| {
                        let positive = t.is_some_and(|t| s[r] >= t);
                        match (labels[r] == 1, positive) {
                            (false, true) => w[r] * cost_of(r, true),
                            (true, false) => w[r] * cost_of(r, false),
                            _ => 0.0,
                        }
                    })
                    .sum()
            };
            let mut best = (None, total(None));
            for &t in &cands {
                let c = total(Some(t));
                if c < best.1 - 1e-9 * best.1.abs().max(1.0) {
                    best = (Some(t), c);
                }
            }
            assert_eq!(got.threshold, best.0, "seed {seed} {spec}");
            assert!(
                (got.total_cost - best.1).abs() <= 1e-9 * best.1.max(1.0),
                "seed {seed} {spec}"
            );
            let weight: f64 = w.iter().sum();
            let at = got.at_threshold.as_ref().unwrap();
            assert!((at.expected_cost - total(Some(0.5)) / weight).abs() < 1e-12);
            assert!((got.predict_none.unwrap() - total(None) / weight).abs() < 1e-12);
            // The curve at 0.37 is the cost of predicting rows ≥ 0.37.
            assert!((got.curve.expected_cost[37] - total(Some(0.37)) / weight).abs() < 1e-12);
        }
        // The decision curve: TP/W − FP/W · pt/(1 − pt) at each pt.
        let d = decision_curve(&b.curve);
        assert_eq!(d.threshold.len(), 99);
        let weight: f64 = w.iter().sum();
        for (i, &pt) in d.threshold.iter().enumerate() {
            let (tp, fp, p, n) = (0..s.len()).fold((0.0, 0.0, 0.0, 0.0), |(a, b, c, d), r| {
                let pos = s[r] >= pt;
                match labels[r] {
                    1 => (a + if pos { w[r] } else { 0.0 }, b, c + w[r], d),
                    _ => (a, b + if pos { w[r] } else { 0.0 }, c, d + w[r]),
                }
            });
            let odds = pt / (1.0 - pt);
            assert!((d.net_benefit[i] - (tp - fp * odds) / weight).abs() < 1e-12);
            assert!((d.treat_all[i] - (p - n * odds) / weight).abs() < 1e-12);
        }
    }
}

#[test]
fn the_cli_writes_costs_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), 200, 2, false, 3);
    let p = path.to_str().unwrap();
    let out = evalkit([
        "full",
        p,
        "--bootstrap",
        "0",
        "--json",
        "--cost",
        "fp=1,fn=amount",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["cost"]["fp"], 1.0);
    assert_eq!(doc["cost"]["fn"], "amount");
    assert!(
        doc["cost"]["expected_cost"].as_f64().unwrap()
            <= doc["cost"]["predict_none"].as_f64().unwrap()
    );
    assert_eq!(
        doc["cost"]["curve"]["threshold"].as_array().unwrap().len(),
        101
    );
    assert_eq!(
        doc["decision_curve"]["net_benefit"]
            .as_array()
            .unwrap()
            .len(),
        99
    );
    // Without --cost, neither key.
    let out = evalkit(["full", p, "--bootstrap", "0", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(doc.get("cost").is_none() && doc.get("decision_curve").is_none());

    // A negative cost names its row.
    let bad = dir.path().join("bad.arrow");
    write_ipc(
        &bad,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(vec![0, 1, 1])) as ArrayRef,
            ),
            ("score", Arc::new(Float64Array::from(vec![0.1, 0.8, 0.4]))),
            ("amount", Arc::new(Float64Array::from(vec![1.0, -2.0, 3.0]))),
        ],
        &[],
    );
    let b = bad.to_str().unwrap();
    let f = fixture("binary_balanced.arrow");
    let r = fixture("regression.arrow");
    for (args, message) in [
        (vec!["full", b, "--cost", "fp=1,fn=amount"], "row 1"),
        (vec!["full", b, "--cost", "fp=1,fn=nothere"], "nothere"),
        (vec!["full", b, "--cost", "fp=1,fn=label"], "label or score"),
        (
            vec!["full", b, p, "--cost", "fp=1,fn=amount"],
            "one prediction file",
        ),
        (
            vec!["full", r.to_str().unwrap(), "--cost", "fp=1,fn=2"],
            "binary classifier",
        ),
        (
            vec!["full", f.to_str().unwrap(), "--cost", "fp=1,fn=-1"],
            "0 or more",
        ),
    ] {
        let out = evalkit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}
