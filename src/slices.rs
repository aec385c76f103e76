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

use crate::data::{Columns, Predictions};
use crate::error::{Error, Result};
use crate::full::{FullOptions, FullResult, full};

/// Most slices a slicing may produce: beyond that the column is almost
/// certainly an id or a continuous value.
pub const MAX_SLICES: usize = 10_000;

/// Default of `--min-slice`.
pub const DEFAULT_MIN_ROWS: usize = 30;

/// A slice's ROC-AUC, candidate against baseline on the slice's rows:
/// DeLong's paired test (Obuchowski's with clusters), with the p-value
/// adjusted across every slice tested.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersusBaseline {
    /// The metric tested (ROC-AUC).
    pub metric: &'static str,
    /// The candidate's value on the slice.
    pub candidate: f64,
    /// The baseline's value on the same rows.
    pub baseline: f64,
    /// `candidate − baseline`.
    pub difference: f64,
    /// Standard error of the paired difference.
    pub std_error: f64,
    /// `difference / std_error`.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Holm's adjusted p-value across every slice tested.
    pub p_holm: f64,
    /// Benjamini–Hochberg's adjusted p-value.
    pub p_bh: f64,
    /// The candidate is worse than the baseline on the slice, with Holm's
    /// p-value below `1 − level`.
    pub flagged: bool,
}

/// Per slice of `slicings` (in [`full_sliced`]'s order), the candidate's
/// ROC-AUC against the baseline's on the slice's rows (`baseline` aligned to
/// `candidate`, [`crate::compare::align`]): DeLong's paired test, or
/// Obuchowski's when the rows are clustered; p-values adjusted across every
/// slice tested by Holm and Benjamini–Hochberg. Binary tasks only; slices
/// under `min_rows` are not tested.
pub fn versus_baseline(
    candidate: &Predictions,
    baseline: &Predictions,
    slicings: &[Vec<String>],
    min_rows: usize,
    level: f64,
) -> Result<Vec<std::result::Result<VersusBaseline, String>>> {
    let jobs: Vec<Vec<u32>> = slice_jobs(candidate, slicings)?
        .into_iter()
        .map(|(_, _, rows)| rows)
        .collect();
    let point = FullOptions {
        intervals: crate::uncertainty::IntervalOptions {
            replicates: 0,
            level,
            ..crate::uncertainty::IntervalOptions::default()
        },
        thresholds: crate::full::binary::Thresholds::Grid(2),
        ..FullOptions::default()
    };
    let tests: Vec<std::result::Result<PairedAuc, String>> = jobs
        .par_iter()
        .map(|rows| {
            if candidate.task != crate::data::Task::Binary {
                return Err(NOT_BINARY.to_string());
            }
            if rows.len() < min_rows {
                return Err(TOO_FEW_FOR_BASELINE.to_string());
            }
            let (c, b) = (candidate.gather(rows), baseline.gather(rows));
            let cmp =
                crate::compare::compare(&c, &b, crate::compare::Join::Position, &point, &|_, _| {})
                    .map_err(|e| e.to_string())?;
            paired_auc(&cmp)
        })
        .collect();
    Ok(adjust_versus_baseline(tests, level))
}

const TOO_FEW_FOR_BASELINE: &str = "too few rows for a test against the baseline";
const NOT_BINARY: &str =
    "the paired test against the baseline is built for binary ROC-AUC; see the delta's interval";

/// ROC-AUC of the candidate and of the baseline, and the variance of their
/// paired difference.
type PairedAuc = (f64, f64, f64);

/// A comparison's paired ROC-AUC test: Obuchowski's with clusters, DeLong's
/// without; `Err` says why there is none.
fn paired_auc(cmp: &crate::compare::Comparison) -> std::result::Result<PairedAuc, String> {
    if !matches!(cmp.candidate, FullResult::Binary(_)) {
        return Err(NOT_BINARY.to_string());
    }
    let test = cmp
        .obuchowski
        .clone()
        .unwrap_or_else(|| cmp.delong.clone())?;
    Ok((test.auc_a, test.auc_b, test.variance))
}

