//! Per-slice full tier (`evalkit full --slice COL`).
//!
//! A slicing is one passthrough column, or several crossed (`region,device`):
//! the rows are grouped by the distinct value (or tuple of values) of those
//! columns and every group goes through the full tier on its own, as if its
//! rows were a file of their own — the same metrics, and intervals from the
//! same seed with the rows numbered within the slice, so a slice's metrics
//! and intervals are bit-identical to `evalkit full` on the filtered file.
//! Slices skip the threshold sweep and the curve bands (a 2-point grid):
//! they are tables, not charts. Slices run in parallel; the file is read
//! once.
//!
//! Slices with fewer rows than `min_rows` are listed with their point
//! metrics but no intervals (`too_small`). Keys may be integers, strings,
//! booleans, floats or dictionary-encoded strings; a null key is its own
//! slice, shown as `null` and listed last.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use rayon::prelude::*;

use crate::data::Predictions;
use crate::error::{Error, Result};
use crate::full::{FullOptions, FullResult, full};

/// Most slices a slicing may produce: beyond that the column is almost
/// certainly an id or a continuous value.
pub const MAX_SLICES: usize = 10_000;

/// Default of `--min-slice`.
pub const DEFAULT_MIN_ROWS: usize = 30;

/// One group of rows and its full tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// The key columns.
    pub by: Vec<String>,
    /// The key's value in each column (`null` for a missing value).
    pub key: Vec<String>,
    /// Rows in the slice.
    pub rows: usize,
    /// Fewer rows than the minimum: point metrics only.
    pub too_small: bool,
    /// The full tier on the slice's rows.
    pub result: FullResult,
}

/// One column's values as dense codes, in the order the values sort.
struct Coded {
    /// Code of each row.
    codes: Vec<u32>,
    /// Display string of each code.
    labels: Vec<String>,
}

/// A numeric key (booleans as 0 and 1).
#[derive(Clone, PartialEq, PartialOrd)]
enum Value {
    Int(i128),
    Float(f64),
}

