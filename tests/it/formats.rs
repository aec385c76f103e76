//! Every reader gives the same predictions: Arrow IPC file (mmap), IPC
//! stream, Parquet and CSV; column options; label and score types.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, UInt16Array};
use evalkit::data::{Columns, Floats, ReadOptions, ScoreKind, Task, read_predictions};
use evalkit::full::{FullOptions, full};

use crate::common::{evalkit, fixture, stderr, stdout, write_ipc};

fn metrics(name: &str, options: &ReadOptions) -> evalkit::metrics::MetricSet {
    let preds = read_predictions(&fixture(name), options).unwrap();
    full(&preds, &FullOptions::default())
        .unwrap()
        .metrics()
        .clone()
}

#[test]
fn every_format_gives_the_same_metrics() {
    let reference = metrics("binary_balanced.arrow", &ReadOptions::default());
    for name in [
        "binary_balanced.parquet",
        "binary_balanced.arrows",
        "binary_balanced.csv",
    ] {
        let got = metrics(name, &ReadOptions::default());
        for (m, v) in reference.iter() {
            let g = got.value(m).unwrap();
            let w = v.value.unwrap();
            // CSV stores decimal text: the parsed value is the nearest double
            // to pyarrow's shortest repr, i.e. the same double.
            assert_eq!(g, w, "{name} {m}");
        }
    }
}

#[test]
fn ipc_file_columns_are_zero_copy_views_of_the_mapping() {
    let preds =
        read_predictions(&fixture("binary_balanced.arrow"), &ReadOptions::default()).unwrap();
    let Columns::Binary {
        scores: Floats::F64(s),
        ..
    } = &preds.columns
    else {
        panic!()
    };
    let file = std::fs::read(fixture("binary_balanced.arrow")).unwrap();
    // The score buffer lies inside the mapped file: its bytes are found there,
    // and its address is not that of a fresh heap copy of the same length.
    let bytes: &[u8] = unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, s.len() * 8) };
    assert!(file.windows(bytes.len()).any(|w| w == bytes));
    assert_eq!(
        preds.metadata.get("evalkit.created_by").map(String::as_str),
        Some("fixtures/generate.py")
    );
}

#[test]
fn task_inference_and_metadata() {
    let p = read_predictions(&fixture("binary_balanced.csv"), &ReadOptions::default()).unwrap();
    assert_eq!(p.task, Task::Binary);
    assert!(p.task_reason.starts_with("inferred"));
    let p = read_predictions(&fixture("multiclass_digits.arrow"), &ReadOptions::default()).unwrap();
    assert_eq!(p.task, Task::Multiclass);
    assert_eq!(p.class_names.len(), 10);
    let p = read_predictions(&fixture("multiclass_absent.arrow"), &ReadOptions::default()).unwrap();
    assert_eq!(p.class_names, ["a", "b", "c"]);
    let p = read_predictions(&fixture("regression.arrow"), &ReadOptions::default()).unwrap();
    assert_eq!(p.task, Task::Regression);
}

#[test]
fn label_types_and_score_widths() {
    let dir = tempfile::tempdir().unwrap();
    let scores = vec![0.9, 0.2, 0.6, 0.4, 0.7];
    let labels = [1u8, 0, 1, 0, 0];
    let variants: Vec<(&str, ArrayRef)> = vec![
        (
            "i8",
            Arc::new(Int8Array::from(
                labels.iter().map(|&v| v as i8).collect::<Vec<_>>(),
            )),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from(
                labels.iter().map(|&v| v as u16).collect::<Vec<_>>(),
            )),
        ),
        (
            "bool",
            Arc::new(BooleanArray::from(
                labels.iter().map(|&v| v == 1).collect::<Vec<_>>(),
            )),
        ),
    ];
    for (name, label) in variants {
        for f32_scores in [false, true] {
            let score: ArrayRef = if f32_scores {
                Arc::new(Float32Array::from(
                    scores.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                ))
            } else {
                Arc::new(Float64Array::from(scores.clone()))
            };
            let p = dir.path().join(format!("{name}-{f32_scores}.arrow"));
            write_ipc(&p, vec![("label", label.clone()), ("score", score)], &[]);
            let preds = read_predictions(&p, &ReadOptions::default()).unwrap();
            let Columns::Binary {
                labels: got,
                scores: s,
            } = &preds.columns
            else {
                panic!()
            };
            assert_eq!(got, &labels);
            assert_eq!(s.type_name(), if f32_scores { "f32" } else { "f64" });
            // 5 of 6 positive-negative pairs are ordered correctly.
            let auc = full(&preds, &FullOptions::default())
                .unwrap()
                .metrics()
                .value("roc_auc")
                .unwrap();
            assert!((auc - 5.0 / 6.0).abs() < 1e-15, "{name}: {auc}");
        }
    }
}

#[test]
fn column_options_and_multiclass_from_csv_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("renamed.csv");
    std::fs::write(
        &p,
        "y,p0,p1,p2,w\n0,0.7,0.2,0.1,1\n1,0.1,0.8,0.1,2\n2,0.2,0.2,0.6,1\n1,0.5,0.4,0.1,1\n",
    )
    .unwrap();
    let options = ReadOptions {
        label: "y".into(),
        score: vec!["p0".into(), "p1".into(), "p2".into()],
        weight: Some("w".into()),
        ..ReadOptions::default()
    };
    let preds = read_predictions(&p, &options).unwrap();
    assert_eq!(preds.task, Task::Multiclass);
    let Columns::Multiclass {
        labels,
        scores,
        classes,
    } = &preds.columns
    else {
        panic!()
    };
    assert_eq!(*classes, 3);
    assert_eq!(labels, &[0, 1, 2, 1]);
    assert_eq!(scores.get(3), 0.1);
    assert_eq!(scores.get(4), 0.8);
    assert_eq!(preds.weights.as_ref().unwrap().get(1), 2.0);

    let out = evalkit([
        "fast",
        p.to_str().unwrap(),
        "--label",
        "y",
        "--score",
        "p0,p1,p2",
        "--weight",
        "w",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["task"], "multiclass");
    // weighted accuracy: rows 0, 1, 2 right (weights 1 + 2 + 1), row 3 wrong (1)
    assert_eq!(doc["metrics"]["accuracy"]["value"], 0.8);
}

#[test]
fn logits_are_turned_into_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("logit.arrow");
    write_ipc(
        &p,
        vec![
            (
                "label",
                Arc::new(Int8Array::from(vec![0, 1, 1])) as ArrayRef,
            ),
            (
                "score",
                Arc::new(Float64Array::from(vec![-800.0, 0.0, 800.0])) as ArrayRef,
            ),
        ],
        &[("evalkit.score_kind", "logit")],
    );
    let preds = read_predictions(&p, &ReadOptions::default()).unwrap();
    assert_eq!(preds.score_kind, ScoreKind::Logit);
    let Columns::Binary { scores, .. } = &preds.columns else {
        panic!()
    };
    assert_eq!(scores.to_f64_vec(), vec![0.0, 0.5, 1.0]);
}