/// The slices' paired tests with their p-values adjusted across every slice
/// tested (Holm, Benjamini–Hochberg); a slice is flagged when the candidate
/// is worse with Holm's p-value below `1 − level`.
fn adjust_versus_baseline(
    tests: Vec<std::result::Result<PairedAuc, String>>,
    level: f64,
) -> Vec<std::result::Result<VersusBaseline, String>> {
    let p: Vec<f64> = tests
        .iter()
        .filter_map(|t| t.as_ref().ok())
        .map(|&(a, b, v)| 2.0 * crate::uncertainty::delong::normal_sf(((a - b) / v.sqrt()).abs()))
        .collect();
    let (holm, bh) = (
        crate::multiplicity::holm(&p),
        crate::multiplicity::benjamini_hochberg(&p),
    );
    let mut k = 0;
    tests
        .into_iter()
        .map(|t| {
            t.map(|(candidate, baseline, variance)| {
                let difference = candidate - baseline;
                let std_error = variance.sqrt();
                let out = VersusBaseline {
                    metric: "roc_auc",
                    candidate,
                    baseline,
                    difference,
                    std_error,
                    z: difference / std_error,
                    p_value: p[k],
                    p_holm: holm[k],
                    p_bh: bh[k],
                    flagged: difference < 0.0 && holm[k] < 1.0 - level,
                };
                k += 1;
                out
            })
        })
        .collect()
}

/// One slice of `evalkit compare --slice`: the candidate against the
/// baseline on the slice's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedSlice {
    /// The key columns.
    pub by: Vec<String>,
    /// The key's value in each column (`null` for a missing value).
    pub key: Vec<String>,
    /// Rows in the slice.
    pub rows: usize,
    /// Fewer rows than the minimum: point values only.
    pub too_small: bool,
    /// `evalkit compare` on the slice's rows: both models' metrics and the
    /// paired differences, with intervals from the same resamples.
    pub comparison: crate::compare::Comparison,
    /// ROC-AUC against the baseline's, adjusted across every slice tested
    /// ([`versus_baseline`]'s test); `Err` says why there is none.
    pub versus_baseline: std::result::Result<VersusBaseline, String>,
}

