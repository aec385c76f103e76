//! `evalkit infer`: equality with Python onnxruntime, the cache, atomic
//! writes, and every error case. These tests need the ONNX Runtime library
//! (`make test` installs the `onnxruntime` wheel into `.venv`, where evalkit
//! finds it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::Float32Type;

use crate::common::{evalkit, fixture, stderr, stdout, write_ipc};

/// Reads an Arrow IPC file: its schema metadata and columns.
fn read_ipc(
    path: &Path,
) -> (
    std::collections::HashMap<String, String>,
    Vec<(String, ArrayRef)>,
) {
    let reader =
        arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let chunks: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            (f.name().clone(), arrow::compute::concat(&chunks).unwrap())
        })
        .collect();
    (schema.metadata().clone().into(), columns)
}

fn column<'a>(cols: &'a [(String, ArrayRef)], name: &str) -> &'a ArrayRef {
    &cols
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
}

/// Flat f32 values of a score column (Float32 or FixedSizeList<Float32>).
fn flat_scores(a: &ArrayRef) -> Vec<f32> {
    match a.data_type() {
        arrow::datatypes::DataType::FixedSizeList(_, _) => a
            .as_fixed_size_list()
            .values()
            .as_primitive::<Float32Type>()
            .values()
            .to_vec(),
        _ => a.as_primitive::<Float32Type>().values().to_vec(),
    }
}

fn infer(args: &[&str]) -> (Option<i32>, String, String) {
    let out = evalkit(std::iter::once("infer").chain(args.iter().copied()));
    (out.status.code(), stdout(&out), stderr(&out))
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `evalkit infer` of fixture model `model` on fixture data `data` (label,
/// row ids kept, no cache) into `out`, which must succeed.
#[track_caller]
fn infer_fixture(model: &str, data: &str, out: &Path, batch: &str) {
    let (code, _, err) = infer(&[
        path_str(&fixture(&format!("models/{model}.onnx"))),
        path_str(&fixture(&format!("data/{data}.parquet"))),
        "-o",
        path_str(out),
        "--label",
        "label",
        "--keep",
        "row_id",
        "--batch-size",
        batch,
        "--no-cache",
    ]);
    assert_eq!(code, Some(0), "{model}: {err}");
}

#[test]
fn predictions_equal_python_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    for (model, data, task, k) in [
        ("breast_cancer_lr", "breast_cancer", "binary", 1),
        ("breast_cancer_gbm", "breast_cancer", "binary", 1),
        ("digits_mlp", "digits", "multiclass", 10),
        ("diabetes_ridge", "diabetes", "regression", 1),
    ] {
        let out = dir.path().join(format!("{model}.arrow"));
        infer_fixture(model, data, &out, "100");
        let (meta, cols) = read_ipc(&out);
        let (_, golden) = read_ipc(&fixture(&format!("expected/infer_{model}.arrow")));
        let got = flat_scores(column(&cols, "score"));
        let want = flat_scores(column(&golden, "score"));
        // Binary: the golden file holds both class columns.
        let want: Vec<f32> = if task == "binary" {
            want.chunks(2).map(|r| r[1]).collect()
        } else {
            want
        };
        assert_eq!(got.len(), want.len(), "{model}");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{model}: max |diff| {worst}");
        assert_eq!(meta["evalkit.task"], task, "{model}");
        assert_eq!(meta["evalkit.format_version"], "1");
        let inference: serde_json::Value =
            serde_json::from_str(&meta["evalkit.inference"]).unwrap();
        assert_eq!(inference["provider"], "CPUExecutionProvider");
        assert!(inference["rows_per_s"].as_f64().unwrap() > 0.0);
        for p in ["p50", "p95", "p99"] {
            assert!(inference["latency_ms"][p].as_f64().unwrap() >= 0.0);
        }
        assert!(inference["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);
        let model_meta: serde_json::Value = serde_json::from_str(&meta["evalkit.model"]).unwrap();
        assert_eq!(model_meta["blake3"].as_str().unwrap().len(), 64);
        assert_eq!(model_meta["input_type"], "float32");
        assert_eq!(model_meta["output_type"], "float32");
        if k == 10 {
            assert_eq!(
                column(&cols, "score").data_type().to_string(),
                "FixedSizeList(10 x non-null Float32)"
            );
        }
        // The row ids came through, and the tiers read the file.
        assert_eq!(column(&cols, "row_id").len(), got.len() / k);
        let fast = evalkit(["fast", path_str(&out), "--json"]);
        assert_eq!(fast.status.code(), Some(0), "{model}: {}", stderr(&fast));
    }
}

/// Models taking and giving float16 (a Cast at each end, the interface of
/// a model converted for a GPU): each feature is rounded once from its
/// stored Float64 (as numpy's `astype(np.float16)`), the float16
/// probabilities widened exactly, so the scores are Python onnxruntime's
/// bit for bit, whatever the batch size.
#[test]
fn float16_models_equal_python_onnxruntime_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for (model, data, k) in [
        ("breast_cancer_lr_f16", "breast_cancer", 1),
        ("digits_mlp_f16", "digits", 10),
    ] {
        let (_, golden) = read_ipc(&fixture(&format!("expected/infer_{model}.arrow")));
        let want = flat_scores(column(&golden, "score"));
        // Binary: the golden file holds both class columns.
        let want: Vec<u32> = if k == 1 {
            want.chunks(2).map(|r| r[1].to_bits()).collect()
        } else {
            want.iter().map(|v| v.to_bits()).collect()
        };
        for batch in ["7", "4096"] {
            let out = dir.path().join(format!("{model}-{batch}.arrow"));
            infer_fixture(model, data, &out, batch);
            let (meta, cols) = read_ipc(&out);
            let got: Vec<u32> = flat_scores(column(&cols, "score"))
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got.len(), want.len(), "{model}");
            let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "{model}, batch {batch}: {differ} scores differ");
            let m: serde_json::Value = serde_json::from_str(&meta["evalkit.model"]).unwrap();
            assert_eq!(m["input_type"], "float16", "{m}");
            assert_eq!(m["output_type"], "float16", "{m}");
        }
    }
}

