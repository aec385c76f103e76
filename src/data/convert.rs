//! From Arrow columns to validated [`Columns`]: every value is checked once
//! here, in parallel, and the first bad row is named.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use rayon::prelude::*;

use super::{Columns, Float, Floats, Predictions, ReadOptions, ScoreKind, Table, Task, short_type};
use crate::error::{Error, Result};

/// Rows per parallel validation chunk.
const CHUNK: usize = 1 << 16;

/// Largest allowed difference between a multiclass probability row's sum and 1.
pub const ROW_SUM_TOLERANCE: f64 = 1e-3;

pub(crate) fn predictions_from_table(table: Table, options: &ReadOptions) -> Result<Predictions> {
    predictions_from_chunk(table, options, None)
}

/// [`predictions_from_table`] for a chunk of a file after its first chunk:
/// `classes` is the probability list length the file's first row set, which
/// every row of a variable-length list column must have.
pub(crate) fn predictions_from_chunk(
    table: Table,
    options: &ReadOptions,
    classes: Option<usize>,
) -> Result<Predictions> {
    let path = table.path.clone();
    let path = path.as_path();
    let metadata: BTreeMap<String, String> = table
        .schema
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rows = table.rows();
    if rows == 0 {
        return Err(Error::bad_format(path, "has no rows"));
    }
    if options.score.is_empty() {
        return Err(Error::usage("no score column given: pass --score COL"));
    }
    if rows > u32::MAX as usize {
        return Err(Error::bad_format(
            path,
            format!(
                "has {rows} rows; evalkit reads at most {} rows per file",
                u32::MAX
            ),
        ));
    }

    // `flag` is the option that names another column; passthrough columns
    // (slice keys, ids) are named by whichever option asked for them, so
    // their message names none.
    let require = |name: &str, role: &str, flag: Option<&str>| -> Result<ArrayRef> {
        table.column(name)?.ok_or_else(|| {
            Error::bad_column(
                path,
                name,
                match flag {
                    Some(flag) => format!(
                        "no such {role} column; the file has: {}. Pass {flag} COL to name another",
                        table.describe_columns()
                    ),
                    None => format!("no such column; the file has: {}", table.describe_columns()),
                },
            )
        })
    };
    if metadata.get("evalkit.labels").map(String::as_str) == Some("none")
        && table.schema.index_of(&options.label).is_err()
    {
        return Err(Error::bad_format(
            path,
            "has no labels: it was written by `evalkit infer` without --label, and the tiers need labels; rerun infer with --label COL",
        ));
    }
    let label = require(&options.label, "label", Some("--label"))?;
    let scores: Vec<ArrayRef> = options
        .score
        .iter()
        .map(|s| require(s, "score", Some("--score")))
        .collect::<Result<_>>()?;
    let extra: Vec<(String, ArrayRef)> = options
        .extra
        .iter()
        .map(|name| require(name, "passthrough", None).map(|a| (name.clone(), a)))
        .collect::<Result<_>>()?;
    let (weight, weight_column) = match &options.weight {
        Some(w) => (
            Some(require(w, "weight", Some("--weight"))?),
            Some(w.clone()),
        ),
        None => match table.column("weight")? {
            Some(w) => (Some(w), Some("weight".to_string())),
            None => (None, None),
        },
    };
    let clusters = match &options.cluster {
        None => None,
        Some(c) => {
            let role = if *c == options.label {
                Some("label")
            } else if options.score.contains(c) {
                Some("score")
            } else if weight_column.as_deref() == Some(c.as_str()) {
                Some("weight")
            } else {
                None
            };
            if let Some(role) = role {
                return Err(Error::bad_column(
                    path,
                    c,
                    format!(
                        "is the {role} column and cannot be the cluster column; cluster by an id the rows share (a user, patient, session or query)"
                    ),
                ));
            }
            let array = require(c, "cluster", Some("--cluster"))?;
            Some(crate::clusters::Clusters::from_array(path, c, &array)?)
        }
    };
    // The query column: named with --query, or a column called `query`.
    let query = match &options.query {
        Some(q) => Some((q.clone(), require(q, "query", Some("--query"))?)),
        None => table.column("query")?.map(|a| ("query".to_string(), a)),
    };
    let described = table.describe_columns();
    drop(table);

    let label_name = options.label.as_str();
    let score_name = options.score.join(",");
    let score_is_list = scores.len() > 1
        || matches!(
            scores[0].data_type(),
            DataType::FixedSizeList(..) | DataType::List(_) | DataType::LargeList(_)
        );

    let (task, task_reason) = match options.task {
        Some(t) => (t, "given with --task".to_string()),
        None => match metadata.get("evalkit.task") {
            Some(t) => (
                t.parse::<Task>().map_err(|_| {
                    Error::bad_format(
                        path,
                        format!("has an unknown evalkit.task '{t}' in its metadata"),
                    )
                })?,
                "from the file's evalkit.task metadata".to_string(),
            ),
            None if query.is_some() => (
                Task::Ranking,
                format!(
                    "inferred: a query column, '{}'",
                    query.as_ref().map_or("query", |(n, _)| n.as_str())
                ),
            ),
            None => {
                if matches!(
                    label.data_type(),
                    DataType::Float16 | DataType::Float32 | DataType::Float64
                ) {
                    (Task::Regression, "inferred: float labels".to_string())
                } else if score_is_list {
                    (
                        Task::Multiclass,
                        "inferred: a probability list per row".to_string(),
                    )
                } else {
                    (
                        Task::Binary,
                        "inferred: class labels and one score per row".to_string(),
                    )
                }
            }
        },
    };

    let score_kind = match options.score_kind {
        Some(k) => k,
        None => match metadata.get("evalkit.score_kind") {
            Some(k) => k.parse::<ScoreKind>().map_err(|_| {
                Error::bad_format(
                    path,
                    format!("has an unknown evalkit.score_kind '{k}' in its metadata"),
                )
            })?,
            None => ScoreKind::Probability,
        },
    };

    let named_classes = class_names_from_metadata(path, &metadata)?;

    let columns = match task {
        Task::Binary => {
            let labels: Vec<u8> = class_labels(path, label_name, &label, 1)?;
            let scores = if score_is_list {
                let (flat, k) = list_scores(path, &score_name, &scores, rows, classes)?;
                if k != 2 {
                    return Err(Error::bad_column(
                        path,
                        &score_name,
                        format!(
                            "holds {k} probabilities per row, so the task cannot be binary; use --task multiclass"
                        ),
                    ));
                }
                let flat = multiclass_probabilities(path, &score_name, flat, 2, score_kind)?;
                Floats::F64(ScalarBuffer::from(
                    (0..rows)
                        .into_par_iter()
                        .map(|r| flat.get(2 * r + 1))
                        .collect::<Vec<f64>>(),
                ))
            } else {
                let s = float_column(path, &score_name, &scores[0])?;
                binary_probabilities(path, &score_name, s, score_kind)?
            };
            Columns::Binary { labels, scores }
        }
        Task::Multiclass => {
            let (flat, k) = if score_is_list {
                list_scores(path, &score_name, &scores, rows, classes)?
            } else {
                return Err(Error::bad_column(
                    path,
                    &score_name,
                    "holds one score per row; a multiclass task needs a probability list per row (or several --score columns, one per class)",
                ));
            };
            if k < 2 {
                return Err(Error::bad_column(
                    path,
                    &score_name,
                    format!(
                        "holds {k} probability per row; a multiclass task needs at least 2 classes"
                    ),
                ));
            }
            let labels = class_labels(path, label_name, &label, (k - 1) as u64)?;
            let scores = multiclass_probabilities(path, &score_name, flat, k, score_kind)?;
            Columns::Multiclass {
                labels,
                scores,
                classes: k,
            }
        }
        Task::Regression => {
            if score_is_list {
                return Err(Error::bad_column(
                    path,
                    &score_name,
                    "holds a list per row; a regression task needs one number per row",
                ));
            }
            let labels = float_column(path, label_name, &label)?;
            check_regression_values(path, label_name, &labels)?;
            let scores = float_column(path, &score_name, &scores[0])?;
            check_regression_values(path, &score_name, &scores)?;
            Columns::Regression { labels, scores }
        }
        Task::Ranking => {
            let Some((query_name, ids)) = query else {
                return Err(Error::bad_column(
                    path,
                    options.query.as_deref().unwrap_or("query"),
                    format!(
                        "no such query column; a ranking needs each row's query. The file has: {}. Pass --query COL to name it",
                        described
                    ),
                ));
            };
            if score_is_list {
                return Err(Error::bad_column(
                    path,
                    &score_name,
                    "holds a list per row; a ranking needs one score per (query, item) row",
                ));
            }
            for (role, name) in [
                ("label", Some(label_name)),
                ("score", Some(score_name.as_str())),
                ("weight", weight_column.as_deref()),
            ] {
                if name == Some(query_name.as_str()) {
                    return Err(Error::bad_column(
                        path,
                        &query_name,
                        format!("is the {role} column and cannot also be the query column"),
                    ));
                }
            }
            if let Some(w) = &weight_column {
                return Err(Error::bad_column(
                    path,
                    w,
                    "is a weight column, and a ranking weighs every query equally: row weights are not used. Drop or rename the column (or pass --task to evaluate another task)",
                ));
            }
            if let Some(c) = &options.cluster {
                return Err(Error::usage(format!(
                    "--cluster {c}: a ranking's bootstrap already resamples whole queries; clusters of queries are not built"
                )));
            }
            let labels = float_column(path, label_name, &label)?;
            check_regression_values(path, label_name, &labels)?;
            let row = crate::with_floats!(&labels, s => first_bad(s, |v| v.to_f64() < 0.0));
            if let Some(row) = row {
                return Err(Error::bad_value(
                    path,
                    label_name,
                    row,
                    format!(
                        "relevance {} is negative; a ranking's labels are relevance grades ≥ 0 (0 = not relevant)",
                        labels.get(row)
                    ),
                ));
            }
            let scores = float_column(path, &score_name, &scores[0])?;
            check_finite(path, &score_name, &scores)?;
            let queries =
                crate::clusters::Clusters::from_array_as(path, &query_name, &ids, "query")?;
            Columns::Ranking {
                labels,
                scores,
                queries,
                ids,
            }
        }
    };

    let weights = match (&weight, &weight_column) {
        (Some(w), Some(name)) => Some(weights(path, name, w)?),
        _ => None,
    };

    let class_count = match &columns {
        Columns::Binary { .. } => 2,
        Columns::Multiclass { classes, .. } => *classes,
        Columns::Regression { .. } | Columns::Ranking { .. } => 0,
    };
    let class_names = match named_classes {
        Some(names) if matches!(task, Task::Binary | Task::Multiclass) => {
            if names.len() != class_count {
                return Err(Error::bad_format(
                    path,
                    format!(
                        "its evalkit.classes metadata names {} classes but the scores have {class_count}",
                        names.len()
                    ),
                ));
            }
            names
        }
        _ => (0..class_count).map(|c| c.to_string()).collect(),
    };

    Ok(Predictions {
        path: path.to_path_buf(),
        task,
        task_reason,
        columns,
        weights,
        weight_column,
        score_kind,
        class_names,
        metadata,
        extra,
        clusters,
    })
}