/// `evalkit compare` on every slice of every slicing (`baseline` aligned to
/// `candidate`), in parallel: each slice's comparison is bit-identical to
/// `evalkit compare` on the two files filtered to the slice's rows (rows
/// numbered within the slice, as [`full_sliced`] does), without the sweep
/// and bands; slices under `min_rows` get point values only. Binary slices
/// also get the paired ROC-AUC test, adjusted across every slice.
pub fn compare_sliced(
    candidate: &Predictions,
    baseline: &Predictions,
    slicings: &[Vec<String>],
    options: &FullOptions,
    min_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<ComparedSlice>> {
    if candidate.task == crate::data::Task::Ranking && !slicings.is_empty() {
        // Two rankings pair queries, not rows: a slice of the candidate's
        // rows names no rows of the baseline.
        return Err(Error::usage(
            "slices of a ranking comparison are not built (rankings pair queries, not rows); slice each model with `evalkit full --slice`",
        ));
    }
    let jobs = slice_jobs(candidate, slicings)?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = jobs.len();
    let compared: Vec<(ComparedSlice, std::result::Result<PairedAuc, String>)> = jobs
        .par_iter()
        .map(|(by, key, rows)| {
            let too_small = rows.len() < min_rows;
            let opts = slice_options(options, too_small, candidate.task);
            let (c, b) = (candidate.gather(rows), baseline.gather(rows));
            let mut cmp =
                crate::compare::compare(&c, &b, crate::compare::Join::Position, &opts, &|_, _| {})?;
            let test = settle_slice(&mut cmp, too_small, options, candidate.task);
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            let slice = ComparedSlice {
                by: by.clone(),
                key: key.clone(),
                rows: rows.len(),
                too_small,
                comparison: cmp,
                versus_baseline: Err(String::new()),
            };
            Ok((slice, test))
        })
        .collect::<Result<_>>()?;
    Ok(with_versus_baseline(compared, options.intervals.level))
}

/// Orders slices for display: those flagged as worse (than the rest, or
/// than the baseline) first, by Holm's p-value, then the others in their
/// order. `flagged` gives a flagged slice's Holm p-value, `None` for the
/// others.
pub fn flagged_first<T>(items: &mut [T], flagged: impl Fn(&T) -> Option<f64>) {
    let key = |t: &T| flagged(t);
    items.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

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
    /// The headline metric against the rest of the rows, adjusted for every
    /// slice tested ([`versus_rest`]); `Err` says why there is no test;
    /// `None` where slices come from states (no rows to compare).
    pub versus_rest: Option<std::result::Result<VersusRest, String>>,
}

/// A slice's headline metric against the rest of the data (the rows of
/// every other slice of its slicing): a two-sample z-test, with the
/// p-value adjusted across every slice of every slicing tested.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersusRest {
    /// The metric tested: the task's first headline metric (ROC-AUC,
    /// accuracy, RMSE).
    pub metric: &'static str,
    /// Its value on the slice.
    pub value: f64,
    /// Its value on the rest of the rows.
    pub rest: f64,
    /// `value − rest`.
    pub difference: f64,
    /// Standard error of the difference: `√(Var slice + Var rest)`, the two
    /// sets of rows being disjoint.
    pub std_error: f64,
    /// `difference / std_error`.
    pub z: f64,
    /// Two-sided p-value of `z`.
    pub p_value: f64,
    /// Holm's adjusted p-value (family-wise), across every slice tested.
    pub p_holm: f64,
    /// Benjamini–Hochberg's adjusted p-value (false discovery rate).
    pub p_bh: f64,
    /// The slice is worse than the rest, by the metric's direction.
    pub worse: bool,
    /// Worse, with Holm's p-value below `1 − level`: the slices to look at.
    pub flagged: bool,
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

/// One warning per slicing: how many slices were too small for intervals
/// and how many have undefined metrics (the details are in `--json`).
pub fn warnings(slices: &[Slice], min_rows: usize) -> Vec<String> {
    slicing_warnings(slices, min_rows, |s| {
        (&s.by, s.too_small, s.result.metrics())
    })
}

/// [`warnings`] for `compare --slice`: undefined differences count.
pub fn compared_warnings(slices: &[ComparedSlice], min_rows: usize) -> Vec<String> {
    slicing_warnings(slices, min_rows, |s| {
        (&s.by, s.too_small, &s.comparison.delta)
    })
}

/// The warnings of slices read through `part`: (key columns, too small,
/// the metrics whose undefined values count).
fn slicing_warnings<T>(
    slices: &[T],
    min_rows: usize,
    part: impl Fn(&T) -> (&Vec<String>, bool, &crate::metrics::MetricSet),
) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < slices.len() {
        let by = part(&slices[start]).0;
        let group: Vec<_> = slices[start..]
            .iter()
            .take_while(|s| part(s).0 == by)
            .collect();
        let small = group.iter().filter(|s| part(s).1).count();
        let undefined = group
            .iter()
            .filter(|s| part(s).2.iter().any(|(_, m)| m.value.is_none()))
            .count();
        let name = by.join(",");
        if small > 0 {
            out.push(format!(
                "slices by {name}: {small} of {} have fewer than {min_rows} rows and get no intervals",
                group.len()
            ));
        }
        if undefined > 0 {
            out.push(format!(
                "slices by {name}: {undefined} of {} have undefined metrics (reasons in --json)",
                group.len()
            ));
        }
        start += group.len();
    }
    out
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

/// Every slice of every slicing as `(key columns, key values, rows)`, in
/// slicing order, then key order.
type SliceJob = (Vec<String>, Vec<String>, Vec<u32>);

fn slice_jobs(preds: &Predictions, slicings: &[Vec<String>]) -> Result<Vec<SliceJob>> {
    let mut jobs = Vec::new();
    for by in slicings {
        for (key, rows) in groups(preds, by)? {
            jobs.push((by.clone(), key, rows));
        }
    }
    Ok(jobs)
}

/// The options a slice runs under: slices carry metrics, not sweeps or
/// bands (a 2-point grid keeps small slices from paying for a 1000-point F1
/// band), and a slice under the minimum size gets no bootstrap.
///
/// With `--metrics`, a slice also computes the metric its test reads (the
/// task's first headline metric: ROC-AUC, accuracy, RMSE); [`keep_asked`]
/// drops it once the test has run.
fn slice_options(options: &FullOptions, too_small: bool, task: crate::data::Task) -> FullOptions {
    let mut opts = *options;
    if let Some(tested) = crate::metrics::registry::headline(task).first() {
        opts.metrics = opts.metrics.with(task, tested);
    }
    opts.thresholds = crate::full::binary::Thresholds::Grid(2);
    if too_small {
        opts.intervals.replicates = 0;
    }
    opts
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
    let jobs = slice_jobs(preds, slicings)?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = jobs.len();
    let mut slices: Vec<Slice> = jobs
        .par_iter()
        .map(|(by, key, rows)| {
            let (by, key) = (by.clone(), key.clone());
            let sub = preds.gather(rows);
            let too_small = rows.len() < min_rows;
            let opts = slice_options(options, too_small, preds.task);
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
                versus_rest: None,
            })
        })
        .collect::<Result<_>>()?;
    let rows: Vec<&[u32]> = jobs.iter().map(|(_, _, r)| r.as_slice()).collect();
    versus_rest(preds, &mut slices, &rows, options.intervals.level);
    keep_asked(&mut slices, options, preds.task);
    Ok(slices)
}

