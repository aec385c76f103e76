//! `--metrics NAME,...`: only the metrics asked for, each equal to the same
//! metric of a run without `--metrics` (value, interval and method, bit for
//! bit), through every pass that skips work (binary replicates without the
//! row terms or the best F1, multiclass without the one-vs-rest passes),
//! in `full`, `compare`, slices, states, the report and suites; names that
//! are not metrics of the task are usage errors.

use serde_json::Value;

use crate::common::{evalkit, fixture, stderr, stdout};

fn json(args: &[&str]) -> Value {
    let out = evalkit(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The metric names of a JSON object, in order.
fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// `full FILE ARGS --json` with and without `--metrics LIST`: the selected
/// run holds exactly `want` (in the registry's order), each identical to
/// the full run's, and no warning about the metrics left out.
fn check_full(file: &str, extra: &[&str], list: &str, want: &[&str]) {
    let path = fixture(file);
    let mut args = vec!["full", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let all = json(&args);
    let mut sel_args = args.clone();
    sel_args.extend_from_slice(&["--metrics", list]);
    let out = evalkit(&sel_args);
    assert_eq!(out.status.code(), Some(0), "{sel_args:?}: {}", stderr(&out));
    let sel: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(keys(&sel["metrics"]), want, "{file} {extra:?} {list}");
    for name in want {
        assert_eq!(
            sel["metrics"][name], all["metrics"][name],
            "{file} {extra:?} --metrics {list}: {name}"
        );
        if !extra.contains(&"0") {
            assert_ne!(
                sel["metrics"][name]["method"], "none",
                "{file} {list} {name}"
            );
        }
    }
    // Nothing is said about metrics nobody asked for.
    let err = stderr(&out);
    for (name, _) in all["metrics"].as_object().unwrap() {
        if !want.contains(&name.as_str()) {
            assert!(!err.contains(&format!("{name}:")), "{list}: {err}");
        }
    }
}

#[test]
fn binary_selections_equal_the_full_run_bit_for_bit() {
    let b = ["--bootstrap", "200", "--seed", "5"];
    for file in [
        "binary_balanced.arrow",
        "binary_weighted.arrow",
        "binary_ties.arrow",
    ] {
        // The ranking only; with the best F1; with the row terms; a mix.
        check_full(
            file,
            &b,
            "roc_auc,average_precision",
            &["roc_auc", "average_precision"],
        );
        check_full(
            file,
            &b,
            "best_f1,roc_auc,average_precision",
            &["roc_auc", "average_precision", "best_f1"],
        );
        check_full(file, &b, "ece,log_loss", &["log_loss", "ece"]);
        check_full(
            file,
            &b,
            " brier , mcc,best_f1_threshold",
            &["brier", "mcc", "best_f1_threshold"],
        );
    }
    // Other resamplings and BCa (the jackknife runs the same lean pass).
    for extra in [
        &["--bootstrap", "200", "--method", "bca"][..],
        &["--bootstrap", "200", "--resample", "stratified"],
        &["--bootstrap", "200", "--resample", "multinomial"],
        &["--bootstrap", "0"],
    ] {
        check_full(
            "binary_balanced.arrow",
            extra,
            "roc_auc,best_f1",
            &["roc_auc", "best_f1"],
        );
    }
}

#[test]
fn multiclass_regression_and_ranking_selections_equal_the_full_run() {
    let b = ["--bootstrap", "200"];
    // Without the one-vs-rest passes, and with them.
    check_full(
        "multiclass_digits.arrow",
        &b,
        "accuracy,macro_f1,log_loss",
        &["accuracy", "macro_f1", "log_loss"],
    );
    check_full(
        "multiclass_digits.arrow",
        &b,
        "weighted_average_precision,accuracy",
        &["accuracy", "weighted_average_precision"],
    );
    check_full("regression.arrow", &b, "r2,mae", &["mae", "r2"]);
    // A ranking name selects its family at every cutoff.
    check_full(
        "ranking.arrow",
        &["--bootstrap", "100", "--k", "5,10"],
        "ndcg@10,mrr",
        &["ndcg@5", "ndcg@10", "mrr"],
    );
}

#[test]
fn the_one_vs_rest_table_keeps_its_intervals_only_when_its_averages_are_asked_for() {
    let path = fixture("multiclass_digits.arrow");
    let p = path.to_str().unwrap();
    let lean = json(&[
        "full",
        p,
        "--json",
        "--bootstrap",
        "100",
        "--metrics",
        "accuracy",
    ]);
    let all = json(&["full", p, "--json", "--bootstrap", "100"]);
    let class = |doc: &Value, key: &str| doc["per_class"][0][key].clone();
    // Point values stay; intervals of the skipped passes are not made up.
    assert_eq!(class(&lean, "roc_auc"), class(&all, "roc_auc"));
    assert!(
        class(&all, "roc_auc_ci").is_array(),
        "{}",
        all["per_class"][0]
    );
    assert!(
        class(&lean, "roc_auc_ci").is_null(),
        "{}",
        lean["per_class"][0]
    );
}

#[test]
fn compare_keeps_the_selected_metrics_and_their_paired_intervals() {
    let (c, b) = (
        fixture("binary_balanced.arrow"),
        fixture("binary_baseline.arrow"),
    );
    let args = [
        "compare",
        c.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
        "--bootstrap",
        "200",
    ];
    let all = json(&args);
    let mut sel_args = args.to_vec();
    sel_args.extend_from_slice(&["--metrics", "average_precision,f1"]);
    let sel = json(&sel_args);
    // The candidate's metrics, the baseline's and the paired differences.
    for part in ["metrics", "baseline", "delta"] {
        assert_eq!(keys(&sel[part]), ["average_precision", "f1"], "{part}");
        for name in ["average_precision", "f1"] {
            assert_eq!(sel[part][name], all[part][name], "{part} {name}");
        }
    }
    // DeLong's paired test still runs (it is not a metric of the table).
    assert_eq!(sel["delong"], all["delong"]);
}

#[test]
fn slices_keep_their_test_against_the_rest_and_show_only_the_selection() {
    let path = fixture("binary_sliced.arrow");
    let p = path.to_str().unwrap();
    let base = ["full", p, "--slice", "region", "--bootstrap", "100"];
    let mut a = base.to_vec();
    a.push("--json");
    let all = json(&a);
    let mut s = a.clone();
    s.extend_from_slice(&["--metrics", "log_loss"]);
    let sel = json(&s);
    let (sa, ss) = (
        all["slices"].as_array().unwrap(),
        sel["slices"].as_array().unwrap(),
    );
    assert_eq!(sa.len(), ss.len());
    for (x, y) in sa.iter().zip(ss) {
        assert_eq!(keys(&y["metrics"]), ["log_loss"]);
        assert_eq!(y["metrics"]["log_loss"], x["metrics"]["log_loss"]);
        // The test reads ROC-AUC, computed for it and then left out.
        assert_eq!(y["versus_rest"], x["versus_rest"]);
    }
    let mut t = base.to_vec();
    t.extend_from_slice(&["--metrics", "log_loss"]);
    let out = evalkit(&t);
    let text = stdout(&out);
    let header = text
        .lines()
        .find(|l| l.starts_with("region"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        header.contains("log_loss") && !header.contains("accuracy"),
        "{header}"
    );
    assert!(
        text.contains("the slice's roc_auc minus the rest's"),
        "{text}"
    );
}

#[test]
fn states_and_shards_honour_the_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fixture("binary_balanced.arrow");
    let st = tmp.path().join("a.evstate");
    let out = evalkit(["state", path.to_str().unwrap(), "-o", st.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = st.to_str().unwrap();
    let all = json(&["full", s, "--json", "--bootstrap", "100"]);
    let sel = json(&[
        "full",
        s,
        "--json",
        "--bootstrap",
        "100",
        "--metrics",
        "ece,roc_auc",
    ]);
    assert_eq!(keys(&sel["metrics"]), ["roc_auc", "ece"]);
    for name in ["roc_auc", "ece"] {
        assert_eq!(sel["metrics"][name], all["metrics"][name], "{name}");
    }
}

#[test]
fn names_that_are_not_the_tasks_metrics_are_usage_errors() {
    let path = fixture("binary_balanced.arrow");
    let p = path.to_str().unwrap();
    for (list, says) in [
        ("roc_auc,rocauc", "no metric is called 'rocauc'"),
        (
            "rmse",
            "rmse is a regression metric, and these predictions are binary",
        ),
        ("macro_f1", "macro_f1 is a multiclass metric"),
        ("", "the list of metrics is empty"),
        (" , ", "the list of metrics is empty"),
    ] {
        for cmd in [
            vec!["full", p, "--metrics", list],
            vec!["compare", p, p, "--metrics", list],
        ] {
            let out = evalkit(&cmd);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
            assert!(err.contains(says), "{cmd:?}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    // The unknown name's message lists the binary metrics.
    let out = evalkit(["full", p, "--metrics", "auc"]);
    assert!(stderr(&out).contains("binary: roc_auc, average_precision, log_loss"));
}

#[test]
fn the_report_holds_only_the_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("r.html");
    let path = fixture("multiclass_digits.arrow");
    let out = evalkit([
        "report",
        path.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
        "--bootstrap",
        "50",
        "--metrics",
        "accuracy,ece",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let metrics = &doc["candidates"][0]["metrics"];
    assert_eq!(keys(metrics), ["accuracy", "ece"], "{doc:#}");
    assert!(std::fs::metadata(&html).unwrap().len() > 1000);
}

#[test]
fn a_suite_without_a_report_computes_only_its_gates_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"lean\"\n[predictions]\npath = \"{}\"\n[full]\nbootstrap = 100\n\n[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = 0.8\n\n[[gate]]\nmetric = \"ece\"\nmax = 0.2\n",
            fixture("binary_balanced.arrow").display()
        ),
    )
    .unwrap();
    let doc = json(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(keys(&doc["metrics"]), ["roc_auc", "ece"], "{doc:#}");
    let all = json(&[
        "full",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "--json",
        "--bootstrap",
        "100",
    ]);
    assert_eq!(doc["metrics"]["roc_auc"], all["metrics"]["roc_auc"]);
    assert_eq!(doc["metrics"]["ece"], all["metrics"]["ece"]);
    let passed: Vec<bool> = doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, [true, true]);
}