fn class_names_from_metadata(
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<Option<Vec<String>>> {
    let Some(raw) = metadata.get("evalkit.classes") else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        Error::bad_format(
            path,
            format!("has evalkit.classes metadata that is not JSON: {e}"),
        )
    })?;
    let list = value.as_array().ok_or_else(|| {
        Error::bad_format(path, "has evalkit.classes metadata that is not a JSON list")
    })?;
    Ok(Some(
        list.iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    ))
}

/// Index of the first element of `values` for which `bad` holds, scanning in
/// parallel chunks (the answer does not depend on the thread count).
pub(crate) fn first_bad<T: Sync>(values: &[T], bad: impl Fn(&T) -> bool + Sync) -> Option<usize> {
    // A branch-free fold over each chunk (it vectorises); only a chunk that
    // holds a bad value is scanned again for its position.
    values
        .par_chunks(CHUNK)
        .enumerate()
        .find_first(|(_, chunk)| chunk.iter().fold(false, |any, v| any | bad(v)))
        .and_then(|(i, chunk)| chunk.iter().position(&bad).map(|p| i * CHUNK + p))
}

/// A class index type of the validated label columns.
pub(crate) trait ClassIndex: Copy + Default + Send + Sync {
    fn from_u64(v: u64) -> Self;
}
impl ClassIndex for u8 {
    #[inline(always)]
    fn from_u64(v: u64) -> u8 {
        v as u8
    }
}
impl ClassIndex for u32 {
    #[inline(always)]
    fn from_u64(v: u64) -> u32 {
        v as u32
    }
}