fn coded(preds: &Predictions, column: &str) -> Result<Coded> {
    let array: &ArrayRef = preds.extra(column).ok_or_else(|| {
        Error::bad_column(
            &preds.path,
            column,
            "no such slice column (pass a column the file has)",
        )
    })?;
    let n = array.len();
    let too_many = |distinct: usize| {
        Error::bad_column(
            &preds.path,
            column,
            format!(
                "has more than {MAX_SLICES} distinct values ({distinct} seen so far); slice by a \
                 categorical column, or bucket this one first"
            ),
        )
    };
    // Per row: the value (None for null).
    let values: Vec<Option<Value>> = {
        use arrow::datatypes::{
            Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
            UInt16Type, UInt32Type, UInt64Type,
        };
        macro_rules! prim {
            ($t:ty, $ctor:expr) => {{
                let a = array.as_primitive::<$t>();
                (0..n)
                    .map(|i| a.is_valid(i).then(|| $ctor(a.value(i))))
                    .collect()
            }};
        }
        let float = |v: f64| {
            if v.is_nan() {
                None
            } else {
                Some(Value::Float(v))
            }
        };
        match array.data_type() {
            DataType::Int8 => prim!(Int8Type, |v| Value::Int(v as i128)),
            DataType::Int16 => prim!(Int16Type, |v| Value::Int(v as i128)),
            DataType::Int32 => prim!(Int32Type, |v| Value::Int(v as i128)),
            DataType::Int64 => prim!(Int64Type, |v| Value::Int(v as i128)),
            DataType::UInt8 => prim!(UInt8Type, |v| Value::Int(v as i128)),
            DataType::UInt16 => prim!(UInt16Type, |v| Value::Int(v as i128)),
            DataType::UInt32 => prim!(UInt32Type, |v| Value::Int(v as i128)),
            DataType::UInt64 => prim!(UInt64Type, |v| Value::Int(v as i128)),
            DataType::Float32 => {
                let a = array.as_primitive::<Float32Type>();
                (0..n)
                    .map(|i| a.is_valid(i).then(|| float(a.value(i) as f64)).flatten())
                    .collect()
            }
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                (0..n)
                    .map(|i| a.is_valid(i).then(|| float(a.value(i))).flatten())
                    .collect()
            }
            DataType::Boolean => {
                let a = array.as_boolean();
                (0..n)
                    .map(|i| a.is_valid(i).then(|| Value::Int(a.value(i) as i128)))
                    .collect()
            }
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(_, _) => {
                let a = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| {
                    Error::bad_column(
                        &preds.path,
                        column,
                        format!("cannot be read as slice keys: {e}"),
                    )
                })?;
                // Strings: code through a map first (cheap for repeated
                // values), then sort the distinct ones.
                let s = a.as_string::<i32>();
                let mut map: HashMap<&str, u32> = HashMap::new();
                let mut first: Vec<&str> = Vec::new();
                let mut raw = Vec::with_capacity(n);
                for i in 0..n {
                    if s.is_null(i) {
                        raw.push(u32::MAX);
                        continue;
                    }
                    let v = s.value(i);
                    let next = map.len() as u32;
                    let c = *map.entry(v).or_insert_with(|| {
                        first.push(v);
                        next
                    });
                    if map.len() > MAX_SLICES {
                        return Err(too_many(map.len()));
                    }
                    raw.push(c);
                }
                let mut order: Vec<u32> = (0..first.len() as u32).collect();
                order.sort_by(|&a, &b| first[a as usize].cmp(first[b as usize]));
                let mut rank = vec![0u32; first.len()];
                for (r, &c) in order.iter().enumerate() {
                    rank[c as usize] = r as u32;
                }
                let mut labels: Vec<String> = order
                    .iter()
                    .map(|&c| first[c as usize].to_string())
                    .collect();
                let null_code = labels.len() as u32;
                if raw.contains(&u32::MAX) {
                    labels.push("null".to_string());
                }
                let codes = raw
                    .into_iter()
                    .map(|c| {
                        if c == u32::MAX {
                            null_code
                        } else {
                            rank[c as usize]
                        }
                    })
                    .collect();
                return Ok(Coded { codes, labels });
            }
            other => {
                return Err(Error::bad_column(
                    &preds.path,
                    column,
                    format!(
                        "has type {other}; slice keys must be integers, strings, booleans or floats"
                    ),
                ));
            }
        }
    };
    // Numbers: the distinct values, sorted, then each row's rank.
    let bits = |v: &Value| match v {
        Value::Int(i) => *i as u128,
        // -0.0 and 0.0 are one key.
        Value::Float(f) => (1u128 << 100) | (*f + 0.0).to_bits() as u128,
    };
    let mut distinct: Vec<Value> = Vec::new();
    let mut seen: HashMap<u128, u32> = HashMap::new();
    for v in values.iter().flatten() {
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(bits(v)) {
            e.insert(0);
            distinct.push(v.clone());
            if distinct.len() > MAX_SLICES {
                return Err(too_many(distinct.len()));
            }
        }
    }
    distinct.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    for (rank, v) in distinct.iter().enumerate() {
        seen.insert(bits(v), rank as u32);
    }
    let is_bool = matches!(array.data_type(), DataType::Boolean);
    let mut labels: Vec<String> = distinct
        .iter()
        .map(|v| match v {
            Value::Int(i) if is_bool => (*i != 0).to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
        })
        .collect();
    let null_code = labels.len() as u32;
    let codes: Vec<u32> = values
        .iter()
        .map(|v| v.as_ref().map_or(null_code, |v| seen[&bits(v)]))
        .collect();
    if codes.contains(&null_code) {
        labels.push("null".to_string());
    }
    Ok(Coded { codes, labels })
}

