//! `evalkit._evalkit`: the Rust side of the Python package.
//!
//! Arrays arrive through the buffer protocol (numpy, or anything
//! `numpy.asarray` made contiguous on the Python side) and become Arrow
//! arrays *without a copy* when they are C-contiguous and aligned: the Arrow
//! buffer keeps the Python buffer alive. Results leave as the CLI's JSON
//! documents (`evalkit::json`), so Python sees exactly the CLI's numbers and
//! field names. The GIL is released while Rust computes; work runs on a
//! rayon pool that is rebuilt after `fork`, so data-loader workers can call
//! evalkit too.

mod paired;
mod ranges;

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, FixedSizeListArray, PrimitiveArray};
use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use evalkit::data::{Columns, Predictions, ScoreKind, Task};
use evalkit::full::FullOptions;
use evalkit::full::binary::Thresholds;
use evalkit::uncertainty::{CiMethod, IntervalOptions, Resample};
use pyo3::buffer::{Element, PyBuffer};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

create_exception!(
    _evalkit,
    EvalkitError,
    PyException,
    "Base of every evalkit error."
);
create_exception!(
    _evalkit,
    InputError,
    EvalkitError,
    "The data cannot be evaluated as given."
);
create_exception!(
    _evalkit,
    FormatError,
    InputError,
    "A file is not a readable prediction file."
);
create_exception!(
    _evalkit,
    ColumnError,
    InputError,
    "A column is missing or has the wrong type."
);
create_exception!(
    _evalkit,
    BadValueError,
    InputError,
    "A value is invalid (NaN score, label outside the classes, ...)."
);
create_exception!(
    _evalkit,
    UsageError,
    EvalkitError,
    "Options that do not fit together."
);
create_exception!(
    _evalkit,
    EvalkitIOError,
    EvalkitError,
    "A file cannot be read or written."
);

/// The evalkit error as the matching Python exception, with the CLI's
/// message.
fn to_py(e: evalkit::Error) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        evalkit::ErrorKind::Io => EvalkitIOError::new_err(msg),
        evalkit::ErrorKind::Format => FormatError::new_err(msg),
        evalkit::ErrorKind::Column => ColumnError::new_err(msg),
        evalkit::ErrorKind::Value => BadValueError::new_err(msg),
        evalkit::ErrorKind::Usage => UsageError::new_err(msg),
        _ => EvalkitError::new_err(msg),
    }
}

/// The rayon pool of this process; a forked child builds its own (the
/// parent's worker threads do not exist there).
fn pool() -> PyResult<Arc<rayon::ThreadPool>> {
    static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, p)) = guard.as_ref()
        && *owner == pid
    {
        return Ok(p.clone());
    }
    if let Some((_, stale)) = guard.take() {
        // Its threads stayed in the parent; never touch it again.
        std::mem::forget(stale);
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .build()
            .map_err(|e| EvalkitError::new_err(format!("cannot start worker threads: {e}")))?,
    );
    *guard = Some((pid, p.clone()));
    Ok(p)
}

/// Runs `f` without the GIL on the process's pool.
fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> evalkit::Result<T> + Send) -> PyResult<T> {
    let pool = pool()?;
    py.detach(|| pool.install(f)).map_err(to_py)
}

