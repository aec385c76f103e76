//! Per-slice full tier (`--slice`): each slice equals the full tier on the
//! filtered file; golden values from scikit-learn; keys and bad input.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field};
use evalkit::data::{Columns, Predictions, ReadOptions, read_predictions};
use evalkit::full::{FullOptions, full};
use evalkit::slices::{Slice, full_sliced};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{assert_close, evalkit, expected, fixture, stderr, stdout, write_ipc};

fn options(replicates: usize) -> FullOptions {
    FullOptions {
        intervals: IntervalOptions {
            replicates,
            seed: 3,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    }
}

fn read_with(path: &std::path::Path, extra: &[&str]) -> Predictions {
    read_predictions(
        path,
        &ReadOptions {
            extra: extra.iter().map(|s| s.to_string()).collect(),
            ..ReadOptions::default()
        },
    )
    .unwrap()
}

/// The key of each row in `columns`, as evalkit prints it, computed here
/// straight from the Arrow arrays.
fn row_keys(p: &Predictions, columns: &[&str]) -> Vec<Vec<String>> {
    let arrays: Vec<&ArrayRef> = columns.iter().map(|c| p.extra(c).unwrap()).collect();
    (0..p.rows())
        .map(|r| {
            arrays
                .iter()
                .map(|a| {
                    if a.is_null(r) {
                        "null".to_string()
                    } else {
                        match a.data_type() {
                            DataType::Utf8 => a.as_string::<i32>().value(r).to_string(),
                            DataType::Int32 => a
                                .as_primitive::<arrow::datatypes::Int32Type>()
                                .value(r)
                                .to_string(),
                            DataType::Int64 => a
                                .as_primitive::<arrow::datatypes::Int64Type>()
                                .value(r)
                                .to_string(),
                            other => panic!("unexpected key type {other}"),
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// Writes the rows of `p` whose key is `key` to a file of their own (label,
/// score, weight) and runs the full tier on it.
fn filtered_full(
    p: &Predictions,
    keys: &[Vec<String>],
    key: &[String],
    dir: &std::path::Path,
    options: &FullOptions,
) -> evalkit::full::FullResult {
    let rows: Vec<usize> = (0..p.rows()).filter(|&r| keys[r] == key).collect();
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    let meta: Vec<(&str, String)> = match &p.columns {
        Columns::Binary { labels, scores } => {
            cols.push((
                "label",
                Arc::new(Int64Array::from(
                    rows.iter().map(|&r| labels[r] as i64).collect::<Vec<_>>(),
                )),
            ));
            cols.push((
                "score",
                Arc::new(Float64Array::from(
                    rows.iter().map(|&r| scores.get(r)).collect::<Vec<_>>(),
                )),
            ));
            vec![("evalkit.task", "binary".to_string())]
        }
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => {
            let k = *classes;
            cols.push((
                "label",
                Arc::new(Int64Array::from(
                    rows.iter().map(|&r| labels[r] as i64).collect::<Vec<_>>(),
                )),
            ));
            let flat: Vec<f64> = rows
                .iter()
                .flat_map(|&r| (0..k).map(move |c| scores.get(r * k + c)))
                .collect();
            let field = Arc::new(Field::new("item", DataType::Float64, false));
            cols.push((
                "score",
                Arc::new(FixedSizeListArray::new(
                    field,
                    k as i32,
                    Arc::new(Float64Array::from(flat)),
                    None,
                )),
            ));
            vec![
                ("evalkit.task", "multiclass".to_string()),
                (
                    "evalkit.classes",
                    serde_json::to_string(&p.class_names).unwrap(),
                ),
            ]
        }
        Columns::Regression { labels, scores } => {
            cols.push((
                "label",
                Arc::new(Float64Array::from(
                    rows.iter().map(|&r| labels.get(r)).collect::<Vec<_>>(),
                )),
            ));
            cols.push((
                "score",
                Arc::new(Float64Array::from(
                    rows.iter().map(|&r| scores.get(r)).collect::<Vec<_>>(),
                )),
            ));
            vec![("evalkit.task", "regression".to_string())]
        }
        Columns::Ranking { .. } => panic!("no ranking fixture is sliced here"),
    };
    if let Some(w) = &p.weights {
        cols.push((
            "weight",
            Arc::new(Float64Array::from(
                rows.iter().map(|&r| w.get(r)).collect::<Vec<_>>(),
            )),
        ));
    }
    let path = dir.join(format!("{}.arrow", key.join("_")));
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    write_ipc(&path, cols, &meta);
    full(
        &read_predictions(&path, &ReadOptions::default()).unwrap(),
        options,
    )
    .unwrap()
}

fn check_equals_filtered(p: &Predictions, by: &[&str], slices: &[Slice], options: &FullOptions) {
    let dir = tempfile::tempdir().unwrap();
    let keys = row_keys(p, by);
    let mut distinct: Vec<&Vec<String>> = keys.iter().collect();
    distinct.sort();
    distinct.dedup();
    let mine: Vec<&Slice> = slices
        .iter()
        .filter(|s| s.by.iter().map(String::as_str).eq(by.iter().copied()))
        .collect();
    assert_eq!(mine.len(), distinct.len(), "{by:?}: one slice per key");
    for s in mine {
        let rows = keys.iter().filter(|k| **k == s.key).count();
        assert_eq!(s.rows, rows, "{by:?} {:?}", s.key);
        let mut opts = *options;
        if s.too_small {
            opts.intervals.replicates = 0;
        }
        let want = filtered_full(p, &keys, &s.key, dir.path(), &opts);
        if s.too_small {
            // Point values equal; no interval at all.
            for (name, m) in s.result.metrics().iter() {
                assert_eq!(m.value, want.metrics().value(name), "{:?} {name}", s.key);
                assert_eq!(m.ci, None, "{:?} {name}", s.key);
            }
        } else {
            assert_eq!(s.result.metrics(), want.metrics(), "{by:?} {:?}", s.key);
        }
    }
}

#[test]
fn binary_slices_equal_the_full_tier_on_the_filtered_file() {
    let p = read_with(&fixture("binary_sliced.arrow"), &["region", "segment"]);
    let options = options(64);
    let slicings = vec![
        vec!["region".to_string()],
        vec!["region".to_string(), "segment".to_string()],
    ];
    let slices = full_sliced(&p, &slicings, &options, 30, &|_, _| {}).unwrap();
    check_equals_filtered(&p, &["region"], &slices, &options);
    check_equals_filtered(&p, &["region", "segment"], &slices, &options);
    // Keys sorted, the null key last; the 12-row region is too small.
    let regions: Vec<(&str, bool)> = slices
        .iter()
        .filter(|s| s.by.len() == 1)
        .map(|s| (s.key[0].as_str(), s.too_small))
        .collect();
    assert_eq!(
        regions,
        [
            ("east", false),
            ("north", false),
            ("south", false),
            ("west", true),
            ("null", true)
        ]
    );
}

#[test]
fn binary_slices_match_scikit_learn() {
    let want = expected("binary_sliced");
    let p = read_with(&fixture("binary_sliced.arrow"), &["region", "segment"]);
    let slicings = vec![
        vec!["region".to_string()],
        vec!["region".to_string(), "segment".to_string()],
    ];
    let slices = full_sliced(&p, &slicings, &options(0), 30, &|_, _| {}).unwrap();
    let mut checked = 0;
    for s in &slices {
        let w = if s.by.len() == 1 {
            &want["region"][&s.key[0]]
        } else {
            &want["region_segment"][format!("{}|{}", s.key[0], s.key[1])]
        };
        assert_eq!(w["rows"].as_u64(), Some(s.rows as u64), "{:?}", s.key);
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
        ] {
            assert_close(
                &format!("{:?} {m}", s.key),
                s.result.metrics().value(m),
                &w[m],
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 5 + 15);
    // The one-class region says why its AUC is undefined.
    let west = slices.iter().find(|s| s.key == ["west"]).unwrap();
    let auc = west.result.metrics().get("roc_auc").unwrap();
    assert!(auc.value.is_none() && auc.reason.is_some());
}

/// A copy of a fixture with an integer `fold` column (row index mod 3, with
/// one fold made tiny).
fn with_fold(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let file = std::fs::File::open(fixture(name)).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(file, None).unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let n = batch.num_rows();
    let fold: ArrayRef = Arc::new(Int64Array::from(
        (0..n as i64)
            .map(|i| if i < 10 { 7 } else { i % 3 })
            .collect::<Vec<_>>(),
    ));
    let mut cols: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| (f.name().as_str(), a.clone()))
        .collect();
    cols.push(("fold", fold));
    let meta: Vec<(&str, &str)> = schema
        .metadata()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let path = dir.join(name);
    write_ipc(&path, cols, &meta);
    path
}

#[test]
fn multiclass_and_regression_slices_equal_the_filtered_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["multiclass_digits.arrow", "regression.arrow"] {
        let path = with_fold(name, dir.path());
        let p = read_with(&path, &["fold"]);
        let options = options(48);
        let slices =
            full_sliced(&p, &[vec!["fold".to_string()]], &options, 30, &|_, _| {}).unwrap();
        assert_eq!(
            slices.iter().map(|s| s.key[0].as_str()).collect::<Vec<_>>(),
            ["0", "1", "2", "7"]
        );
        assert!(slices[3].too_small && !slices[0].too_small);
        check_equals_filtered(&p, &["fold"], &slices, &options);
    }
}

#[test]
fn cli_json_lists_every_slice_with_its_key() {
    let out = evalkit([
        "full",
        fixture("binary_sliced.arrow").to_str().unwrap(),
        "--json",
        "--bootstrap",
        "40",
        "--slice",
        "region",
        "--slice",
        "region,segment",
        "--min-slice",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["min_slice"], 100);
    let slices = doc["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 20);
    let east = &slices[0];
    assert_eq!(east["by"], serde_json::json!(["region"]));
    assert_eq!(east["key"], serde_json::json!({"region": "east"}));
    assert_eq!(east["too_small"], false);
    assert!(east["metrics"]["roc_auc"]["ci"].is_array());
    assert_eq!(
        east["positives"].as_u64().unwrap() + east["negatives"].as_u64().unwrap(),
        east["rows"].as_u64().unwrap()
    );
    let crossed = &slices[5];
    assert_eq!(
        crossed["key"],
        serde_json::json!({"region": "east", "segment": "1"})
    );
    // 54 rows < 100: listed, values, no interval, and said so.
    assert_eq!(crossed["too_small"], true);
    assert!(crossed["metrics"]["roc_auc"]["value"].is_f64());
    assert!(crossed["metrics"]["roc_auc"]["ci"].is_null());
    assert!(
        crossed["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("fewer than 100"))
    );
    // The overall metrics are still there.
    assert!(doc["metrics"]["roc_auc"]["ci"].is_array());
    // Undefined per-slice metrics carry their reason.
    let west = slices
        .iter()
        .find(|s| s["key"]["region"] == "west")
        .unwrap();
    assert!(west["metrics"]["roc_auc"]["value"].is_null());
    assert!(west["metrics"]["roc_auc"]["reason"].is_string());
}

#[test]
fn bad_slice_columns_are_refused_clearly() {
    let file = fixture("binary_sliced.arrow");
    let path = file.to_str().unwrap();
    for (args, needles) in [
        (vec!["--slice", "regoin"], vec!["regoin", "region"]),
        (vec!["--slice", "score"], vec!["score", "passthrough"]),
        (
            vec!["--slice", "region,label"],
            vec!["label", "passthrough"],
        ),
        (
            vec!["--slice", "region,segment,region,segment,region"],
            vec!["at most 4"],
        ),
        (vec!["--slice", ","], vec!["at least one column"]),
    ] {
        let mut a = vec!["full", path, "--bootstrap", "0"];
        a.extend(args.iter().copied());
        check(a, needles);
    }
    // An id column (20,000 distinct values) is not a slicing.
    let rare = fixture("binary_rare.arrow");
    check(
        vec!["full", rare.to_str().unwrap(), "--slice", "row_id"],
        vec!["row_id", "distinct", "10000"],
    );
    fn check(a: Vec<&str>, needles: Vec<&str>) {
        let out = evalkit(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{a:?}: {err} lacks {n}");
        }
    }
}