/// Keeps the metrics asked for (`--metrics`) once the slices' tests have
/// read theirs.
fn keep_asked(slices: &mut [Slice], options: &FullOptions, task: crate::data::Task) {
    for s in slices {
        options.metrics.retain(task, s.result.metrics_mut());
    }
}

/// Tests each slice's headline metric against the rest of the rows
/// (`rows[i]` are slice `i`'s) and adjusts the p-values across all of them
/// (Holm and Benjamini–Hochberg, [`crate::multiplicity`]).
///
/// Each test is a two-sample z-test with the variances taken under the null
/// hypothesis that the slice's rows come from the same distribution as
/// everyone's — the pooled test, as for two proportions. (A slice's own
/// variance estimate shrinks exactly when its value is extreme — DeLong's
/// at an AUC near 1 — which made 200 equal slices flag one by chance in
/// most runs; the pooled variance does not.) Per row, from all the rows:
///
/// - binary ROC-AUC: DeLong's structural components `s10`, `s01`, so
///   `Var = s10/m + s01/n` with the side's own positives and negatives;
/// - multiclass accuracy: `p̄(1 − p̄)` with the pooled accuracy;
/// - regression RMSE: the pooled variance of the squared residuals, through
///   the delta method at the pooled MSE (`Var(RMSE) = Var(MSE)/(4·MSE)`).
///
/// With weights, a side's variance scales by `Σw² / (Σw)²` in place of
/// `1/n`. The slice and the rest are disjoint sets of rows, so the variance
/// of the difference is the sum. Slices under the minimum size, and tests
/// that are undefined (one class on a side), are left out of the family
/// with the reason.
pub fn versus_rest(preds: &Predictions, slices: &mut [Slice], rows: &[&[u32]], level: f64) {
    let context = Context::new(preds);
    let tests: Vec<std::result::Result<Sides, String>> = slices
        .par_iter()
        .zip(rows.par_iter())
        .map(|(s, r)| {
            if s.too_small {
                return Err("too few rows for a test against the rest".to_string());
            }
            context.test(preds, r, &s.result)
        })
        .collect();
    let tested: Vec<usize> = (0..slices.len()).filter(|&i| tests[i].is_ok()).collect();
    let mut p = Vec::with_capacity(tested.len());
    let mut parts = Vec::with_capacity(tested.len());
    for &i in &tested {
        if let Ok(sides) = &tests[i] {
            let (metric, [value, rest]) = (sides.metric, sides.values);
            let difference = value - rest;
            let std_error = (sides.variances[0] + sides.variances[1]).sqrt();
            let z = sides.z();
            let p_value = if std_error > 0.0 {
                2.0 * crate::uncertainty::delong::normal_sf(z.abs())
            } else {
                // No variance on either side: equal values are no evidence,
                // different ones are certain.
                if difference == 0.0 { 1.0 } else { 0.0 }
            };
            p.push(p_value);
            parts.push((metric, value, rest, difference, std_error, z, p_value));
        }
    }
    let holm = crate::multiplicity::holm(&p);
    let bh = crate::multiplicity::benjamini_hochberg(&p);
    for (k, &i) in tested.iter().enumerate() {
        let (metric, value, rest, difference, std_error, z, p_value) = parts[k];
        let worse = match crate::metrics::registry::direction(metric) {
            crate::metrics::registry::Direction::Higher => difference < 0.0,
            crate::metrics::registry::Direction::Lower => difference > 0.0,
            crate::metrics::registry::Direction::Neither => false,
        };
        slices[i].versus_rest = Some(Ok(VersusRest {
            metric,
            value,
            rest,
            difference,
            std_error,
            z: if std_error > 0.0 { z } else { 0.0 },
            p_value,
            p_holm: holm[k],
            p_bh: bh[k],
            worse,
            flagged: worse && holm[k] < 1.0 - level,
        }));
    }
    for (s, t) in slices.iter_mut().zip(tests) {
        if let Err(reason) = t {
            s.versus_rest = Some(Err(reason));
        }
    }
}

