//! Differential test: the full tier's point metrics on 300 generated data
//! sets against scikit-learn's values in `fixtures/differential/datasets.json`
//! (written by `fixtures/generate_differential.py`, whose docstring gives the
//! conventions; the tests need no Python).
//!
//! 150 binary, 75 multiclass (3 to 6 classes) and 75 regression data sets of
//! 1 to 300 rows: with and without weights, weights with zeros (some mostly
//! zero, a few all zero), heavy ties, all-equal scores, one-class binary
//! data, constant regression labels, scores at the 0.5 threshold and on the
//! reliability bin edges, float32 scores. Each is built in memory with
//! [`Predictions::from_arrays`] (validated as a file is) and run through
//! [`full`] without bootstrap. Every metric evalkit reports must have a
//! scikit-learn value in the file, and match it to a relative 1e-9 (absolute
//! floor 1e-12, as `tests/it/golden.rs`) — except where evalkit deliberately
//! reports the metric as undefined (the README's "Conventions"): the rules in
//! [`undefined`] name those cases, and there evalkit must give no value and a
//! reason. Each test reports every mismatch of its task at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field};
use evalkit::data::{Predictions, Task};
use evalkit::full::{FullOptions, full};
use evalkit::uncertainty::IntervalOptions;
use serde_json::Value;

use crate::common::{close, fixture};

/// The decision threshold the golden values were computed at (the default).
const THRESHOLD: f64 = 0.5;

/// One generated data set, its values widened to f64 (as evalkit computes).
struct Data {
    name: String,
    task: Task,
    classes: usize,
    /// Class index (classification) or target (regression) per row.
    labels: Vec<f64>,
    /// Score per row; multiclass: row-major `rows × classes`.
    scores: Vec<f64>,
    weights: Option<Vec<f64>>,
    labels_f32: bool,
    scores_f32: bool,
    /// scikit-learn's value of every metric (null: scikit-learn gives none).
    sklearn: serde_json::Map<String, Value>,
}

/// Space-separated numbers in their shortest round-trip form, parsed exactly
/// (f32 columns as f32, then widened).
fn numbers(what: &str, text: &str, f32: bool) -> Vec<f64> {
    text.split(' ')
        .map(|t| {
            if f32 {
                t.parse::<f32>().map(f64::from).ok()
            } else {
                t.parse::<f64>().ok()
            }
            .unwrap_or_else(|| panic!("{what}: '{t}' is not a number"))
        })
        .collect()
}

fn load() -> Vec<Data> {
    let path = fixture("differential/datasets.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["threshold"].as_f64(), Some(THRESHOLD));
    doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let name = d["name"].as_str().unwrap().to_string();
            let task: Task = d["task"].as_str().unwrap().parse().unwrap();
            let labels_f32 = d["label_type"] == "f32";
            let scores_f32 = d["score_type"] == "f32";
            let labels = numbers(&name, d["labels"].as_str().unwrap(), labels_f32);
            let scores = numbers(&name, d["scores"].as_str().unwrap(), scores_f32);
            let weights = d["weights"].as_str().map(|w| numbers(&name, w, false));
            let classes = match task {
                Task::Binary => 2,
                Task::Multiclass => d["classes"].as_u64().unwrap() as usize,
                Task::Regression => 1,
                Task::Ranking => panic!("{name}: no ranking cases here"),
            };
            assert_eq!(labels.len(), d["rows"].as_u64().unwrap() as usize, "{name}");
            let per_row = if task == Task::Multiclass { classes } else { 1 };
            assert_eq!(scores.len(), labels.len() * per_row, "{name}");
            Data {
                name,
                task,
                classes,
                labels,
                scores,
                weights,
                labels_f32,
                scores_f32,
                sklearn: d["sklearn"].as_object().unwrap().clone(),
            }
        })
        .collect()
}

fn floats(values: &[f64], f32: bool) -> ArrayRef {
    if f32 {
        Arc::new(Float32Array::from(
            values.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
        ))
    } else {
        Arc::new(Float64Array::from(values.to_vec()))
    }
}

/// The data set as in-memory columns, validated as a file would be.
fn predictions(d: &Data) -> evalkit::Result<Predictions> {
    let label: ArrayRef = match d.task {
        Task::Regression => floats(&d.labels, d.labels_f32),
        _ => Arc::new(Int64Array::from(
            d.labels.iter().map(|&y| y as i64).collect::<Vec<i64>>(),
        )),
    };
    let score = match d.task {
        Task::Multiclass => {
            let item = if d.scores_f32 {
                DataType::Float32
            } else {
                DataType::Float64
            };
            Arc::new(FixedSizeListArray::new(
                Arc::new(Field::new("item", item, false)),
                d.classes as i32,
                floats(&d.scores, d.scores_f32),
                None,
            )) as ArrayRef
        }
        _ => floats(&d.scores, d.scores_f32),
    };
    let weight = d.weights.as_deref().map(|w| floats(w, false));
    Predictions::from_arrays(&d.name, label, vec![score], weight, Some(d.task), None)
}

