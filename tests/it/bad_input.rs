//! Every bad input gives one clear message naming the file, column or row,
//! exit code 2, and no panic.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Field};
use evalkit::data::{ReadOptions, read_predictions};

use crate::common::{evalkit, fixture, stderr, write_ipc};

/// Runs `evalkit full FILE ARGS..` and `evalkit fast ...` and checks both fail
/// with exit 2, one `evalkit: error:` line containing every `needle`, and no
/// panic text.
#[track_caller]
fn rejects(path: &Path, args: &[&str], needles: &[&str]) {
    for tier in ["full", "fast"] {
        let mut all = vec![tier, path.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = evalkit(&all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{tier} {path:?}: {err}");
        assert!(out.stdout.is_empty(), "nothing on stdout on error");
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(lines[0].starts_with("evalkit: error: "), "{err}");
        for n in needles {
            assert!(err.contains(n), "{tier}: expected {n:?} in: {err}");
        }
    }
}

fn f64s(v: Vec<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

fn i64s(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

#[test]
fn missing_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    rejects(
        &dir.path().join("nope.arrow"),
        &[],
        &["nope.arrow", "cannot open"],
    );
    rejects(dir.path(), &[], &["is a directory"]);
}

#[test]
fn random_bytes_are_not_a_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noise.arrow");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&p, bytes).unwrap();
    rejects(
        &p,
        &[],
        &["noise.arrow", "not an Arrow IPC, Parquet or CSV file"],
    );
}

#[test]
fn truncated_ipc_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("binary_balanced.arrow")).unwrap();
    for cut in [10, bytes.len() / 2, bytes.len() - 3] {
        let p = dir.path().join(format!("cut{cut}.arrow"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        rejects(
            &p,
            &[],
            &[&format!("cut{cut}.arrow"), "truncated or corrupt"],
        );
    }
}

#[test]
fn empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.arrow");
    std::fs::write(&p, b"").unwrap();
    rejects(&p, &[], &["empty.arrow", "is empty"]);
    let p = dir.path().join("header.csv");
    std::fs::write(&p, b"label,score\n").unwrap();
    rejects(&p, &[], &["header.csv", "no rows"]);
    let p = dir.path().join("zero.arrow");
    write_ipc(
        &p,
        vec![("label", i64s(vec![])), ("score", f64s(vec![]))],
        &[],
    );
    rejects(&p, &[], &["zero.arrow", "no rows"]);
}

#[test]
fn missing_columns_list_what_is_there() {
    let p = fixture("binary_balanced.arrow");
    rejects(
        &p,
        &["--label", "y"],
        &[
            "column 'y'",
            "no such label column",
            "label (int64)",
            "score (float64)",
            "row_id (int64)",
            "--label",
        ],
    );
    rejects(
        &p,
        &["--score", "proba"],
        &["column 'proba'", "no such score column", "--score"],
    );
    rejects(
        &p,
        &["--weight", "w"],
        &["column 'w'", "no such weight column"],
    );
}

#[test]
fn nan_and_infinite_scores_name_the_first_row() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("ninf", f64::NEG_INFINITY),
    ] {
        let p = dir.path().join(format!("{name}.arrow"));
        let mut scores = vec![0.5; 10];
        scores[7] = bad;
        scores[9] = bad;
        write_ipc(
            &p,
            vec![
                ("label", i64s(vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1])),
                ("score", f64s(scores)),
            ],
            &[],
        );
        rejects(&p, &[], &["column 'score', row 7", "not a finite number"]);
    }
    // One scan finds NaN and out-of-range probabilities together: whichever
    // comes first is the one reported, with the message that fits it.
    for (scores, want) in [
        (
            vec![0.5, 1.5, f64::NAN, 0.5],
            ["row 1", "score 1.5 is not a probability"],
        ),
        (
            vec![0.5, f64::NAN, 1.5, 0.5],
            ["row 1", "value NaN is not a finite number"],
        ),
    ] {
        let p = dir.path().join("mixed.arrow");
        write_ipc(
            &p,
            vec![("label", i64s(vec![0, 1, 0, 1])), ("score", f64s(scores))],
            &[],
        );
        rejects(&p, &[], &want);
    }
}

