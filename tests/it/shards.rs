//! Several files, folders, globs and state files: `evalkit full` over any
//! split of a file's rows into shards, or over states merged in any tree,
//! prints the JSON the file gives, bit for bit; bad state files are exit 2
//! with a message naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, UInt8Array};
use evalkit::data::{Columns, Floats, ReadOptions, read_predictions};
use serde_json::Value;

use crate::common::{Rng, evalkit, fixture, json_without_inputs, stderr, stdout, write_ipc};

/// Splits a binary or regression fixture's rows at random into `shards` Arrow files in
/// `dir` (named so that a glob and a folder list them in the same order),
/// with the fixture's `evalkit.*` metadata; a shard may have no row, and is
/// then not written.
fn split(name: &str, dir: &Path, shards: usize, rng: &mut Rng) -> Vec<PathBuf> {
    let preds = read_predictions(&fixture(name), &ReadOptions::default()).unwrap();
    let n = preds.rows();
    let floats = |v: &Floats, rows: &[usize]| -> ArrayRef {
        match v {
            Floats::F32(v) => Arc::new(Float32Array::from_iter_values(rows.iter().map(|&i| v[i]))),
            Floats::F64(v) => Arc::new(Float64Array::from_iter_values(rows.iter().map(|&i| v[i]))),
        }
    };
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); shards];
    for i in 0..n {
        parts[rng.below(shards)].push(i);
    }
    let metadata: Vec<(&str, &str)> = preds
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with("evalkit."))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut paths = Vec::new();
    for (s, rows) in parts.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let (label, score): (ArrayRef, ArrayRef) = match &preds.columns {
            Columns::Binary { labels, scores } => (
                Arc::new(UInt8Array::from_iter_values(
                    rows.iter().map(|&i| labels[i]),
                )),
                floats(scores, rows),
            ),
            Columns::Regression { labels, scores } => (floats(labels, rows), floats(scores, rows)),
            Columns::Multiclass { .. } | Columns::Ranking { .. } => {
                panic!("{name}: multiclass and ranking shards are not written here")
            }
        };
        let mut columns = vec![("label", label), ("score", score)];
        if let Some(w) = &preds.weights {
            columns.push((
                "weight",
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|&i| w.get(i)),
                )),
            ));
        }
        let path = dir.join(format!("part-{s:03}.arrow"));
        write_ipc(&path, columns, &metadata);
        paths.push(path);
    }
    paths
}

/// The `--json` document of `evalkit full ARGS --bootstrap 0`, without the
/// keys that name the inputs.
fn full_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--bootstrap", "0", "--thresholds", "distinct"]);
    full_json_with(&all)
}

/// The `--json` document of `evalkit full ARGS`, without the keys that
/// name the inputs.
fn full_json_with(args: &[&str]) -> Value {
    let mut all = vec!["full", "--json"];
    all.extend_from_slice(args);
    json_without_inputs(&all)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn shards_folders_globs_and_merged_states_give_the_files_json() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for name in [
        "binary_weighted.arrow",
        "binary_ties.arrow",
        "binary_f32.arrow",
        "binary_one_class.arrow",
        "binary_rare.arrow",
        "regression.arrow",
    ] {
        let want = full_json(&[s(&fixture(name))]);
        // Every shard is a process run: many shards for two fixtures.
        let counts: &[usize] = if name.contains("weighted") || name.contains("ties") {
            &[1, 4, 64]
        } else {
            &[3]
        };
        for &shards in counts {
            let dir = tempfile::tempdir().unwrap();
            let parts = split(name, dir.path(), shards, &mut rng);
            let what = format!("{name} in {shards} shards");
            assert_eq!(full_json(&[s(dir.path())]), want, "{what}: folder");
            let glob = dir.path().join("part-*.arrow");
            assert_eq!(full_json(&[s(&glob)]), want, "{what}: glob");
            let listed: Vec<&str> = parts.iter().map(|p| s(p)).collect();
            assert_eq!(full_json(&listed), want, "{what}: files");

            // One state per shard, merged in a random tree.
            let mut states: Vec<PathBuf> = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let st = dir.path().join(format!("s{i}.evstate"));
                let out = evalkit(["state", s(p), "-o", s(&st)]);
                assert!(out.status.success(), "{}", stderr(&out));
                states.push(st);
            }
            let mut n = 0;
            while states.len() > 1 {
                let take = 2 + rng.below(states.len().min(4) - 1);
                let at = rng.below(states.len() - take + 1);
                let group: Vec<PathBuf> = states.drain(at..at + take).collect();
                let merged = dir.path().join(format!("m{n}.evstate"));
                n += 1;
                let mut args = vec!["merge".to_string()];
                args.extend(group.iter().map(|p| s(p).to_string()));
                args.extend(["-o".to_string(), s(&merged).to_string()]);
                let out = evalkit(&args);
                assert!(out.status.success(), "{}", stderr(&out));
                states.insert(at, merged);
            }
            assert_eq!(full_json(&[s(&states[0])]), want, "{what}: merged states");

            // The state of the whole file has the same bytes as the merge.
            let whole = dir.path().join("whole.evstate");
            let out = evalkit(["state", s(&fixture(name)), "-o", s(&whole)]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(
                std::fs::read(&whole).unwrap(),
                std::fs::read(&states[0]).unwrap(),
                "{what}: state bytes"
            );
        }
    }
}