/// Why evalkit reports `metric` as undefined on `d` where scikit-learn gives
/// a number (or refuses the data); `None` where evalkit must give
/// scikit-learn's value. "Weight" below is the row count without weights.
fn undefined(d: &Data, metric: &str) -> Option<&'static str> {
    let w = |i: usize| d.weights.as_ref().map_or(1.0, |w| w[i]);
    let rows = d.labels.len();
    // Every weight is 0, so no row counts: every metric is undefined
    // (scikit-learn divides by the zero total weight).
    if (0..rows).all(|i| w(i) == 0.0) {
        return Some("every weight is 0");
    }
    match d.task {
        Task::Binary => {
            let sum = |keep: &dyn Fn(usize) -> bool| -> f64 {
                (0..rows).filter(|&i| keep(i)).map(w).sum()
            };
            let positives = sum(&|i| d.labels[i] == 1.0);
            let negatives = sum(&|i| d.labels[i] == 0.0);
            let predicted = sum(&|i| d.scores[i] >= THRESHOLD);
            match metric {
                // ROC-AUC needs weight in both classes: scikit-learn raises
                // with one class in the rows, returns nan with one by weight.
                "roc_auc" if positives == 0.0 || negatives == 0.0 => Some("ROC-AUC with one class"),
                // Without positive labels scikit-learn's average precision
                // is 0 (with a warning); evalkit: recall is undefined.
                "average_precision" if positives == 0.0 => {
                    Some("average precision without positive labels")
                }
                // Nothing predicted positive: scikit-learn's zero_division
                // makes precision 0.
                "precision" if predicted == 0.0 => {
                    Some("precision with nothing predicted positive")
                }
                // No positive labels: scikit-learn's zero_division makes
                // recall 0.
                "recall" if positives == 0.0 => Some("recall without positive labels"),
                // Likewise specificity without negative labels.
                "specificity" if negatives == 0.0 => Some("specificity without negative labels"),
                // Neither positive labels nor predictions: scikit-learn's
                // zero_division makes F1 0.
                "f1" if positives == 0.0 && predicted == 0.0 => {
                    Some("F1 without positive labels or predictions")
                }
                // Without positive labels F1 is 0 at every threshold:
                // best_f1 is 0 (compared), but no threshold is the best one
                // (the generator stores the highest score).
                "best_f1_threshold" if positives == 0.0 => {
                    Some("best-F1 threshold without positive labels")
                }
                _ => None,
            }
        }
        Task::Multiclass => {
            let with_weight = (0..d.classes)
                .filter(|&c| (0..rows).any(|i| d.labels[i] == c as f64 && w(i) > 0.0))
                .count();
            match metric {
                // One-vs-rest ROC-AUC needs weight in a class and outside it:
                // with one class by weight every per-class AUC is undefined
                // (scikit-learn's multi_class="ovr" raises).
                "macro_roc_auc" | "weighted_roc_auc" if with_weight < 2 => {
                    Some("one-vs-rest ROC-AUC with one class")
                }
                _ => None,
            }
        }
        Task::Regression => {
            let counted: Vec<f64> = (0..rows)
                .filter(|&i| w(i) > 0.0)
                .map(|i| d.labels[i])
                .collect();
            match metric {
                // Labels constant over the rows that count: R² has no
                // variance to explain (scikit-learn returns 1 for perfect
                // predictions, else 0, and nan for one row).
                "r2" if counted.iter().all(|&y| y == counted[0]) => Some("R² with constant labels"),
                _ => None,
            }
        }
        Task::Ranking => None,
    }
}

/// Runs every data set of `task` and returns its mismatches, one line each.
fn mismatches(task: Task) -> (usize, Vec<String>) {
    let options = FullOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    };
    let data: Vec<Data> = load().into_iter().filter(|d| d.task == task).collect();
    let mut bad = Vec::new();
    for d in &data {
        let name = &d.name;
        let result = match predictions(d).and_then(|p| full(&p, &options)) {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("{name}: error: {e}"));
                continue;
            }
        };
        let metrics = result.metrics();
        // Every metric evalkit reports has a golden value, and the reverse.
        let got: BTreeSet<&str> = metrics.iter().map(|(n, _)| n).collect();
        let want: BTreeSet<&str> = d.sklearn.keys().map(String::as_str).collect();
        if got != want {
            bad.push(format!(
                "{name}: metrics {got:?}, golden values for {want:?}"
            ));
        }
        for (metric, sk) in &d.sklearn {
            let Some(m) = metrics.get(metric) else {
                continue;
            };
            match (undefined(d, metric), sk.as_f64()) {
                (Some(rule), _) => {
                    let reason = m.reason.as_deref().unwrap_or("");
                    if m.value.is_some() || reason.trim().is_empty() {
                        bad.push(format!(
                            "{name} {metric}: got {:?} (reason {:?}), want undefined: {rule} (scikit-learn: {sk})",
                            m.value, m.reason
                        ));
                    }
                }
                (None, None) => bad.push(format!(
                    "{name} {metric}: scikit-learn gives no value and no rule says evalkit should not (got {:?})",
                    m.value
                )),
                (None, Some(want)) => match m.value {
                    Some(v) if close(v, want) => {}
                    v => bad.push(format!(
                        "{name} {metric}: got {v:?}, scikit-learn {want} (reason {:?})",
                        m.reason
                    )),
                },
            }
        }
    }
    (data.len(), bad)
}

#[track_caller]
fn check(task: Task, at_least: usize) {
    let (count, bad) = mismatches(task);
    assert!(count >= at_least, "{count} {task} data sets");
    assert!(
        bad.is_empty(),
        "{} mismatches on {count} {task} data sets:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn binary_metrics_match_sklearn_on_generated_data() {
    check(Task::Binary, 150);
}

#[test]
fn multiclass_metrics_match_sklearn_on_generated_data() {
    check(Task::Multiclass, 75);
}

#[test]
fn regression_metrics_match_sklearn_on_generated_data() {
    check(Task::Regression, 75);
}