/// Converts integers to class indices in one parallel pass, checking
/// `0 <= v <= max`; `Err` holds the first row out of range.
fn convert_ints<N, O>(
    values: &[N],
    max: u64,
    widen: impl Fn(N) -> u64 + Sync,
) -> std::result::Result<Vec<O>, usize>
where
    N: Copy + Sync,
    O: ClassIndex,
{
    let mut out = vec![O::default(); values.len()];
    let bad = out
        .par_chunks_mut(CHUNK)
        .zip(values.par_chunks(CHUNK))
        .enumerate()
        .filter_map(|(c, (o, v))| {
            let mut ok = true;
            for (o, &v) in o.iter_mut().zip(v) {
                // Negative signed values widen to huge u64s: out of range too.
                let u = widen(v);
                ok &= u <= max;
                *o = O::from_u64(u);
            }
            if ok {
                None
            } else {
                v.iter()
                    .position(|&x| widen(x) > max)
                    .map(|p| c * CHUNK + p)
            }
        })
        .min();
    match bad {
        Some(row) => Err(row),
        None => Ok(out),
    }
}

fn first_null(path: &Path, column: &str, array: &dyn Array) -> Result<()> {
    if array.null_count() == 0 {
        return Ok(());
    }
    let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
    Err(Error::bad_value(
        path,
        column,
        row,
        "is missing (null); every row needs a value",
    ))
}