#[test]
fn null_score_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("null.arrow");
    let scores: ArrayRef = Arc::new(Float64Array::from(vec![Some(0.1), Some(0.2), None]));
    write_ipc(
        &p,
        vec![("label", i64s(vec![0, 1, 0])), ("score", scores)],
        &[],
    );
    rejects(&p, &[], &["column 'score', row 2", "missing (null)"]);
}

#[test]
fn binary_label_outside_0_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("labels.arrow");
    write_ipc(
        &p,
        vec![
            ("label", i64s(vec![0, 1, 2, 1])),
            ("score", f64s(vec![0.1, 0.2, 0.3, 0.4])),
        ],
        &[],
    );
    rejects(
        &p,
        &[],
        &["column 'label', row 2", "label 2 is not a binary class"],
    );
    let p = dir.path().join("neg.arrow");
    write_ipc(
        &p,
        vec![
            ("label", i64s(vec![0, -1])),
            ("score", f64s(vec![0.1, 0.2])),
        ],
        &[],
    );
    rejects(&p, &[], &["row 1", "label -1"]);
}

#[test]
fn probability_outside_0_1_suggests_logit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("logits.arrow");
    write_ipc(
        &p,
        vec![
            ("label", i64s(vec![0, 1, 0])),
            ("score", f64s(vec![0.1, 2.5, -1.0])),
        ],
        &[],
    );
    rejects(
        &p,
        &[],
        &[
            "row 1",
            "score 2.5 is not a probability",
            "--score-kind logit",
        ],
    );
    // With --score-kind logit the same file is read as logits.
    let out = evalkit([
        "full",
        p.to_str().unwrap(),
        "--score-kind",
        "logit",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn list(values: Vec<f32>, k: i32) -> ArrayRef {
    let field = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(FixedSizeListArray::new(
        field,
        k,
        Arc::new(Float32Array::from(values)),
        None,
    ))
}

#[test]
fn multiclass_rows_must_be_probability_lists() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sum.arrow");
    let scores = list(vec![0.2, 0.3, 0.5, 0.1, 0.1, 0.1, 0.0, 0.0, 1.0], 3);
    write_ipc(
        &p,
        vec![("label", i64s(vec![0, 1, 2])), ("score", scores)],
        &[],
    );
    rejects(&p, &[], &["column 'score', row 1", "sum to", "not 1"]);

    // A ragged list column: row 1 has 2 probabilities instead of 3.
    let p = dir.path().join("ragged.arrow");
    let mut b = arrow::array::ListBuilder::new(arrow::array::Float64Builder::new());
    for row in [vec![0.2, 0.3, 0.5], vec![0.5, 0.5], vec![0.0, 0.0, 1.0]] {
        b.values().append_slice(&row);
        b.append(true);
    }
    write_ipc(
        &p,
        vec![
            ("label", i64s(vec![0, 1, 2])),
            ("score", Arc::new(b.finish())),
        ],
        &[],
    );
    rejects(
        &p,
        &[],
        &[
            "column 'score', row 1",
            "has 2 probabilities but row 0 has 3",
        ],
    );

    // A label beyond the classes the scores have.
    let p = dir.path().join("k.arrow");
    let scores = list(vec![0.2, 0.3, 0.5, 0.1, 0.1, 0.8], 3);
    write_ipc(
        &p,
        vec![("label", i64s(vec![0, 3])), ("score", scores)],
        &[],
    );
    rejects(
        &p,
        &[],
        &[
            "column 'label', row 1",
            "label 3 is not one of the 3 classes",
        ],
    );
}

#[test]
fn negative_weight() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.arrow");
    write_ipc(
        &p,
        vec![
            ("label", i64s(vec![0, 1, 0])),
            ("score", f64s(vec![0.1, 0.2, 0.3])),
            ("weight", f64s(vec![1.0, -0.5, 2.0])),
        ],
        &[],
    );
    rejects(
        &p,
        &[],
        &["column 'weight', row 1", "weight -0.5 is negative"],
    );
}