/// One test's two sides.
struct Sides {
    metric: &'static str,
    /// On the slice, on the rest.
    values: [f64; 2],
    /// Their variances under the null.
    variances: [f64; 2],
    /// Test on the logit scale (ROC-AUC), by the delta method at the pooled
    /// value; each side's value kept this far inside (0, 1).
    logit_at: Option<(f64, [f64; 2])>,
}

impl Sides {
    /// `z` of the slice against the rest.
    fn z(&self) -> f64 {
        let se = (self.variances[0] + self.variances[1]).sqrt();
        match self.logit_at {
            None => (self.values[0] - self.values[1]) / se,
            Some((pooled, margin)) => {
                let g = |v: f64, m: f64| v.clamp(m, 1.0 - m).sqrt().asin();
                (g(self.values[0], margin[0]) - g(self.values[1], margin[1]))
                    * 2.0
                    * (pooled * (1.0 - pooled)).sqrt()
                    / se
            }
        }
    }
}

/// What the tests against the rest share: the one sort of the binary rows,
/// or each row's term (correct or not; squared residual).
enum Context {
    /// ROC-AUC: every row in score order, and the structural components of
    /// all the rows.
    Binary(
        crate::uncertainty::bootstrap::Ranking,
        Result<crate::uncertainty::delong::Structural, String>,
    ),
    /// Accuracy: 1 for a correct row, else 0.
    Multiclass(Vec<f64>),
    /// RMSE: each row's squared residual.
    Regression(Vec<f64>),
    /// Why no slice gets a test.
    None(String),
}

