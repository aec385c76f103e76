//! Slices against the rest of the data, with multiplicity control: Holm
//! and Benjamini–Hochberg equal statsmodels, each test equals its
//! definition, and 200 equal slices do not flag one by chance more than
//! the family-wise rate allows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use evalkit::data::Predictions;
use evalkit::full::FullOptions;
use evalkit::multiplicity::{benjamini_hochberg, holm};
use evalkit::slices::{VersusRest, full_sliced};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{Rng, evalkit, expected, stderr, stdout, write_ipc};

#[test]
fn adjusted_p_values_equal_statsmodels() {
    let doc = expected("multipletests");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for case in cases {
        let p = floats(&case["p"]);
        for (got, want, name) in [
            (holm(&p), floats(&case["holm"]), "holm"),
            (benjamini_hochberg(&p), floats(&case["bh"]), "bh"),
        ] {
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1e-300),
                    "{name} m={} [{i}]: {g} vs {w}",
                    p.len()
                );
            }
        }
    }
}

fn no_bootstrap() -> FullOptions {
    FullOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    }
}

/// Binary predictions with a slice column: labels Bernoulli(0.5), scores
/// `y + N(0, 1)` squashed; rows of the slices in `broken` get scores that
/// ignore the label.
fn sliced(rows: usize, slices: usize, broken: &[i64], seed: u64) -> Predictions {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut y, mut s, mut k) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        let slice = (i % slices) as i64;
        let label = (rng.unit() < 0.5) as i64;
        let signal = if broken.contains(&slice) {
            0.0
        } else {
            label as f64
        };
        let x = signal + rng.normal();
        y.push(label);
        s.push(1.0 / (1.0 + (-x).exp()));
        k.push(slice);
    }
    let mut preds = Predictions::from_arrays(
        "sliced",
        Arc::new(Int64Array::from(y)),
        vec![Arc::new(Float64Array::from(s)) as ArrayRef],
        None,
        None,
        None,
    )
    .unwrap();
    preds.extra.push((
        "slice".to_string(),
        Arc::new(Int64Array::from(k)) as ArrayRef,
    ));
    preds
}

fn tests_of(preds: &Predictions, min_rows: usize) -> Vec<(Vec<String>, VersusRest)> {
    full_sliced(
        preds,
        &[vec!["slice".to_string()]],
        &no_bootstrap(),
        min_rows,
        &|_, _| {},
    )
    .unwrap()
    .into_iter()
    .filter_map(|s| match s.versus_rest {
        Some(Ok(t)) => Some((s.key, t)),
        _ => None,
    })
    .collect()
}