/// Class indices in `0..=max`, from any integer or Boolean column (or a float
/// column holding whole numbers).
fn class_labels<O: ClassIndex>(
    path: &Path,
    column: &str,
    array: &ArrayRef,
    max: u64,
) -> Result<Vec<O>> {
    first_null(path, column, array.as_ref())?;
    let out_of_range = |row: usize, shown: String| {
        let message = if max == 1 {
            format!(
                "label {shown} is not a binary class (0 or 1); for more classes, give a probability list per row"
            )
        } else {
            format!(
                "label {shown} is not one of the {} classes the scores have (0 to {max})",
                max + 1
            )
        };
        Error::bad_value(path, column, row, message)
    };
    macro_rules! ints {
        ($t:ty) => {{
            let values: &[<$t as ArrowPrimitiveType>::Native] = array.as_primitive::<$t>().values();
            match convert_ints(values, max, |v| v as u64) {
                Ok(out) => out,
                Err(row) => return Err(out_of_range(row, values[row].to_string())),
            }
        }};
    }
    Ok(match array.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Boolean => {
            let b: &BooleanArray = array.as_boolean();
            if max == 0
                && let Some(row) = b.values().iter().position(|v| v)
            {
                return Err(out_of_range(row, "true".to_string()));
            }
            b.values().iter().map(|v| O::from_u64(v as u64)).collect()
        }
        DataType::Float32 | DataType::Float64 => {
            let f = float_column(path, column, array)?;
            let whole = |v: f64| v.fract() == 0.0 && v >= 0.0 && v <= max as f64;
            let values = f.to_f64_vec();
            if let Some(row) = first_bad(&values, |&v| !whole(v)) {
                return Err(out_of_range(row, values[row].to_string()));
            }
            values.par_iter().map(|&v| O::from_u64(v as u64)).collect()
        }
        other => {
            return Err(Error::bad_column(
                path,
                column,
                format!(
                    "has type {}; class labels must be integers or booleans",
                    short_type(other)
                ),
            ));
        }
    })
}

