//! Paired states from Python (`evalkit::state::paired`): two models' scores
//! on the same rows reduced where the rows live, merged, and finished as
//! a comparison. `evalkit.PairedState`, `evalkit.ray.compare` and
//! `evalkit.spark.compare` call these.

use std::path::Path;

use evalkit::state::paired::PairedState;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{
    check_slice_items, compute, full_options, json, owned_items, predictions, push_warnings,
    with_columns,
};

/// The paired state of a batch: `y_true` with the candidate's and the
/// baseline's scores on the same rows (validated as `state` validates
/// them), each model's state named by `candidate_name` / `baseline_name`
/// (the score columns).
#[pyfunction]
#[pyo3(signature = (y_true, candidate, baseline, weights, task, score_kind, candidate_name="candidate", baseline_name="baseline", name="arrays"))]
#[allow(clippy::too_many_arguments)]
fn paired_state<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    candidate: &Bound<'py, PyAny>,
    baseline: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    candidate_name: &str,
    baseline_name: &str,
    name: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let (c, b) = paired_predictions(
        py,
        y_true,
        candidate,
        baseline,
        weights,
        task,
        score_kind,
        candidate_name,
        baseline_name,
        name,
    )?;
    let bytes = compute(py, || {
        check_same_task(&c, &b, name)?;
        PairedState::from_predictions(&c, &b)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The paired state of a batch and of each of its slices (`columns`: the
/// slice key columns' values, `slicings`: each slicing's columns), as
/// [`paired_state`] builds one: `(overall, numeric, [(slicing index, key,
/// paired state)])`, `numeric` saying per slicing whether each key column
/// holds numbers (how keys order), as `slice_states` gives for one model.
#[pyfunction]
#[pyo3(signature = (y_true, candidate, baseline, weights, task, score_kind, columns, slicings, candidate_name="candidate", baseline_name="baseline", name="arrays"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn paired_slice_states<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    candidate: &Bound<'py, PyAny>,
    baseline: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    columns: Vec<(String, Bound<'py, PyAny>)>,
    slicings: Vec<Vec<String>>,
    candidate_name: &str,
    baseline_name: &str,
    name: &str,
) -> PyResult<(
    Bound<'py, PyBytes>,
    Vec<Vec<bool>>,
    Vec<(usize, Vec<String>, Bound<'py, PyBytes>)>,
)> {
    let (mut c, b) = paired_predictions(
        py,
        y_true,
        candidate,
        baseline,
        weights,
        task,
        score_kind,
        candidate_name,
        baseline_name,
        name,
    )?;
    with_columns(py, &mut c, &columns)?;
    let (overall, numeric, items) = compute(py, || {
        check_same_task(&c, &b, name)?;
        let overall = PairedState::from_predictions(&c, &b)?.to_bytes()?;
        let numeric: Vec<Vec<bool>> = slicings
            .iter()
            .map(|by| {
                by.iter()
                    .map(|col| evalkit::slices::numeric_column(&c, col))
                    .collect()
            })
            .collect();
        let mut items = Vec::new();
        for (si, by) in slicings.iter().enumerate() {
            for (key, rows) in evalkit::slices::groups(&c, by)? {
                let state = PairedState::from_predictions(&c.gather(&rows), &b.gather(&rows))?;
                items.push((si, key, state.to_bytes()?));
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

/// Both models' predictions on the same rows, validated as `state`
/// validates one model's, each named by its score column.
#[allow(clippy::too_many_arguments)]
fn paired_predictions(
    py: Python<'_>,
    y_true: &Bound<'_, PyAny>,
    candidate: &Bound<'_, PyAny>,
    baseline: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    task: Option<&str>,
    score_kind: Option<&str>,
    candidate_name: &str,
    baseline_name: &str,
    name: &str,
) -> PyResult<(evalkit::data::Predictions, evalkit::data::Predictions)> {
    let which = |side: &str, column: &str| format!("{name}, the {side} '{column}'");
    let mut c = predictions(
        py,
        &which("candidate", candidate_name),
        y_true,
        candidate,
        weights,
        task,
        score_kind,
    )?;
    let mut b = predictions(
        py,
        &which("baseline", baseline_name),
        y_true,
        baseline,
        weights,
        task,
        score_kind,
    )?;
    c.path = candidate_name.into();
    b.path = baseline_name.into();
    Ok((c, b))
}

/// Both models' scores must make one task.
fn check_same_task(
    c: &evalkit::data::Predictions,
    b: &evalkit::data::Predictions,
    name: &str,
) -> evalkit::Result<()> {
    if c.task != b.task {
        return Err(evalkit::Error::Usage(format!(
            "{name}: the candidate's scores make a {} task and the baseline's a {} task; pass task= to decide it for both",
            c.task, b.task
        )));
    }
    Ok(())
}

/// The merge of paired states, in a balanced tree; errors name the state
/// by its position (`paired state 2`).
#[pyfunction]
fn merge_paired<'py>(
    py: Python<'py>,
    states: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let all: Vec<Vec<u8>> = states.iter().map(|b| b.as_bytes().to_vec()).collect();
    let bytes = compute(py, || {
        let mut level: Vec<PairedState> = all
            .iter()
            .enumerate()
            .map(|(i, b)| PairedState::from_bytes(Path::new(&format!("paired state {i}")), b))
            .collect::<evalkit::Result<_>>()?;
        if level.is_empty() {
            return Err(evalkit::Error::Usage(
                "merge_paired needs at least one paired state".into(),
            ));
        }
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            let mut it = level.into_iter();
            while let Some(mut a) = it.next() {
                if let Some(b) = it.next() {
                    a.merge(b)?;
                }
                next.push(a);
            }
            level = next;
        }
        level.remove(0).to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
}

/// The comparison finished from a paired state, `notes` first among its
/// warnings; returns the `compare --json` document.
#[pyfunction]
#[pyo3(signature = (state, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", name="paired state", metrics=None, notes=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn compare_paired(
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
    notes: Vec<String>,
) -> PyResult<String> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let state = state.as_bytes().to_vec();
    let doc = compute(py, || {
        let p = PairedState::from_bytes(Path::new(name), &state)?;
        let mut r = evalkit::compare::compare_states(&p, &options, &|_, _| {})?;
        // An engine's join notes come first, as `compare --id` puts its own.
        r.warnings.splice(0..0, notes);
        Ok(evalkit::json::compare_of(
            &p.candidate.header,
            &p.baseline.header.path,
            None,
            &options,
            &r,
        ))
    })?;
    json(&doc)
}

/// The comparison finished from a merged paired state with its slices
/// ([`paired_slice_states`], merged per slicing and key): the overall
/// comparison with `slices`, as `evalkit compare --slice` gives them
/// (each slice from its paired state: point values and DeLong's test
/// equal the rows', intervals drawn from the state; the test against the
/// baseline adjusted across slices). Returns the JSON document.
#[pyfunction]
#[pyo3(signature = (state, slicings, numeric, items, bootstrap=1000, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", min_slice=evalkit::slices::DEFAULT_MIN_ROWS, name="paired state", metrics=None, notes=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn compare_paired_slices(
    py: Python<'_>,
    state: &Bound<'_, PyBytes>,
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
    notes: Vec<String>,
) -> PyResult<String> {
    let options = full_options(
        threshold, thresholds, bootstrap, ci, method, resample, seed, metrics,
    )?;
    let state = state.as_bytes().to_vec();
    let items = owned_items(items);
    let doc = compute(py, || {
        use evalkit::slices::PairedSliceState;
        check_slice_items(&slicings, &numeric, &items)?;
        let p = PairedState::from_bytes(Path::new(name), &state)?;
        let mut slices = Vec::with_capacity(items.len());
        for (si, key, b) in &items {
            let by = &slicings[*si];
            let what = format!("slice {}={}", by.join(","), key.join(","));
            slices.push((
                *si,
                PairedSliceState {
                    by: by.clone(),
                    key: key.clone(),
                    state: PairedState::from_bytes(Path::new(&what), b)?,
                },
            ));
        }
        let slices = evalkit::slices::order_keyed(&numeric, slices, |s| &s.key);
        let mut r = evalkit::compare::compare_states(&p, &options, &|_, _| {})?;
        r.warnings.splice(0..0, notes);
        let mut doc = evalkit::json::compare_of(
            &p.candidate.header,
            &p.baseline.header.path,
            None,
            &options,
            &r,
        );
        let sliced =
            evalkit::slices::compare_sliced_states(&slices, &options, min_slice, &|_, _| {})?;
        push_warnings(
            &mut doc,
            evalkit::slices::compared_warnings(&sliced, min_slice),
        );
        evalkit::json::add_compared_slices(
            &mut doc,
            p.candidate.header.weighted,
            min_slice,
            &sliced,
        );
        Ok(doc)
    })?;
    json(&doc)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(paired_slice_states, m)?)?;
    m.add_function(wrap_pyfunction!(compare_paired_slices, m)?)?;
    m.add_function(wrap_pyfunction!(paired_state, m)?)?;
    m.add_function(wrap_pyfunction!(merge_paired, m)?)?;
    m.add_function(wrap_pyfunction!(compare_paired, m)?)?;
    Ok(())
}
