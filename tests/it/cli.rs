//! The command line: tables, JSON documents, exit codes.

use std::process::Command;

use crate::common::{evalkit, fixture, stderr, stdout};

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn full_table_lists_every_metric_and_the_confusion_matrix() {
    let out = evalkit(["full", &path("binary_balanced.arrow")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("evalkit full · "));
    assert!(text.contains("binary (from the file's evalkit.task metadata)"));
    for m in [
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "mcc",
        "best_f1",
        "best_f1_threshold",
        "ece",
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(m)),
            "{m} missing:\n{text}"
        );
    }
    assert!(text.contains("roc_auc            0.885012"), "{text}");
    assert!(text.contains("confusion matrix at threshold 0.5"));
    assert!(text.contains("actual 0  842          157"), "{text}");
    assert!(
        stderr(&out).is_empty(),
        "no warnings expected: {}",
        stderr(&out)
    );
}

#[test]
fn undefined_metrics_are_na_with_a_warning() {
    let out = evalkit(["full", &path("binary_one_class.arrow")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("roc_auc            n/a"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("evalkit: warning: roc_auc is undefined: only one class is present")
    );
    let out = evalkit(["full", &path("binary_one_class.arrow"), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["metrics"]["roc_auc"]["value"], serde_json::Value::Null);
    assert!(
        doc["metrics"]["roc_auc"]["reason"]
            .as_str()
            .unwrap()
            .contains("only one class")
    );
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("roc_auc is undefined"))
    );
}

#[test]
fn full_json_has_the_spec_fields_in_order() {
    let out = evalkit([
        "full",
        &path("binary_weighted.arrow"),
        "--json",
        "--thresholds",
        "11",
        "--threshold",
        "0.4",
        "--bootstrap",
        "50",
        "--seed",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in [
        "evalkit_version",
        "tier",
        "file",
        "task",
        "task_reason",
        "rows",
        "rows_used",
        "seed",
        "bootstrap",
        "metrics",
        "delong",
        "bands",
        "warnings",
    ] {
        assert!(doc.get(key).is_some(), "{key} missing");
    }
    assert_eq!(doc["tier"], "full");
    assert_eq!(doc["rows"], 2000);
    assert_eq!(doc["rows_used"], 2000);
    assert_eq!(doc["weight_column"], "weight");
    assert_eq!(doc["threshold"], 0.4);
    let names: Vec<&String> = doc["metrics"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "roc_auc",
            "average_precision",
            "log_loss",
            "brier",
            "accuracy",
            "precision",
            "recall",
            "specificity",
            "f1",
            "mcc",
            "best_f1",
            "best_f1_threshold",
            "ece"
        ]
    );
    assert_eq!(doc["seed"], 3);
    assert_eq!(doc["bootstrap"]["replicates"], 50);
    assert_eq!(doc["bootstrap"]["method"], "percentile");
    for (_, m) in doc["metrics"].as_object().unwrap() {
        let v = m["value"].as_f64().unwrap();
        let ci = m["ci"].as_array().unwrap();
        assert!(
            ci[0].as_f64().unwrap() <= v + 1e-12 && v <= ci[1].as_f64().unwrap() + 1e-12
                || m == &doc["metrics"]["ece"],
            "{m}"
        );
        assert_eq!(m["method"], "bootstrap-percentile");
    }
    // Weighted rows: DeLong is undefined and says why.
    assert!(doc["delong"]["ci"].is_null());
    assert!(
        doc["delong"]["reason"]
            .as_str()
            .unwrap()
            .contains("unweighted")
    );
    assert_eq!(doc["bands"]["fpr"].as_array().unwrap().len(), 100);
    assert_eq!(doc["bands"]["threshold"].as_array().unwrap().len(), 11);
    let sweep = &doc["sweep"];
    assert_eq!(sweep["threshold"].as_array().unwrap().len(), 11);
    assert_eq!(sweep["threshold"][10], 1.0);
    assert!(sweep["tp"][0].is_f64(), "weighted counts are floats");
    assert_eq!(doc["reliability"]["bins"], 15);
    assert_eq!(doc["confusion_matrix"]["threshold"], 0.4);
    // Without the bootstrap: no intervals but DeLong's for ROC-AUC.
    let out = evalkit([
        "full",
        &path("binary_balanced.arrow"),
        "--json",
        "--bootstrap",
        "0",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(doc["seed"].is_null() && doc["bootstrap"].is_null() && doc["bands"].is_null());
    for (name, m) in doc["metrics"].as_object().unwrap() {
        if name == "roc_auc" {
            assert_eq!(m["method"], "delong");
            assert_eq!(m["ci"], doc["delong"]["ci"]);
        } else {
            assert!(m["ci"].is_null());
            assert_eq!(m["method"], "none");
        }
    }
}

#[test]
fn fast_json_reports_the_sample() {
    let out = evalkit([
        "fast",
        &path("binary_rare.arrow"),
        "--json",
        "--sample",
        "1000",
        "--seed",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["tier"], "fast");
    assert_eq!(doc["rows"], 20000);
    assert_eq!(doc["rows_used"], 1000);
    assert_eq!(doc["seed"], 7);
    assert_eq!(doc["sample"], 1000);
    assert_eq!(doc["strata_kind"], "class");
    assert_eq!(doc["strata"][0]["rows"], 19900);
    assert_eq!(doc["strata"][0]["sampled"], 995);
    assert_eq!(doc["strata"][1]["rows"], 100);
    assert_eq!(doc["strata"][1]["sampled"], 5);
    // The model never predicts the rare class at 0.5, so accuracy is 1 in
    // one stratum and 0 in the other: no sampling error. The loss has some.
    assert_eq!(doc["metrics"]["accuracy"]["std_error"], 0.0);
    let loss = &doc["metrics"]["log_loss"];
    assert!(loss["std_error"].as_f64().unwrap() > 0.0);
    assert_eq!(loss["method"], "normal");
    let [lo, hi] = [
        loss["ci"][0].as_f64().unwrap(),
        loss["ci"][1].as_f64().unwrap(),
    ];
    assert!(lo < loss["value"].as_f64().unwrap() && loss["value"].as_f64().unwrap() < hi);
    // Every row: `sample` says so.
    let out = evalkit([
        "fast",
        &path("binary_rare.arrow"),
        "--json",
        "--sample",
        "all",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["sample"], "all");
    assert_eq!(doc["rows_used"], 20000);
}

#[test]
fn fast_table() {
    let out = evalkit(["fast", &path("multiclass_digits.arrow"), "--sample", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("899 in file, 100 sampled (seed 0, stratified by class)"),
        "{text}"
    );
    assert!(text.contains("log_loss"));
    assert!(text.contains("accuracy"));
    assert!(text.contains("std error"));
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        vec!["--help"],
        vec!["--version"],
        vec!["full", "--help"],
        vec!["fast", "--help"],
    ] {
        let out = evalkit(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!stdout(&out).is_empty());
    }
    let out = evalkit(Vec::<&str>::new());
    assert_eq!(out.status.code(), Some(2), "no subcommand is a usage error");
    assert!(stderr(&out).contains("Usage: evalkit"), "{}", stderr(&out));
}

#[test]
fn version_names_the_onnx_runtime_found_or_that_none_is() {
    let lib = std::env::var("ORT_DYLIB_PATH").ok();
    let out = evalkit(["--version"]);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("evalkit {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    if let Some(lib) = lib.filter(|l| l.contains(".so.1.")) {
        let version = lib.rsplit(".so.").next().unwrap();
        assert!(
            text.contains(&format!("ONNX Runtime {version} ({lib})")),
            "{text}"
        );
    } else {
        assert!(text.contains("ONNX Runtime"), "{text}");
    }
    let none = std::process::Command::new(crate::common::exe())
        .arg("-V")
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(0));
    assert!(
        stdout(&none).contains(
            "ONNX Runtime: none found (ORT_DYLIB_PATH is set to /nonexistent/libonnxruntime.so"
        ),
        "{}",
        stdout(&none)
    );
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _evalkit"),
        ("zsh", "#compdef evalkit"),
        ("fish", "complete -c evalkit"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[evalkit]"),
    ] {
        let out = evalkit(["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}");
        // Every subcommand and a nested flag are offered.
        for word in ["profile", "compare", "batch-sizes"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    let out = evalkit(["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bash"), "{}", stderr(&out));
}

#[test]
fn colour_follows_the_flag_and_no_color_and_quiet_silences_stderr() {
    let suite =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/breast_cancer-fails.toml");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = |extra: &[&str], no_color: bool| {
        let mut cmd = std::process::Command::new(crate::common::exe());
        cmd.args([
            "run",
            suite.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ])
        .args(extra);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        (stdout(&o), stderr(&o))
    };
    // Not a terminal: no colour by default.
    let (plain, notes) = run(&[], false);
    assert!(!plain.contains('\x1b'));
    assert!(
        notes.contains("evalkit: "),
        "the run has notes to silence: {notes}"
    );
    // --color always colours verdicts (and wins over NO_COLOR), with the
    // columns still aligned as without colour.
    let (coloured, _) = run(&["--color", "always"], true);
    assert!(coloured.contains("\x1b[1;31mFAIL\x1b[0m"));
    assert!(coloured.contains("\x1b[32mpass\x1b[0m"));
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    assert_eq!(strip(&coloured), plain);
    let (never, _) = run(&["--color", "never"], false);
    assert_eq!(never, plain);
    // --quiet: nothing on stderr, the same stdout.
    let (quiet_out, quiet_err) = run(&["--quiet"], false);
    assert_eq!(
        (quiet_out.as_str(), quiet_err.as_str()),
        (plain.as_str(), "")
    );
    // An error is still said under --quiet, in colour only when asked.
    let bad = evalkit(["-q", "full", "no_such.arrow"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).starts_with("evalkit: error: "),
        "{}",
        stderr(&bad)
    );
    let bad = evalkit(["--color", "always", "full", "no_such.arrow"]);
    assert!(
        stderr(&bad).starts_with("evalkit: \x1b[1;31merror\x1b[0m: "),
        "{}",
        stderr(&bad)
    );
}

/// Same JSON, byte for byte, whatever the thread count.
#[test]
fn output_does_not_depend_on_the_thread_count() {
    for args in [
        vec![
            "full",
            "binary_weighted.arrow",
            "--json",
            "--bootstrap",
            "100",
            "--method",
            "bca",
        ],
        vec!["full", "binary_rare.arrow", "--json", "--bootstrap", "100"],
        vec![
            "full",
            "binary_ties.arrow",
            "--json",
            "--bootstrap",
            "100",
            "--resample",
            "multinomial",
        ],
        vec![
            "fast",
            "binary_rare.arrow",
            "--json",
            "--sample",
            "500",
            "--seed",
            "3",
        ],
        vec!["fast", "regression.arrow", "--json", "--sample", "300"],
        vec![
            "full",
            "multiclass_digits.arrow",
            "--json",
            "--bootstrap",
            "48",
            "--method",
            "bca",
        ],
        vec![
            "full",
            "regression.arrow",
            "--json",
            "--bootstrap",
            "48",
            "--resample",
            "multinomial",
        ],
        vec![
            "full",
            "binary_sliced.arrow",
            "--json",
            "--bootstrap",
            "48",
            "--slice",
            "region",
            "--slice",
            "region,segment",
        ],
    ] {
        let run = |threads: &str| {
            let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            a[1] = path(&a[1]);
            let out = Command::new(crate::common::exe())
                .args(&a)
                .env("RAYON_NUM_THREADS", threads)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0));
            out.stdout
        };
        assert_eq!(run("1"), run("2"), "{args:?}");
        assert_eq!(run("1"), run("3"), "{args:?}");
    }
}

#[test]
fn sweep_at_every_distinct_score() {
    let out = evalkit([
        "full",
        &path("binary_ties.arrow"),
        "--json",
        "--thresholds",
        "distinct",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let sweep = &doc["sweep"];
    assert_eq!(sweep["kind"], "distinct");
    // Scores rounded to 2 decimals: 101 distinct values, highest first.
    assert_eq!(sweep["threshold"].as_array().unwrap().len(), 101);
    assert_eq!(doc["distinct_scores"], 101);
    assert_eq!(sweep["threshold"][0], 1.0);
    // The last point predicts everything positive: recall 1.
    assert_eq!(sweep["recall"][100], 1.0);
    assert_eq!(sweep["fn"][100], 0);
    let out = evalkit(["full", &path("binary_ties.arrow"), "--thresholds", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every document says which way each metric of its task is better and
/// which are the headline metrics (the metric registry).
#[test]
fn json_documents_carry_directions_and_headlines() {
    for (file, headline, lower) in [
        ("binary_balanced.arrow", "roc_auc", "log_loss"),
        ("regression.arrow", "rmse", "mae"),
        ("multiclass_digits.arrow", "accuracy", "ece"),
    ] {
        let path = fixture(file);
        let o = evalkit(["full", path.to_str().unwrap(), "--bootstrap", "0", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(doc["headline"][0], headline, "{file}");
        assert_eq!(doc["directions"][lower], "lower", "{file}");
        for name in doc["metrics"].as_object().unwrap().keys() {
            assert!(doc["directions"][name].is_string(), "{file}: {name}");
        }
    }
    let o = evalkit([
        "fast",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["directions"]["best_f1_threshold"], "neither");
}

/// `--method clopper-pearson` from the command line: the proportions carry
/// Clopper–Pearson's interval from the confusion counts in the JSON, ROC-AUC
/// keeps its own; an unknown method names the choices and exits 2.
#[test]
fn clopper_pearson_from_the_command_line() {
    let out = evalkit([
        "full",
        &path("binary_balanced.arrow"),
        "--bootstrap",
        "0",
        "--method",
        "clopper-pearson",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cm = &doc["confusion_matrix"]["matrix"];
    let cell = |r: usize, c: usize| cm[r][c].as_f64().unwrap();
    let (tn, fp, fn_, tp) = (cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1));
    for (name, k, n) in [
        ("accuracy", tp + tn, tp + tn + fp + fn_),
        ("precision", tp, tp + fp),
        ("recall", tp, tp + fn_),
        ("specificity", tn, tn + fp),
    ] {
        let m = &doc["metrics"][name];
        assert_eq!(m["method"], "clopper-pearson", "{name}");
        let want = evalkit::uncertainty::binomial::clopper_pearson(k, n, 0.95).unwrap();
        assert_eq!(m["ci"][0].as_f64().unwrap(), want[0], "{name}");
        assert_eq!(m["ci"][1].as_f64().unwrap(), want[1], "{name}");
    }
    assert_ne!(doc["metrics"]["roc_auc"]["method"], "clopper-pearson");
    let out = evalkit([
        "full",
        &path("binary_balanced.arrow"),
        "--method",
        "clopper",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("clopper-pearson"), "{}", stderr(&out));
}
