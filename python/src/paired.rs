//! Paired states from Python (`evalkit::state::paired`): two models' scores
//! on the same rows reduced where the rows live, merged, and finished as
//! a comparison. `evalkit.PairedState`, `evalkit.ray.compare` and
//! `evalkit.spark.compare` call these.

use std::path::Path;

use evalkit::state::paired::PairedState;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{compute, full_options, json, predictions};

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
    let which = |side: &str| {
        format!(
            "{name}, the {side} '{}'",
            if side == "candidate" {
                candidate_name
            } else {
                baseline_name
            }
        )
    };
    let mut c = predictions(
        py,
        &which("candidate"),
        y_true,
        candidate,
        weights,
        task,
        score_kind,
    )?;
    let mut b = predictions(
        py,
        &which("baseline"),
        y_true,
        baseline,
        weights,
        task,
        score_kind,
    )?;
    c.path = candidate_name.into();
    b.path = baseline_name.into();
    let bytes = compute(py, || {
        if c.task != b.task {
            return Err(evalkit::Error::Usage(format!(
                "{name}: the candidate's scores make a {} task and the baseline's a {} task; pass task= to decide it for both",
                c.task, b.task
            )));
        }
        PairedState::from_predictions(&c, &b)?.to_bytes()
    })?;
    Ok(PyBytes::new(py, &bytes))
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(paired_state, m)?)?;
    m.add_function(wrap_pyfunction!(merge_paired, m)?)?;
    m.add_function(wrap_pyfunction!(compare_paired, m)?)?;
    Ok(())
}