/// 12 rows of 30 Float64 features `f00`..`f29` (row r holds r/2) and a 0/1
/// label: feature `bad_col` holds `bad` in row `bad_row`, and `f00` is null
/// in row 2.
fn write_one_bad_value(path: &Path, bad_col: usize, bad_row: usize, bad: f64) {
    let rows = 12;
    let mut cols: Vec<(String, ArrayRef)> = (0..30)
        .map(|i| {
            let v: Vec<Option<f64>> = (0..rows)
                .map(|r| match (i, r) {
                    (i, r) if i == bad_col && r == bad_row => Some(bad),
                    (0, 2) => None,
                    _ => Some(r as f64 * 0.5),
                })
                .collect();
            (
                format!("f{i:02}"),
                Arc::new(Float64Array::from(v)) as ArrayRef,
            )
        })
        .collect();
    cols.push((
        "label".into(),
        Arc::new(Int64Array::from(
            (0..rows as i64).map(|i| i % 2).collect::<Vec<_>>(),
        )) as ArrayRef,
    ));
    write_ipc(
        path,
        cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(),
        &[],
    );
}

/// A value a float16 model cannot take (beyond ±65504 once rounded, or a
/// fill value beyond it) is exit 2 naming its column and row; the largest
/// values that round to a finite float16 pass.
#[test]
fn float16_models_refuse_values_beyond_float16() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.arrow");
    let make = |bad_col: usize, bad_row: usize, bad: f64| {
        write_one_bad_value(&data, bad_col, bad_row, bad);
    };
    let out = dir.path().join("p.arrow");
    let f16 = fixture("models/breast_cancer_lr_f16.onnx");
    let args = |fill: &'static str, batch: &'static str| -> Vec<String> {
        [
            path_str(&f16),
            path_str(&data),
            "-o",
            path_str(&out),
            "--label",
            "label",
            "--no-cache",
            "--fill-null",
            fill,
            "--batch-size",
            batch,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let name = path_str(&data).to_string();
    for batch in ["5", "100"] {
        make(3, 8, 70000.0);
        let a = args("0", batch);
        rejects(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &[&name, "column 'f03', row 8", "70000", "float16"],
        );
        make(17, 11, -65520.0);
        let a = args("0", batch);
        rejects(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &[&name, "column 'f17', row 11", "-65520", "float16"],
        );
        // The null in column f00, row 2, filled with a value float16 cannot hold.
        make(3, 8, 1.0);
        let a = args("100000", batch);
        rejects(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &[
                &name,
                "column 'f00', row 2",
                "null, filled with 100000",
                "float16",
            ],
        );
        // 65519 rounds to 65504, the largest float16: it runs (and the same
        // file runs through the float32 model).
        make(3, 8, 65519.0);
        let a = args("0", batch);
        let (code, _, err) = infer(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, _, err) = infer(&[
        path_str(&fixture_lr()),
        path_str(&data),
        "-o",
        path_str(&dir.path().join("p32.arrow")),
        "--label",
        "label",
        "--no-cache",
        "--fill-null",
        "100000",
    ]);
    assert_eq!(code, Some(0), "{err}");
}

/// A synthetic dataset for the breast-cancer models: `rows` rows of 30
/// feature columns, a label and a row id.
fn synthetic(path: &Path, rows: usize, shift: f64) {
    let names: Vec<String> = (0..30).map(|i| format!("f{i:02}")).collect();
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let data: Vec<Vec<f64>> = (0..30)
        .map(|_| (0..rows).map(|_| next() * 10.0 + shift).collect())
        .collect();
    for (i, d) in data.into_iter().enumerate() {
        cols.push((
            names[i].as_str(),
            Arc::new(Float64Array::from(d)) as ArrayRef,
        ));
    }
    let labels: ArrayRef = Arc::new(Int64Array::from(
        (0..rows as i64).map(|i| i % 2).collect::<Vec<_>>(),
    ));
    let ids: ArrayRef = Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>()));
    cols.push(("label", labels));
    cols.push(("row_id", ids));
    write_ipc(path, cols, &[]);
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_cache_serves_a_second_run_without_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.arrow");
    synthetic(&data, 2000, 0.0);
    let cache = dir.path().join("cache");
    let model = fixture("models/breast_cancer_lr.onnx");
    let run = |out: &Path, extra: &[&str], env_ort: Option<&str>| {
        let mut cmd = Command::new(crate::common::exe());
        cmd.args([
            "infer",
            path_str(&model),
            path_str(&data),
            "-o",
            path_str(out),
            "--label",
            "label",
            "--keep",
            "row_id",
            "--cache-dir",
            path_str(&cache),
            "--json",
        ])
        .args(extra);
        if let Some(p) = env_ort {
            cmd.env("ORT_DYLIB_PATH", p);
        }
        let o = cmd.output().unwrap();
        (o.status.code(), stdout(&o), stderr(&o))
    };
    let first = dir.path().join("a.arrow");
    let (code, out, err) = run(&first, &[], None);
    assert_eq!(code, Some(0), "{err}");
    let doc = json_of(&out);
    assert_eq!(doc["cache"]["status"], "miss");
    // Second run: a hit. ONNX Runtime is pointed at a file that does not
    // exist, so any model load would fail: nothing runs.
    let second = dir.path().join("b.arrow");
    let (code, out, err) = run(&second, &[], Some("/nonexistent/libonnxruntime.so"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json_of(&out)["cache"]["status"], "hit");
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    // Other options, other data, other model: misses.
    let (_, out, _) = run(&second, &["--where", "f00 > 5"], None);
    assert_eq!(json_of(&out)["cache"]["status"], "miss");
    synthetic(&data, 2000, 0.5);
    let (_, out, _) = run(&second, &[], None);
    assert_eq!(json_of(&out)["cache"]["status"], "miss");
    // A corrupt entry is detected, reported and recomputed.
    let entry = PathBuf::from(json_of(&out)["cache"]["entry"].as_str().unwrap());
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    std::fs::write(&entry, bytes).unwrap();
    let (code, out, err) = run(&second, &[], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json_of(&out)["cache"]["status"], "miss");
    assert!(
        err.contains("is corrupt") && err.contains("recomputing"),
        "{err}"
    );
    let fast = evalkit(["fast", path_str(&second)]);
    assert_eq!(fast.status.code(), Some(0), "{}", stderr(&fast));
}

/// Files under final names in `dir` (not the temporary `.…tmp-…` ones).
fn final_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(final_files(&p));
            } else {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if !name.starts_with('.') && !name.ends_with(".lock") {
                    out.push(p);
                }
            }
        }
    }
    out
}