#[test]
fn wrong_column_types() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("types.arrow");
    let names: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
    write_ipc(
        &p,
        vec![("label", names.clone()), ("score", f64s(vec![0.1, 0.2]))],
        &[],
    );
    rejects(
        &p,
        &[],
        &["column 'label'", "has type string", "integers or booleans"],
    );
    write_ipc(&p, vec![("label", i64s(vec![0, 1])), ("score", names)], &[]);
    rejects(&p, &[], &["column 'score'", "has type string"]);
}

#[test]
fn bad_options() {
    let p = fixture("binary_balanced.arrow");
    let out = evalkit(["full", p.to_str().unwrap(), "--threshold", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--threshold 1.5"));
    let out = evalkit(["fast", p.to_str().unwrap(), "--sample", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'lots' is neither a row count nor `all`"));
    let out = evalkit(["full", p.to_str().unwrap(), "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Flips bytes all over valid files of every format: whatever arrow or polars
/// do with them (error or panic), the caller gets an `Err`, never a panic.
#[test]
fn corrupt_bytes_are_contained() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut errors = 0;
    for name in [
        "binary_balanced.arrow",
        "binary_balanced.parquet",
        "binary_balanced.arrows",
        "multiclass_digits.arrow",
    ] {
        let original = std::fs::read(fixture(name)).unwrap();
        for trial in 0..40 {
            let mut bytes = original.clone();
            for _ in 0..1 + trial % 8 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            let p = dir.path().join(format!("{trial}-{name}"));
            std::fs::write(&p, &bytes).unwrap();
            let result = std::panic::catch_unwind(|| read_predictions(&p, &ReadOptions::default()));
            match result {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => errors += 1,
                Err(_) => panic!("{name} trial {trial}: a panic escaped read_predictions"),
            }
        }
    }
    assert!(
        errors > 0,
        "the corruption never produced an error: the test does not test anything"
    );
}

#[test]
fn a_single_class_list_or_a_null_inside_a_list() {
    let dir = tempfile::tempdir().unwrap();
    // One probability per row cannot be multiclass (bool labels included).
    let p = dir.path().join("one.arrow");
    let labels: ArrayRef = Arc::new(arrow::array::BooleanArray::from(vec![false, true]));
    write_ipc(
        &p,
        vec![("label", labels), ("score", list(vec![1.0, 1.0], 1))],
        &[],
    );
    rejects(&p, &["--task", "multiclass"], &["needs at least 2 classes"]);
    // A null inside row 1's list is reported at row 1, class 2.
    let p = dir.path().join("nullin.arrow");
    let field = Arc::new(Field::new("item", DataType::Float32, true));
    let values = Float32Array::from(vec![
        Some(0.2),
        Some(0.3),
        Some(0.5),
        Some(0.1),
        Some(0.1),
        None,
    ]);
    let scores: ArrayRef = Arc::new(FixedSizeListArray::new(field, 3, Arc::new(values), None));
    write_ipc(
        &p,
        vec![("label", i64s(vec![0, 1])), ("score", scores)],
        &[],
    );
    rejects(
        &p,
        &[],
        &["column 'score', row 1", "class 2", "missing (null)"],
    );
}

#[test]
fn oversized_threshold_grids_are_refused() {
    let p = fixture("binary_balanced.arrow");
    let out = evalkit(["full", p.to_str().unwrap(), "--thresholds", "1000000000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("2 to 1000000"), "{}", stderr(&out));
}

#[test]
fn in_memory_arrays_without_rows_or_scores_are_errors() {
    use evalkit::data::Predictions;
    let empty_l: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
    let empty_s: ArrayRef = Arc::new(Float64Array::from(Vec::<f64>::new()));
    let e = Predictions::from_arrays("mem", empty_l, vec![empty_s], None, None, None).unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
    let l: ArrayRef = Arc::new(Int64Array::from(vec![0, 1]));
    let e = Predictions::from_arrays("mem", l, vec![], None, None, None).unwrap_err();
    assert!(e.to_string().contains("no score column"), "{e}");
}

/// A file that starts like an Arrow IPC file, stream or Parquet file but is
/// cut short is reported as a truncated file of that format, not read as CSV.
#[test]
fn truncated_magic_is_named_as_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let arrow = std::fs::read(fixture("binary_balanced.arrow")).unwrap();
    let stream = std::fs::read(fixture("binary_balanced.arrows")).unwrap();
    let parquet = std::fs::read(fixture("binary_balanced.parquet")).unwrap();
    let cases: Vec<(&str, &[u8], &str)> = vec![
        ("a1.arrow", b"A", "truncated Arrow IPC file"),
        ("a3.arrow", b"ARR", "truncated Arrow IPC file"),
        ("a4.arrow", &arrow[..4], "truncated Arrow IPC file"),
        ("a5.arrow", &arrow[..5], "truncated Arrow IPC file"),
        (
            "a6.arrow",
            &arrow[..6],
            "truncated or corrupt Arrow IPC file",
        ),
        ("p3.parquet", b"PAR", "truncated Parquet file"),
        (
            "p4.parquet",
            &parquet[..4],
            "truncated or corrupt Parquet file",
        ),
        (
            "p1000.parquet",
            &parquet[..1000],
            "truncated or corrupt Parquet file",
        ),
        (
            "p-3.parquet",
            &parquet[..parquet.len() - 3],
            "truncated or corrupt Parquet file",
        ),
        ("s1.arrows", &stream[..1], "truncated Arrow IPC stream"),
        ("s3.arrows", &stream[..3], "truncated Arrow IPC stream"),
        (
            "s6.arrows",
            &stream[..6],
            "truncated or corrupt Arrow IPC stream",
        ),
        (
            "s3000.arrows",
            &stream[..3000],
            "truncated or corrupt Arrow IPC stream",
        ),
        (
            "s-20.arrows",
            &stream[..stream.len() - 20],
            "truncated or corrupt Arrow IPC stream",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        rejects(&p, &[], &[name, want]);
    }
}

/// A CSV row with more fields than the header names the file, the 0-based
/// data row (header excluded, counted as the value errors count) and both
/// field counts.
#[test]
fn csv_row_with_an_extra_field_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, &[&str])> = vec![
        (
            "extra.csv",
            "label,score\n0,0.1\n1,0.9\n0,0.2,5\n1,0.8\n",
            &["row 2", "3 fields", "header has 2"],
        ),
        (
            "first.csv",
            "label,score\r\n0,0.1,7\r\n1,0.9\r\n",
            &["row 0", "3 fields", "header has 2"],
        ),
        // Quoted commas and line breaks are inside one field.
        (
            "quoted.csv",
            "label,score,note\n0,0.1,\"a, b\"\n1,0.9,\"two\nlines, too\"\n0,0.2,x,\"y\"\n",
            &["row 2", "4 fields", "header has 3"],
        ),
        // A quote inside an unquoted field is an ordinary character.
        (
            "midquote.csv",
            "label,score,x\n0,0.1,a\"b\n1,0.9,c,d\n",
            &["row 1", "4 fields", "header has 3"],
        ),
        // An empty field at the end is a field.
        (
            "trailing.csv",
            "label,score\n0,0.1\n1,0.9\n0,0.2\n1,0.8,\n",
            &["row 3", "3 fields", "header has 2"],
        ),
    ];
    for (name, text, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let mut needles = vec![name];
        needles.extend_from_slice(want);
        rejects(&p, &[], &needles);
    }
    // A row past the rows polars infers the schema from.
    let mut text = String::from("label,score\n");
    for r in 0..20_000 {
        text.push_str(&format!("{},{}\n", r % 2, (r % 10) as f64 / 10.0));
    }
    text.push_str("1,0.5,9\n");
    let p = dir.path().join("late.csv");
    std::fs::write(&p, text).unwrap();
    rejects(
        &p,
        &[],
        &["late.csv", "row 20000", "3 fields", "header has 2"],
    );
}

/// Regression values whose squared errors overflow are refused at the first
/// row, rather than giving an infinite MSE.
#[test]
fn regression_values_too_large_for_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.arrow");
    write_ipc(
        &p,
        vec![
            ("label", f64s(vec![1.0, 2.0, 3.0, 4.0])),
            ("score", f64s(vec![1.5, 2.5, -1e200, 4.5])),
        ],
        &[],
    );
    rejects(
        &p,
        &[],
        &["huge.arrow", "column 'score', row 2", "-1e200", "too large"],
    );
    let p = dir.path().join("label.arrow");
    write_ipc(
        &p,
        vec![
            ("label", f64s(vec![1.0, f64::MAX])),
            ("score", f64s(vec![1.5, 2.5])),
        ],
        &[],
    );
    rejects(&p, &[], &["column 'label', row 1", "too large"]);
}

/// Counts and lengths in a Parquet footer or page header that polars would
/// trust and allocate for (aborting the process when the allocation fails)
/// are checked first: the file is refused as corrupt, with exit 2.
#[test]
fn corrupt_parquet_counts_are_refused_before_polars_allocates() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(fixture("binary_balanced.parquet")).unwrap();

    // The label column's data page header starts at byte 36 (pyarrow's
    // layout of this fixture): type, sizes, then the data page header whose
    // first field, the value count, is the zigzag varint a0 1f (2000).
    // 9f 1f is -2000.
    let mut bytes = original.clone();
    assert_eq!(bytes[44..48], [0x2c, 0x15, 0xa0, 0x1f], "fixture layout");
    bytes[46] = 0x9f;
    let p = dir.path().join("negative-values.parquet");
    std::fs::write(&p, &bytes).unwrap();
    rejects(
        &p,
        &[],
        &[
            "negative-values.parquet",
            "corrupt Parquet file",
            "-2000 values",
        ],
    );

    // The footer's schema list claims 2^32 - 1 elements (its header byte
    // 4c, 4 structs, becomes fc plus a varint count). Polars refuses this
    // one itself; the check names the list.
    let len = original.len();
    let footer_len = u32::from_le_bytes(original[len - 8..len - 4].try_into().unwrap()) as usize;
    let start = len - 8 - footer_len;
    assert_eq!(
        original[start + 2..start + 4],
        [0x19, 0x4c],
        "fixture layout"
    );
    let mut footer = original[start..len - 8].to_vec();
    footer.splice(3..4, [0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let mut bytes = original[..start].to_vec();
    bytes.extend_from_slice(&footer);
    bytes.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"PAR1");
    let p = dir.path().join("long-list.parquet");
    std::fs::write(&p, &bytes).unwrap();
    rejects(
        &p,
        &[],
        &[
            "long-list.parquet",
            "corrupt Parquet file",
            "4294967295 elements",
        ],
    );

    // Bytes deleted inside the footer (a case the reader fuzz test found):
    // the footer length now reaches back into the column data, which polars
    // parsed as Thrift, asking for 80 GB (an abort).
    let mut bytes = original.clone();
    bytes.drain(30307..31092);
    let p = dir.path().join("short-footer.parquet");
    std::fs::write(&p, &bytes).unwrap();
    rejects(&p, &[], &["short-footer.parquet", "corrupt Parquet file"]);
}

/// A line break inside a column name (a quoted CSV header) does not break
/// the one-line error that lists the columns.
#[test]
fn a_line_break_in_a_column_name_keeps_the_error_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("names.csv");
    std::fs::write(&p, "\"lab\nel\",score\n0,0.1\n1,0.9\n").unwrap();
    rejects(&p, &[], &["names.csv", "no such label column", "lab\\nel"]);
}
