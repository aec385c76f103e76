//! One prediction file folded chunk by chunk (`evalkit state`, `full` over
//! shards, `full --bootstrap 0`): whatever the chunk size, the state is the
//! one the whole file gives, bit for bit, and an error names the row of the
//! file, as reading the whole file does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use evalkit::data::{ReadOptions, read_predictions};
use evalkit::full::FullOptions;
use evalkit::state::inputs::{from_predictions, read_one_in_chunks};

use crate::common::{Rng, fixture};

/// The file's state read whole, as bytes.
fn whole(path: &Path, options: &ReadOptions) -> Vec<u8> {
    from_predictions(&read_predictions(path, options).unwrap())
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// Checks every chunk size against the whole read: the state's bytes, and
/// the full tier's JSON finished from it.
fn same_state_for_every_chunk_size(path: &Path, options: &ReadOptions, sizes: &[usize]) {
    let want = whole(path, options);
    let fopts = FullOptions {
        intervals: evalkit::uncertainty::IntervalOptions {
            replicates: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut json = None;
    for &size in sizes {
        let file = read_one_in_chunks(path, options, size).unwrap();
        assert_eq!(file.header.sources, 1, "{path:?} chunks of {size}");
        assert_eq!(file.to_bytes().unwrap(), want, "{path:?} chunks of {size}");
        let result = evalkit::full::full_state(&file, &fopts, &|_, _| {}).unwrap();
        let doc = evalkit::json::full(&file.header, &fopts, &result);
        match &json {
            None => json = Some(doc),
            Some(first) => assert_eq!(&doc, first, "{path:?} chunks of {size}"),
        }
    }
}

#[test]
fn every_chunk_size_gives_the_files_state() {
    for name in [
        "binary_balanced.arrow",
        "binary_balanced.arrows",
        "binary_balanced.csv",
        "binary_balanced.parquet",
        "binary_weighted.arrow",
        "binary_ties.arrow",
        "binary_one_class.arrow",
        "binary_extremes.arrow",
        "multiclass_digits.arrow",
        "multiclass_ties.arrow",
        "multiclass_absent.arrow",
        "regression.arrow",
    ] {
        same_state_for_every_chunk_size(
            &fixture(name),
            &ReadOptions::default(),
            &[1, 7, 100, 1000, usize::MAX],
        );
    }
}

/// A Parquet file of row groups of 300 rows and an Arrow file of batches of
/// 300 rows, with weights that are 0 on whole chunks: chunks end at row
/// groups (a run of them up to the chunk size) and inside batches.
#[test]
fn row_groups_and_batches_are_cut_into_chunks() {
    use polars::prelude::{DataFrame, IntoColumn, NamedFrom, ParquetWriter, Series};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let n = 2000;
    let labels: Vec<i64> = (0..n).map(|_| (rng.unit() < 0.3) as i64).collect();
    let scores: Vec<f64> = labels
        .iter()
        .map(|&y| ((rng.normal() + y as f64) * 100.0).round() / 400.0)
        .map(|s: f64| 1.0 / (1.0 + (-s).exp()))
        .collect();
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            if (600..900).contains(&i) {
                0.0
            } else {
                rng.unit() * 3.0
            }
        })
        .collect();
    let mut frame = DataFrame::new(
        n,
        vec![
            Series::new("label".into(), labels.clone()).into_column(),
            Series::new("score".into(), scores.clone()).into_column(),
            Series::new("weight".into(), weights.clone()).into_column(),
        ],
    )
    .unwrap();
    let parquet = dir.path().join("groups.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .with_row_group_size(Some(300))
        .finish(&mut frame)
        .unwrap();
    let sizes = [1, 299, 300, 301, 600, 1000, usize::MAX];
    same_state_for_every_chunk_size(&parquet, &ReadOptions::default(), &sizes);

    let arrow = dir.path().join("batches.arrow");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("label", Arc::new(Int64Array::from(labels))),
        ("score", Arc::new(Float64Array::from(scores))),
        ("weight", Arc::new(Float64Array::from(weights))),
    ];
    write_batches(&arrow, columns, 300);
    same_state_for_every_chunk_size(&arrow, &ReadOptions::default(), &sizes);
    // The same rows, whichever file they come from.
    assert_eq!(
        whole(&parquet, &ReadOptions::default()),
        whole(&arrow, &ReadOptions::default())
    );
}

/// Writes `columns` as an Arrow IPC file of batches of `batch` rows.
fn write_batches(path: &PathBuf, columns: Vec<(&str, ArrayRef)>, batch: usize) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let n = columns[0].1.len();
    let mut w =
        arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(path).unwrap(), &schema)
            .unwrap();
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        let arrays = columns.iter().map(|(_, a)| a.slice(start, len)).collect();
        w.write(&RecordBatch::try_new(schema.clone(), arrays).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
}

/// The error of a chunked read, which must be the whole read's.
fn same_error(path: &Path, sizes: &[usize]) -> evalkit::Error {
    let want = read_predictions(path, &ReadOptions::default()).unwrap_err();
    for &size in sizes {
        let got = read_one_in_chunks(path, &ReadOptions::default(), size).unwrap_err();
        assert_eq!(got.to_string(), want.to_string(), "chunks of {size}");
        assert_eq!(got.row(), want.row(), "chunks of {size}");
    }
    want
}

#[test]
fn errors_name_the_row_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5000;
    let labels: Vec<i64> = (0..n).map(|i| (i % 3 == 0) as i64).collect();
    let mut scores: Vec<f64> = (0..n).map(|i| (i % 97) as f64 / 97.0).collect();
    scores[3456] = f64::NAN;
    let p = dir.path().join("nan.arrow");
    write_batches(
        &p,
        vec![
            ("label", Arc::new(Int64Array::from(labels.clone()))),
            ("score", Arc::new(Float64Array::from(scores.clone()))),
        ],
        1000,
    );
    let e = same_error(&p, &[1, 999, 1000, 3456, 3457, usize::MAX]);
    assert_eq!(e.row(), Some(3456));

    // A label outside {0, 1} in a later chunk.
    let mut bad_labels = labels;
    scores[3456] = 0.5;
    bad_labels[4321] = 2;
    let p = dir.path().join("label.arrow");
    write_batches(
        &p,
        vec![
            ("label", Arc::new(Int64Array::from(bad_labels))),
            ("score", Arc::new(Float64Array::from(scores))),
        ],
        1000,
    );
    assert_eq!(same_error(&p, &[1, 1000, usize::MAX]).row(), Some(4321));
}

/// A variable-length list column whose rows change length at a chunk's
/// first row, or inside a chunk: the row and message of the whole read.
#[test]
fn probability_lists_keep_the_first_rows_length_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let n = 600;
    for (what, change) in [("at a batch start", 300), ("inside a batch", 450)] {
        let rows: Vec<Option<Vec<Option<f64>>>> = (0..n)
            .map(|i| {
                let k = if i < change { 3 } else { 4 };
                Some(vec![Some(1.0 / k as f64); k])
            })
            .collect();
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows));
        assert!(matches!(list.data_type(), DataType::List(_)));
        let labels: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 3)));
        let p = dir.path().join("ragged.arrow");
        write_batches(&p, vec![("label", labels), ("score", list)], 300);
        let e = same_error(&p, &[1, 100, 300, 500, usize::MAX]);
        assert_eq!(e.row(), Some(change as usize), "{what}");
        assert!(e.to_string().contains("row 0 has 3"), "{what}: {e}");
    }
}