fn state_of(name: &str, dir: &Path) -> PathBuf {
    let st = dir.join(format!("{name}.evstate"));
    let out = evalkit(["state", s(&fixture(name)), "-o", s(&st)]);
    assert!(out.status.success(), "{}", stderr(&out));
    st
}

/// Runs `evalkit ARGS`, expects exit 2 and one line naming `file`
/// containing `words`.
fn refused(args: &[&str], file: &Path, words: &str) {
    let out = evalkit(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(s(file)) && err.contains(words),
        "{args:?}: want {} and '{words}' in: {err}",
        file.display()
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn bad_state_files_are_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = state_of("binary_ties.arrow", dir.path());
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, b: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let cut = write("cut.evstate", &bytes[..30]);
    refused(&["full", s(&cut), "--bootstrap", "0"], &cut, "truncated");
    let cut = write("cut2.evstate", &bytes[..bytes.len() - 3]);
    refused(
        &["full", s(&cut), "--bootstrap", "0"],
        &cut,
        "corrupt or truncated",
    );
    let mut newer = bytes.clone();
    newer[8] = 2;
    let newer = write("newer.evstate", &newer);
    refused(
        &["full", s(&newer), "--bootstrap", "0"],
        &newer,
        "newer evalkit",
    );
    let mut flags = bytes.clone();
    flags[11] |= 0x80;
    let flags = write("flags.evstate", &flags);
    refused(&["full", s(&flags), "--bootstrap", "0"], &flags, "flags");
    let mut hash = bytes.clone();
    hash[25] ^= 1;
    let hash = write("hash.evstate", &hash);
    refused(
        &["full", s(&hash), "--bootstrap", "0"],
        &hash,
        "content hash",
    );
    // A merge of states that do not merge names the second file.
    let weighted = state_of("binary_weighted.arrow", dir.path());
    let out_path = dir.path().join("out.evstate");
    refused(
        &["merge", s(&good), s(&weighted), "-o", s(&out_path)],
        &weighted,
        "cannot be merged",
    );
    assert!(!out_path.exists());
    // A prediction file is not a state.
    refused(
        &[
            "merge",
            s(&good),
            s(&fixture("binary_ties.arrow")),
            "-o",
            s(&out_path),
        ],
        &fixture("binary_ties.arrow"),
        "not an evalkit state file",
    );
    // Intervals from a weighted state are not built: said, not faked.
    let out = evalkit(["full", s(&weighted)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--bootstrap 0"), "{}", stderr(&out));
    let out = evalkit(["full", s(&good), "--method", "bca"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A glob that matches nothing, a folder without files, a file twice.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(
        &["full", s(&empty), "--bootstrap", "0"],
        &empty,
        "is a directory with no files",
    );
    let glob = dir.path().join("nope-*.arrow");
    refused(
        &["full", s(&glob), "--bootstrap", "0"],
        &glob,
        "matches no file",
    );
    refused(
        &["full", s(&good), s(&good), "--bootstrap", "0"],
        &good,
        "given twice",
    );
}

#[test]
fn corrupt_state_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = state_of("binary_weighted.arrow", dir.path());
    let bytes = std::fs::read(&good).unwrap();
    let path = dir.path().join("x.evstate");
    let parsed = evalkit::state::file::StateFile::from_bytes(&path, &bytes).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), bytes, "round trip");
    for cut in 0..bytes.len() {
        assert!(evalkit::state::file::StateFile::from_bytes(&path, &bytes[..cut]).is_err());
    }
    // Flipped payload bytes under a recomputed hash reach the decoder.
    let payload = {
        let mut d = zstd::stream::read::Decoder::new(&bytes[52..]).unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut v).unwrap();
        v
    };
    let mut rng = Rng(77);
    for _ in 0..2000 {
        let mut p = payload.clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(p.len());
            p[i] ^= 1 << rng.below(8);
        }
        if rng.below(4) == 0 {
            p.truncate(rng.below(p.len()));
        }
        let mut b = bytes[..12].to_vec();
        b.extend_from_slice(&(p.len() as u64).to_le_bytes());
        b.extend_from_slice(blake3::hash(&p).as_bytes());
        b.extend_from_slice(&zstd::bulk::compress(&p, 1).unwrap());
        if let Ok(s) = evalkit::state::file::StateFile::from_bytes(&path, &b) {
            // Whatever decodes finishes without a panic and re-encodes.
            let _ = evalkit::full::full_state(
                &s,
                &evalkit::full::FullOptions {
                    intervals: evalkit::uncertainty::IntervalOptions {
                        replicates: 0,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                &|_, _| {},
            );
            let again = s.to_bytes().unwrap();
            assert!(evalkit::state::file::StateFile::from_bytes(&path, &again).is_ok());
        }
    }
}

#[test]
fn a_state_file_finishes_to_the_files_json_for_every_task() {
    // Sharded multiclass rows are covered by tests/it/states_multiclass.rs;
    // here the state file of each fixture, written and read back.
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "multiclass_digits.arrow",
        "multiclass_absent.arrow",
        "multiclass_ties.arrow",
        "regression.arrow",
        "binary_balanced.parquet",
    ] {
        let st = state_of(name, dir.path());
        assert_eq!(
            full_json(&[s(&st)]),
            full_json(&[s(&fixture(name))]),
            "{name}"
        );
    }
    // States of different tasks do not merge.
    let a = state_of("multiclass_digits.arrow", dir.path());
    let b = state_of("regression.arrow", dir.path());
    refused(
        &[
            "merge",
            s(&a),
            s(&b),
            "-o",
            s(&dir.path().join("x.evstate")),
        ],
        &b,
        "its task is regression",
    );
}

/// The `--json` document of `evalkit full ARGS` with B = 1000 intervals.
fn full_json_bootstrap(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--bootstrap", "1000", "--seed", "3"]);
    full_json_with(&all)
}

#[test]
fn intervals_from_a_state_match_the_rows_in_distribution_and_ignore_the_sharding() {
    let dir = tempfile::tempdir().unwrap();
    let name = "binary_balanced.arrow";
    let mut rng = Rng(11);
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    split(name, &shards, 5, &mut rng);
    let st = state_of(name, dir.path());
    let from_state = full_json_bootstrap(&[s(&st)]);
    // The same state, however it was split: the same intervals, bit for bit.
    assert_eq!(full_json_bootstrap(&[s(&shards)]), from_state);
    // Against the per-row bootstrap of the file (other random numbers, the
    // same distribution): interval ends within a few Monte Carlo errors.
    let from_rows = full_json_bootstrap(&[s(&fixture(name))]);
    for m in [
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
        "accuracy",
        "f1",
        "ece",
    ] {
        let ci = |d: &Value| -> [f64; 2] {
            let c = &d["metrics"][m]["ci"];
            [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()]
        };
        let (a, b) = (ci(&from_state), ci(&from_rows));
        let width = b[1] - b[0];
        assert!(width > 0.0, "{m}: {b:?}");
        for i in 0..2 {
            assert!(
                (a[i] - b[i]).abs() < 0.15 * width,
                "{m}: state {a:?} vs rows {b:?}"
            );
        }
        assert_eq!(
            from_state["metrics"][m]["value"], from_rows["metrics"][m]["value"],
            "{m}"
        );
    }
    assert!(from_state["bands"]["tpr_lo"].as_array().unwrap().len() == 100);
}

/// The `--json` model of `evalkit report ARGS -o DIR/r.html`.
fn report_json(dir: &Path, args: &[&str]) -> Value {
    let html = dir.join("r.html");
    let mut all = vec!["report", "--json", "-o", s(&html)];
    all.extend_from_slice(args);
    let out = evalkit(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    assert!(std::fs::metadata(&html).unwrap().len() > 0);
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn a_report_from_shards_or_a_state_matches_the_files_report() {
    let mut rng = Rng(0x5EED_1234_ABCD_0002);
    for name in [
        "binary_ties.arrow",
        "binary_weighted.arrow",
        "regression.arrow",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let shards = dir.path().join("shards");
        std::fs::create_dir(&shards).unwrap();
        split(name, &shards, 5, &mut rng);
        let file = fixture(name);
        let common = ["--bootstrap", "0", "--thresholds", "distinct"];
        let mut args = vec![s(&file)];
        args.extend_from_slice(&common);
        let want = report_json(dir.path(), &args);
        let state = state_of(name, dir.path());
        let glob = shards.join("*.arrow");
        for input in [&shards, &state, &glob] {
            let mut args = vec![s(input)];
            args.extend_from_slice(&common);
            let got = report_json(dir.path(), &args);
            let (w, g) = (&want["candidates"][0], &got["candidates"][0]);
            let what = format!("{name} from {}", input.display());
            for key in [
                "metrics",
                "confusion",
                "delong",
                "rows",
                "weighted",
                "classes",
            ] {
                assert_eq!(g[key], w[key], "{what}: {key}");
            }
            assert_eq!(g["file"], Value::from(s(input)), "{what}");
            for chart in ["roc", "pr", "reliability", "f1_at"] {
                assert_eq!(g["curves"][chart], w["curves"][chart], "{what}: {chart}");
            }
            if name.starts_with("binary") {
                // Score histograms from the state's ranking table: the rows'
                // counts (weighted: each step's weight rounded once).
                let (hw, hg) = (&w["curves"]["histograms"], &g["curves"]["histograms"]);
                assert_eq!(hg.as_array().unwrap().len(), 2, "{what}");
                for (a, b) in hw.as_array().unwrap().iter().zip(hg.as_array().unwrap()) {
                    assert_eq!(a["edges"], b["edges"], "{what}");
                    for (x, y) in a["counts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .zip(b["counts"].as_array().unwrap())
                    {
                        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                        assert!(
                            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                            "{what}: {x} vs {y}"
                        );
                    }
                }
            } else {
                // The residual histogram needs the rows.
                assert_eq!(g["curves"]["histograms"], Value::Array(vec![]), "{what}");
            }
        }
    }
    // A baseline, gates or slices need rows.
    let dir = tempfile::tempdir().unwrap();
    let state = state_of("binary_ties.arrow", dir.path());
    let html = dir.path().join("r.html");
    for extra in [vec!["--baseline", "x.arrow"], vec!["--slice", "region"]] {
        let mut args = vec!["report", s(&state), "-o", s(&html)];
        args.extend_from_slice(&extra);
        let out = evalkit(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains("needs prediction files"), "{err}");
        assert!(!html.exists());
    }
}

#[test]
fn whole_number_weights_bootstrap_from_a_state_as_repeated_rows() {
    // Rows with weights 0–3, and the same rows repeated that many times:
    // from states, frequency weights draw exactly as the repeated rows.
    let mut rng = Rng(0x5EED_1234_ABCD_0003);
    let dir = tempfile::tempdir().unwrap();
    let (mut y, mut p, mut w) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ry, mut rp) = (Vec::new(), Vec::new());
    for _ in 0..3000 {
        let label = rng.below(3) == 0;
        let score = ((rng.below(200) as f64 / 200.0) + if label { 0.2 } else { 0.0 }).min(1.0);
        let weight = rng.below(4);
        y.push(label as u8);
        p.push(score);
        w.push(weight as f64);
        for _ in 0..weight {
            ry.push(label as u8);
            rp.push(score);
        }
    }
    let weighted = dir.path().join("weighted.arrow");
    write_ipc(
        &weighted,
        vec![
            ("label", Arc::new(UInt8Array::from(y)) as ArrayRef),
            ("score", Arc::new(Float64Array::from(p))),
            ("weight", Arc::new(Float64Array::from(w))),
        ],
        &[],
    );
    let repeated = dir.path().join("repeated.arrow");
    write_ipc(
        &repeated,
        vec![
            ("label", Arc::new(UInt8Array::from(ry)) as ArrayRef),
            ("score", Arc::new(Float64Array::from(rp))),
        ],
        &[],
    );
    let mut docs = Vec::new();
    for (f, extra) in [(&weighted, vec!["--weight", "weight"]), (&repeated, vec![])] {
        let st = dir.path().join("x.evstate");
        let mut args = vec!["state", s(f), "-o", s(&st)];
        args.extend_from_slice(&extra);
        let out = evalkit(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = evalkit([
            "full",
            "--json",
            s(&st),
            "--bootstrap",
            "200",
            "--seed",
            "5",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        docs.push((
            serde_json::from_str::<Value>(&stdout(&out)).unwrap(),
            stderr(&out),
        ));
    }
    let (wd, werr) = &docs[0];
    let (rd, _) = &docs[1];
    for name in [
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
        "f1",
        "ece",
    ] {
        let m = |d: &Value| d["metrics"][name].clone();
        assert!(m(wd)["ci"].is_array(), "{name}: {}", m(wd));
        assert_eq!(m(wd)["ci"], m(rd)["ci"], "{name}");
        assert_eq!(m(wd)["value"], m(rd)["value"], "{name}");
    }
    assert!(werr.contains("taken as frequencies"), "{werr}");
    // Weights that are not whole numbers are refused, saying so.
    let half = dir.path().join("half.arrow");
    write_ipc(
        &half,
        vec![
            (
                "label",
                Arc::new(UInt8Array::from(vec![0u8, 1, 1])) as ArrayRef,
            ),
            ("score", Arc::new(Float64Array::from(vec![0.2, 0.7, 0.9]))),
            ("weight", Arc::new(Float64Array::from(vec![1.0, 0.5, 2.0]))),
        ],
        &[],
    );
    let st = dir.path().join("half.evstate");
    let out = evalkit(["state", s(&half), "--weight", "weight", "-o", s(&st)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = evalkit(["full", s(&st)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("whole numbers"), "{}", stderr(&out));
}

/// Splits any Arrow fixture's rows at random into `shards` files in `dir`
/// (every column, and the schema's metadata, kept); an empty shard is not
/// written.
fn split_all_columns(name: &str, dir: &Path, shards: usize, rng: &mut Rng) {
    let file = std::fs::File::open(fixture(name)).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(file, None).unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let mut parts: Vec<Vec<u32>> = vec![Vec::new(); shards];
    for i in 0..batch.num_rows() {
        parts[rng.below(shards)].push(i as u32);
    }
    let meta: Vec<(&str, &str)> = schema
        .metadata()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (s, rows) in parts.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let idx = arrow::array::UInt32Array::from(rows.clone());
        let cols: Vec<(&str, ArrayRef)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| {
                (
                    f.name().as_str(),
                    arrow::compute::take(a, &idx, None).unwrap(),
                )
            })
            .collect();
        write_ipc(&dir.join(format!("part-{s:03}.arrow")), cols, &meta);
    }
}

#[test]
fn slices_over_shards_equal_the_files_slices() {
    let mut rng = Rng(0x5EED_1234_ABCD_0004);
    let file = fixture("binary_sliced.arrow");
    let common = [
        "--bootstrap",
        "0",
        "--slice",
        "region",
        "--slice",
        "region,segment",
        "--min-slice",
        "100",
    ];
    let mut args = vec![s(&file)];
    args.extend_from_slice(&common);
    let mut want = full_json_with(&args);
    assert!(want["slices"].as_array().unwrap().len() > 5);
    // The file's slices are tested against the rest of its rows; shards are
    // folded into states, which keep no rows for that (`versus_rest: null`).
    for slice in want["slices"].as_array_mut().unwrap() {
        assert!(!slice["versus_rest"].is_null());
        slice["versus_rest"] = serde_json::Value::Null;
    }
    want["slices_flagged"] = serde_json::json!(0);
    for shards in [2, 7] {
        let dir = tempfile::tempdir().unwrap();
        split_all_columns("binary_sliced.arrow", dir.path(), shards, &mut rng);
        let mut args = vec![s(dir.path())];
        args.extend_from_slice(&common);
        let got = full_json_with(&args);
        // Keys, their order, rows, metrics (DeLong's intervals included)
        // and warnings: the file's, bit for bit.
        assert_eq!(got["slices"], want["slices"], "{shards} shards");
        assert_eq!(got["metrics"], want["metrics"], "{shards} shards");
    }
    // A state file carries no slice columns.
    let dir = tempfile::tempdir().unwrap();
    let st = state_of("binary_sliced.arrow", dir.path());
    refused(
        &["full", s(&st), "--bootstrap", "0", "--slice", "region"],
        &st,
        "carries none",
    );
}

#[test]
fn a_suite_gates_on_shards_or_a_state() {
    let mut rng = Rng(0x5EED_1234_ABCD_0005);
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    split("binary_ties.arrow", &shards, 4, &mut rng);
    let want = full_json_with(&[s(&shards), "--bootstrap", "200", "--seed", "3"]);
    let lo = want["metrics"]["roc_auc"]["ci"][0].as_f64().unwrap();
    let suite = |name: &str, preds: &str, extra: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                "name = \"shards\"\n[predictions]\npath = \"{preds}\"\n[full]\nbootstrap = 200\nseed = 3\n\
                 [report]\npath = \"r.html\"\n[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {}\n{extra}",
                lo - 0.01
            ),
        )
        .unwrap();
        p
    };
    let state = state_of("binary_ties.arrow", dir.path());
    for preds in [
        "shards",
        "shards/*.arrow",
        state.file_name().unwrap().to_str().unwrap(),
    ] {
        let p = suite("ok.toml", preds, "");
        let out = evalkit(["run", s(&p), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{preds}: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["passed"], true, "{preds}");
        // The shards' full tier, intervals included (the file's state is
        // the shards' merged state, byte for byte).
        assert_eq!(doc["metrics"], want["metrics"], "{preds}");
        assert!(dir.path().join("r.html").exists());
        // A gate it fails: exit 1.
        let p = suite(
            "fail.toml",
            preds,
            "[[gate]]\nmetric = \"log_loss\"\nmax = 0.0001\n",
        );
        assert_eq!(evalkit(["run", s(&p)]).status.code(), Some(1), "{preds}");
    }
    // What needs rows: exit 2 naming the suite's line.
    let p = suite(
        "fast.toml",
        "shards",
        "[[gate]]\nmetric = \"accuracy\"\ntier = \"fast\"\nmin = 0.5\n",
    );
    let out = evalkit(["run", s(&p)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fast-tier gate needs one prediction file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn multiclass_shards_give_the_files_json() {
    let mut rng = Rng(0x5EED_1234_ABCD_0006);
    for name in [
        "multiclass_digits.arrow",
        "multiclass_ties.arrow",
        "multiclass_absent.arrow",
    ] {
        let want = full_json(&[s(&fixture(name))]);
        for shards in [2, 9] {
            let dir = tempfile::tempdir().unwrap();
            split_all_columns(name, dir.path(), shards, &mut rng);
            assert_eq!(
                full_json(&[s(dir.path())]),
                want,
                "{name} in {shards} shards"
            );
        }
    }
}