impl Context {
    fn new(preds: &Predictions) -> Context {
        if let Some(c) = &preds.clusters {
            return Context::None(format!(
                "the test against the rest assumes independent rows; rows are clustered by {}",
                c.column
            ));
        }
        match &preds.columns {
            Columns::Binary { labels, scores } => {
                if preds.weights.is_some() {
                    return Context::None(
                        "the test of ROC-AUC against the rest uses DeLong's variance, which is for unweighted rows".to_string(),
                    );
                }
                // One sort: the ranking, whose table is the curve.
                let rk = crate::uncertainty::bootstrap::Ranking::build(labels, scores, None);
                let pooled = crate::uncertainty::delong::structural(&rk.curve());
                Context::Binary(rk, pooled)
            }
            Columns::Multiclass {
                labels,
                scores,
                classes,
            } => Context::Multiclass(crate::with_floats!(scores, s => labels
                .iter()
                .zip(s.chunks(*classes))
                .map(|(&y, row)| (crate::metrics::multiclass::argmax(row) == y as usize) as u8 as f64)
                .collect())),
            Columns::Regression { labels, scores } => Context::Regression(
                (0..labels.len())
                    .map(|i| {
                        let e = labels.get(i) - scores.get(i);
                        e * e
                    })
                    .collect(),
            ),
            Columns::Ranking { .. } => Context::None(
                "the test of a slice against the rest is not built for rankings; compare the slices' query-bootstrap intervals".to_string(),
            ),
        }
    }

    /// The metric on the slice and on the rest, with their variances under
    /// the null.
    fn test(
        &self,
        preds: &Predictions,
        rows: &[u32],
        slice: &FullResult,
    ) -> std::result::Result<Sides, String> {
        let n = preds.rows();
        let mut in_slice = vec![false; n];
        for &r in rows {
            in_slice[r as usize] = true;
        }
        // Accuracy and RMSE themselves come from the point metrics (the
        // slice's full tier, and the rest's rows through the same path):
        // one formula per metric; the per-row terms give only variances.
        let point = |metric: &str| -> std::result::Result<[f64; 2], String> {
            let undefined = |side: &str| format!("{metric} is undefined on the {side}");
            let on_slice = slice
                .metrics()
                .value(metric)
                .ok_or_else(|| undefined("slice"))?;
            let rest_rows: Vec<u32> = (0..n as u32).filter(|&r| !in_slice[r as usize]).collect();
            let rest = preds.gather(&rest_rows);
            let on_rest = match &rest.columns {
                Columns::Multiclass {
                    labels,
                    scores,
                    classes,
                } => crate::full::multiclass::point(
                    labels,
                    scores,
                    *classes,
                    rest.weights.as_ref(),
                    &rest.class_names,
                )
                .metrics
                .value(metric),
                Columns::Regression { labels, scores } => {
                    crate::full::regression::point(labels, scores, rest.weights.as_ref())
                        .metrics
                        .value(metric)
                }
                Columns::Binary { .. } | Columns::Ranking { .. } => None,
            };
            Ok([on_slice, on_rest.ok_or_else(|| undefined("rest"))?])
        };
        match self {
            Context::None(reason) => Err(reason.clone()),
            Context::Binary(rk, pooled) => {
                let pooled = pooled
                    .as_ref()
                    .map_err(|e| format!("on all the rows: {e}"))?;
                let (slice, rest) = split_curves(rk, &in_slice);
                let side = |c: &crate::metrics::curves::BinaryCurve, name: &str| {
                    let auc = c.roc_auc().map_err(|e| format!("on the {name}: {e}"))?;
                    Ok::<_, String>([auc, pooled.s10 / c.positives() + pooled.s01 / c.negatives()])
                };
                let (a, b) = (side(&slice, "slice")?, side(&rest, "rest")?);
                // Half a pair from each bound keeps the logit finite.
                let margin =
                    |c: &crate::metrics::curves::BinaryCurve| 0.5 / (c.positives() * c.negatives());
                Ok(Sides {
                    metric: "roc_auc",
                    values: [a[0], b[0]],
                    variances: [a[1], b[1]],
                    logit_at: Some((pooled.auc, [margin(&slice), margin(&rest)])),
                })
            }
            Context::Multiclass(correct) => {
                let (variances, _) = variances_under_null(correct, preds, &in_slice)?;
                Ok(Sides {
                    metric: "accuracy",
                    values: point("accuracy")?,
                    variances,
                    logit_at: None,
                })
            }
            Context::Regression(squared) => {
                let (variances, pooled_mse) = variances_under_null(squared, preds, &in_slice)?;
                if pooled_mse <= 0.0 {
                    return Err("the MSE is 0: the RMSE's variance is undefined".to_string());
                }
                // RMSE by the delta method at the pooled MSE.
                Ok(Sides {
                    metric: "rmse",
                    values: point("rmse")?,
                    variances: variances.map(|v| v / (4.0 * pooled_mse)),
                    logit_at: None,
                })
            }
        }
    }
}

