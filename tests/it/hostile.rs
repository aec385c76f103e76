//! Hostile inputs that once gave a panic, a wrong number or a misleading
//! message: zero weights under multinomial resampling, constant weighted
//! labels, slices without weight, too few replicates for the level,
//! negative numbers on the command line.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use evalkit::data::{ReadOptions, read_predictions};
use evalkit::full::{FullOptions, FullResult, full};
use evalkit::uncertainty::IntervalOptions;
use serde_json::Value;

use crate::common::{evalkit, fixture, stderr, stdout, write_ipc};

fn json(args: &[&str]) -> Value {
    let o = evalkit(args);
    assert!(
        o.status.success(),
        "{args:?}: exit {:?}\n{}",
        o.status.code(),
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// Every `value` in a JSON document is a number or null, and no metric
/// is reported as a number with NaN's spelling.
fn assert_no_nan_text(doc: &str) {
    assert!(!doc.contains("NaN") && !doc.contains("nan"), "{doc}");
}

fn f64s(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

/// Multiclass predictions with a weight column in which class 2's rows all
/// have weight 0 and a few other rows too.
fn multiclass_zero_weights(dir: &std::path::Path) -> std::path::PathBuf {
    let n = 300;
    let labels: Vec<i64> = (0..n).map(|i| (i % 3) as i64).collect();
    let mut p0 = Vec::new();
    let mut p1 = Vec::new();
    let mut p2 = Vec::new();
    for i in 0..n {
        let a = ((i * 37) % 100) as f64 / 100.0;
        let b = (1.0 - a) * (((i * 11) % 10) as f64 / 10.0);
        p0.push(a);
        p1.push(b);
        p2.push(1.0 - a - b);
    }
    let weights: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 2 || i % 7 == 0 { 0.0 } else { 1.5 })
        .collect();
    let path = dir.join("mc.arrow");
    write_ipc(
        &path,
        vec![
            ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
            ("p0", f64s(&p0)),
            ("p1", f64s(&p1)),
            ("p2", f64s(&p2)),
            ("weight", f64s(&weights)),
        ],
        &[],
    );
    path
}

#[test]
fn multinomial_resampling_with_zero_weights_runs_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let weighted = fixture("binary_weighted.arrow");
    let w = weighted.to_str().unwrap();
    let mc = multiclass_zero_weights(dir.path());
    let m = mc.to_str().unwrap();
    for args in [
        vec![
            "full",
            w,
            "--resample",
            "multinomial",
            "--bootstrap",
            "200",
            "--json",
        ],
        vec![
            "full",
            w,
            "--resample",
            "multinomial",
            "--method",
            "bca",
            "--bootstrap",
            "200",
            "--json",
        ],
        vec![
            "compare",
            w,
            w,
            "--resample",
            "multinomial",
            "--bootstrap",
            "200",
            "--json",
        ],
        vec![
            "full",
            m,
            "--score",
            "p0,p1,p2",
            "--resample",
            "multinomial",
            "--bootstrap",
            "100",
            "--json",
        ],
        vec![
            "compare",
            m,
            m,
            "--score",
            "p0,p1,p2",
            "--resample",
            "multinomial",
            "--bootstrap",
            "100",
            "--json",
        ],
    ] {
        let doc = json(&args);
        let acc = &doc["metrics"]["accuracy"];
        assert!(acc["ci"].is_array(), "{args:?}: {acc}");
        if args[0] == "compare" {
            assert!(doc["delta"]["accuracy"]["ci"].is_array(), "{args:?}");
        }
    }
}

#[test]
fn multinomial_draws_only_among_rows_of_positive_weight() {
    // A replicate's counts are zero on weight-0 rows and add up to the
    // rows of positive weight.
    let weights = [0.0, 1.0, 0.0, 2.5, 1.0, 0.0, 3.0];
    for r in 0..50 {
        let c = evalkit::uncertainty::bootstrap::multinomial_counts_weighted(7, r, &weights);
        assert_eq!(c.iter().sum::<u32>(), 4);
        for (i, w) in weights.iter().enumerate() {
            if *w == 0.0 {
                assert_eq!(c[i], 0);
            }
        }
    }
    // Without zero weights it is the plain multinomial draw.
    let ones = [1.0; 9];
    assert_eq!(
        evalkit::uncertainty::bootstrap::multinomial_counts_weighted(3, 5, &ones),
        evalkit::uncertainty::bootstrap::multinomial_counts(3, 5, 9)
    );
}

fn regression_r2(labels: &[f64], scores: &[f64], weights: &[f64]) -> evalkit::metrics::Metric {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.arrow");
    write_ipc(
        &path,
        vec![
            ("label", f64s(labels)),
            ("score", f64s(scores)),
            ("weight", f64s(weights)),
        ],
        &[],
    );
    let preds = read_predictions(
        &path,
        &ReadOptions {
            task: Some(evalkit::data::Task::Regression),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let options = FullOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    };
    let result = full(&preds, &options).unwrap();
    result.metrics().get("r2").unwrap().clone()
}

#[test]
fn weighted_r2_with_constant_labels_is_undefined() {
    let cases: [(&[f64], &[f64], &[f64]); 4] = [
        (
            &[3.0; 7],
            &[2.9, 3.1, 3.0, 2.5, 3.3, 3.0, 2.0],
            &[0.7, 0.1, 0.3, 1.9, 0.2, 0.9, 0.6],
        ),
        (&[0.1], &[0.1], &[0.7]),
        (&[0.1, 0.1], &[0.1, 0.2], &[0.7, 0.1]),
        // Equal labels on every row of positive weight; another label with
        // weight 0 does not count.
        (&[0.1, 0.1, 5.0], &[0.1, 0.2, 0.3], &[0.7, 0.1, 0.0]),
    ];
    for (labels, scores, weights) in cases {
        let m = regression_r2(labels, scores, weights);
        assert_eq!(m.value, None, "{labels:?} {weights:?}: {m:?}");
        assert!(m.reason.unwrap().contains("constant"));
    }
    // Two distinct labels: defined, and as scikit-learn computes it.
    let m = regression_r2(&[1.0, 2.0], &[1.0, 2.0], &[0.3, 0.7]);
    assert_eq!(m.value, Some(1.0));
}

#[test]
fn r2_intervals_with_constant_labels_are_withheld_not_noise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.arrow");
    let n = 200;
    let labels = vec![0.1; n];
    let scores: Vec<f64> = (0..n).map(|i| 0.1 + (i % 7) as f64 * 0.01).collect();
    let weights: Vec<f64> = (0..n).map(|i| 0.1 + (i % 5) as f64 * 0.3).collect();
    write_ipc(
        &path,
        vec![
            ("label", f64s(&labels)),
            ("score", f64s(&scores)),
            ("weight", f64s(&weights)),
        ],
        &[],
    );
    let doc = json(&[
        "full",
        path.to_str().unwrap(),
        "--task",
        "regression",
        "--bootstrap",
        "200",
        "--json",
    ]);
    assert_eq!(doc["metrics"]["r2"]["value"], Value::Null);
    assert_eq!(doc["metrics"]["r2"]["ci"], Value::Null);
    assert!(doc["metrics"]["mse"]["ci"].is_array());
}

/// Binary predictions with a `region` column: region "a" has positives and
/// negatives, all with weight 0.
fn sliced_zero_weight(dir: &std::path::Path) -> std::path::PathBuf {
    let n = 120;
    let labels: Vec<i64> = (0..n).map(|i| ((i * 7) % 3 == 0) as i64).collect();
    let scores: Vec<f64> = (0..n).map(|i| ((i * 53) % 97) as f64 / 97.0).collect();
    let region: Vec<&str> = (0..n).map(|i| if i % 4 == 0 { "a" } else { "b" }).collect();
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                0.0
            } else {
                1.0 + (i % 3) as f64
            }
        })
        .collect();
    let path = dir.join("sliced.arrow");
    write_ipc(
        &path,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(labels.clone())) as ArrayRef,
            ),
            ("score", f64s(&scores)),
            (
                "region",
                Arc::new(StringArray::from(region.clone())) as ArrayRef,
            ),
            ("weight", f64s(&weights)),
        ],
        &[],
    );
    // Region "a" alone.
    let keep: Vec<usize> = (0..n).filter(|i| i % 4 == 0).collect();
    write_ipc(
        &dir.join("a.arrow"),
        vec![
            (
                "label",
                Arc::new(Int64Array::from(
                    keep.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "score",
                f64s(&keep.iter().map(|&i| scores[i]).collect::<Vec<_>>()),
            ),
            ("weight", f64s(&vec![0.0; keep.len()])),
        ],
        &[],
    );
    path
}

#[test]
fn a_slice_whose_weights_are_all_zero_equals_the_filtered_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = sliced_zero_weight(dir.path());
    let o = evalkit([
        "full",
        path.to_str().unwrap(),
        "--slice",
        "region",
        "--bootstrap",
        "50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_no_nan_text(&text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let a = doc["slices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"]["region"] == "a")
        .unwrap();
    let alone = json(&[
        "full",
        dir.path().join("a.arrow").to_str().unwrap(),
        "--bootstrap",
        "50",
        "--json",
    ]);
    assert_no_nan_text(&alone.to_string());
    for (name, m) in a["metrics"].as_object().unwrap() {
        assert_eq!(m["value"], Value::Null, "{name}: {m}");
        assert_eq!(m["ci"], Value::Null, "{name}: {m}");
        assert_eq!(m["reason"], evalkit::full::EVERY_WEIGHT_ZERO, "{name}: {m}");
        assert_eq!(&alone["metrics"][name], m, "{name}");
    }
    assert_eq!(
        a["metrics"].as_object().unwrap().len(),
        evalkit::metrics::binary::METRICS.len()
    );
    // The table says n/a, never NaN.
    let o = evalkit([
        "full",
        path.to_str().unwrap(),
        "--slice",
        "region",
        "--bootstrap",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("NaN"), "{}", stdout(&o));
}

#[test]
fn a_file_whose_weights_are_all_zero_gives_every_task_undefined_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.arrow");
    write_ipc(
        &path,
        vec![
            ("label", f64s(&[1.0, 2.5, 3.0])),
            ("score", f64s(&[1.5, 2.0, 2.0])),
            ("weight", f64s(&[0.0, 0.0, 0.0])),
        ],
        &[],
    );
    for args in [
        vec![
            "full",
            "--task",
            "regression",
            "--bootstrap",
            "20",
            "--json",
        ],
        vec!["full", "--task", "regression", "--bootstrap", "0", "--json"],
    ] {
        let mut a = args.clone();
        a.insert(1, path.to_str().unwrap());
        let o = evalkit(&a);
        assert!(o.status.success(), "{a:?}: {}", stderr(&o));
        let text = stdout(&o);
        assert_no_nan_text(&text);
        let doc: Value = serde_json::from_str(&text).unwrap();
        for (name, m) in doc["metrics"].as_object().unwrap() {
            assert_eq!(m["value"], Value::Null, "{name}");
        }
        assert!(stderr(&o).contains("every weight is 0"), "{}", stderr(&o));
    }
    let mc = multiclass_zero_weights(dir.path());
    let preds = read_predictions(
        &mc,
        &ReadOptions {
            score: vec!["p0".into(), "p1".into(), "p2".into()],
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let zero = preds.gather(&[2, 5, 8]);
    let r = full(&zero, &FullOptions::default()).unwrap();
    assert!(matches!(r, FullResult::Multiclass(_)));
    assert_eq!(r.withheld(), Some(evalkit::full::EVERY_WEIGHT_ZERO));
    assert!(r.metrics().iter().all(|(_, m)| m.value.is_none()));
}

#[test]
fn a_class_whose_rows_all_have_weight_zero_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let mc = multiclass_zero_weights(dir.path());
    let o = evalkit([
        "full",
        mc.to_str().unwrap(),
        "--score",
        "p0,p1,p2",
        "--bootstrap",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("class 2 has rows only of weight 0"), "{err}");
    assert!(!err.contains("no rows"), "{err}");
}

#[test]
fn best_f1_without_positives_is_zero_like_f1() {
    let doc = json(&[
        "full",
        fixture("binary_one_class.arrow").to_str().unwrap(),
        "--bootstrap",
        "100",
        "--json",
    ]);
    let m = &doc["metrics"];
    assert_eq!(m["f1"]["value"], 0.0);
    assert_eq!(m["best_f1"]["value"], 0.0);
    assert_eq!(m["best_f1"]["ci"], serde_json::json!([0.0, 0.0]));
    assert_eq!(m["best_f1_threshold"]["value"], Value::Null);
    assert!(
        m["best_f1_threshold"]["reason"]
            .as_str()
            .unwrap()
            .contains("no positive labels")
    );
}

#[test]
fn too_few_replicates_for_the_level_withhold_intervals() {
    let f = fixture("binary_balanced.arrow");
    let f = f.to_str().unwrap();
    for (b, level) in [("1", "0.95"), ("10", "0.999999"), ("39", "0.95")] {
        let o = evalkit(["full", f, "--bootstrap", b, "--ci", level, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
        for (name, m) in doc["metrics"].as_object().unwrap() {
            if name != "roc_auc" {
                assert_eq!(m["ci"], Value::Null, "B={b} level={level} {name}: {m}");
            }
        }
        // DeLong's interval needs no replicates.
        assert!(doc["delong"]["ci"].is_array());
        let err = stderr(&o);
        assert!(
            err.contains("fewer than one beyond each tail")
                && err.matches("no bootstrap intervals").count() == 1,
            "{err}"
        );
        assert!(
            doc["warnings"]
                .to_string()
                .contains("fewer than one beyond each tail")
        );
    }
    // Enough for an interval, but noisy: a warning.
    let o = evalkit(["full", f, "--bootstrap", "100", "--json"]);
    assert!(o.status.success());
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(doc["metrics"]["log_loss"]["ci"].is_array());
    assert!(stderr(&o).contains("noisy"), "{}", stderr(&o));
    // The default is quiet.
    let o = evalkit(["full", f, "--bootstrap", "1000", "--json"]);
    assert!(!stderr(&o).contains("noisy"), "{}", stderr(&o));
}

#[test]
fn negative_numbers_get_one_line_errors() {
    let f = fixture("binary_balanced.arrow");
    let f = f.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["full", f, "--threshold", "-0.1"],
            "--threshold -0.1 is not a probability",
        ),
        (
            vec!["fast", f, "--threshold", "-0.1"],
            "--threshold -0.1 is not a probability",
        ),
        (vec!["full", f, "--bootstrap", "-1"], "--bootstrap"),
        (vec!["full", f, "--seed", "-1"], "--seed"),
        (vec!["full", f, "--ci", "-0.5"], "--ci -0.5 is not a level"),
        (vec!["full", "--bootstrap", "5"], "required"),
    ] {
        let o = evalkit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() <= 2 && lines[0].starts_with("evalkit: error: ") && err.contains(needle),
            "{args:?}:\n{err}"
        );
        if lines.len() == 2 {
            assert!(lines[1].starts_with("  hint: "), "{err}");
        }
    }
}

#[test]
fn a_missing_slice_column_does_not_suggest_a_flag_full_lacks() {
    let f = fixture("binary_balanced.arrow");
    let o = evalkit(["full", f.to_str().unwrap(), "--slice", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'nope'") && !err.contains("--id"), "{err}");
}

#[test]
fn weights_too_large_for_the_sums_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.arrow");
    write_ipc(
        &path,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(vec![0, 1, 0, 1])) as ArrayRef,
            ),
            ("score", f64s(&[0.1, 0.9, 0.4, 0.6])),
            ("weight", f64s(&[1.0, 1e300, 1.0, 1.0])),
        ],
        &[],
    );
    let o = evalkit(["full", path.to_str().unwrap(), "--bootstrap", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.lines().count() == 1
            && err.contains("column 'weight', row 1")
            && err.contains("too large"),
        "{err}"
    );
}