/// A float column as [`Floats`], zero-copy for Float32/Float64; integer
/// columns are widened to f64.
fn float_column(path: &Path, column: &str, array: &ArrayRef) -> Result<Floats> {
    first_null(path, column, array.as_ref())?;
    macro_rules! widen {
        ($t:ty) => {
            Floats::from(
                array
                    .as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| v as f64)
                    .collect::<Vec<f64>>(),
            )
        };
    }
    Ok(match array.data_type() {
        DataType::Float32 => Floats::F32(array.as_primitive::<Float32Type>().values().clone()),
        DataType::Float64 => Floats::F64(array.as_primitive::<Float64Type>().values().clone()),
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        DataType::Boolean => Floats::from(
            array
                .as_boolean()
                .values()
                .iter()
                .map(|v| if v { 1.0 } else { 0.0 })
                .collect::<Vec<f64>>(),
        ),
        other => {
            return Err(Error::bad_column(
                path,
                column,
                format!(
                    "has type {}; expected Float32 or Float64 numbers",
                    short_type(other)
                ),
            ));
        }
    })
}

fn check_finite(path: &Path, column: &str, values: &Floats) -> Result<()> {
    let row = crate::with_floats!(values, s => first_bad(s, |v| !v.to_f64().is_finite()));
    match row {
        Some(row) => Err(not_finite(path, column, row, values.get(row))),
        None => Ok(()),
    }
}

/// Largest magnitude of a regression label or prediction: the squared
/// differences of such values, summed unweighted over the most rows a file
/// may hold, stay far below `f64::MAX`, so no regression metric overflows to
/// infinity.
pub const REGRESSION_LIMIT: f64 = 1e100;

/// Finite, and within [`REGRESSION_LIMIT`] in magnitude.
fn check_regression_values(path: &Path, column: &str, values: &Floats) -> Result<()> {
    check_finite(path, column, values)?;
    let row =
        crate::with_floats!(values, s => first_bad(s, |v| v.to_f64().abs() > REGRESSION_LIMIT));
    match row {
        Some(row) => Err(Error::bad_value(
            path,
            column,
            row,
            format!(
                "value {:e} is too large for the regression metrics (squared errors would overflow); rescale the column to within ±{REGRESSION_LIMIT:e}",
                values.get(row)
            ),
        )),
        None => Ok(()),
    }
}

fn not_finite(path: &Path, column: &str, row: usize, value: f64) -> Error {
    Error::bad_value(
        path,
        column,
        row,
        format!("value {value} is not a finite number"),
    )
}

fn binary_probabilities(
    path: &Path,
    column: &str,
    scores: Floats,
    kind: ScoreKind,
) -> Result<Floats> {
    match kind {
        ScoreKind::Probability => {
            // One pass: NaN and infinities are outside [0, 1] too; the first
            // bad row gets the message that fits it.
            let row = crate::with_floats!(&scores, s => first_bad(s, |v| {
                let v = v.to_f64();
                !(0.0..=1.0).contains(&v)
            }));
            if let Some(row) = row {
                if !scores.get(row).is_finite() {
                    return Err(not_finite(path, column, row, scores.get(row)));
                }
                return Err(Error::bad_value(
                    path,
                    column,
                    row,
                    format!(
                        "score {} is not a probability in [0, 1]; if the scores are logits, pass --score-kind logit",
                        scores.get(row)
                    ),
                ));
            }
            Ok(scores)
        }
        ScoreKind::Logit => {
            check_finite(path, column, &scores)?;
            Ok(Floats::from(crate::with_floats!(&scores, s => {
                s.par_iter().map(|v| sigmoid(v.to_f64())).collect::<Vec<f64>>()
            })))
        }
    }
}