/// The variances under the null hypothesis of the weighted mean of `term`
/// on the slice's rows and on the rest: the pooled per-row variance
/// `σ² = Σw(t − t̄)² / Σw` of all the rows times `Σw² / (Σw)²` of the side
/// (`σ²/n` unweighted). Also the pooled mean `t̄`.
fn variances_under_null(
    term: &[f64],
    preds: &Predictions,
    in_slice: &[bool],
) -> std::result::Result<([f64; 2], f64), String> {
    let w = |r: usize| preds.weights.as_ref().map_or(1.0, |w| w.get(r));
    // Per side: Σw, Σw·t, Σw².
    let mut sums = [[0.0f64; 3]; 2];
    for (r, &t) in term.iter().enumerate() {
        let side = &mut sums[usize::from(!in_slice[r])];
        side[0] += w(r);
        side[1] += w(r) * t;
        side[2] += w(r) * w(r);
    }
    let total = sums[0][0] + sums[1][0];
    for (side, s) in sums.iter().enumerate() {
        if s[0] <= 0.0 {
            return Err(format!(
                "no weight on the {}",
                if side == 0 { "slice" } else { "rest" }
            ));
        }
    }
    let mean = (sums[0][1] + sums[1][1]) / total;
    let spread = term
        .iter()
        .enumerate()
        .map(|(r, &t)| w(r) * (t - mean) * (t - mean))
        .sum::<f64>()
        / total;
    Ok((sums.map(|s| spread * s[2] / (s[0] * s[0])), mean))
}

