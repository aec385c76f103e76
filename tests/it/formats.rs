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

/// Runs the `evalkit` binary with `input` on its standard input.
fn evalkit_stdin(args: &[&str], input: Vec<u8>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(crate::common::exe())
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A writer thread: the child may stop reading early (an error), and a
    // pipe holds less than a fixture.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// The JSON document of a tier run, without the `file` field (which names
/// the input as given).
fn document(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let mut doc: serde_json::Value = serde_json::from_str(&stdout(out)).unwrap();
    doc.as_object_mut().unwrap().remove("file");
    doc
}

const TIERS: [&[&str]; 2] = [&["full", "--bootstrap", "0", "--json"], &["fast", "--json"]];

/// `evalkit full -` and `evalkit fast -` read standard input: every format,
/// the same result as from the regular file.
#[test]
fn standard_input_gives_the_same_result_as_the_file() {
    for name in [
        "binary_balanced.csv",
        "binary_balanced.arrows",
        "binary_balanced.arrow",
        "binary_balanced.parquet",
    ] {
        let path = fixture(name);
        let bytes = std::fs::read(&path).unwrap();
        for tier in TIERS {
            let mut from_file = vec![tier[0], path.to_str().unwrap()];
            from_file.extend_from_slice(&tier[1..]);
            let want = document(&evalkit(&from_file));
            for input in ["-", "/dev/stdin"] {
                let mut piped = vec![tier[0], input];
                piped.extend_from_slice(&tier[1..]);
                let out = evalkit_stdin(&piped, bytes.clone());
                assert_eq!(document(&out), want, "{name} {input} {tier:?}");
            }
        }
    }
    // The file is named as the user gave it: `-` is "standard input".
    let out = evalkit_stdin(&["full", "-", "--json", "--bootstrap", "0"], {
        std::fs::read(fixture("binary_balanced.csv")).unwrap()
    });
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["file"], "standard input");
}

/// A FIFO (as made by a process substitution) is read like the file.
#[cfg(unix)]
#[test]
fn a_fifo_gives_the_same_result_as_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["binary_balanced.csv", "binary_balanced.arrows"] {
        let path = fixture(name);
        let fifo = dir.path().join(format!("fifo-{name}"));
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for tier in TIERS {
            let mut from_file = vec![tier[0], path.to_str().unwrap()];
            from_file.extend_from_slice(&tier[1..]);
            let want = document(&evalkit(&from_file));

            let bytes = std::fs::read(&path).unwrap();
            let target = fifo.clone();
            // Opening a FIFO for writing blocks until a reader opens it.
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .and_then(|mut f| f.write_all(&bytes));
            });
            let mut args = vec![tier[0], fifo.to_str().unwrap()];
            args.extend_from_slice(&tier[1..]);
            let out = evalkit(&args);
            if !writer.is_finished() {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            if !writer.is_finished() {
                // evalkit never opened the FIFO: open it here so the writer
                // stops waiting (detached, in case it has already given up).
                let target = fifo.clone();
                std::thread::spawn(move || drop(std::fs::read(target)));
            }
            writer.join().unwrap();
            assert_eq!(document(&out), want, "{name} {tier:?}");
        }
    }
}

/// Errors about standard input call it that, with one line and exit 2.
#[test]
fn standard_input_errors_name_it() {
    let truncated = std::fs::read(fixture("binary_balanced.arrows")).unwrap()[..3000].to_vec();
    for (bytes, want) in [
        (Vec::new(), "standard input: is empty (0 bytes)"),
        (
            b"label,score\n0,0.1\n1,2.5\n".to_vec(),
            "standard input: column 'score', row 1",
        ),
        (
            truncated,
            "standard input: is a truncated or corrupt Arrow IPC stream",
        ),
    ] {
        for tier in ["full", "fast"] {
            let out = evalkit_stdin(&[tier, "-"], bytes.clone());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with(&format!("evalkit: error: {want}")), "{err}");
        }
    }
}

/// Parquet as polars writes it — several row groups, several pages per
/// column chunk, with and without statistics — passes the structural check
/// that runs before polars reads a file, and gives the same metrics.
#[test]
fn parquet_with_row_groups_and_pages_reads_like_the_arrow_file() {
    use polars::prelude::{
        DataFrame, IntoColumn, NamedFrom, ParquetCompression, ParquetWriter, Series,
        StatisticsOptions,
    };
    let reference = metrics("binary_balanced.arrow", &ReadOptions::default());
    let preds =
        read_predictions(&fixture("binary_balanced.arrow"), &ReadOptions::default()).unwrap();
    let Columns::Binary { labels, scores } = &preds.columns else {
        panic!()
    };
    let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    let dir = tempfile::tempdir().unwrap();
    for (i, (compression, statistics)) in [
        (ParquetCompression::Uncompressed, false),
        (ParquetCompression::Snappy, true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut frame = DataFrame::new(
            labels.len(),
            vec![
                Series::new("label".into(), labels.clone()).into_column(),
                Series::new("score".into(), scores.to_f64_vec()).into_column(),
            ],
        )
        .unwrap();
        let p = dir.path().join(format!("groups{i}.parquet"));
        let stats = if statistics {
            StatisticsOptions::full()
        } else {
            StatisticsOptions::empty()
        };
        ParquetWriter::new(std::fs::File::create(&p).unwrap())
            .with_compression(compression)
            .with_statistics(stats)
            .with_row_group_size(Some(300))
            .with_data_page_size(Some(512))
            .finish(&mut frame)
            .unwrap();
        let got = metrics(p.to_str().unwrap(), &ReadOptions::default());
        for (m, v) in reference.iter() {
            assert_eq!(got.value(m), v.value, "{p:?} {m}");
        }
    }
}
