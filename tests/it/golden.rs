//! Every metric against scikit-learn's values in `fixtures/expected/`
//! (relative tolerance 1e-9, absolute floor 1e-12; f32 fixtures are compared
//! with golden values computed on the same f32 values widened to f64, so the
//! same tolerance holds).

use evalkit::data::{ReadOptions, read_predictions};
use evalkit::fast::{FastOptions, fast};
use evalkit::full::{FullOptions, FullResult, full};

use crate::common::{assert_close, evalkit, expected, fixture, stdout};

const BINARY: &[&str] = &[
    "binary_balanced",
    "binary_ties",
    "binary_rare",
    "binary_one_class",
    "binary_extremes",
    "binary_weighted",
    "binary_f32",
];

const POINT_METRICS: &[&str] = &[
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
    "ece",
];

fn binary_full(name: &str) -> evalkit::full::binary::BinaryFull {
    let preds =
        read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
    match full(&preds, &FullOptions::default()).unwrap() {
        FullResult::Binary(b) => *b,
        #[allow(unreachable_patterns)]
        _ => panic!("{name}: not binary"),
    }
}

#[test]
fn binary_point_metrics_match_sklearn() {
    for name in BINARY {
        let want = expected(name);
        let got = binary_full(name);
        for metric in POINT_METRICS {
            assert_close(
                &format!("{name} {metric}"),
                got.metrics.value(metric),
                &want[*metric],
            );
        }
        assert_close(
            &format!("{name} positives"),
            Some(got.positives),
            &want["positives"],
        );
        assert_close(
            &format!("{name} negatives"),
            Some(got.negatives),
            &want["negatives"],
        );
        assert_eq!(
            got.curve.len() as u64,
            want["distinct_scores"].as_u64().unwrap(),
            "{name}"
        );
        let cm = &want["confusion_matrix"];
        let c = got.confusion;
        for (cell, v) in [
            (c.tn, &cm[0][0]),
            (c.fp, &cm[0][1]),
            (c.fn_, &cm[1][0]),
            (c.tp, &cm[1][1]),
        ] {
            assert_close(&format!("{name} confusion"), Some(cell), v);
        }
    }
}

#[test]
fn undefined_metrics_say_why() {
    let got = binary_full("binary_one_class");
    let auc = got.metrics.get("roc_auc").unwrap();
    assert_eq!(auc.value, None);
    assert!(
        auc.reason.as_deref().unwrap().contains("only one class"),
        "{auc:?}"
    );
    assert_eq!(got.metrics.value("average_precision"), None);
    let rare = binary_full("binary_rare");
    let precision = rare.metrics.get("precision").unwrap();
    assert_eq!(precision.value, None);
    assert!(
        precision
            .reason
            .as_deref()
            .unwrap()
            .contains("nothing is predicted positive")
    );
}

#[test]
fn reliability_bins_match_calibration_curve_binning() {
    for name in BINARY {
        let want = &expected(name)["reliability"];
        let got = binary_full(name);
        assert_eq!(got.reliability.len(), 15);
        for (b, bin) in got.reliability.iter().enumerate() {
            assert_eq!(
                bin.count,
                want["count"][b].as_u64().unwrap(),
                "{name} bin {b} count"
            );
            assert_close(
                &format!("{name} bin {b} predicted"),
                bin.mean_predicted,
                &want["mean_predicted"][b],
            );
            assert_close(
                &format!("{name} bin {b} observed"),
                bin.observed,
                &want["observed"][b],
            );
        }
    }
}

#[test]
fn threshold_grid_matches_sklearn_at_sampled_points() {
    for name in BINARY {
        let want = &expected(name)["sweep"];
        let got = binary_full(name).sweep;
        assert_eq!(got.len(), 1000);
        for (j, index) in want["index"].as_array().unwrap().iter().enumerate() {
            let i = index.as_u64().unwrap() as usize;
            let what = |m: &str| format!("{name} sweep[{i}] {m}");
            assert_eq!(
                got.threshold[i],
                want["threshold"][j].as_f64().unwrap(),
                "{}",
                what("threshold")
            );
            assert_close(
                &what("precision"),
                Some(got.precision[i]),
                &want["precision"][j],
            );
            assert_close(&what("recall"), got.recall[i], &want["recall"][j]);
            assert_close(&what("f1"), got.f1[i], &want["f1"][j]);
            assert_close(
                &what("accuracy"),
                Some(got.accuracy[i]),
                &want["accuracy"][j],
            );
            assert_close(&what("mcc"), Some(got.mcc[i]), &want["mcc"][j]);
            assert_close(&what("tp"), Some(got.tp[i]), &want["tp"][j]);
            assert_close(&what("fp"), Some(got.fp[i]), &want["fp"][j]);
        }
    }
}