/// Each test from its definition: the slice's and the rest's ROC-AUC, each
/// on its own rows, and the variances under the null from all the rows'
/// DeLong structural components with each side's class counts.
#[test]
fn each_test_equals_its_definition() {
    let preds = sliced(3000, 6, &[2], 1);
    let tests = tests_of(&preds, 30);
    assert_eq!(tests.len(), 6);
    let keys = evalkit::slices::groups(&preds, &["slice".to_string()]).unwrap();
    let evalkit::data::Columns::Binary { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let all = evalkit::uncertainty::delong::structural(
        &evalkit::metrics::curves::BinaryCurve::build(labels, scores, None),
    )
    .unwrap();
    let mut p = Vec::new();
    for ((key, t), (gkey, rows)) in tests.iter().zip(&keys) {
        assert_eq!(key, gkey);
        let rest: Vec<u32> = (0..preds.rows() as u32)
            .filter(|r| !rows.contains(r))
            .collect();
        let one = |r: &[u32]| {
            let sub = preds.gather(r);
            let f = evalkit::full::full(&sub, &no_bootstrap()).unwrap();
            let evalkit::full::FullResult::Binary(b) = f else {
                unreachable!()
            };
            let auc = b.metrics.value("roc_auc").unwrap();
            (auc, all.s10 / b.positives + all.s01 / b.negatives)
        };
        let ((a, va), (b, vb)) = (one(rows), one(&rest));
        assert_eq!(t.metric, "roc_auc");
        assert!((t.value - a).abs() < 1e-12 && (t.rest - b).abs() < 1e-12);
        assert!((t.std_error - (va + vb).sqrt()).abs() < 1e-12 * t.std_error);
        // On the arcsine-square-root scale, by the delta method at the
        // AUC of all the rows.
        let g = |v: f64| v.sqrt().asin();
        let z = (g(a) - g(b)) * 2.0 * (all.auc * (1.0 - all.auc)).sqrt() / (va + vb).sqrt();
        assert!((t.z - z).abs() < 1e-9);
        p.push(t.p_value);
    }
    let h = holm(&p);
    for ((_, t), h) in tests.iter().zip(&h) {
        assert_eq!(t.p_holm, *h);
    }
    // The broken slice is worse, flagged, and the only one flagged.
    let flagged: Vec<&Vec<String>> = tests
        .iter()
        .filter(|(_, t)| t.flagged)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(flagged, vec![&vec!["2".to_string()]]);
}

/// 200 slices from one distribution: Holm keeps the chance of flagging any
/// slice at about 5% or less; each raw test rejects about 5% of the time;
/// without adjustment about ten slices a run would look significant.
#[test]
fn two_hundred_equal_slices_are_not_flagged_by_chance() {
    let runs = 60;
    let (mut any_holm, mut any_bh, mut raw, mut tests) = (0, 0, 0usize, 0usize);
    for run in 0..runs {
        let preds = sliced(200 * 60, 200, &[], 100 + run);
        let t = tests_of(&preds, 30);
        tests += t.len();
        raw += t.iter().filter(|(_, t)| t.p_value < 0.05).count();
        any_holm += t.iter().any(|(_, t)| t.p_holm < 0.05) as u32;
        any_bh += t.iter().any(|(_, t)| t.p_bh < 0.05) as u32;
    }
    let raw_rate = raw as f64 / tests as f64;
    let fwer = any_holm as f64 / runs as f64;
    println!(
        "{runs} runs of 200 equal slices: raw p < 0.05 in {raw} of {tests} tests ({raw_rate:.4}); Holm flagged a slice in {any_holm} runs, BH in {any_bh}"
    );
    assert!(
        (0.03..=0.075).contains(&raw_rate),
        "raw rejection rate {raw_rate} over {tests} tests"
    );
    // 60 runs: 5% is 3 runs; allow sampling noise (P(X ≥ 8) < 1% at 5%).
    assert!(
        fwer <= 7.0 / 60.0,
        "Holm flagged a slice in {any_holm} of {runs} runs"
    );
    assert!(
        any_bh as f64 / runs as f64 <= 7.0 / 60.0,
        "BH: {any_bh} of {runs}"
    );
}

/// Multiclass accuracy and regression RMSE against the rest: values equal
/// the point metrics of each side's rows.
#[test]
fn multiclass_and_regression_test_their_headline() {
    for (fixture, metric) in [
        ("multiclass_digits.arrow", "accuracy"),
        ("regression.arrow", "rmse"),
    ] {
        let mut preds =
            evalkit::data::read_predictions(&crate::common::fixture(fixture), &Default::default())
                .unwrap();
        let n = preds.rows();
        preds.extra.push((
            "slice".to_string(),
            Arc::new(Int64Array::from(
                (0..n as i64).map(|i| i % 3).collect::<Vec<_>>(),
            )) as ArrayRef,
        ));
        let tests = tests_of(&preds, 10);
        assert_eq!(tests.len(), 3, "{fixture}");
        for (key, t) in &tests {
            assert_eq!(t.metric, metric);
            let k: i64 = key[0].parse().unwrap();
            let rest: Vec<u32> = (0..n as u32).filter(|&r| r as i64 % 3 != k).collect();
            let f = evalkit::full::full(&preds.gather(&rest), &no_bootstrap()).unwrap();
            let want = f.metrics().value(metric).unwrap();
            assert!(
                (t.rest - want).abs() < 1e-9,
                "{fixture}: {} vs {want}",
                t.rest
            );
            assert!(t.std_error > 0.0 && t.p_value > 0.0 && t.p_value <= 1.0);
        }
    }
}

/// The command line sorts flagged slices first and says how many there are;
/// the JSON gives raw and adjusted p-values.
#[test]
fn the_command_line_lists_flagged_slices_first() {
    let dir = tempfile::tempdir().unwrap();
    let preds = sliced(4000, 8, &[5], 3);
    let path = dir.path().join("sliced.arrow");
    let evalkit::data::Columns::Binary { labels, scores } = &preds.columns else {
        unreachable!()
    };
    write_ipc(
        &path,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(
                    labels.iter().map(|&y| y as i64).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "score",
                Arc::new(Float64Array::from(scores.to_f64_vec())) as ArrayRef,
            ),
            ("slice", preds.extra("slice").unwrap().clone()),
        ],
        &[],
    );
    let f = path.to_str().unwrap();
    let out = evalkit(["full", f, "--slice", "slice", "--bootstrap", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_slice_5_first(&text);
    assert!(text.contains("1 worse at 0.05 after adjustment"), "{text}");
    let out = evalkit(["full", f, "--slice", "slice", "--bootstrap", "0", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["slices_flagged"], 1);
    let s5 = &doc["slices"][5]["versus_rest"];
    assert_eq!(s5["flagged"], true);
    assert!(s5["p_holm"].as_f64().unwrap() >= s5["p_value"].as_f64().unwrap());
    assert!(s5["p_bh"].as_f64().unwrap() <= s5["p_holm"].as_f64().unwrap());
}

/// The first row of the table under "slices by slice" is slice 5, flagged.
fn assert_slice_5_first(text: &str) {
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("slices by slice"))
        .collect();
    assert!(table[2].starts_with("5 "), "{text}");
    assert!(table[2].contains("worse ▼"), "{text}");
}

/// With a baseline, each slice's ROC-AUC is tested against the baseline's
/// on the same rows (DeLong's paired test, as `compare` on the slice), and
/// only the slice where the candidate broke is flagged.
#[test]
fn slices_against_the_baseline_are_paired_and_adjusted() {
    let (cand, base) = candidate_and_baseline();
    let slicings = [vec!["slice".to_string()]];
    let tests = evalkit::slices::versus_baseline(&cand, &base, &slicings, 30, 0.95).unwrap();
    assert_eq!(tests.len(), 8);
    let keys = evalkit::slices::groups(&cand, &slicings[0]).unwrap();
    for ((key, rows), t) in keys.iter().zip(&tests) {
        let t = t.as_ref().unwrap();
        let c = evalkit::compare::compare(
            &cand.gather(rows),
            &base.gather(rows),
            evalkit::compare::Join::Position,
            &no_bootstrap(),
            &|_, _| {},
        )
        .unwrap();
        let d = c.delong.unwrap();
        assert!((t.difference - d.difference).abs() < 1e-15);
        assert!((t.p_value - d.p_value).abs() < 1e-12);
        assert_eq!(t.flagged, key[0] == "5", "{key:?}: {t:?}");
    }
    // The report shows them, flagged first.
    let report = evalkit::report::build(
        std::slice::from_ref(&cand),
        Some(&base),
        &evalkit::report::ReportOptions {
            full: no_bootstrap(),
            slices: slicings.to_vec(),
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let html = evalkit::report::html::render(&report);
    assert!(html.contains("▼ below baseline"));
    assert!(html.contains("1 slice is below the baseline after adjustment"));
}

/// The candidate of [`slices_against_the_baseline_are_paired_and_adjusted`]
/// (slice 5 broken) and its baseline (the good model with noise of its own).
fn candidate_and_baseline() -> (Predictions, Predictions) {
    let cand = sliced(4000, 8, &[5], 3);
    let mut base = sliced(4000, 8, &[], 3);
    let mut rng = Rng(77);
    let evalkit::data::Columns::Binary { scores, .. } = &mut base.columns else {
        unreachable!()
    };
    let jittered: Vec<f64> = scores
        .to_f64_vec()
        .iter()
        .map(|s| (s + 0.02 * (rng.unit() - 0.5)).clamp(0.0, 1.0))
        .collect();
    *scores = evalkit::data::Floats::from(jittered);
    (cand, base)
}

/// Writes the rows `keep` of binary predictions to `path` (label, score,
/// and the slice column when `with_slice`).
fn write_rows(path: &std::path::Path, preds: &Predictions, keep: &[usize], with_slice: bool) {
    let evalkit::data::Columns::Binary { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let scores = scores.to_f64_vec();
    let mut columns = vec![
        (
            "label",
            Arc::new(Int64Array::from(
                keep.iter().map(|&i| labels[i] as i64).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "score",
            Arc::new(Float64Array::from(
                keep.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ];
    if with_slice {
        let all = preds.extra("slice").unwrap();
        let idx =
            arrow::array::UInt32Array::from(keep.iter().map(|&i| i as u32).collect::<Vec<_>>());
        columns.push(("slice", arrow::compute::take(all, &idx, None).unwrap()));
    }
    write_ipc(path, columns, &[]);
}

/// `compare --slice`: each slice's comparison (both models' metrics, the
/// paired differences with their bootstrap intervals) is bit-identical to
/// `compare` on the two files filtered to the slice; the paired ROC-AUC
/// tests equal [`evalkit::slices::versus_baseline`]'s; the broken slice is
/// flagged and listed first; slices under `--min-slice` get point values
/// only.
#[test]
fn compare_by_slice_equals_compare_on_the_filtered_files() {
    let (cand, base) = candidate_and_baseline();
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<usize> = (0..cand.rows()).collect();
    let (c, b) = (dir.path().join("cand.arrow"), dir.path().join("base.arrow"));
    write_rows(&c, &cand, &all, true);
    write_rows(&b, &base, &all, false);
    let (c, b) = (c.to_str().unwrap(), b.to_str().unwrap());
    let args = [
        "compare",
        c,
        b,
        "--slice",
        "slice",
        "--bootstrap",
        "40",
        "--seed",
        "9",
    ];
    let out = evalkit(args.iter().chain(&["--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["slices_flagged"], 1);
    let slices = doc["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 8);
    let tests =
        evalkit::slices::versus_baseline(&cand, &base, &[vec!["slice".to_string()]], 30, 0.95)
            .unwrap();
    for (s, t) in slices.iter().zip(&tests) {
        let t = t.as_ref().unwrap();
        let v = &s["versus_baseline"];
        // Through the same JSON text: serde_json's parser (without its
        // float_roundtrip feature) can land an ulp off at exponents like
        // e-148, so both sides are printed and parsed alike.
        let through_json =
            |x: f64| -> f64 { serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap() };
        assert_eq!(v["p_holm"].as_f64().unwrap(), through_json(t.p_holm), "{s}");
        assert_eq!(v["flagged"], t.flagged);
        assert_eq!(t.flagged, s["key"]["slice"] == "5", "{}", s["key"]);
    }
    // Slice 5 against the filtered files, with the same seed.
    let keep: Vec<usize> = (0..cand.rows()).filter(|i| i % 8 == 5).collect();
    let (c5, b5) = (dir.path().join("c5.arrow"), dir.path().join("b5.arrow"));
    write_rows(&c5, &cand, &keep, false);
    write_rows(&b5, &base, &keep, false);
    let out = evalkit([
        "compare",
        c5.to_str().unwrap(),
        b5.to_str().unwrap(),
        "--bootstrap",
        "40",
        "--seed",
        "9",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alone: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s5 = &slices[5];
    assert_eq!(s5["rows"], keep.len());
    for key in ["metrics", "baseline", "delta"] {
        assert_eq!(s5[key], alone[key], "{key}");
    }
    assert!(s5["delta"]["roc_auc"]["ci"][1].as_f64().unwrap() < 0.0);
    // The table lists the broken slice first, flagged.
    let out = evalkit(args);
    let text = stdout(&out);
    assert_slice_5_first(&text);
    assert!(text.contains("1 worse than the baseline at 0.05"), "{text}");
    // Under --min-slice: point values only, no test.
    let out = evalkit(args.iter().chain(&["--min-slice", "1000", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s0 = &doc["slices"][0];
    assert_eq!(s0["too_small"], true);
    assert!(s0["delta"]["roc_auc"]["value"].is_number());
    assert!(s0["delta"]["roc_auc"]["ci"].is_null());
    assert!(s0["versus_baseline"]["p_value"].is_null());
    assert_eq!(doc["slices_flagged"], 0);
    // A slice column that is not there, or the label: exit 2, named.
    for (col, says) in [("nope", "nope"), ("label", "label")] {
        let out = evalkit(["compare", c, b, "--slice", col]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}