/// The logistic function, stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Flat row-major scores and the class count, from a list column or from
/// several scalar columns.
fn list_scores(
    path: &Path,
    column: &str,
    arrays: &[ArrayRef],
    rows: usize,
    classes: Option<usize>,
) -> Result<(Floats, usize)> {
    if arrays.len() > 1 {
        let names: Vec<&str> = column.split(',').collect();
        let cols: Vec<Floats> = arrays
            .iter()
            .enumerate()
            .map(|(c, a)| float_column(path, names.get(c).copied().unwrap_or(column), a))
            .collect::<Result<_>>()?;
        let k = cols.len();
        let all_f32 = cols.iter().all(|c| matches!(c, Floats::F32(_)));
        let flat: Floats = if all_f32 {
            let mut out = vec![0f32; rows * k];
            for (c, col) in cols.iter().enumerate() {
                if let Floats::F32(v) = col {
                    out.par_chunks_mut(k)
                        .zip(v.par_iter())
                        .for_each(|(row, &x)| row[c] = x);
                }
            }
            Floats::from(out)
        } else {
            let mut out = vec![0f64; rows * k];
            for (c, col) in cols.iter().enumerate() {
                out.par_chunks_mut(k)
                    .enumerate()
                    .for_each(|(r, row)| row[c] = col.get(r));
            }
            Floats::from(out)
        };
        return Ok((flat, k));
    }
    let array = &arrays[0];
    first_null(path, column, array.as_ref())?;
    match array.data_type() {
        DataType::FixedSizeList(_, k) => {
            let list: &FixedSizeListArray = array.as_fixed_size_list();
            let k = *k as usize;
            if k == 0 {
                return Err(Error::bad_column(
                    path,
                    column,
                    "holds empty probability lists",
                ));
            }
            let start = list.value_offset_at(0);
            let child = list.values().slice(start, rows * k);
            let flat = float_column(path, column, &child).map_err(|e| per_row(e, k))?;
            Ok((flat, k))
        }
        DataType::List(_) => generic_list::<i32>(path, column, array.as_list::<i32>(), classes),
        DataType::LargeList(_) => {
            generic_list::<i64>(path, column, array.as_list::<i64>(), classes)
        }
        _ => unreachable_list(path, column, array.data_type()),
    }
}

fn unreachable_list<T>(path: &Path, column: &str, t: &DataType) -> Result<T> {
    Err(Error::bad_column(
        path,
        column,
        format!(
            "has type {}; expected a list of probabilities",
            short_type(t)
        ),
    ))
}

/// An error about element `i` of a flattened `rows × k` list, restated
/// about its row and class.
fn per_row(e: Error, k: usize) -> Error {
    e.restate_row(|i, message| (i / k, format!("class {}: {message}", i % k)))
}

/// A variable-length list column's values: every row as long as `classes`
/// (the file's first row, for a later chunk) or as the first row.
fn generic_list<O: OffsetSizeTrait>(
    path: &Path,
    column: &str,
    list: &GenericListArray<O>,
    classes: Option<usize>,
) -> Result<(Floats, usize)> {
    let offsets = list.value_offsets();
    let k = classes.unwrap_or((offsets[1] - offsets[0]).as_usize());
    if k == 0 {
        return Err(Error::bad_value(
            path,
            column,
            0,
            "is an empty probability list",
        ));
    }
    let lengths: Vec<usize> = offsets
        .windows(2)
        .map(|w| (w[1] - w[0]).as_usize())
        .collect();
    if let Some(row) = first_bad(&lengths, |&len| len != k) {
        return Err(Error::bad_value(
            path,
            column,
            row,
            format!(
                "has {} probabilities but row 0 has {k}; every row needs one per class",
                lengths[row]
            ),
        ));
    }
    let start = offsets[0].as_usize();
    let child = list.values().slice(start, lengths.len() * k);
    Ok((
        float_column(path, column, &child).map_err(|e| per_row(e, k))?,
        k,
    ))
}

