//! Score ranges from Python (`evalkit::state::ranges`): the steps an
//! engine runs where the data lives, and the driver's plan and finish.
//! `evalkit.ray.full(..., ranges=K)` calls these.

use evalkit::state::ranges::{self, Context, Partial, Sketch, Summary};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{compute, full_options, json, predictions, read_state};

fn bytes_of(list: &[Bound<'_, PyBytes>]) -> Vec<Vec<u8>> {
    list.iter().map(|b| b.as_bytes().to_vec()).collect()
}

/// The score sketch of a batch's rows (validated as `state` validates
/// them).
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights, task, score_kind, name="arrays"))]
fn range_sketch<'py>(
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
        let evalkit::data::Columns::Binary { scores, .. } = &preds.columns else {
            return Err(evalkit::Error::Usage(format!(
                "{name}: score ranges are built for binary predictions, not {}; pass ranges=None",
                preds.task
            )));
        };
        let mut s = Sketch::new();
        s.add(scores);
        Ok(s.to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The merge of score sketches.
#[pyfunction]
fn range_sketch_merge<'py>(
    py: Python<'py>,
    sketches: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let all = bytes_of(&sketches);
    let bytes = compute(py, || {
        let mut merged = Sketch::new();
        for (i, b) in all.iter().enumerate() {
            merged.merge(&Sketch::from_bytes(&format!("sketch {i}"), b)?);
        }
        Ok(merged.to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The lower bounds (descending) of about `ranges` score ranges of equal
/// rows, from a merged sketch.
#[pyfunction]
fn range_cuts(py: Python<'_>, sketch: &Bound<'_, PyBytes>, ranges: usize) -> PyResult<Vec<f64>> {
    let b = sketch.as_bytes().to_vec();
    compute(
        py,
        || Ok(Sketch::from_bytes("the sketch", &b)?.cuts(ranges)),
    )
}

/// A batch's states per score range (`None` where a range has no rows).
#[pyfunction]
#[pyo3(signature = (y_true, y_score, weights, task, score_kind, cuts, name="arrays"))]
#[allow(clippy::too_many_arguments)]
fn range_states<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_score: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    cuts: Vec<f64>,
    name: &str,
) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    let states = compute(py, || {
        ranges::split(&preds, &cuts)?
            .into_iter()
            .map(|s| s.map(|s| s.to_bytes()).transpose())
            .collect::<evalkit::Result<Vec<_>>>()
    })?;
    Ok(states
        .into_iter()
        .map(|s| s.map(|b| PyBytes::new(py, &b)))
        .collect())
}

/// A range's summary from its merged state.
#[pyfunction]
#[pyo3(signature = (state, name="a range"))]
fn range_summary<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyBytes>,
    name: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let b = state.as_bytes().to_vec();
    let bytes = compute(py, || Ok(Summary::of(&read_state(name, &b)?)?.to_bytes()))?;
    Ok(PyBytes::new(py, &bytes))
}

fn summaries(all: &[Vec<u8>]) -> evalkit::Result<Vec<Summary>> {
    all.iter()
        .enumerate()
        .map(|(i, b)| Summary::from_bytes(&format!("range {i}'s summary"), b))
        .collect()
}

fn parts(all: &[Vec<u8>]) -> evalkit::Result<Vec<Partial>> {
    all.iter()
        .enumerate()
        .map(|(i, b)| Partial::from_bytes(&format!("range {i}'s part"), b))
        .collect()
}

fn contexts(all: &[Vec<u8>]) -> evalkit::Result<Vec<Context>> {
    all.iter()
        .enumerate()
        .map(|(i, b)| Context::from_bytes(&format!("range {i}'s context"), b))
        .collect()
}

/// Each range's context (summaries highest scores first), for the full
/// tier's options.
#[pyfunction]
#[pyo3(signature = (summaries, bootstrap=0, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", metrics=None))]
#[allow(clippy::too_many_arguments)]
fn range_plan<'py>(
    py: Python<'py>,
    summaries: Vec<Bound<'py, PyBytes>>,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    metrics: Option<&str>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let all = bytes_of(&summaries);
    let out = compute(py, || {
        Ok(ranges::plan(&self::summaries(&all)?, &options)?
            .iter()
            .map(Context::to_bytes)
            .collect::<Vec<_>>())
    })?;
    Ok(out.iter().map(|b| PyBytes::new(py, b)).collect())
}

/// A range's part from its merged state and its context.
#[pyfunction]
#[pyo3(signature = (state, context, name="a range"))]
fn range_partial<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyBytes>,
    context: &Bound<'py, PyBytes>,
    name: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let (s, c) = (state.as_bytes().to_vec(), context.as_bytes().to_vec());
    let bytes = compute(py, || {
        let c = Context::from_bytes(name, &c)?;
        Ok(ranges::partial(&read_state(name, &s)?, &c)?.to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The second round's contexts (DeLong's sums), or `None` when DeLong's
/// interval is undefined.
#[pyfunction]
fn range_delong_contexts<'py>(
    py: Python<'py>,
    contexts: Vec<Bound<'py, PyBytes>>,
    partials: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Option<Vec<Bound<'py, PyBytes>>>> {
    let (c, p) = (bytes_of(&contexts), bytes_of(&partials));
    let out = compute(py, || {
        Ok(ranges::delong_contexts(&self::contexts(&c)?, &parts(&p)?)
            .map(|cs| cs.iter().map(Context::to_bytes).collect::<Vec<_>>()))
    })?;
    Ok(out.map(|cs| cs.iter().map(|b| PyBytes::new(py, b)).collect()))
}

/// The full tier from every range's summary and parts: the CLI's `full
/// --json` document of one state of every row.
#[pyfunction]
#[pyo3(signature = (summaries, partials, delong, name="state", bootstrap=0, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", metrics=None))]
#[allow(clippy::too_many_arguments)]
fn range_finish<'py>(
    py: Python<'py>,
    summaries: Vec<Bound<'py, PyBytes>>,
    partials: Vec<Bound<'py, PyBytes>>,
    delong: Option<Vec<Bound<'py, PyBytes>>>,
    name: &str,
    bootstrap: usize,
    ci: f64,
    method: &str,
    resample: &str,
    seed: u64,
    threshold: f64,
    thresholds: &str,
    metrics: Option<&str>,
) -> PyResult<String> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let (s, p) = (bytes_of(&summaries), bytes_of(&partials));
    let d = delong.map(|d| bytes_of(&d));
    let doc = compute(py, || {
        let d = d.as_deref().map(parts).transpose()?;
        let (header, r) = ranges::finish(
            name,
            &self::summaries(&s)?,
            &parts(&p)?,
            d.as_deref(),
            &options,
        )?;
        Ok(evalkit::json::full(&header, &options, &r))
    })?;
    json(&doc)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(range_sketch, m)?)?;
    m.add_function(wrap_pyfunction!(range_sketch_merge, m)?)?;
    m.add_function(wrap_pyfunction!(range_cuts, m)?)?;
    m.add_function(wrap_pyfunction!(range_states, m)?)?;
    m.add_function(wrap_pyfunction!(range_summary, m)?)?;
    m.add_function(wrap_pyfunction!(range_plan, m)?)?;
    m.add_function(wrap_pyfunction!(range_partial, m)?)?;
    m.add_function(wrap_pyfunction!(range_delong_contexts, m)?)?;
    m.add_function(wrap_pyfunction!(range_finish, m)?)?;
    Ok(())
}