/// Keeps a Python buffer alive as long as Arrow uses its memory.
struct Owner<T: Element>(#[allow(dead_code)] PyBuffer<T>);

impl<T: Element> std::panic::RefUnwindSafe for Owner<T> {}

/// A contiguous numeric buffer as an Arrow primitive array: zero-copy when
/// aligned, else copied.
fn primitive<A: ArrowPrimitiveType>(py: Python<'_>, buf: PyBuffer<A::Native>) -> PyResult<ArrayRef>
where
    A::Native: Element,
{
    let n = buf.item_count();
    let ptr = buf.buf_ptr() as *mut u8;
    let aligned = (ptr as usize).is_multiple_of(std::mem::align_of::<A::Native>());
    let values: ScalarBuffer<A::Native> = if buf.is_c_contiguous() && aligned && n > 0 {
        let len = n * std::mem::size_of::<A::Native>();
        // SAFETY: the buffer is C-contiguous, holds `n` items of this type
        // and stays alive (and unmoved) while `Owner` holds the PyBuffer.
        let b = unsafe {
            Buffer::from_custom_allocation(
                NonNull::new(ptr).ok_or_else(|| InputError::new_err("null buffer"))?,
                len,
                Arc::new(Owner(buf)),
            )
        };
        ScalarBuffer::new(b, 0, n)
    } else {
        ScalarBuffer::from(buf.to_vec(py)?)
    };
    Ok(Arc::new(PrimitiveArray::<A>::new(values, None)))
}

/// The shape of a buffer-protocol object.
fn shape(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let s: Vec<usize> = obj.getattr("shape")?.extract()?;
    Ok(s)
}

/// A 1-D array (labels, weights, binary or regression scores) or a 2-D
/// `rows × k` array (multiclass scores, as a fixed-size list per row).
fn arrow_array(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayRef> {
    macro_rules! try_type {
        ($t:ty) => {
            if let Ok(b) = PyBuffer::<<$t as ArrowPrimitiveType>::Native>::get(obj) {
                return wrap(py, obj, primitive::<$t>(py, b)?, what);
            }
        };
    }
    try_type!(Float64Type);
    try_type!(Float32Type);
    try_type!(Int64Type);
    try_type!(Int32Type);
    try_type!(Int16Type);
    try_type!(Int8Type);
    try_type!(UInt8Type);
    try_type!(UInt16Type);
    try_type!(UInt32Type);
    try_type!(UInt64Type);
    Err(InputError::new_err(format!(
        "{what}: unsupported array type; pass integers, float32 or float64"
    )))
}

/// Reshapes a flat array by the object's shape: 2-D becomes a fixed-size
/// list per row.
fn wrap(_py: Python<'_>, obj: &Bound<'_, PyAny>, flat: ArrayRef, what: &str) -> PyResult<ArrayRef> {
    let s = shape(obj)?;
    match s.as_slice() {
        [_] => Ok(flat),
        [_, k] => {
            let field = Arc::new(Field::new("item", flat.data_type().clone(), false));
            let list = FixedSizeListArray::try_new(field, *k as i32, flat, None)
                .map_err(|e| InputError::new_err(format!("{what}: {e}")))?;
            Ok(Arc::new(list))
        }
        other => Err(InputError::new_err(format!(
            "{what} has {} dimensions; pass a 1-D array (or rows × classes for multiclass scores)",
            other.len()
        ))),
    }
}

fn parse_task(task: Option<&str>) -> PyResult<Option<Task>> {
    task.map(|t| t.parse::<Task>().map_err(to_py)).transpose()
}

fn parse_kind(kind: Option<&str>) -> PyResult<Option<ScoreKind>> {
    kind.map(|t| t.parse::<ScoreKind>().map_err(to_py))
        .transpose()
}

fn predictions(
    py: Python<'_>,
    name: &str,
    labels: &Bound<'_, PyAny>,
    scores: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
) -> PyResult<Predictions> {
    let l = arrow_array(py, labels, "y_true")?;
    let s = arrow_array(py, scores, "y_score")?;
    if matches!(l.data_type(), DataType::FixedSizeList(..)) {
        return Err(InputError::new_err(
            "y_true must be 1-D (one label per row)",
        ));
    }
    let w = weights.map(|w| arrow_array(py, w, "weights")).transpose()?;
    Predictions::from_arrays(
        name,
        l,
        vec![s],
        w,
        parse_task(task)?,
        parse_kind(score_kind)?,
    )
    .map_err(to_py)
}

/// Sets the rows' clusters from a 1-D array of cluster ids (`cluster=`):
/// the bootstrap then resamples whole clusters.
fn with_clusters(
    py: Python<'_>,
    preds: &mut Predictions,
    cluster: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let Some(cluster) = cluster else {
        return Ok(());
    };
    let array = arrow_array(py, cluster, "cluster")?;
    if array.len() != preds.rows() {
        return Err(InputError::new_err(format!(
            "cluster has {} values but there are {} rows: give one cluster id per row",
            array.len(),
            preds.rows()
        )));
    }
    let clusters =
        evalkit::clusters::Clusters::from_array(&preds.path, "cluster", &array).map_err(to_py)?;
    preds.clusters = Some(clusters);
    Ok(())
}

/// A key column from Python (slice keys, row ids): a numeric array
/// through the buffer protocol, or a list of `None`, `bool`, `int`, `float`
/// or `str` values (`None` is a null), as a frame's column arrives.
fn key_array(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayRef> {
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
    let Ok(list) = obj.cast::<PyList>() else {
        let a = arrow_array(py, obj, what)?;
        if matches!(a.data_type(), DataType::FixedSizeList(..)) {
            return Err(InputError::new_err(format!(
                "{what} must be 1-D (one value per row)"
            )));
        }
        return Ok(a);
    };
    let (mut bools, mut ints, mut floats, mut strs) = (false, false, false, false);
    for (row, item) in list.iter().enumerate() {
        if item.is_none() {
        } else if item.is_instance_of::<PyBool>() {
            bools = true;
        } else if item.is_instance_of::<PyInt>() {
            ints = true;
        } else if item.is_instance_of::<PyFloat>() {
            floats = true;
        } else if item.is_instance_of::<PyString>() {
            strs = true;
        } else {
            return Err(InputError::new_err(format!(
                "{what}: row {row} holds a {}; keys must be integers, strings, booleans or floats",
                item.get_type().name()?
            )));
        }
    }
    let kinds = [bools, ints || floats, strs].iter().filter(|&&k| k).count();
    if kinds > 1 {
        return Err(InputError::new_err(format!(
            "{what} mixes {}: keys of one column must be of one kind",
            [
                (bools, "booleans"),
                (ints || floats, "numbers"),
                (strs, "strings")
            ]
            .iter()
            .filter(|(k, _)| *k)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(" and ")
        )));
    }
    let array: ArrayRef = if bools {
        Arc::new(
            list.iter()
                .map(|v| (!v.is_none()).then(|| v.extract::<bool>()).transpose())
                .collect::<PyResult<BooleanArray>>()?,
        )
    } else if floats {
        Arc::new(
            list.iter()
                .map(|v| (!v.is_none()).then(|| v.extract::<f64>()).transpose())
                .collect::<PyResult<Float64Array>>()?,
        )
    } else if ints {
        Arc::new(
            list.iter()
                .enumerate()
                .map(|(row, v)| {
                    (!v.is_none())
                        .then(|| {
                            v.extract::<i64>().map_err(|_| {
                                InputError::new_err(format!(
                                    "{what}: row {row} holds an integer outside the 64-bit range"
                                ))
                            })
                        })
                        .transpose()
                })
                .collect::<PyResult<Int64Array>>()?,
        )
    } else {
        Arc::new(
            list.iter()
                .map(|v| (!v.is_none()).then(|| v.extract::<String>()).transpose())
                .collect::<PyResult<StringArray>>()?,
        )
    };
    Ok(array)
}

/// Adds named key columns (slice keys, row ids) to `preds` as passthrough
/// columns, each checked for one value per row.
fn with_columns(
    py: Python<'_>,
    preds: &mut Predictions,
    columns: &[(String, Bound<'_, PyAny>)],
) -> PyResult<()> {
    for (name, values) in columns {
        let array = key_array(py, values, &format!("column '{name}'"))?;
        if array.len() != preds.rows() {
            return Err(InputError::new_err(format!(
                "column '{name}' has {} values but there are {} rows: give one value per row",
                array.len(),
                preds.rows()
            )));
        }
        preds.extra.retain(|(n, _)| n != name);
        preds.extra.push((name.clone(), array));
    }
    Ok(())
}

/// Appends notes to a JSON document's `warnings` (Python has no stderr
/// for them: the CLI prints these there).
fn push_warnings(doc: &mut serde_json::Value, notes: Vec<String>) {
    if let Some(w) = doc.get_mut("warnings").and_then(|w| w.as_array_mut()) {
        w.extend(notes.into_iter().map(serde_json::Value::from));
    }
}

/// Checks slicings (`slice=`) against the columns there are and the rows'
/// groups, before the work.
fn check_slicings(preds: &Predictions, slices: &[Vec<String>]) -> evalkit::Result<()> {
    for by in slices {
        evalkit::slices::groups(preds, by)?;
    }
    Ok(())
}

fn interval_options(
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
) -> PyResult<IntervalOptions> {
    Ok(IntervalOptions {
        replicates: bootstrap,
        level: ci,
        method: method
            .parse::<CiMethod>()
            .map_err(|e| UsageError::new_err(format!("method={method:?}: {e}")))?,
        resample: resample
            .parse::<Resample>()
            .map_err(|e| UsageError::new_err(format!("resample={resample:?}: {e}")))?,
        seed,
    })
}

/// The full tier's options from the Python keywords.
#[allow(clippy::too_many_arguments)]
fn full_options(
    threshold: f64,
    thresholds: &str,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    metrics: Option<&str>,
) -> PyResult<FullOptions> {
    Ok(FullOptions {
        metrics: match metrics {
            Some(names) => evalkit::metrics::registry::Selection::parse(names).map_err(to_py)?,
            None => evalkit::metrics::registry::Selection::ALL,
        },
        threshold,
        thresholds: thresholds.parse::<Thresholds>().map_err(|e| {
            UsageError::new_err(format!(
                "thresholds={thresholds}: {e} (an int of 2 or more, or \"distinct\")"
            ))
        })?,
        intervals: interval_options(bootstrap, ci, method, resample, seed)?,
        ranking: evalkit::metrics::ranking::RankingOptions::default(),
    })
}

/// The ranking metrics' options from the Python keywords.
fn ranking_options(
    k: &[i64],
    gain: &str,
    empty_queries: &str,
) -> PyResult<evalkit::metrics::ranking::RankingOptions> {
    let ks = k
        .iter()
        .map(|&k| {
            usize::try_from(k).ok().filter(|&k| k >= 1).ok_or_else(|| {
                UsageError::new_err(format!("k={k}: a cutoff counts the top k items, from 1"))
            })
        })
        .collect::<PyResult<Vec<usize>>>()?;
    evalkit::metrics::ranking::RankingOptions::new(
        &ks,
        gain.parse().map_err(to_py)?,
        empty_queries.parse().map_err(to_py)?,
    )
    .map_err(to_py)
}

/// A ranking's predictions: labels, one score and one query id per row.
fn ranking_predictions(
    py: Python<'_>,
    name: &str,
    labels: &Bound<'_, PyAny>,
    scores: &Bound<'_, PyAny>,
    query: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
) -> PyResult<Predictions> {
    if weights.is_some() {
        return Err(UsageError::new_err(
            "weights=: a ranking weighs every query equally; row weights are not used",
        ));
    }
    if let Some(t) = task.filter(|t| *t != "ranking") {
        return Err(UsageError::new_err(format!(
            "query= makes the task ranking, but task={t:?}"
        )));
    }
    let l = arrow_array(py, labels, "y_true")?;
    let s = arrow_array(py, scores, "y_score")?;
    let q = arrow_array(py, query, "query")?;
    if q.len() != l.len() {
        return Err(InputError::new_err(format!(
            "query has {} values but there are {} rows: give one query id per row",
            q.len(),
            l.len()
        )));
    }
    Predictions::ranking_from_arrays(name, l, s, q).map_err(to_py)
}

fn json(v: &serde_json::Value) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| EvalkitError::new_err(e.to_string()))
}

/// The fast tier; returns the CLI's `fast --json` document.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights=None, task=None, score_kind=None, sample=Some(10_000), seed=0, threshold=0.5, name="arrays", query=None))]
#[allow(clippy::too_many_arguments)]
fn fast(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    sample: Option<usize>,
    seed: u64,
    threshold: f64,
    name: &str,
    query: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let preds = match query {
        Some(q) => ranking_predictions(py, name, y_true, y_score, q, weights, task)?,
        None => predictions(py, name, y_true, y_score, weights, task, score_kind)?,
    };
    if !(0.0..=1.0).contains(&threshold) {
        return Err(UsageError::new_err(format!(
            "threshold {threshold} is not a probability in [0, 1]"
        )));
    }
    let options = evalkit::fast::FastOptions {
        sample,
        seed,
        threshold,
        ..evalkit::fast::FastOptions::default()
    };
    let doc = compute(py, || {
        let r = evalkit::fast::fast(&preds, &options);
        Ok(evalkit::json::fast(&preds.header(), &options, &r))
    })?;
    json(&doc)
}

/// `evalkit.ray.fast`'s steps for one block (`evalkit::fast::blocks`):
/// `"counts"` gives `(task, classes, weighted, rows, totals per stratum,
/// weight per stratum as exact parts)` (`cuts`: a regression's label
/// deciles; without them a regression block counts nothing); `"probe"` a
/// regression block's labels at the rows of the whole that set the deciles
/// (`first`: its first row in the whole; `rows`: the whole's rows);
/// `"pick"` the rows it gives the sample (`totals`: the whole's strata;
/// `seen`: each stratum's rows before it).
#[pyfunction]
#[pyo3(signature = (step, y_true, y_score, weights, task, score_kind, name, cuts=None, first=0, rows=0, totals=Vec::new(), seen=Vec::new(), sample=None, seed=0))]
#[allow(clippy::too_many_arguments)]
fn fast_block<'py>(
    py: Python<'py>,
    step: &str,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    name: &str,
    cuts: Option<Vec<f64>>,
    first: u64,
    rows: u64,
    totals: Vec<u64>,
    seen: Vec<u64>,
    sample: Option<usize>,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    use evalkit::fast::blocks;
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    match step {
        "counts" => {
            let counts = compute(py, || blocks::counts(&preds, cuts.as_deref()))?;
            let parts: Vec<Vec<f64>> = counts.weight.iter().map(|w| w.canonical()).collect();
            (
                preds.task.as_str(),
                preds.class_names.len(),
                preds.weights.is_some(),
                preds.rows() as u64,
                counts.totals,
                parts,
            )
                .into_pyobject(py)
                .map(|o| o.into_any())
        }
        "probe" => {
            let step = evalkit::sample::decile_probe_step(rows);
            blocks::probe(&preds, first, step)
                .into_pyobject(py)
                .map(|o| o.into_any())
        }
        "pick" => {
            let options = evalkit::fast::FastOptions {
                sample,
                seed,
                ..evalkit::fast::FastOptions::default()
            };
            compute(py, || {
                blocks::pick(&preds, cuts.as_deref(), &totals, &seen, &options)
            })?
            .into_pyobject(py)
            .map(|o| o.into_any())
        }
        other => Err(UsageError::new_err(format!("no fast step {other:?}"))),
    }
}

/// The nine label-decile cuts from every block's probed labels.
#[pyfunction]
fn fast_decile_cuts(probe: Vec<f64>) -> Vec<f64> {
    evalkit::sample::decile_cuts(probe)
}

/// `evalkit.ray.fast`, the end: the fast tier's JSON from the sampled rows
/// of every block in block order, the whole's rows, strata totals and
/// weights (exact parts, any number per stratum) and cuts.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights, task, score_kind, rows, totals, weight_parts, cuts, sample, seed, threshold, name))]
#[allow(clippy::too_many_arguments)]
fn fast_blocks_finish(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    rows: u64,
    totals: Vec<u64>,
    weight_parts: Vec<Vec<f64>>,
    cuts: Option<Vec<f64>>,
    sample: Option<usize>,
    seed: u64,
    threshold: f64,
    name: &str,
) -> PyResult<String> {
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    if !(0.0..=1.0).contains(&threshold) {
        return Err(UsageError::new_err(format!(
            "threshold {threshold} is not a probability in [0, 1]"
        )));
    }
    let options = evalkit::fast::FastOptions {
        sample,
        seed,
        threshold,
        ..evalkit::fast::FastOptions::default()
    };
    let whole = evalkit::fast::blocks::Counts {
        weight: weight_parts
            .iter()
            .map(|parts| {
                let mut s = evalkit::state::exact::ExactSum::new();
                parts.iter().for_each(|&p| s.add(p));
                s
            })
            .collect(),
        totals,
    };
    let doc = compute(py, || {
        let r = evalkit::fast::blocks::finish(&preds, rows, &whole, cuts.as_deref(), &options)?;
        let mut header = preds.header();
        header.rows = rows;
        Ok(evalkit::json::fast(&header, &options, &r))
    })?;
    json(&doc)
}

/// The full tier; returns the CLI's `full --json` document.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights=None, task=None, score_kind=None, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", name="arrays", cluster=None, operating_points=Vec::new(), certified=true, cost=None, max_fpr=None, tpr_at_fpr=Vec::new(), cost_fp=None, cost_fn=None, query=None, k=vec![1, 5, 10], gain="linear", empty_queries="zero", per_query=false, columns=Vec::new(), slices=Vec::new(), min_slice=evalkit::slices::DEFAULT_MIN_ROWS, metrics=None))]
#[allow(clippy::too_many_arguments)]
fn full(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    name: &str,
    cluster: Option<&Bound<'_, PyAny>>,
    operating_points: Vec<String>,
    certified: bool,
    cost: Option<&str>,
    max_fpr: Option<f64>,
    tpr_at_fpr: Vec<f64>,
    cost_fp: Option<&Bound<'_, PyAny>>,
    cost_fn: Option<&Bound<'_, PyAny>>,
    query: Option<&Bound<'_, PyAny>>,
    k: Vec<i64>,
    gain: &str,
    empty_queries: &str,
    per_query: bool,
    columns: Vec<(String, Bound<'_, PyAny>)>,
    slices: Vec<Vec<String>>,
    min_slice: usize,
    metrics: Option<&str>,
) -> PyResult<String> {
    let low = evalkit::partial::LowFpr {
        max_fpr,
        tpr_at_fpr,
    };
    let mut preds = match query {
        Some(q) => ranking_predictions(py, name, y_true, y_score, q, weights, task)?,
        None => predictions(py, name, y_true, y_score, weights, task, score_kind)?,
    };
    with_clusters(py, &mut preds, cluster)?;
    with_columns(py, &mut preds, &columns)?;
    // Per-row costs ride along as the passthrough columns `cost_fp` and
    // `cost_fn`, which `cost=` names.
    for (column, values) in [("cost_fp", cost_fp), ("cost_fn", cost_fn)] {
        if let Some(values) = values {
            let array = arrow_array(py, values, column)?;
            if array.len() != preds.rows() {
                return Err(InputError::new_err(format!(
                    "{column} has {} values but there are {} rows: give one cost per row",
                    array.len(),
                    preds.rows()
                )));
            }
            preds.extra.push((column.to_string(), array));
        }
    }
    let mut options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    options.ranking = ranking_options(&k, gain, empty_queries)?;
    let specs = operating_points
        .iter()
        .map(|s| s.parse::<evalkit::operating::Spec>())
        .collect::<Result<Vec<_>, String>>()
        .map_err(UsageError::new_err)?;
    let costs = cost
        .map(|c| c.parse::<evalkit::costs::Costs>())
        .transpose()
        .map_err(UsageError::new_err)?;
    let doc = compute(py, || {
        evalkit::operating::check_task(&specs, &preds.header())?;
        if costs.is_some() && preds.task != evalkit::data::Task::Binary {
            return Err(evalkit::Error::Usage(format!(
                "cost= weighs the errors of a binary classifier; these are {} predictions",
                preds.task
            )));
        }
        low.check()?;
        if !low.is_empty() && preds.task != evalkit::data::Task::Binary {
            return Err(evalkit::Error::Usage(format!(
                "max_fpr= and tpr_at_fpr= read a binary classifier's ROC curve; these are {} predictions",
                preds.task
            )));
        }
        check_slicings(&preds, &slices)?;
        let mut r = evalkit::full::full(&preds, &options)?;
        let low_notes = evalkit::partial::attach(&mut r, Some(&preds), &low, &options.intervals);
        let points =
            evalkit::operating::for_result(&r, Some(&preds), &specs, certified, &options.intervals);
        let mut doc = evalkit::json::full(&preds.header(), &options, &r);
        evalkit::json::set_clusters(&mut doc, preds.clusters.as_ref());
        evalkit::json::add_operating_points(&mut doc, &points);
        if let (
            true,
            evalkit::full::FullResult::Ranking(rk),
            evalkit::data::Columns::Ranking { ids, .. },
        ) = (per_query, &r, &preds.columns)
        {
            evalkit::json::add_per_query(&mut doc, &rk.per_query, ids);
        }
        push_warnings(&mut doc, low_notes);
        if let (Some(c), evalkit::full::FullResult::Binary(b)) = (&costs, &r) {
            let analysis = evalkit::costs::analyse(c, &b.curve, Some(&preds), options.threshold)?;
            evalkit::json::add_costs(
                &mut doc,
                &analysis,
                &evalkit::costs::decision_curve(&b.curve),
            );
        }
        if !slices.is_empty() {
            let sliced =
                evalkit::slices::full_sliced(&preds, &slices, &options, min_slice, &|_, _| {})?;
            push_warnings(&mut doc, evalkit::slices::warnings(&sliced, min_slice));
            evalkit::json::add_slices(&mut doc, preds.weights.is_some(), min_slice, &sliced);
        }
        Ok(doc)
    })?;
    json(&doc)
}

/// The mergeable state of arrays: the bytes of an `.evstate` file
/// (`docs/state-format.md`), as `evalkit state` writes it. States of any
/// split of the rows merge ([`merge_states`]) into the state of all of
/// them, bit for bit.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights=None, task=None, score_kind=None, name="arrays"))]
fn state<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    name: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    let bytes = compute(py, || {
        evalkit::state::inputs::from_predictions(&preds)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The states of a batch's rows for slicing (`evalkit full --slice` over
/// shards, one batch of it): the overall state, whether each key column of
/// each slicing holds numbers (how keys order), and one state per slice
/// key of each slicing as `(slicing index, key, bytes)`. Merging every
/// batch's states per (slicing, key) and finishing with
/// [`full_slice_states`] gives the CLI's sliced JSON over shards.
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights, task, score_kind, columns, slicings, name="arrays"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn slice_states<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    columns: Vec<(String, Bound<'py, PyAny>)>,
    slicings: Vec<Vec<String>>,
    name: &str,
) -> PyResult<(
    Bound<'py, PyBytes>,
    Vec<Vec<bool>>,
    Vec<(usize, Vec<String>, Bound<'py, PyBytes>)>,
)> {
    let mut preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    with_columns(py, &mut preds, &columns)?;
    let (overall, numeric, items) = compute(py, || {
        use evalkit::state::inputs::from_predictions;
        check_slicings(&preds, &slicings)?;
        let overall = from_predictions(&preds)?.to_bytes()?;
        let numeric: Vec<Vec<bool>> = slicings
            .iter()
            .map(|by| {
                by.iter()
                    .map(|c| evalkit::slices::numeric_column(&preds, c))
                    .collect()
            })
            .collect();
        let mut items = Vec::new();
        for (si, by) in slicings.iter().enumerate() {
            for (key, rows) in evalkit::slices::groups(&preds, by)? {
                items.push((si, key, from_predictions(&preds.gather(&rows))?.to_bytes()?));
            }
        }
        Ok((overall, numeric, items))
    })?;
    Ok((
        PyBytes::new(py, &overall),
        numeric,
        items
            .into_iter()
            .map(|(si, key, b)| (si, key, PyBytes::new(py, &b)))
            .collect(),
    ))
}

/// The full tier of merged slice states ([`slice_states`], merged per
/// slicing and key): the overall result with its `slices`, as `evalkit full
/// SHARDS --slice ...` gives them (intervals from each state; no test
/// against the rest, which needs rows). Returns the JSON document.
#[pyfunction]
#[pyo3(signature = (overall, slicings, numeric, items, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", min_slice=evalkit::slices::DEFAULT_MIN_ROWS, name="state", metrics=None))]
#[allow(clippy::too_many_arguments)]
fn full_slice_states(
    py: Python<'_>,
    overall: &Bound<'_, PyBytes>,
    slicings: Vec<Vec<String>>,
    numeric: Vec<Vec<bool>>,
    items: Vec<(usize, Vec<String>, Bound<'_, PyBytes>)>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    min_slice: usize,
    name: &str,
    metrics: Option<&str>,
) -> PyResult<String> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let overall = overall.as_bytes().to_vec();
    let items = owned_items(items);
    let doc = compute(py, || {
        evalkit::full::check_options(&options)?;
        check_slice_items(&slicings, &numeric, &items)?;
        let file = read_state(name, &overall)?;
        let mut slices = Vec::with_capacity(items.len());
        for (si, key, b) in &items {
            let by = &slicings[*si];
            slices.push((
                *si,
                evalkit::slices::SliceState {
                    by: by.clone(),
                    key: key.clone(),
                    state: read_state(&format!("slice {}={}", by.join(","), key.join(",")), b)?,
                },
            ));
        }
        let slices = evalkit::slices::order_states(&numeric, slices);
        let r = evalkit::full::full_state(&file, &options, &|_, _| {})?;
        let mut doc = evalkit::json::full(&file.header, &options, &r);
        let sliced = evalkit::slices::full_sliced_states(&slices, &options, min_slice, &|_, _| {})?;
        push_warnings(&mut doc, evalkit::slices::warnings(&sliced, min_slice));
        evalkit::json::add_slices(&mut doc, file.header.weighted, min_slice, &sliced);
        Ok(doc)
    })?;
    json(&doc)
}

/// Slice states as `(slicing index, key, bytes)`, copied out of Python.
type SliceItems = Vec<(usize, Vec<String>, Vec<u8>)>;

fn owned_items(items: Vec<(usize, Vec<String>, Bound<'_, PyBytes>)>) -> SliceItems {
    items
        .into_iter()
        .map(|(si, key, b)| (si, key, b.as_bytes().to_vec()))
        .collect()
}

/// Merged slice states fit their slicings (each item's slicing exists, one
/// `numeric` entry per slicing) and no slicing makes more than
/// [`evalkit::slices::MAX_SLICES`] slices.
fn check_slice_items(
    slicings: &[Vec<String>],
    numeric: &[Vec<bool>],
    items: &SliceItems,
) -> evalkit::Result<()> {
    if numeric.len() != slicings.len() || items.iter().any(|(si, ..)| *si >= slicings.len()) {
        return Err(evalkit::Error::Usage(
            "slice states do not match their slicings".to_string(),
        ));
    }
    for (si, by) in slicings.iter().enumerate() {
        let n = items.iter().filter(|(s, ..)| *s == si).count();
        if n > evalkit::slices::MAX_SLICES {
            return Err(evalkit::Error::Usage(format!(
                "slice={} makes {n} slices, more than {}; slice by fewer or coarser columns",
                by.join(","),
                evalkit::slices::MAX_SLICES
            )));
        }
    }
    Ok(())
}

/// Reads state bytes; `what` names them in errors (`state 3`).
fn read_state(what: &str, bytes: &[u8]) -> evalkit::Result<evalkit::state::file::StateFile> {
    evalkit::state::file::StateFile::from_bytes(std::path::Path::new(what), bytes)
}

/// The merge of states (bytes from [`state`], `evalkit state` or
/// `evalkit merge`), as `evalkit merge` writes it; errors name the state by
/// its position (`state 2`).
#[pyfunction]
fn merge_states<'py>(
    py: Python<'py>,
    states: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let states: Vec<Vec<u8>> = states.iter().map(|b| b.as_bytes().to_vec()).collect();
    let bytes = compute(py, || {
        if states.is_empty() {
            return Err(evalkit::Error::Usage(
                "merge_states needs at least one state".into(),
            ));
        }
        // A balanced merge tree, as `evalkit merge` does.
        let mut tree = evalkit::state::inputs::MergeTree::default();
        for (i, b) in states.iter().enumerate() {
            tree.push(read_state(&format!("state {i}"), b)?)?;
        }
        tree.finish()?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The full tier finished from state bytes; returns the CLI's `full
/// --json` document for that state file.
#[pyfunction]
#[pyo3(signature = (state, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", name="state", metrics=None))]
#[allow(clippy::too_many_arguments)]
fn full_state(
    py: Python<'_>,
    state: &Bound<'_, PyBytes>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    name: &str,
    metrics: Option<&str>,
) -> PyResult<String> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let state = state.as_bytes().to_vec();
    let doc = compute(py, || {
        let file = read_state(name, &state)?;
        let r = evalkit::full::full_state(&file, &options, &|_, _| {})?;
        Ok(evalkit::json::full(&file.header, &options, &r))
    })?;
    json(&doc)
}

/// One model of a comparison from Python: `("file", path, label, score,
/// weight, columns, cluster)` reads a prediction file (with the passthrough
/// `columns` and the `cluster` column), `("arrays", name, y_true, y_score,
/// weights, columns)` takes arrays with named key columns (row ids, slice
/// keys).
fn model_side(
    py: Python<'_>,
    side: &Bound<'_, PyAny>,
    task: Option<&str>,
    score_kind: Option<&str>,
) -> PyResult<Predictions> {
    let t: Vec<Bound<'_, PyAny>> = side.extract()?;
    let kind: String = t
        .first()
        .ok_or_else(|| UsageError::new_err("an empty model description"))?
        .extract()?;
    match (kind.as_str(), t.len()) {
        ("file", 7) => {
            let path: std::path::PathBuf = t[1].extract()?;
            let options = evalkit::data::ReadOptions {
                label: t[2].extract()?,
                score: t[3].extract()?,
                weight: t[4].extract()?,
                task: parse_task(task)?,
                score_kind: parse_kind(score_kind)?,
                extra: t[5].extract()?,
                cluster: t[6].extract()?,
                query: None,
            };
            compute(py, || evalkit::data::read_predictions(&path, &options))
        }
        ("arrays", 6 | 7) => {
            let name: String = t[1].extract()?;
            let w = (!t[4].is_none()).then(|| t[4].clone());
            // A seventh item: the query ids of a ranking's rows.
            let mut preds = match t.get(6).filter(|q| !q.is_none()) {
                Some(q) => ranking_predictions(py, &name, &t[2], &t[3], q, w.as_ref(), task)?,
                None => predictions(py, &name, &t[2], &t[3], w.as_ref(), task, score_kind)?,
            };
            let columns: Vec<(String, Bound<'_, PyAny>)> = t[5].extract()?;
            with_columns(py, &mut preds, &columns)?;
            Ok(preds)
        }
        _ => Err(UsageError::new_err(format!(
            "a model is (\"file\", path, label, score, weight, columns, cluster) or (\"arrays\", name, y_true, y_score, weights, columns[, query]), not {kind:?} with {} items",
            t.len()
        ))),
    }
}

/// Candidate vs baseline; returns the CLI's `compare --json` document. Rows
/// are matched by the `id` column both models have, else by position (the
/// labels must then agree row by row), as `evalkit compare [--id COL]`;
/// `slices` (key columns of the candidate) add per-slice paired differences.
#[pyfunction]
#[pyo3(signature = (candidate, baseline, id=None, task=None, score_kind=None, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", cluster=None, slices=Vec::new(), min_slice=evalkit::slices::DEFAULT_MIN_ROWS, metrics=None))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    candidate: &Bound<'_, PyAny>,
    baseline: &Bound<'_, PyAny>,
    id: Option<String>,
    task: Option<&str>,
    score_kind: Option<&str>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    cluster: Option<&Bound<'_, PyAny>>,
    slices: Vec<Vec<String>>,
    min_slice: usize,
    metrics: Option<&str>,
) -> PyResult<String> {
    let mut c = model_side(py, candidate, task, score_kind)?;
    with_clusters(py, &mut c, cluster)?;
    let b = model_side(py, baseline, task, score_kind)?;
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let doc = compute(py, || {
        evalkit::full::check_options(&options)?;
        check_slicings(&c, &slices)?;
        let (aligned, notes) = evalkit::compare::align(&c, &b, id.as_deref())?;
        let join = match &id {
            Some(col) => evalkit::compare::Join::Id(col.clone()),
            None => evalkit::compare::Join::Position,
        };
        let mut r = evalkit::compare::compare(&c, &aligned, join, &options, &|_, _| {})?;
        r.warnings.splice(0..0, notes);
        let mut doc = evalkit::json::compare(&c, &aligned, &options, &r);
        if !slices.is_empty() {
            let sliced = evalkit::slices::compare_sliced(
                &c,
                &aligned,
                &slices,
                &options,
                min_slice,
                &|_, _| {},
            )?;
            push_warnings(
                &mut doc,
                evalkit::slices::compared_warnings(&sliced, min_slice),
            );
            evalkit::json::add_compared_slices(&mut doc, c.weights.is_some(), min_slice, &sliced);
        }
        Ok(doc)
    })?;
    json(&doc)
}

/// Rows needed to detect an effect (`evalkit power`); returns its JSON
/// document.
#[pyfunction]
#[pyo3(signature = (metric, value, effect, prevalence=0.5, power=0.8, alpha=0.05, paired=None))]
fn power(
    metric: &str,
    value: f64,
    effect: f64,
    prevalence: f64,
    power: f64,
    alpha: f64,
    paired: Option<f64>,
) -> PyResult<String> {
    let metric = evalkit::power::metric(metric).map_err(to_py)?;
    let options = evalkit::power::PowerOptions {
        metric,
        value,
        effect,
        prevalence,
        power,
        alpha,
        paired,
    };
    let r = evalkit::power::rows_needed(&options).map_err(to_py)?;
    json(&evalkit::json::power(&options, &r))
}

/// The `evalkit` command line, as the binary runs it (`argv` with the
/// program's name first); returns the exit status. The package's `evalkit`
/// console script calls it, so the wheel holds one build of the Rust code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| evalkit::cli::main(argv).code())
}

/// The inference pass (`evalkit infer`); returns its JSON document.
#[pyfunction]
#[pyo3(signature = (model, data, output, label=None, features=None, keep=Vec::new(), filter=None, fill_null=None, batch_size=4096, device="cpu", threads=0, output_name=None, score_kind="probability", task=None, classes=None, cache_dir=None, no_cache=false))]
#[allow(clippy::too_many_arguments)]
fn infer(
    py: Python<'_>,
    model: std::path::PathBuf,
    data: std::path::PathBuf,
    output: std::path::PathBuf,
    label: Option<String>,
    features: Option<Vec<String>>,
    keep: Vec<String>,
    filter: Option<String>,
    fill_null: Option<f64>,
    batch_size: usize,
    device: &str,
    threads: usize,
    output_name: Option<String>,
    score_kind: &str,
    task: Option<&str>,
    classes: Option<Vec<String>>,
    cache_dir: Option<std::path::PathBuf>,
    no_cache: bool,
) -> PyResult<String> {
    let options = infer_options(
        &model,
        &data,
        &output,
        evalkit::infer::dataset::DatasetSpec {
            label,
            features,
            keep,
            filter,
            fill_null,
        },
        (batch_size, device, threads),
        (output_name, score_kind, task, classes),
        (cache_dir, no_cache),
    )?;
    let doc = py
        .detach(|| {
            evalkit::infer::infer(&options, &|_, _| {}).map(|r| evalkit::json::infer(&options, &r))
        })
        .map_err(to_py)?;
    json(&doc)
}

/// `evalkit infer`'s options from the Python arguments, grouped as
/// (batch size, device, threads), (output name, score kind, task, classes)
/// and (cache folder, no cache).
#[allow(clippy::type_complexity)]
fn infer_options(
    model: &std::path::Path,
    data: &std::path::Path,
    output: &std::path::Path,
    dataset: evalkit::infer::dataset::DatasetSpec,
    (batch_size, device, threads): (usize, &str, usize),
    (output_name, score_kind, task, classes): (
        Option<String>,
        &str,
        Option<&str>,
        Option<Vec<String>>,
    ),
    (cache_dir, no_cache): (Option<std::path::PathBuf>, bool),
) -> PyResult<evalkit::infer::InferOptions> {
    let usage = |e: String| to_py(evalkit::Error::Usage(e));
    Ok(evalkit::infer::InferOptions {
        dataset,
        batch_size,
        device: device.parse().map_err(usage)?,
        threads,
        output_name,
        score_kind: score_kind.parse().map_err(to_py)?,
        task: task.map(str::parse).transpose().map_err(to_py)?,
        classes,
        cache_dir,
        no_cache,
        ..evalkit::infer::InferOptions::new(model, data, output)
    })
}

/// One ONNX model loaded for blocks of rows (an engine worker's share of
/// `evalkit.ray.infer`): `score(name, block, output)` writes the block's
/// prediction file as `evalkit infer` writes one (cached by content), and
/// returns `(rows, key, cache, metadata JSON, state bytes or None, notes)`;
/// the state is that of the prediction file (`evalkit state` of it), made
/// when the block has labels and the task has states.
#[pyclass(module = "evalkit._evalkit")]
struct BlockScorer {
    inner: Mutex<evalkit::infer::BlockScorer>,
}

#[pymethods]
impl BlockScorer {
    #[new]
    #[pyo3(signature = (model, label=None, features=None, keep=Vec::new(), fill_null=None, batch_size=4096, device="cpu", threads=1, output_name=None, score_kind="probability", task=None, classes=None, cache_dir=None, no_cache=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: std::path::PathBuf,
        label: Option<String>,
        features: Option<Vec<String>>,
        keep: Vec<String>,
        fill_null: Option<f64>,
        batch_size: usize,
        device: &str,
        threads: usize,
        output_name: Option<String>,
        score_kind: &str,
        task: Option<&str>,
        classes: Option<Vec<String>>,
        cache_dir: Option<std::path::PathBuf>,
        no_cache: bool,
    ) -> PyResult<Self> {
        let none = std::path::Path::new("");
        let options = infer_options(
            &model,
            none,
            none,
            evalkit::infer::dataset::DatasetSpec {
                label,
                features,
                keep,
                filter: None,
                fill_null,
            },
            (batch_size, device, threads),
            (output_name, score_kind, task, classes),
            (cache_dir, no_cache),
        )?;
        let inner = py
            .detach(|| evalkit::infer::BlockScorer::new(options))
            .map_err(to_py)?;
        Ok(BlockScorer {
            inner: Mutex::new(inner),
        })
    }

    #[allow(clippy::type_complexity)]
    fn score<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        block: PyBuffer<u8>,
        output: std::path::PathBuf,
    ) -> PyResult<(
        usize,
        String,
        String,
        String,
        Option<Bound<'py, PyBytes>>,
        Vec<String>,
    )> {
        let bytes = block.to_vec(py)?;
        let (report, state) = py
            .detach(|| -> evalkit::Result<_> {
                let mut scorer = self.inner.lock().map_err(|_| {
                    evalkit::Error::Usage("the model failed on an earlier block".into())
                })?;
                let report = scorer.score(name, &bytes, &output)?;
                let meta = |k: &str| report.metadata.get(k).map(String::as_str);
                let task = meta("evalkit.task").and_then(|t| t.parse::<Task>().ok());
                let labelled = meta("evalkit.labels") != Some("none");
                let state = match task {
                    Some(t) if labelled && t != Task::Ranking => {
                        let options = evalkit::data::ReadOptions {
                            task: Some(t),
                            ..Default::default()
                        };
                        Some(evalkit::state::inputs::read_one(&output, &options)?.to_bytes()?)
                    }
                    _ => None,
                };
                Ok((report, state))
            })
            .map_err(to_py)?;
        let rows = report
            .metadata_json("evalkit.data")
            .and_then(|d| d.get("rows").and_then(|r| r.as_u64()))
            .unwrap_or(0) as usize;
        let metadata = serde_json::to_string(&report.metadata)
            .map_err(|e| EvalkitError::new_err(e.to_string()))?;
        Ok((
            rows,
            report.key,
            report.cache.as_str().to_string(),
            metadata,
            state.map(|b| PyBytes::new(py, &b)),
            report.notes,
        ))
    }
}

/// A suite (`evalkit run`); returns its JSON document with the notes
/// (`notes`) and the exit status it would have (`exit_status`: 0 all
/// passed, 1 a gate failed).
#[pyfunction]
#[pyo3(signature = (path, cache_dir=None, report=None))]
fn run_suite(
    py: Python<'_>,
    path: std::path::PathBuf,
    cache_dir: Option<std::path::PathBuf>,
    report: Option<std::path::PathBuf>,
) -> PyResult<String> {
    let doc = py
        .detach(|| -> evalkit::Result<serde_json::Value> {
            let suite = evalkit::suite::load(&path)?;
            let (result, notes) =
                evalkit::suite::run(&suite, cache_dir.as_deref(), report.as_deref())?;
            let mut v = serde_json::to_value(&result)
                .map_err(|e| evalkit::Error::Usage(format!("cannot write JSON: {e}")))?;
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("notes".into(), serde_json::json!(notes));
                m.insert(
                    "exit_status".into(),
                    serde_json::json!(if result.passed { 0 } else { 1 }),
                );
            }
            Ok(v)
        })
        .map_err(to_py)?;
    json(&doc)
}

/// A serving profile (`evalkit profile`); returns its JSON document, and
/// writes its HTML page to `report` when given.
#[pyfunction]
#[pyo3(signature = (models, data, label=None, features=None, ignore=Vec::new(), filter=None, fill_null=None, batch_sizes=vec![1, 8, 64], concurrency=None, concurrency_batch=1, duration=1.0, max_requests=100_000, warmup=10, threads=1, device="cpu", output=None, ci=0.95, latencies=false, bootstrap=1000, report=None))]
#[allow(clippy::too_many_arguments)]
fn profile(
    py: Python<'_>,
    models: Vec<std::path::PathBuf>,
    data: std::path::PathBuf,
    label: Option<String>,
    features: Option<Vec<String>>,
    ignore: Vec<String>,
    filter: Option<String>,
    fill_null: Option<f64>,
    batch_sizes: Vec<usize>,
    concurrency: Option<Vec<usize>>,
    concurrency_batch: usize,
    duration: f64,
    max_requests: usize,
    warmup: usize,
    threads: usize,
    device: &str,
    output: Option<String>,
    ci: f64,
    latencies: bool,
    bootstrap: usize,
    report: Option<std::path::PathBuf>,
) -> PyResult<String> {
    let mut o = evalkit::profile::ProfileOptions::new(models, &data);
    o.dataset = evalkit::infer::dataset::DatasetSpec {
        label: label.clone(),
        features,
        keep: ignore,
        filter,
        fill_null,
    };
    o.batch_sizes = batch_sizes;
    if let Some(c) = concurrency {
        o.concurrency = c;
    }
    o.concurrency_batch = concurrency_batch;
    o.duration = duration;
    o.max_requests = max_requests;
    o.warmup = warmup;
    o.threads = threads;
    o.device = device
        .parse()
        .map_err(|e: String| to_py(evalkit::Error::Usage(e)))?;
    o.output_name = output;
    o.level = ci;
    o.keep_latencies = latencies;
    let doc = py
        .detach(|| -> evalkit::Result<serde_json::Value> {
            o.check()?;
            if let Some(p) = &report {
                evalkit::output_file::check(p)?;
            }
            let mut p = evalkit::profile::profile(&o, &|_| {})?;
            if o.models.len() > 1 && label.is_some() {
                let mut full = evalkit::full::FullOptions::default();
                full.intervals.replicates = bootstrap;
                full.intervals.level = ci;
                p.quality = Some(evalkit::profile::quality::quality(&o, None, false, &full)?);
            }
            if let Some(path) = &report {
                evalkit::report::write(path, &evalkit::report::serving::page(&p, None))?;
            }
            Ok(evalkit::json::profile(&p))
        })
        .map_err(to_py)?;
    json(&doc)
}

/// Little-endian bytes of f64 values.
fn f64_bytes<'py>(py: Python<'py>, v: impl Iterator<Item = f64>) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = v.flat_map(f64::to_le_bytes).collect();
    PyBytes::new(py, &bytes)
}

/// Reads a prediction file: a dict with the task, class names, metadata,
/// and the columns as little-endian bytes (labels int64, or float64 for
/// regression; scores float64, `rows × classes` for multiclass).
#[pyfunction]
#[pyo3(signature = (path, label="label", score=None, weight=None, task=None, score_kind=None, query=None))]
#[allow(clippy::too_many_arguments)]
fn read_predictions<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    label: &str,
    score: Option<Vec<String>>,
    weight: Option<String>,
    task: Option<&str>,
    score_kind: Option<&str>,
    query: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let options = evalkit::data::ReadOptions {
        label: label.to_string(),
        score: score.unwrap_or_else(|| vec!["score".to_string()]),
        weight,
        task: parse_task(task)?,
        score_kind: parse_kind(score_kind)?,
        extra: Vec::new(),
        cluster: None,
        query,
    };
    let preds = compute(py, || evalkit::data::read_predictions(&path, &options))?;
    let d = PyDict::new(py);
    d.set_item("task", preds.task.to_string())?;
    d.set_item("classes", preds.class_names.clone())?;
    d.set_item("rows", preds.rows())?;
    d.set_item(
        "metadata",
        preds.metadata.clone().into_iter().collect::<Vec<_>>(),
    )?;
    let n = preds.rows();
    match &preds.columns {
        Columns::Binary { labels, scores } => {
            let l: Vec<u8> = labels
                .iter()
                .flat_map(|&v| (v as i64).to_le_bytes())
                .collect();
            d.set_item("labels", PyBytes::new(py, &l))?;
            d.set_item("label_dtype", "int64")?;
            d.set_item("scores", f64_bytes(py, (0..n).map(|i| scores.get(i))))?;
            d.set_item("classes_in_scores", 1)?;
        }
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => {
            let l: Vec<u8> = labels
                .iter()
                .flat_map(|&v| (v as i64).to_le_bytes())
                .collect();
            d.set_item("labels", PyBytes::new(py, &l))?;
            d.set_item("label_dtype", "int64")?;
            d.set_item(
                "scores",
                f64_bytes(py, (0..n * classes).map(|i| scores.get(i))),
            )?;
            d.set_item("classes_in_scores", *classes)?;
        }
        Columns::Regression { labels, scores } => {
            d.set_item("labels", f64_bytes(py, (0..n).map(|i| labels.get(i))))?;
            d.set_item("label_dtype", "float64")?;
            d.set_item("scores", f64_bytes(py, (0..n).map(|i| scores.get(i))))?;
            d.set_item("classes_in_scores", 1)?;
        }
        Columns::Ranking {
            labels,
            scores,
            ids,
            ..
        } => {
            d.set_item("labels", f64_bytes(py, (0..n).map(|i| labels.get(i))))?;
            d.set_item("label_dtype", "float64")?;
            d.set_item("scores", f64_bytes(py, (0..n).map(|i| scores.get(i))))?;
            d.set_item("classes_in_scores", 1)?;
            // Each row's query id, as the file holds it (integers or text).
            let rows: Vec<u32> = (0..n as u32).collect();
            let q = PyList::empty(py);
            for v in evalkit::json::query_ids(ids, &rows) {
                match v {
                    serde_json::Value::Number(x) if x.is_i64() => q.append(x.as_i64())?,
                    serde_json::Value::String(s) => q.append(s)?,
                    other => q.append(other.to_string())?,
                }
            }
            d.set_item("query", q)?;
        }
    }
    if let Some(w) = &preds.weights {
        d.set_item("weights", f64_bytes(py, (0..n).map(|i| w.get(i))))?;
    }
    Ok(d)
}

/// Writes the HTML report for candidates given as states: `(name, bytes)`
/// each, as `evalkit report a.evstate b.evstate` draws them (no baseline,
/// ids, slices or clusters: they need rows). Returns the report's model as
/// JSON.
#[pyfunction]
#[pyo3(signature = (candidates, path, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", title=None, operating_points=Vec::new(), certified=true, cost=None, max_fpr=None, tpr_at_fpr=Vec::new(), metrics=None))]
#[allow(clippy::too_many_arguments)]
fn report_states(
    py: Python<'_>,
    candidates: Vec<(String, Bound<'_, PyBytes>)>,
    path: std::path::PathBuf,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    title: Option<String>,
    operating_points: Vec<String>,
    certified: bool,
    cost: Option<String>,
    max_fpr: Option<f64>,
    tpr_at_fpr: Vec<f64>,
    metrics: Option<&str>,
) -> PyResult<String> {
    let names: Vec<String> = candidates.iter().map(|(n, _)| n.clone()).collect();
    let bytes: Vec<Vec<u8>> = candidates
        .iter()
        .map(|(_, b)| b.as_bytes().to_vec())
        .collect();
    let options = evalkit::report::ReportOptions {
        full: full_options(
            threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
        )?,
        names: names.clone(),
        title,
        ..decision_options(operating_points, certified, cost, max_fpr, tpr_at_fpr)?
    };
    let doc = compute(py, || {
        evalkit::full::check_options(&options.full)?;
        options.low_fpr.check()?;
        let mut states = Vec::new();
        for (name, b) in names.iter().zip(&bytes) {
            let mut file = read_state(name, b)?;
            file.header.path = std::path::PathBuf::from(name);
            check_decisions(&options, &file.header)?;
            states.push(file);
        }
        let r = evalkit::report::build_from_states(&states, &options, &|_, _| {})?;
        evalkit::report::write(&path, &evalkit::report::html::render(&r))?;
        serde_json::to_value(&r).map_err(|e| evalkit::Error::Usage(e.to_string()))
    })?;
    json(&doc)
}

/// A report's operating points, costs and low-FPR statistics from the
/// Python keywords (the rest of the options at their defaults).
fn decision_options(
    operating_points: Vec<String>,
    certified: bool,
    cost: Option<String>,
    max_fpr: Option<f64>,
    tpr_at_fpr: Vec<f64>,
) -> PyResult<evalkit::report::ReportOptions> {
    Ok(evalkit::report::ReportOptions {
        operating_points: operating_points
            .iter()
            .map(|s| s.parse::<evalkit::operating::Spec>())
            .collect::<Result<Vec<_>, String>>()
            .map_err(UsageError::new_err)?,
        certified,
        cost: cost
            .map(|c| c.parse::<evalkit::costs::Costs>())
            .transpose()
            .map_err(UsageError::new_err)?,
        low_fpr: evalkit::partial::LowFpr {
            max_fpr,
            tpr_at_fpr,
        },
        ..evalkit::report::ReportOptions::default()
    })
}

/// The checks `evalkit report` makes of a candidate's operating points,
/// costs and low-FPR statistics against its task.
fn check_decisions(
    options: &evalkit::report::ReportOptions,
    h: &evalkit::data::Header,
) -> evalkit::Result<()> {
    evalkit::operating::check_task(&options.operating_points, h)?;
    let binary = h.task == evalkit::data::Task::Binary;
    if !binary && (!options.low_fpr.is_empty() || options.cost.is_some()) {
        return Err(evalkit::Error::Usage(format!(
            "{}= reads a binary classifier, but {} is a {} task",
            if options.cost.is_some() {
                "cost"
            } else {
                "max_fpr/tpr_at_fpr"
            },
            h.path.display(),
            h.task
        )));
    }
    Ok(())
}

/// Writes the HTML report for candidates given as files or arrays. Each
/// candidate (and the baseline) is `(name, model, task, score_kind)` with
/// `model` as [`model_side`] takes it; the options are the CLI's `report`
/// options. Returns the report's model as JSON.
#[pyfunction]
#[pyo3(signature = (candidates, path, baseline=None, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", title=None, id=None, slices=Vec::new(), min_slice=evalkit::slices::DEFAULT_MIN_ROWS, cluster=None, operating_points=Vec::new(), certified=true, cost=None, max_fpr=None, tpr_at_fpr=Vec::new(), metrics=None))]
#[allow(clippy::too_many_arguments)]
fn report(
    py: Python<'_>,
    candidates: Vec<Bound<'_, PyAny>>,
    path: std::path::PathBuf,
    baseline: Option<Bound<'_, PyAny>>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    title: Option<String>,
    id: Option<String>,
    slices: Vec<Vec<String>>,
    min_slice: usize,
    cluster: Option<Vec<Bound<'_, PyAny>>>,
    operating_points: Vec<String>,
    certified: bool,
    cost: Option<String>,
    max_fpr: Option<f64>,
    tpr_at_fpr: Vec<f64>,
    metrics: Option<&str>,
) -> PyResult<String> {
    let load = |item: &Bound<'_, PyAny>| -> PyResult<(String, Predictions)> {
        let t: Vec<Bound<'_, PyAny>> = item.extract()?;
        if t.len() != 4 {
            return Err(UsageError::new_err(format!(
                "a report entry is (name, model, task, score_kind), not {} items",
                t.len()
            )));
        }
        let name: String = t[0].extract()?;
        let task: Option<String> = t[2].extract()?;
        let kind: Option<String> = t[3].extract()?;
        let preds = model_side(py, &t[1], task.as_deref(), kind.as_deref())?;
        Ok((name, preds))
    };
    let mut names = Vec::new();
    let mut preds = Vec::new();
    for c in &candidates {
        let (n, p) = load(c)?;
        names.push(n);
        preds.push(p);
    }
    // Cluster ids of array candidates, one entry per candidate (None for
    // files, which name their cluster column).
    for (p, g) in preds.iter_mut().zip(cluster.iter().flatten()) {
        with_clusters(py, p, (!g.is_none()).then_some(g))?;
    }
    let base = baseline.as_ref().map(load).transpose()?;
    let options = evalkit::report::ReportOptions {
        full: full_options(
            threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
        )?,
        names,
        title,
        id,
        slices,
        min_slice,
        ..decision_options(operating_points, certified, cost, max_fpr, tpr_at_fpr)?
    };
    let doc = compute(py, || {
        evalkit::full::check_options(&options.full)?;
        options.low_fpr.check()?;
        for p in &preds {
            check_decisions(&options, &p.header())?;
            check_slicings(p, &options.slices)?;
        }
        let mut r =
            evalkit::report::build(&preds, base.as_ref().map(|b| &b.1), &options, &|_, _| {})?;
        if let (Some(b), Some((name, _))) = (&mut r.baseline, &base) {
            b.name = name.clone();
        }
        evalkit::report::write(&path, &evalkit::report::html::render(&r))?;
        serde_json::to_value(&r).map_err(|e| evalkit::Error::Usage(e.to_string()))
    })?;
    json(&doc)
}

/// The address of the scores' memory as evalkit holds it (tests check that
/// a float32/float64 numpy array is used in place, not copied).
#[pyfunction]
fn _scores_address(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    y_score: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    let preds = predictions(py, "arrays", y_true, y_score, None, None, None)?;
    let scores = match &preds.columns {
        Columns::Binary { scores, .. }
        | Columns::Multiclass { scores, .. }
        | Columns::Regression { scores, .. }
        | Columns::Ranking { scores, .. } => scores,
    };
    Ok(match scores {
        evalkit::data::Floats::F32(v) => v.as_ptr() as usize,
        evalkit::data::Floats::F64(v) => v.as_ptr() as usize,
    })
}

#[pymodule]
fn _evalkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // ONNX Runtime is looked for first in this interpreter's environment,
    // where `pip install evalkit[infer]` put it (activated or not).
    let prefix: std::path::PathBuf = py.import("sys")?.getattr("prefix")?.extract()?;
    evalkit::infer::runtime::set_python_prefix(prefix);
    m.add("__version__", evalkit::VERSION)?;
    m.add("EvalkitError", py.get_type::<EvalkitError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("ColumnError", py.get_type::<ColumnError>())?;
    m.add("BadValueError", py.get_type::<BadValueError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("EvalkitIOError", py.get_type::<EvalkitIOError>())?;
    m.add_function(wrap_pyfunction!(fast, m)?)?;
    m.add_function(wrap_pyfunction!(fast_block, m)?)?;
    m.add_function(wrap_pyfunction!(fast_decile_cuts, m)?)?;
    m.add_function(wrap_pyfunction!(fast_blocks_finish, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(power, m)?)?;
    m.add_function(wrap_pyfunction!(profile, m)?)?;
    m.add_function(wrap_pyfunction!(infer, m)?)?;
    m.add_function(wrap_pyfunction!(run_suite, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(read_predictions, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(report_states, m)?)?;
    m.add_function(wrap_pyfunction!(slice_states, m)?)?;
    m.add_function(wrap_pyfunction!(full_slice_states, m)?)?;
    m.add_function(wrap_pyfunction!(state, m)?)?;
    m.add_function(wrap_pyfunction!(merge_states, m)?)?;
    m.add_function(wrap_pyfunction!(full_state, m)?)?;
    m.add_function(wrap_pyfunction!(_scores_address, m)?)?;
    m.add_class::<BlockScorer>()?;
    ranges::register(m)?;
    paired::register(m)?;
    Ok(())
}