#[test]
fn fast_tier_on_every_row_equals_the_full_file_values() {
    for name in BINARY {
        let want = expected(name);
        let preds =
            read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
        let r = fast(
            &preds,
            &FastOptions {
                sample: None,
                ..FastOptions::default()
            },
        );
        assert_eq!(r.rows_used, r.rows);
        assert_close(
            &format!("{name} fast log_loss"),
            r.metrics.value("log_loss"),
            &want["log_loss"],
        );
        assert_close(
            &format!("{name} fast accuracy"),
            r.metrics.value("accuracy"),
            &want["accuracy"],
        );
        assert_eq!(r.metrics.get("accuracy").unwrap().std_error, Some(0.0));
    }
    for (name, loss) in [
        ("multiclass_digits", "log_loss"),
        ("multiclass_absent", "log_loss"),
        ("regression", "mse"),
    ] {
        let want = expected(name);
        let preds =
            read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
        let r = fast(
            &preds,
            &FastOptions {
                sample: None,
                ..FastOptions::default()
            },
        );
        assert_close(
            &format!("{name} fast {loss}"),
            r.metrics.value(loss),
            &want[loss],
        );
        if loss == "log_loss" {
            assert_close(
                &format!("{name} fast accuracy"),
                r.metrics.value("accuracy"),
                &want["accuracy"],
            );
        }
    }
}

#[test]
fn cli_json_matches_sklearn_on_every_binary_fixture() {
    for name in BINARY {
        let want = expected(name);
        let out = evalkit([
            "full",
            fixture(&format!("{name}.arrow")).to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["task"], "binary");
        assert_eq!(doc["rows"], want["rows"]);
        for metric in POINT_METRICS {
            let m = &doc["metrics"][*metric];
            assert!(
                m.get("ci").is_some() && m.get("method").is_some(),
                "{name} {metric}: {m}"
            );
            assert_close(
                &format!("{name} json {metric}"),
                m["value"].as_f64(),
                &want[*metric],
            );
        }
    }
}

const MULTICLASS: &[&str] = &["multiclass_digits", "multiclass_absent", "multiclass_ties"];

const MULTICLASS_METRICS: &[&str] = &[
    "accuracy",
    "top_3_accuracy",
    "top_5_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "macro_roc_auc",
    "weighted_roc_auc",
    "macro_average_precision",
    "weighted_average_precision",
    "log_loss",
    "brier",
    "ece",
];

#[test]
fn multiclass_metrics_match_sklearn() {
    for name in MULTICLASS {
        let want = expected(name);
        let preds =
            read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
        let FullResult::Multiclass(got) = full(&preds, &FullOptions::default()).unwrap() else {
            panic!("{name}: not multiclass")
        };
        for metric in MULTICLASS_METRICS {
            if want.get(*metric).is_none() {
                assert!(
                    got.metrics.get(metric).is_none(),
                    "{name}: {metric} should not exist"
                );
                continue;
            }
            assert_close(
                &format!("{name} {metric}"),
                got.metrics.value(metric),
                &want[*metric],
            );
        }
        let k = want["classes"].as_u64().unwrap() as usize;
        for a in 0..k {
            for p in 0..k {
                assert_close(
                    &format!("{name} cm[{a}][{p}]"),
                    Some(got.confusion[a][p]),
                    &want["confusion_matrix"][a][p],
                );
            }
            let (row, w) = (&got.per_class[a], &want["per_class"][a]);
            let what = |m: &str| format!("{name} class {a} {m}");
            assert_close(&what("support"), Some(row.support), &w["support"]);
            assert_close(&what("predicted"), Some(row.predicted), &w["predicted"]);
            assert_close(&what("precision"), row.precision, &w["precision"]);
            assert_close(&what("recall"), row.recall, &w["recall"]);
            assert_close(&what("roc_auc"), row.roc_auc, &w["roc_auc"]);
            assert_close(
                &what("average_precision"),
                row.average_precision,
                &w["average_precision"],
            );
        }
        for (b, bin) in got.reliability.iter().enumerate() {
            assert_eq!(
                bin.count,
                want["reliability_count"][b].as_u64().unwrap(),
                "{name} bin {b}"
            );
        }
    }
}

#[test]
fn regression_metrics_match_sklearn() {
    let want = expected("regression");
    let preds = read_predictions(&fixture("regression.arrow"), &ReadOptions::default()).unwrap();
    let FullResult::Regression(got) = full(&preds, &FullOptions::default()).unwrap() else {
        panic!("not regression")
    };
    for metric in ["mse", "rmse", "mae", "r2", "max_error"] {
        assert_close(
            &format!("regression {metric}"),
            got.metrics.value(metric),
            &want[metric],
        );
    }
}

#[test]
fn cli_json_matches_sklearn_on_multiclass_and_regression_fixtures() {
    for name in MULTICLASS.iter().chain(&["regression"]) {
        let want = expected(name);
        let out = evalkit([
            "full",
            fixture(&format!("{name}.arrow")).to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let metrics = doc["metrics"].as_object().unwrap();
        assert!(!metrics.is_empty());
        for (metric, m) in metrics {
            assert_close(
                &format!("{name} json {metric}"),
                m["value"].as_f64(),
                &want[metric],
            );
        }
    }
}
