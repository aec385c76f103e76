//! `evalkit fast` over several files, a folder or a glob: the inputs are
//! one file holding their rows in the order given, so the sample, the
//! estimates and the standard errors are those of `fast` on the
//! concatenated file, bit for bit, whatever the cuts and the chunk size.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use evalkit::data::{ReadOptions, read_predictions};
use evalkit::fast::{FastOptions, fast, fast_inputs};
use serde_json::Value;

use crate::common::{Rng, evalkit, fixture, json_without_inputs, stderr, stdout};

/// Cuts an Arrow fixture's rows into `parts` contiguous files (random cut
/// points, none empty) in `dir`, keeping the schema and its metadata.
fn cut(name: &str, dir: &Path, parts: usize, rng: &mut Rng) -> Vec<PathBuf> {
    cut_file(&fixture(name), dir, parts, rng)
}

/// [`cut`] for any Arrow IPC file.
fn cut_file(source: &Path, dir: &Path, parts: usize, rng: &mut Rng) -> Vec<PathBuf> {
    let file = std::fs::File::open(source).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(file, None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let n = all.num_rows();
    let mut cuts: Vec<usize> = (1..parts).map(|_| 1 + rng.below(n - 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.insert(0, 0);
    cuts.push(n);
    let mut paths = Vec::new();
    for (i, w) in cuts.windows(2).enumerate() {
        let path = dir.join(format!("part-{i:03}.arrow"));
        let mut out =
            arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(&path).unwrap(), &schema)
                .unwrap();
        out.write(&all.slice(w[0], w[1] - w[0])).unwrap();
        out.finish().unwrap();
        paths.push(path);
    }
    paths
}

#[test]
fn several_files_sample_as_their_concatenation() {
    let mut rng = Rng(0xFA57_0001);
    for name in [
        "binary_balanced.arrow",
        "binary_weighted.arrow",
        "binary_rare.arrow",
        "binary_f32.arrow",
        "multiclass_digits.arrow",
        "multiclass_absent.arrow",
        "regression.arrow",
    ] {
        let want_preds = read_predictions(&fixture(name), &ReadOptions::default()).unwrap();
        for parts in [1, 2, 5] {
            let dir = tempfile::tempdir().unwrap();
            let paths = cut(name, dir.path(), parts, &mut rng);
            for sample in [Some(1), Some(37), Some(500), None] {
                for seed in [0, 3] {
                    let options = FastOptions {
                        sample,
                        seed,
                        ..FastOptions::default()
                    };
                    let want = fast(&want_preds, &options);
                    for chunk in [7, 1000, usize::MAX] {
                        let (header, got) =
                            fast_inputs(&paths, &ReadOptions::default(), &options, chunk).unwrap();
                        let what = format!(
                            "{name} {parts} parts, sample {sample:?}, seed {seed}, chunks of {chunk}"
                        );
                        assert_eq!(got, want, "{what}");
                        assert_eq!(header.rows, want_preds.rows() as u64, "{what}");
                        assert_eq!(header.sources, paths.len() as u64, "{what}");
                    }
                }
            }
        }
    }
}

/// More than 65,536 regression rows: the deciles come from every third
/// label, counted across the files' boundaries.
#[test]
fn regression_deciles_probe_the_concatenation() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0DEC_11E5);
    let n = 150_001;
    let labels: Vec<f64> = (0..n)
        .map(|i| rng.normal() * 3.0 + (i % 17) as f64)
        .collect();
    let scores: Vec<f64> = labels.iter().map(|y| y + rng.normal()).collect();
    let weights: Vec<f64> = (0..n).map(|_| rng.unit() * 2.0).collect();
    let source = dir.path().join("big.arrow");
    crate::common::write_ipc(
        &source,
        vec![
            ("label", Arc::new(arrow::array::Float64Array::from(labels))),
            ("score", Arc::new(arrow::array::Float64Array::from(scores))),
            (
                "weight",
                Arc::new(arrow::array::Float64Array::from(weights)),
            ),
        ],
        &[],
    );
    let want_preds = read_predictions(&source, &ReadOptions::default()).unwrap();
    let parts = tempfile::tempdir().unwrap();
    let paths = cut_file(&source, parts.path(), 6, &mut rng);
    for sample in [Some(2000), None] {
        let options = FastOptions {
            sample,
            ..FastOptions::default()
        };
        let want = fast(&want_preds, &options);
        for chunk in [1000, 65_537, usize::MAX] {
            let (_, got) = fast_inputs(&paths, &ReadOptions::default(), &options, chunk).unwrap();
            assert_eq!(got, want, "sample {sample:?}, chunks of {chunk}");
        }
    }
}

fn fast_json(args: &[&str]) -> Value {
    let mut all = vec!["fast", "--json", "--sample", "100", "--seed", "5"];
    all.extend_from_slice(args);
    json_without_inputs(&all)
}

#[test]
fn the_cli_takes_files_folders_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    let paths = cut("binary_weighted.arrow", dir.path(), 4, &mut Rng(11));
    let want = fast_json(&[fixture("binary_weighted.arrow").to_str().unwrap()]);
    let files: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(fast_json(&files), want);
    assert_eq!(fast_json(&[dir.path().to_str().unwrap()]), want);
    let glob = format!("{}/part-*.arrow", dir.path().display());
    assert_eq!(fast_json(&[&glob]), want);
    // The folder is named as given, with the number of files.
    let out = evalkit(["fast", "--json", dir.path().to_str().unwrap()]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["file"], Value::from(dir.path().to_str().unwrap()));
    assert_eq!(doc["sources"], Value::from(paths.len()));
}

#[test]
fn inputs_that_do_not_agree_or_hold_no_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fixture("binary_balanced.arrow");
    let regression = fixture("regression.arrow");
    let weighted = fixture("binary_weighted.arrow");
    for (args, needles) in [
        (
            vec![binary.clone(), regression.clone()],
            vec!["regression.arrow", "cannot be merged with", "task"],
        ),
        (
            vec![binary.clone(), weighted.clone()],
            vec!["binary_weighted.arrow", "weighted by 'weight'"],
        ),
    ] {
        let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
        let mut all = vec!["fast"];
        all.extend_from_slice(&args);
        let out = evalkit(&all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{n}: {err}");
        }
    }
    // A state file holds no rows to sample.
    let state = dir.path().join("s.evstate");
    let out = evalkit([
        "state",
        binary.to_str().unwrap(),
        "-o",
        state.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = evalkit(["fast", state.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s.evstate") && err.contains("state file holds none"),
        "{err}"
    );
}
