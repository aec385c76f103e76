//! Score ranges from Python (`evalkit::state::ranges`): the steps an
//! engine runs where the data lives, and the driver's plan and finish.
//! `evalkit.ray.full(..., ranges=K)` calls these.

use evalkit::state::ranges::{self, ClassSums, Context, Partial, Sketch, Summary};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{compute, full_options, json, predictions, read_state};

fn bytes_of(list: &[Bound<'_, PyBytes>]) -> Vec<Vec<u8>> {
    list.iter().map(|b| b.as_bytes().to_vec()).collect()
}

/// The score sketches of a batch's rows (validated as `state` validates
/// them): one for binary rows, one per class for multiclass rows.
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
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    let out = compute(py, || {
        Ok(ranges::sketches(&preds)?
            .iter()
            .map(Sketch::to_bytes)
            .collect::<Vec<_>>())
    })?;
    Ok(out.iter().map(|b| PyBytes::new(py, b)).collect())
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

/// A batch's states per score range (`None` where a range has no rows):
/// for binary rows (one list of cuts) a state per range; for multiclass
/// rows (a list of cuts per class) the rows' sums first, then each class's
/// one-vs-rest state per range, class after class.
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
    cuts: Vec<Vec<f64>>,
    name: &str,
) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
    let preds = predictions(py, name, y_true, y_score, weights, task, score_kind)?;
    let states = compute(py, || {
        let bytes =
            |s: Option<evalkit::state::file::StateFile>| s.map(|s| s.to_bytes()).transpose();
        if let evalkit::data::Columns::Multiclass { .. } = preds.columns {
            let (sums, classes) = ranges::split_classes(&preds, &cuts)?;
            let mut out = vec![Some(sums.to_bytes())];
            for s in classes.into_iter().flatten() {
                out.push(bytes(s)?);
            }
            return Ok(out);
        }
        let [one] = &cuts[..] else {
            return Err(evalkit::Error::Usage(format!(
                "{name}: {} lists of cuts for binary rows, which take one: the cuts are of other rows",
                cuts.len()
            )));
        };
        ranges::split(&preds, one)?
            .into_iter()
            .map(bytes)
            .collect::<evalkit::Result<Vec<_>>>()
    })?;
    Ok(states
        .into_iter()
        .map(|s| s.map(|b| PyBytes::new(py, &b)))
        .collect())
}

/// The merge of multiclass range sums ([`ClassSums`]).
#[pyfunction]
fn range_class_sums_merge<'py>(
    py: Python<'py>,
    sums: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let all = bytes_of(&sums);
    let bytes = compute(py, || {
        let mut it = all.iter().enumerate();
        let Some((_, first)) = it.next() else {
            return Err(evalkit::Error::Usage("no sums to merge".into()));
        };
        let mut merged = ClassSums::from_bytes("sums 0", first)?;
        for (i, b) in it {
            merged.merge(ClassSums::from_bytes(&format!("sums {i}"), b)?)?;
        }
        Ok(merged.to_bytes())
    })?;
    Ok(PyBytes::new(py, &bytes))
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

/// One class's ranges: their summaries and their parts.
type ClassRanges<B> = (Vec<B>, Vec<B>);

/// The multiclass full tier from the rows' merged sums and, per class, its
/// ranges' summaries and parts: the CLI's `full --json` document of one
/// state of every row.
#[pyfunction]
#[pyo3(signature = (sums, classes, name="state", bootstrap=0, ci=0.95, method="percentile", resample="poisson", seed=0, threshold=0.5, thresholds="1000", metrics=None))]
#[allow(clippy::too_many_arguments)]
fn range_finish_multiclass<'py>(
    py: Python<'py>,
    sums: &Bound<'py, PyBytes>,
    classes: Vec<ClassRanges<Bound<'py, PyBytes>>>,
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
    let sums = sums.as_bytes().to_vec();
    let classes: Vec<ClassRanges<Vec<u8>>> = classes
        .iter()
        .map(|(s, p)| (bytes_of(s), bytes_of(p)))
        .collect();
    let doc = compute(py, || {
        let classes = classes
            .iter()
            .map(|(s, p)| Ok((summaries(s)?, parts(p)?)))
            .collect::<evalkit::Result<Vec<_>>>()?;
        let (header, r) = ranges::finish_multiclass(
            name,
            &ClassSums::from_bytes("the sums", &sums)?,
            &classes,
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
    m.add_function(wrap_pyfunction!(range_class_sums_merge, m)?)?;
    m.add_function(wrap_pyfunction!(range_finish_multiclass, m)?)?;
    Ok(())
}