/// The ranking tables of the slice's rows and of the rest, read off the
/// ranking of every row.
fn split_curves(
    rk: &crate::uncertainty::bootstrap::Ranking,
    in_slice: &[bool],
) -> (
    crate::metrics::curves::BinaryCurve,
    crate::metrics::curves::BinaryCurve,
) {
    let empty = || crate::metrics::curves::BinaryCurve {
        thresholds: Vec::new(),
        tps: Vec::new(),
        fps: Vec::new(),
        weighted: false,
    };
    let (mut a, mut b) = (empty(), empty());
    let mut counts = [[0.0f64; 2]; 2];
    let mut start = 0usize;
    for (g, &end) in rk.group_end.iter().enumerate() {
        let mut touched = [false; 2];
        for pos in start..end as usize {
            let side = usize::from(!in_slice[rk.rows[pos] as usize]);
            counts[side][usize::from(rk.labels[pos] == 0)] += 1.0;
            touched[side] = true;
        }
        for (side, curve) in [(0, &mut a), (1, &mut b)] {
            if touched[side] {
                curve.thresholds.push(rk.thresholds[g]);
                curve.tps.push(counts[side][0]);
                curve.fps.push(counts[side][1]);
            }
        }
        start = end as usize;
    }
    (a, b)
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
pub fn numeric_column(preds: &Predictions, column: &str) -> bool {
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
    let slices: Vec<(usize, SliceState)> = merged
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
    Ok((overall, order_states(&numeric, slices)))
}

/// Slice states (each with its slicing's index) in the order of a file's
/// slices: by slicing, then by key as [`groups`] orders them (`numeric`:
/// per slicing, whether each key column holds numbers, see
/// [`numeric_column`]).
pub fn order_states(numeric: &[Vec<bool>], slices: Vec<(usize, SliceState)>) -> Vec<SliceState> {
    order_keyed(numeric, slices, |s| &s.key)
}

/// Items of slicings (each with its slicing's index) in the order of a
/// file's slices, as [`order_states`] orders slice states; `key` gives an
/// item's key.
pub fn order_keyed<T>(
    numeric: &[Vec<bool>],
    mut items: Vec<(usize, T)>,
    key: impl Fn(&T) -> &[String],
) -> Vec<T> {
    items.sort_by(|(sa, a), (sb, b)| {
        sa.cmp(sb)
            .then_with(|| key_order(&numeric[*sa], key(a), key(b)))
    });
    items.into_iter().map(|(_, s)| s).collect()
}

/// One slice of a paired state: its key and the merged paired state of its
/// rows (both models' scores on them).
pub struct PairedSliceState {
    /// The key columns.
    pub by: Vec<String>,
    /// The key's value in each column (`null` for a missing value).
    pub key: Vec<String>,
    /// The slice's paired state.
    pub state: crate::state::paired::PairedState,
}

/// `evalkit compare --slice` from paired slice states (ordered by
/// [`order_keyed`]), in parallel, as [`compare_sliced`] runs a file's: each
/// slice's comparison from its paired state
/// ([`crate::compare::compare_states`]: point values and DeLong's paired
/// test equal the rows', intervals drawn from the state), no sweep or bands,
/// point values only under `min_rows` rows; binary slices get the paired
/// ROC-AUC test, adjusted across every slice tested.
pub fn compare_sliced_states(
    slices: &[PairedSliceState],
    options: &FullOptions,
    min_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<ComparedSlice>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = slices.len();
    let compared: Vec<(ComparedSlice, std::result::Result<PairedAuc, String>)> = slices
        .par_iter()
        .map(|s| {
            let header = &s.state.candidate.header;
            let rows = header.rows as usize;
            let too_small = rows < min_rows;
            let opts = slice_options(options, too_small, header.task);
            let mut cmp = crate::compare::compare_states(&s.state, &opts, &|_, _| {})?;
            let test = settle_slice(&mut cmp, too_small, options, header.task);
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            let slice = ComparedSlice {
                by: s.by.clone(),
                key: s.key.clone(),
                rows,
                too_small,
                comparison: cmp,
                versus_baseline: Err(String::new()),
            };
            Ok((slice, test))
        })
        .collect::<Result<_>>()?;
    Ok(with_versus_baseline(compared, options.intervals.level))
}

/// A slice's comparison made final: under the minimum size no intervals
/// (not even DeLong's); only the metrics asked for. Returns its paired
/// ROC-AUC test, or why there is none.
fn settle_slice(
    cmp: &mut crate::compare::Comparison,
    too_small: bool,
    options: &FullOptions,
    task: crate::data::Task,
) -> std::result::Result<PairedAuc, String> {
    let test = if too_small {
        // Not even DeLong's: too few rows for any interval.
        for m in [
            cmp.candidate.metrics_mut(),
            cmp.baseline.metrics_mut(),
            &mut cmp.delta,
        ] {
            m.clear_intervals();
        }
        Err(TOO_FEW_FOR_BASELINE.to_string())
    } else {
        paired_auc(cmp)
    };
    for m in [
        cmp.candidate.metrics_mut(),
        cmp.baseline.metrics_mut(),
        &mut cmp.delta,
    ] {
        options.metrics.retain(task, m);
    }
    test
}

/// The slices with their paired tests adjusted across every slice tested.
fn with_versus_baseline(
    compared: Vec<(ComparedSlice, std::result::Result<PairedAuc, String>)>,
    level: f64,
) -> Vec<ComparedSlice> {
    let (mut slices, tests): (Vec<ComparedSlice>, Vec<_>) = compared.into_iter().unzip();
    for (s, t) in slices.iter_mut().zip(adjust_versus_baseline(tests, level)) {
        s.versus_baseline = t;
    }
    slices
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
            let opts = FullOptions {
                metrics: options.metrics,
                ..slice_options(options, too_small, s.state.header.task)
            };
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
                versus_rest: None,
            })
        })
        .collect()
}