/// Splits slicing specs (`"region"`, `"region,device"`) into their crossed
/// columns.
pub fn parse_specs(values: &[String]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|s| {
            s.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect()
}

/// The groups of one slicing: each key (one value per column) with its rows
/// in file order, keys in sorted order.
pub fn groups(preds: &Predictions, by: &[String]) -> Result<Vec<(Vec<String>, Vec<u32>)>> {
    if by.is_empty() {
        return Err(Error::usage("--slice needs at least one column"));
    }
    let cols: Vec<Coded> = by.iter().map(|c| coded(preds, c)).collect::<Result<_>>()?;
    // Mixed-radix key of each row; every radix is at most MAX_SLICES + 1, so
    // up to four crossed columns fit in a u64 (more are refused).
    if cols.len() > 4 {
        return Err(Error::usage(format!(
            "--slice {}: at most 4 columns can be crossed",
            by.join(",")
        )));
    }
    let n = preds.rows();
    let keys: Vec<u64> = (0..n)
        .map(|r| {
            cols.iter().fold(0u64, |acc, c| {
                acc * (c.labels.len() as u64 + 1) + c.codes[r] as u64
            })
        })
        .collect();
    let mut slot: HashMap<u64, usize> = HashMap::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    let mut key_of: Vec<u64> = Vec::new();
    for (r, &k) in keys.iter().enumerate() {
        let next = rows.len();
        let s = *slot.entry(k).or_insert(next);
        if s == next {
            if next >= MAX_SLICES {
                return Err(Error::usage(format!(
                    "--slice {} makes more than {MAX_SLICES} slices; slice by fewer or coarser columns",
                    by.join(",")
                )));
            }
            rows.push(Vec::new());
            key_of.push(k);
        }
        rows[s].push(r as u32);
    }
    let mut out: Vec<(u64, Vec<u32>)> = key_of.into_iter().zip(rows).collect();
    out.sort_by_key(|(k, _)| *k);
    Ok(out
        .into_iter()
        .map(|(mut k, rows)| {
            let mut key = vec![String::new(); cols.len()];
            for (i, c) in cols.iter().enumerate().rev() {
                let radix = c.labels.len() as u64 + 1;
                key[i] = c.labels[(k % radix) as usize].clone();
                k /= radix;
            }
            (key, rows)
        })
        .collect())
}

/// The full tier of every slice of every slicing in `slicings` (each a list
/// of crossed columns), in parallel. Slices with fewer than `min_rows` rows
/// get point metrics only.
pub fn full_sliced(
    preds: &Predictions,
    slicings: &[Vec<String>],
    options: &FullOptions,
    min_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Slice>> {
    let mut jobs: Vec<(Vec<String>, Vec<String>, Vec<u32>)> = Vec::new();
    for by in slicings {
        for (key, rows) in groups(preds, by)? {
            jobs.push((by.clone(), key, rows));
        }
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = jobs.len();
    jobs.into_par_iter()
        .map(|(by, key, rows)| {
            let sub = preds.gather(&rows);
            let too_small = rows.len() < min_rows;
            let mut opts = *options;
            // Slices carry metrics, not sweeps or bands: a 2-point grid
            // keeps small slices from paying for a 1000-point F1 band.
            opts.thresholds = crate::full::binary::Thresholds::Grid(2);
            if too_small {
                opts.intervals.replicates = 0;
            }
            let mut result = full(&sub, &opts)?;
            if too_small {
                // Not even DeLong's: too few rows for any interval.
                result.metrics_mut().clear_intervals();
            }
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            Ok(Slice {
                by,
                key,
                rows: rows.len(),
                too_small,
                result,
            })
        })
        .collect()
}

/// One slice of several inputs: its key and the merged state of its rows.
pub struct SliceState {
    /// The key columns.
    pub by: Vec<String>,
    /// The key's value in each column (`null` for a missing value).
    pub key: Vec<String>,
    /// The merged state of the slice's rows in every input.
    pub state: crate::state::file::StateFile,
}

/// Whether a slice column holds numbers (keys compare as numbers) rather
/// than strings (keys compare as text), as [`groups`] orders them.
fn numeric_column(preds: &Predictions, column: &str) -> bool {
    preds
        .extra(column)
        .is_some_and(|a| a.data_type().is_numeric() || matches!(a.data_type(), DataType::Boolean))
}

/// Orders two keys of one slicing as [`groups`] orders one file's: by value
/// per column (numbers as numbers, text as text, `false` before `true`),
/// `null` last.
fn key_order(numeric: &[bool], a: &[String], b: &[String]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((x, y), &num) in a.iter().zip(b).zip(numeric) {
        let o = match (x == "null", y == "null") {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) if num => {
                let v = |s: &str| match s {
                    "false" => Some(0.0),
                    "true" => Some(1.0),
                    _ => s.parse::<i128>().map(|i| i as f64).ok().or(s.parse().ok()),
                };
                match (v(x), v(y)) {
                    (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                    _ => x.cmp(y),
                }
            }
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The state of every input's rows and of every slice of them, reading each
/// prediction file once, chunk by chunk (with its slice columns,
/// `read.extra`): per chunk, its rows' state and each slice's state (built
/// in parallel), merged into the running ones. Slices are ordered as one file's would be. State files
/// carry no slice columns and are refused.
pub fn sliced_states(
    paths: &[std::path::PathBuf],
    read: &crate::data::ReadOptions,
    slicings: &[Vec<String>],
) -> Result<(crate::state::file::StateFile, Vec<SliceState>)> {
    use crate::state::file::{StateFile, is_state_file};
    use crate::state::inputs::{MergeTree, from_predictions};
    let mut overall = MergeTree::default();
    let mut merged: HashMap<(usize, Vec<String>), StateFile> = HashMap::new();
    let mut numeric: Vec<Vec<bool>> = Vec::new();
    for path in paths {
        if is_state_file(path) {
            return Err(Error::usage(format!(
                "{}: --slice needs prediction files (their slice columns); a state file carries none",
                path.display()
            )));
        }
        crate::data::for_each_chunk(path, read, crate::data::chunk_rows(), &mut |preds| {
            overall.push(from_predictions(&preds)?)?;
            if numeric.is_empty() {
                numeric = slicings
                    .iter()
                    .map(|by| by.iter().map(|c| numeric_column(&preds, c)).collect())
                    .collect();
            }
            let mut jobs: Vec<(usize, Vec<String>, Vec<u32>)> = Vec::new();
            for (si, by) in slicings.iter().enumerate() {
                for (key, rows) in groups(&preds, by)? {
                    jobs.push((si, key, rows));
                }
            }
            let built: Vec<((usize, Vec<String>), StateFile)> = jobs
                .into_par_iter()
                .map(|(si, key, rows)| Ok(((si, key), from_predictions(&preds.gather(&rows))?)))
                .collect::<Result<_>>()?;
            for (k, s) in built {
                match merged.entry(k) {
                    std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(s)?,
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(s);
                    }
                }
            }
            for (si, by) in slicings.iter().enumerate() {
                if merged.keys().filter(|(s, _)| *s == si).count() > MAX_SLICES {
                    return Err(Error::usage(format!(
                        "--slice {} makes more than {MAX_SLICES} slices over the inputs; slice by fewer or coarser columns",
                        by.join(",")
                    )));
                }
            }
            Ok(())
        })?;
    }
    let mut overall = overall.finish()?;
    // Chunks of one file are one source.
    overall.header.sources = paths.len() as u64;
    let mut slices: Vec<(usize, SliceState)> = merged
        .into_iter()
        .map(|((si, key), state)| {
            (
                si,
                SliceState {
                    by: slicings[si].clone(),
                    key,
                    state,
                },
            )
        })
        .collect();
    slices.sort_by(|(sa, a), (sb, b)| {
        sa.cmp(sb)
            .then_with(|| key_order(&numeric[*sa], &a.key, &b.key))
    });
    Ok((overall, slices.into_iter().map(|(_, s)| s).collect()))
}

/// The full tier of every slice state (see [`sliced_states`]), in
/// parallel, as [`full_sliced`] runs a file's: no sweep or bands, and point
/// metrics only below `min_rows` rows. Intervals come from each slice's
/// state ([`crate::full::full_state`]).
pub fn full_sliced_states(
    slices: &[SliceState],
    options: &FullOptions,
    min_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Slice>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = slices.len();
    slices
        .par_iter()
        .map(|s| {
            let rows = s.state.header.rows as usize;
            let too_small = rows < min_rows;
            let mut opts = *options;
            opts.thresholds = crate::full::binary::Thresholds::Grid(2);
            if too_small {
                opts.intervals.replicates = 0;
            }
            let mut result = crate::full::full_state(&s.state, &opts, &|_, _| {})?;
            if too_small {
                result.metrics_mut().clear_intervals();
            }
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            Ok(Slice {
                by: s.by.clone(),
                key: s.key.clone(),
                rows,
                too_small,
                result,
            })
        })
        .collect()
}