#[test]
fn a_run_killed_midway_leaves_no_file_under_a_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.arrow");
    synthetic(&data, 400_000, 0.0);
    let cache = dir.path().join("cache");
    let out = dir.path().join("preds.arrow");
    let mut child = Command::new(crate::common::exe())
        .args([
            "infer",
            path_str(&fixture("models/breast_cancer_gbm.onnx")),
            path_str(&data),
            "-o",
            path_str(&out),
            "--label",
            "label",
            "--keep",
            "row_id",
            "--batch-size",
            "1",
            "--threads",
            "1",
            "--cache-dir",
            path_str(&cache),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        still_running,
        "the run finished before it could be killed: make the data larger"
    );
    assert!(!out.exists(), "a partial prediction file was left at -o");
    assert!(
        final_files(&cache).is_empty(),
        "files under final names: {:?}",
        final_files(&cache)
    );
}

#[test]
fn concurrent_runs_of_one_key_both_succeed_with_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.arrow");
    synthetic(&data, 50_000, 0.0);
    let cache = dir.path().join("cache");
    let spawn = |out: &Path| {
        Command::new(crate::common::exe())
            .args([
                "infer",
                path_str(&fixture("models/breast_cancer_gbm.onnx")),
                path_str(&data),
                "-o",
                path_str(out),
                "--label",
                "label",
                "--keep",
                "row_id",
                "--cache-dir",
                path_str(&cache),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (dir.path().join("a.arrow"), dir.path().join("b.arrow"));
    let (ca, cb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    assert_eq!(
        oa.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert_eq!(
        ob.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn predictions_without_labels_are_written_and_the_tiers_ask_for_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nolabel.arrow");
    let (code, _, err) = infer(&[
        path_str(&fixture("models/breast_cancer_lr.onnx")),
        path_str(&fixture("data/breast_cancer.parquet")),
        "-o",
        path_str(&out),
        "--features",
        &(0..30).map(feature_name).collect::<Vec<_>>().join(","),
        "--no-cache",
        "--task",
        "binary",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let fast = evalkit(["fast", path_str(&out)]);
    assert_eq!(fast.status.code(), Some(2));
    assert!(stderr(&fast).contains("has no labels"), "{}", stderr(&fast));
}

/// The breast-cancer feature names, from the fixture's data file order.
fn feature_name(i: usize) -> String {
    const NAMES: [&str; 30] = [
        "mean radius",
        "mean texture",
        "mean perimeter",
        "mean area",
        "mean smoothness",
        "mean compactness",
        "mean concavity",
        "mean concave points",
        "mean symmetry",
        "mean fractal dimension",
        "radius error",
        "texture error",
        "perimeter error",
        "area error",
        "smoothness error",
        "compactness error",
        "concavity error",
        "concave points error",
        "symmetry error",
        "fractal dimension error",
        "worst radius",
        "worst texture",
        "worst perimeter",
        "worst area",
        "worst smoothness",
        "worst compactness",
        "worst concavity",
        "worst concave points",
        "worst symmetry",
        "worst fractal dimension",
    ];
    NAMES[i].to_string()
}

#[track_caller]
fn rejects(args: &[&str], needles: &[&str]) {
    let (code, out, err) = infer(args);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

#[test]
fn every_error_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.arrow");
    let o = path_str(&out);
    let lr = fixture("models/breast_cancer_lr.onnx");
    let data = fixture("data/breast_cancer.parquet");
    let (lr, data) = (path_str(&lr), path_str(&data));
    let base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            lr.into(),
            data.into(),
            "-o".into(),
            o.into(),
            "--label".into(),
            "label".into(),
            "--keep".into(),
            "row_id".into(),
            "--no-cache".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |args: Vec<String>, needles: &[&str]| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        rejects(&refs, needles);
    };
    // ZipMap output.
    let zip = fixture("models/breast_cancer_lr_zipmap.onnx");
    rejects(
        &[
            path_str(&zip),
            data,
            "-o",
            o,
            "--label",
            "label",
            "--keep",
            "row_id",
            "--no-cache",
        ],
        &["ZipMap", "zipmap': False"],
    );
    // Feature count mismatch (row_id taken as a feature).
    rejects(
        &[lr, data, "-o", o, "--label", "label", "--no-cache"],
        &["expects 30 features", "gives 31", "--features"],
    );
    // A feature that does not exist, and one that is not a number.
    check(
        base(&["--features", "mean radius,nope"]),
        &[
            "column 'nope'",
            "no such feature column",
            "mean texture (f64)",
        ],
    );
    // Missing and corrupt model files.
    rejects(
        &["/nonexistent/model.onnx", data, "-o", o, "--no-cache"],
        &["/nonexistent/model.onnx", "cannot open"],
    );
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not an onnx model").unwrap();
    rejects(
        &[
            path_str(&junk),
            data,
            "-o",
            o,
            "--label",
            "label",
            "--keep",
            "row_id",
            "--no-cache",
        ],
        &["junk.onnx", "is not a model ONNX Runtime can load"],
    );
    // An output that does not exist; an integer output.
    check(
        base(&["--output", "nope"]),
        &["--output nope", "no such output", "'probabilities'"],
    );
    check(
        base(&["--output", "label"]),
        &["not a float32 or float16 tensor"],
    );
    // A bad --where.
    check(
        base(&["--where", "mean radius >"]),
        &["--where", "not a valid SQL condition"],
    );
    check(base(&["--where", "\"no such\" > 1"]), &["--where"]);
    // CUDA on a machine without it: never a silent CPU run.
    check(
        base(&["--device", "cuda"]),
        &[
            "--device cuda:0",
            "CUDA execution provider cannot be used",
            "--device cpu",
        ],
    );
    // ONNX Runtime pointed at nothing.
    let bad_ort = Command::new(crate::common::exe())
        .arg("infer")
        .args(base(&[]))
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(bad_ort.status.code(), Some(2));
    assert!(
        stderr(&bad_ort).contains("ORT_DYLIB_PATH is set to /nonexistent/libonnxruntime.so"),
        "{}",
        stderr(&bad_ort)
    );
    // A file that is not a library: the loader's reason on one line, not
    // ort's debug structure, and how to install ONNX Runtime.
    let not_a_library = out.with_file_name("libonnxruntime.so.1.32.0");
    std::fs::write(&not_a_library, "not a shared library").unwrap();
    let broken = Command::new(crate::common::exe())
        .arg("infer")
        .args(base(&[]))
        .env("ORT_DYLIB_PATH", &not_a_library)
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2));
    let message = stderr(&broken);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    let at = format!(
        "ONNX Runtime at {} could not be loaded",
        not_a_library.display()
    );
    // The binary names the onnxruntime wheel; the Python package's command
    // names its own extra (`make test` runs both).
    let install = if std::env::var_os("EVALKIT_BIN").is_some() {
        "pip install 'evalkit[infer]'"
    } else {
        "pip install onnxruntime"
    };
    for part in [at.as_str(), install, "ORT_DYLIB_PATH"] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(
        !message.contains("DlOpen") && !message.contains("{"),
        "{message}"
    );
    assert!(!out.exists(), "no prediction file after errors");
}

#[test]
fn nulls_in_features_are_errors_unless_filled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nulls.arrow");
    let mut cols: Vec<(String, ArrayRef)> = (0..30)
        .map(|i| {
            let v: Vec<Option<f64>> = (0..10)
                .map(|r| {
                    if i == 3 && r == 6 {
                        None
                    } else {
                        Some(r as f64)
                    }
                })
                .collect();
            (
                format!("f{i:02}"),
                Arc::new(Float64Array::from(v)) as ArrayRef,
            )
        })
        .collect();
    cols.push((
        "label".into(),
        Arc::new(Int64Array::from(
            (0..10).map(|i| i % 2).collect::<Vec<i64>>(),
        )) as ArrayRef,
    ));
    cols.push((
        "name".into(),
        Arc::new(StringArray::from(
            (0..10).map(|i| format!("r{i}")).collect::<Vec<_>>(),
        )) as ArrayRef,
    ));
    write_ipc(
        &data,
        cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(),
        &[],
    );
    let out = dir.path().join("p.arrow");
    let lr = fixture("models/breast_cancer_lr.onnx");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "infer",
            path_str(&lr),
            path_str(&data),
            "-o",
            path_str(&out),
            "--label",
            "label",
            "--keep",
            "name",
            "--no-cache",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let o = evalkit(args(&[]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column 'f03', row 6") && stderr(&o).contains("--fill-null"),
        "{}",
        stderr(&o)
    );
    let o = evalkit(args(&["--fill-null", "0"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A string column named as a feature.
    let o = evalkit(args(&["--features", "name"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("column 'name'") && stderr(&o).contains("features must be numbers"),
        "{}",
        stderr(&o)
    );
}

/// Features of every numeric type (and Boolean), with a filled null, give
/// the same predictions as the same values stored as Float64, whatever the
/// batch size: each batch is converted to the model's input type (f32 or
/// float16) on its own.
#[test]
fn every_feature_type_converts_like_float64() {
    use arrow::array::{BooleanArray, Float32Array, Int8Array, Int32Array, UInt16Array};
    let dir = tempfile::tempdir().unwrap();
    let rows = 11usize;
    let value = |i: usize, r: usize| ((i * 7 + r * 3) % 13) as f64 - 4.0;
    let mut typed: Vec<(String, ArrayRef)> = Vec::new();
    let mut plain: Vec<(String, ArrayRef)> = Vec::new();
    for i in 0..30 {
        let v: Vec<f64> = (0..rows).map(|r| value(i, r)).collect();
        let name = format!("f{i:02}");
        let a: ArrayRef = match i % 6 {
            0 => Arc::new(Float32Array::from(
                v.iter().map(|&x| x as f32 + 0.25).collect::<Vec<_>>(),
            )),
            1 => Arc::new(Int32Array::from(
                v.iter().map(|&x| x as i32).collect::<Vec<_>>(),
            )),
            2 => Arc::new(Int8Array::from(
                v.iter().map(|&x| x as i8).collect::<Vec<_>>(),
            )),
            3 => Arc::new(UInt16Array::from(
                v.iter().map(|&x| (x + 4.0) as u16).collect::<Vec<_>>(),
            )),
            4 => Arc::new(BooleanArray::from(
                v.iter().map(|&x| x > 0.0).collect::<Vec<_>>(),
            )),
            // Float64 with a null in row 6, filled with 0.5.
            _ => Arc::new(Float64Array::from(
                (0..rows)
                    .map(|r| (r != 6).then_some(v[r] * 1.5))
                    .collect::<Vec<_>>(),
            )),
        };
        let as_f64: Vec<f64> = (0..rows)
            .map(|r| match i % 6 {
                0 => v[r] + 0.25,
                1 | 2 => v[r],
                3 => v[r] + 4.0,
                4 => (v[r] > 0.0) as u8 as f64,
                _ if r == 6 => 0.5,
                _ => v[r] * 1.5,
            })
            .collect();
        typed.push((name.clone(), a));
        plain.push((name, Arc::new(Float64Array::from(as_f64)) as ArrayRef));
    }
    for model in ["breast_cancer_lr", "breast_cancer_lr_f16"] {
        let lr = fixture(&format!("models/{model}.onnx"));
        let mut scores = Vec::new();
        for (name, cols, batch) in [
            ("typed", &typed, "4"),
            ("chunked", &plain, "4"),
            ("plain", &plain, "1000"),
        ] {
            let data = dir.path().join(format!("{model}-{name}.arrow"));
            if name == "chunked" {
                // Record batches of 5, 3 and 3 rows: the second batch of 4 rows
                // spans two chunks.
                write_ipc_chunks(&data, cols, &[0..5, 5..8, 8..11]);
            } else {
                write_ipc(
                    &data,
                    cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(),
                    &[],
                );
            }
            let out = dir.path().join(format!("{model}-{name}-preds.arrow"));
            let (code, _, err) = infer(&[
                path_str(&lr),
                path_str(&data),
                "-o",
                path_str(&out),
                "--no-cache",
                "--fill-null",
                "0.5",
                "--batch-size",
                batch,
            ]);
            assert_eq!(code, Some(0), "{err}");
            let (_, cols) = read_ipc(&out);
            scores.push(flat_scores(column(&cols, "score")));
        }
        assert_eq!(scores[0].len(), rows, "{model}");
        assert_eq!(scores[0], scores[2], "{model}");
        assert_eq!(scores[1], scores[2], "{model}");
    }
}

/// An Arrow IPC file holding `cols` as one record batch per range of rows.
fn write_ipc_chunks(path: &Path, cols: &[(String, ArrayRef)], ranges: &[std::ops::Range<usize>]) {
    use arrow::datatypes::{Field, Schema};
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let file = std::fs::File::create(path).unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(file, &schema).unwrap();
    for r in ranges {
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            cols.iter()
                .map(|(_, a)| a.slice(r.start, r.len()))
                .collect(),
        )
        .unwrap();
        w.write(&batch).unwrap();
    }
    w.finish().unwrap();
}

/// Runs `infer` of the logistic regression on `data` into `out` through the
/// cache at `cache`, with `--json`: (exit code, JSON document or null,
/// stderr).
fn cached_run(
    data: &Path,
    out: &Path,
    cache: &Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec![
        path_str(&fixture_lr()).to_string(),
        path_str(data).to_string(),
        "-o".into(),
        path_str(out).to_string(),
        "--label".into(),
        "label".into(),
        "--keep".into(),
        "row_id".into(),
        "--cache-dir".into(),
        path_str(cache).to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = infer(&refs);
    let doc = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (code, doc, err)
}

fn fixture_lr() -> PathBuf {
    fixture("models/breast_cancer_lr.onnx")
}

#[test]
fn outputs_of_a_cache_hit_are_independent_copies() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.arrow");
    synthetic(&data, 500, 0.0);
    let cache = dir.path().join("cache");
    let (a, b, c) = (
        dir.path().join("a.arrow"),
        dir.path().join("b.arrow"),
        dir.path().join("c.arrow"),
    );
    let (code, doc, err) = cached_run(&data, &a, &cache, &[]);
    assert_eq!(
        (code, doc["cache"]["status"].as_str()),
        (Some(0), Some("miss")),
        "{err}"
    );
    let entry = PathBuf::from(doc["cache"]["entry"].as_str().unwrap());
    let (code, doc, err) = cached_run(&data, &b, &cache, &[]);
    assert_eq!(
        (code, doc["cache"]["status"].as_str()),
        (Some(0), Some("hit")),
        "{err}"
    );
    let original = std::fs::read(&entry).unwrap();
    assert!(std::fs::read(&a).unwrap() == original);
    assert!(std::fs::read(&b).unwrap() == original);
    // Edit one output in place (append, as an editor or a careless script
    // would): the other output and the cache entry do not change.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&b)
        .unwrap()
        .write_all(b"edited")
        .unwrap();
    assert!(std::fs::read(&a).unwrap() == original, "a changed with b");
    assert!(
        std::fs::read(&entry).unwrap() == original,
        "the cache entry changed with b"
    );
    // The cache still serves the next run.
    let (code, doc, err) = cached_run(&data, &c, &cache, &[]);
    assert_eq!(
        (code, doc["cache"]["status"].as_str()),
        (Some(0), Some("hit")),
        "{err}"
    );
    assert!(std::fs::read(&c).unwrap() == original);
}

#[test]
fn a_cache_that_cannot_be_locked_still_serves_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.arrow");
    synthetic(&data, 300, 0.0);
    let cache = dir.path().join("cache");
    let first = dir.path().join("first.arrow");
    let (code, doc, err) = cached_run(&data, &first, &cache, &[]);
    assert_eq!(code, Some(0), "{err}");
    let entry = PathBuf::from(doc["cache"]["entry"].as_str().unwrap());
    // The tests run as root, for whom a read-only folder is writable; a
    // folder where the lock file should be cannot be opened as the lock by
    // anyone (EISDIR), like a lock on a read-only cache for other users.
    let lock = entry.with_extension("lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    let second = dir.path().join("second.arrow");
    let (code, doc, err) = cached_run(&data, &second, &cache, &[]);
    assert_eq!(
        code,
        Some(0),
        "a valid entry is served without the lock: {err}"
    );
    assert_eq!(doc["cache"]["status"], "hit", "{err}");
    assert!(err.contains("--no-cache"), "{err}");
    assert!(std::fs::read(&second).unwrap() == std::fs::read(&first).unwrap());
    // A cache folder that cannot exist (under a regular file): the run goes
    // on without the cache and says so.
    let file = dir.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let third = dir.path().join("third.arrow");
    let (code, doc, err) = cached_run(&data, &third, &file.join("cache"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(doc["cache"]["status"], "disabled", "{err}");
    assert!(
        err.contains("--no-cache") && err.contains("a_file"),
        "{err}"
    );
    // A fresh run: the same scores (its inference statistics differ).
    let scores = |p: &Path| flat_scores(column(&read_ipc(p).1, "score"));
    assert_eq!(scores(&third), scores(&first));
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn nan_and_infinite_features_are_refused_before_the_model_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nan.arrow");
    let make = |bad_col: usize, bad_row: usize, bad: f64| {
        write_one_bad_value(&data, bad_col, bad_row, bad);
    };
    let out = dir.path().join("p.arrow");
    let base = [
        path_str(&fixture_lr()).to_string(),
        path_str(&data).to_string(),
        "-o".into(),
        path_str(&out).to_string(),
        "--label".into(),
        "label".into(),
        "--no-cache".into(),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v = base.to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |args: Vec<String>, needles: &[&str]| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        rejects(&refs, needles);
    };
    let name = path_str(&data);
    make(7, 9, f64::NAN);
    check(
        with(&["--fill-null", "0"]),
        &[name, "column 'f07', row 9", "NaN"],
    );
    make(12, 4, f64::INFINITY);
    check(
        with(&["--fill-null", "0"]),
        &[name, "column 'f12', row 4", "inf"],
    );
    // Finite as f64, infinite as the f32 the model takes.
    make(29, 11, -1e300);
    check(
        with(&["--fill-null", "0"]),
        &[name, "column 'f29', row 11", "f32"],
    );
    // --fill-null must itself be a finite number: refused before the data
    // is read.
    make(29, 11, 1.0);
    let o = evalkit(std::iter::once("infer".to_string()).chain(with(&["--fill-null", "0"])));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for bad in ["nan", "NaN", "inf", "1e300"] {
        let (code, _, err) = infer(
            &with(&["--fill-null", bad])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--fill-null") && err.contains("finite") && !err.contains("output"),
            "{bad}: {err}"
        );
    }
}

/// A ranker's one score per row: `--task ranking` writes it as it is, the
/// query column passes through with `--keep`, and the file evaluates as a
/// ranking (the regression model's predictions ranked within each value
/// of `sex`, the label as graded relevance).
#[test]
fn a_ranking_score_is_written_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ranked.arrow");
    let features = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6";
    let (code, _, err) = infer(&[
        path_str(&fixture("models/diabetes_ridge.onnx")),
        path_str(&fixture("data/diabetes.parquet")),
        "-o",
        path_str(&out),
        "--label",
        "label",
        "--features",
        features,
        "--keep",
        "sex",
        "--task",
        "ranking",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (meta, cols) = read_ipc(&out);
    assert_eq!(meta["evalkit.task"], "ranking");
    let regression = dir.path().join("regression.arrow");
    let (code, _, err) = infer(&[
        path_str(&fixture("models/diabetes_ridge.onnx")),
        path_str(&fixture("data/diabetes.parquet")),
        "-o",
        path_str(&regression),
        "--label",
        "label",
        "--features",
        features,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (_, reg) = read_ipc(&regression);
    assert_eq!(
        flat_scores(column(&cols, "score")),
        flat_scores(column(&reg, "score")),
        "the score as the model gave it"
    );
    let o = evalkit([
        "full",
        path_str(&out),
        "--query",
        "sex",
        "--bootstrap",
        "0",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["task"], "ranking");
    assert_eq!(doc["queries"], 2);
    assert!(doc["metrics"]["ndcg@10"]["value"].as_f64().unwrap() > 0.0);
    let (code, _, err) = infer(&[
        path_str(&fixture("models/diabetes_ridge.onnx")),
        path_str(&fixture("data/diabetes.parquet")),
        "-o",
        path_str(&dir.path().join("logit.arrow")),
        "--features",
        features,
        "--task",
        "ranking",
        "--score-kind",
        "logit",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("logit does not apply to a ranking score"),
        "{err}"
    );
}

/// The rows of `batch` in `range` as the bytes of an Arrow IPC stream (what
/// an engine worker hands [`evalkit::infer::BlockScorer`]).
fn ipc_stream(batch: &arrow::array::RecordBatch, range: std::ops::Range<usize>) -> Vec<u8> {
    let part = batch.slice(range.start, range.len());
    let mut bytes = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut bytes, &part.schema()).unwrap();
    w.write(&part).unwrap();
    w.finish().unwrap();
    drop(w);
    bytes
}

#[test]
fn blocks_scored_in_memory_equal_the_file_run_and_hit_the_cache() {
    use evalkit::infer::{BlockScorer, CacheStatus, InferOptions};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.arrow");
    synthetic(&data, 1000, 0.0);
    let model = fixture_lr();
    let file_out = dir.path().join("file.arrow");
    let (code, _, err) = infer(&[
        path_str(&model),
        path_str(&data),
        "-o",
        path_str(&file_out),
        "--label",
        "label",
        "--keep",
        "row_id",
        "--no-cache",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (file_meta, file_cols) = read_ipc(&file_out);

    let reader =
        arrow::ipc::reader::FileReader::try_new(std::fs::File::open(&data).unwrap(), None).unwrap();
    let batch = reader.map(|b| b.unwrap()).next().unwrap();
    let mut options = InferOptions::new(&model, Path::new(""), Path::new(""));
    options.dataset.label = Some("label".into());
    options.dataset.keep = vec!["row_id".into()];
    options.threads = 1;
    options.cache_dir = Some(dir.path().join("cache"));
    let mut scorer = BlockScorer::new(options.clone()).unwrap();
    // Blocks that do not line up with the file run's batches of 4096 rows.
    let ranges = [0..1, 1..400, 400..1000];
    let mut parts = Vec::new();
    for (i, r) in ranges.iter().enumerate() {
        let out = dir.path().join(format!("part-{i}.arrow"));
        let report = scorer
            .score("block", &ipc_stream(&batch, r.clone()), &out)
            .unwrap();
        assert_eq!(report.cache, CacheStatus::Miss);
        parts.push(read_ipc(&out));
    }
    for name in ["label", "score", "row_id"] {
        let chunks: Vec<&dyn Array> = parts
            .iter()
            .map(|(_, cols)| column(cols, name).as_ref())
            .collect();
        let joined = arrow::compute::concat(&chunks).unwrap();
        assert_eq!(&joined, column(&file_cols, name), "{name}");
    }
    for (meta, _) in &parts {
        for key in [
            "evalkit.task",
            "evalkit.classes",
            "evalkit.config",
            "evalkit.model",
            "evalkit.score_kind",
        ] {
            assert_eq!(meta.get(key), file_meta.get(key), "{key}");
        }
        assert!(meta["evalkit.data"].contains("\"path\":\"block\""));
    }
    // The same rows again: from the cache, byte for byte.
    let again = dir.path().join("again.arrow");
    let report = scorer
        .score("block", &ipc_stream(&batch, 1..400), &again)
        .unwrap();
    assert_eq!(report.cache, CacheStatus::Hit);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(dir.path().join("part-1.arrow")).unwrap()
    );
    // Bytes that are not an IPC stream, and a filter: errors, no file.
    let bad = dir.path().join("bad.arrow");
    let err = scorer.score("block 7", b"not arrow", &bad).unwrap_err();
    assert!(err.to_string().contains("block 7"), "{err}");
    assert!(!bad.exists());
    options.dataset.filter = Some("row_id > 3".into());
    let err = BlockScorer::new(options).err().unwrap();
    assert!(err.to_string().contains("filter"), "{err}");
}