fn multiclass_probabilities(
    path: &Path,
    column: &str,
    flat: Floats,
    k: usize,
    kind: ScoreKind,
) -> Result<Floats> {
    let row_of = |i: usize| i / k;
    let bad_value = crate::with_floats!(&flat, s => first_bad(s, |v| !v.to_f64().is_finite()));
    if let Some(i) = bad_value {
        return Err(Error::bad_value(
            path,
            column,
            row_of(i),
            format!(
                "probability {} (class {}) is not a finite number",
                flat.get(i),
                i % k
            ),
        ));
    }
    match kind {
        ScoreKind::Probability => {
            let out = crate::with_floats!(&flat, s => first_bad(s, |v| !(0.0..=1.0).contains(&v.to_f64())));
            if let Some(i) = out {
                return Err(Error::bad_value(
                    path,
                    column,
                    row_of(i),
                    format!(
                        "probability {} (class {}) is outside [0, 1]; if the scores are logits, pass --score-kind logit",
                        flat.get(i),
                        i % k
                    ),
                ));
            }
            let sums: Vec<f64> = crate::with_floats!(&flat, s => {
                s.par_chunks(k).map(|row| row.iter().map(|v| v.to_f64()).sum::<f64>()).collect()
            });
            if let Some(row) = first_bad(&sums, |s| (s - 1.0).abs() > ROW_SUM_TOLERANCE) {
                return Err(Error::bad_value(
                    path,
                    column,
                    row,
                    format!(
                        "probabilities sum to {}, not 1 (within {ROW_SUM_TOLERANCE}); if the scores are logits, pass --score-kind logit",
                        sums[row]
                    ),
                ));
            }
            Ok(flat)
        }
        ScoreKind::Logit => {
            let mut out = flat.to_f64_vec();
            out.par_chunks_mut(k).for_each(softmax_in_place);
            Ok(Floats::from(out))
        }
    }
}

/// Softmax of one row, stable (the maximum is subtracted first).
pub fn softmax_in_place(row: &mut [f64]) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

fn weights(path: &Path, column: &str, array: &ArrayRef) -> Result<Floats> {
    // Every weight 0 is not an error: the tiers give every metric undefined
    // with that reason, as they do for such a slice of a larger file.
    amounts(path, column, array, "weight")
}

/// A column of per-row amounts (`what`: weights, costs): numbers, present,
/// finite, 0 or more and at most [`WEIGHT_LIMIT`]; errors name the file,
/// column and first bad row.
pub fn amounts(path: &Path, column: &str, array: &ArrayRef, what: &str) -> Result<Floats> {
    let w = float_column(path, column, array)?;
    check_finite(path, column, &w)?;
    let negative = crate::with_floats!(&w, s => first_bad(s, |v| v.to_f64() < 0.0));
    if let Some(row) = negative {
        return Err(Error::bad_value(
            path,
            column,
            row,
            format!(
                "{what} {} is negative; {what}s must be 0 or more",
                w.get(row)
            ),
        ));
    }
    let huge = crate::with_floats!(&w, s => first_bad(s, |v| v.to_f64() > WEIGHT_LIMIT));
    if let Some(row) = huge {
        return Err(Error::bad_value(
            path,
            column,
            row,
            format!(
                "{what} {:e} is too large for the weighted sums (they would overflow); rescale the {what}s to at most {WEIGHT_LIMIT:e}",
                w.get(row)
            ),
        ));
    }
    Ok(w)
}

/// Largest weight: weighted sums of squared regression errors (within
/// [`REGRESSION_LIMIT`]) and the ROC-AUC's products of two weights, summed
/// over the most rows a file may hold, stay finite.
pub const WEIGHT_LIMIT: f64 = 1e50;
