//! Paired comparison of a candidate against a baseline on the same rows
//! (docs/spec.md §4, `evalkit compare`).
//!
//! Rows are matched by an id column when one is given, else by position
//! after checking that the labels agree row by row. Both models then go
//! through the full tier with the *same* bootstrap resamples — weights are
//! keyed by (seed, replicate, row) with rows numbered in the candidate's
//! order — so each replicate gives a paired difference, and the interval of
//! a metric's difference is read off those differences (percentile or BCa,
//! as for single metrics). ROC-AUC also gets DeLong's paired test (z and
//! two-sided p-value) from both models' placement values.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;

use crate::clusters::Clusters;
use crate::data::{Columns, Floats, Predictions};
use crate::error::{Error, Result};
use crate::full::binary::{self, BinaryFull, BinaryOptions};
use crate::full::{FullOptions, FullResult, multiclass, regression};
use crate::metrics::{Metric, MetricSet};
use crate::state::file::TaskState;
use crate::state::paired::{NoJoint, PairedState};
use crate::uncertainty::bootstrap::{self, METRICS, Replicates};
use crate::uncertainty::delong::{self, PairedDeLong};
use crate::uncertainty::from_state;
use crate::uncertainty::intervals::{self, normal_quantile};
use crate::uncertainty::tasks;
use crate::uncertainty::{self as unc, CiMethod};

/// How rows were matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// By the value of an id column.
    Id(String),
    /// By position.
    Position,
    /// A ranking: query by query, by the value of the query column.
    Query(String),
}

/// A candidate compared with a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// How rows were matched.
    pub join: Join,
    /// Rows compared.
    pub rows: usize,
    /// The candidate's full tier (with its intervals from the shared
    /// resamples).
    pub candidate: FullResult,
    /// The baseline's full tier (on the candidate's rows).
    pub baseline: FullResult,
    /// `candidate − baseline` for every metric, with paired intervals.
    pub delta: MetricSet,
    /// DeLong's paired test of the ROC-AUC difference, or why it is
    /// undefined (clustered rows: see `obuchowski`).
    pub delong: std::result::Result<PairedDeLong, String>,
    /// With clusters: Obuchowski's clustered paired test of the ROC-AUC
    /// difference, or why it is undefined; `None` without clusters.
    pub obuchowski: Option<std::result::Result<PairedDeLong, String>>,
    /// Multiclass: each class's F1, candidate − baseline, with the paired
    /// percentile interval of the differences (with the bootstrap); empty
    /// for the other tasks.
    pub class_f1_delta: Vec<Metric>,
    /// Notes (rows left out, intervals withheld).
    pub warnings: Vec<String>,
}

/// Matches the baseline's rows to the candidate's: by `id` when given,
/// else by position. Returns the baseline in the candidate's row order and
/// notes. Errors name the file and the first row that does not match.
pub fn align(
    candidate: &Predictions,
    baseline: &Predictions,
    id: Option<&str>,
) -> Result<(Predictions, Vec<String>)> {
    if candidate.task != baseline.task {
        return Err(Error::usage(format!(
            "{} is a {} task but {} is a {} task: compare predictions for the same problem",
            candidate.path.display(),
            candidate.task,
            baseline.path.display(),
            baseline.task
        )));
    }
    if let (Columns::Multiclass { classes: a, .. }, Columns::Multiclass { classes: b, .. }) =
        (&candidate.columns, &baseline.columns)
        && a != b
    {
        return Err(Error::usage(format!(
            "{} scores {a} classes but {} scores {b}: compare models of the same classes",
            candidate.path.display(),
            baseline.path.display()
        )));
    }
    if candidate.task == crate::data::Task::Ranking {
        // Rankings pair whole queries ([`compare`]), not rows.
        if let Some(id) = id {
            return Err(Error::usage(format!(
                "--id {id}: rankings are compared query by query, through their query columns; drop --id"
            )));
        }
        return Ok((baseline.clone(), Vec::new()));
    }
    let mut notes = Vec::new();
    let aligned = match id {
        None => {
            if candidate.rows() != baseline.rows() {
                return Err(Error::usage(format!(
                    "{} has {} rows but {} has {}: pass --id COL to match rows by an id column",
                    candidate.path.display(),
                    candidate.rows(),
                    baseline.path.display(),
                    baseline.rows()
                )));
            }
            baseline.clone()
        }
        Some(col) => {
            let rows = match_ids(candidate, baseline, col)?;
            let left_out = baseline.rows() - rows.len();
            if left_out > 0 {
                notes.push(format!(
                    "{left_out} rows of the baseline have ids the candidate lacks; they are left out"
                ));
            }
            baseline.gather(&rows)
        }
    };
    check_same_labels(candidate, &aligned, id)?;
    if candidate.weights.is_some() != aligned.weights.is_some() {
        let (with, without) = if candidate.weights.is_some() {
            (candidate, &aligned)
        } else {
            (&aligned, candidate)
        };
        return Err(Error::usage(format!(
            "{} has sample weights (column '{}') but {} has none: both files must weight rows alike",
            with.path.display(),
            with.weight_column.as_deref().unwrap_or("weight"),
            without.path.display()
        )));
    }
    // Weights agree up to f32 precision (one file may store them as f32).
    let differ = |a: f64, b: f64| (a - b).abs() > 1e-6 * a.abs().max(b.abs());
    if let (Some(wc), Some(wb)) = (&candidate.weights, &aligned.weights)
        && let Some(r) = (0..wc.len()).find(|&r| differ(wc.get(r), wb.get(r)))
    {
        return Err(Error::bad_value(
            &aligned.path,
            aligned.weight_column.as_deref().unwrap_or("weight"),
            r,
            format!(
                "weight {} differs from the candidate's {} on the same row: both files must weight rows alike",
                wb.get(r),
                wc.get(r)
            ),
        ));
    }
    Ok((aligned, notes))
}

/// Id keys of a column: integers (any width, signed or not) or strings.
enum Keys {
    Int(Vec<i128>),
    Str(Vec<String>),
}

fn keys(p: &Predictions, col: &str) -> Result<Keys> {
    let array: &ArrayRef = p.extra(col).ok_or_else(|| {
        Error::bad_column(
            &p.path,
            col,
            "no such id column; pass --id with a column both files have",
        )
    })?;
    if array.null_count() > 0 {
        let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
        return Err(Error::bad_value(
            &p.path,
            col,
            row,
            "the id is missing (null)",
        ));
    }
    if let Some(ints) = crate::data::int_values(array) {
        return Ok(Keys::Int(ints));
    }
    Ok(match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let a = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| {
                Error::bad_column(&p.path, col, format!("cannot be read as ids: {e}"))
            })?;
            Keys::Str(
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or("").to_string())
                    .collect(),
            )
        }
        other => {
            return Err(Error::bad_column(
                &p.path,
                col,
                format!("has type {other}; ids must be integers or strings"),
            ));
        }
    })
}

/// For each candidate row, the baseline row with the same id.
fn match_ids(candidate: &Predictions, baseline: &Predictions, col: &str) -> Result<Vec<u32>> {
    fn index<K: std::hash::Hash + Eq + Clone + std::fmt::Display>(
        path: &Path,
        col: &str,
        keys: &[K],
    ) -> Result<HashMap<K, u32>> {
        let mut map = HashMap::with_capacity(keys.len());
        for (r, k) in keys.iter().enumerate() {
            if map.insert(k.clone(), r as u32).is_some() {
                return Err(Error::bad_value(
                    path,
                    col,
                    r,
                    format!("id {k} appears twice; ids must be unique"),
                ));
            }
        }
        Ok(map)
    }
    fn lookup<K: std::hash::Hash + Eq + Clone + std::fmt::Display>(
        cand: &Predictions,
        base: &Predictions,
        col: &str,
        ck: &[K],
        bk: &[K],
    ) -> Result<Vec<u32>> {
        let map = index(&base.path, col, bk)?;
        index(&cand.path, col, ck)?;
        ck.iter()
            .enumerate()
            .map(|(r, k)| {
                map.get(k).copied().ok_or_else(|| {
                    Error::bad_value(
                        &cand.path,
                        col,
                        r,
                        format!("id {k} is not in the baseline {}", base.path.display()),
                    )
                })
            })
            .collect()
    }
    match (keys(candidate, col)?, keys(baseline, col)?) {
        (Keys::Int(c), Keys::Int(b)) => lookup(candidate, baseline, col, &c, &b),
        (Keys::Str(c), Keys::Str(b)) => lookup(candidate, baseline, col, &c, &b),
        _ => Err(Error::usage(format!(
            "column '{col}' holds integers in one file and strings in the other; ids must have the same type"
        ))),
    }
}

fn check_same_labels(
    candidate: &Predictions,
    baseline: &Predictions,
    id: Option<&str>,
) -> Result<()> {
    let mismatch = match (&candidate.columns, &baseline.columns) {
        (Columns::Binary { labels: a, .. }, Columns::Binary { labels: b, .. }) => a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .map(|r| (r, a[r].to_string(), b[r].to_string())),
        (Columns::Multiclass { labels: a, .. }, Columns::Multiclass { labels: b, .. }) => a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .map(|r| (r, a[r].to_string(), b[r].to_string())),
        (Columns::Regression { labels: a, .. }, Columns::Regression { labels: b, .. }) => (0..a
            .len())
            .find(|&r| a.get(r) != b.get(r))
            .map(|r| (r, a.get(r).to_string(), b.get(r).to_string())),
        _ => None,
    };
    match mismatch {
        None => Ok(()),
        Some((r, a, b)) => Err(Error::bad_value(
            &baseline.path,
            "label",
            r,
            format!(
                "label {b} differs from the candidate's {a} on the same row: {}",
                if id.is_some() {
                    "the files disagree on the ground truth"
                } else {
                    "the files are not in the same row order; pass --id COL to match rows by an id"
                }
            ),
        )),
    }
}

/// Compares `candidate` with `baseline` (already aligned, see [`align`]):
/// the metrics of `options.metrics` (`--metrics`), or every metric.
pub fn compare(
    candidate: &Predictions,
    baseline: &Predictions,
    join: Join,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Comparison> {
    options.metrics.check(candidate.task)?;
    let mut c = compare_all(candidate, baseline, join, options, progress)?;
    finish_selection(&mut c, candidate.task, options);
    Ok(c)
}

fn compare_all(
    candidate: &Predictions,
    baseline: &Predictions,
    join: Join,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Comparison> {
    crate::full::check_resampling(candidate, options)?;
    let iv = &options.intervals;
    let weights = candidate.weights.as_ref();
    let clusters = candidate.clusters.as_ref();
    // One cluster only: no bootstrap, and the note says why.
    let few = clusters.and_then(unc::too_few_clusters);
    let bootstrap = iv.replicates > 0 && few.is_none();
    let half = |done: usize, total: usize| progress(done, 2 * total);
    let offset = |done: usize, total: usize| progress(total + done, 2 * total);
    match (&candidate.columns, &baseline.columns) {
        (Columns::Binary { labels, scores: sc }, Columns::Binary { scores: sb, .. }) => Ok(
            compare_binary(labels, sc, sb, weights, clusters, join, options, progress),
        ),
        (
            Columns::Multiclass {
                labels,
                scores: sc,
                classes,
            },
            Columns::Multiclass { scores: sb, .. },
        ) => {
            let k = *classes;
            let names = &candidate.class_names;
            let point = |s| FullResult::Multiclass(multiclass::point(labels, s, k, weights, names));
            let reps = |s, p: &(dyn Fn(usize, usize) + Sync)| {
                let need = crate::uncertainty::bootstrap::Need::multiclass(&options.metrics);
                multiclass::replicates(labels, s, k, weights, iv, clusters, need, p)
            };
            Ok(paired(
                (point(sc), point(sb)),
                &tasks::multiclass_metric_names(k),
                bootstrap,
                || (reps(sc, &half), reps(sb, &offset)),
                iv,
                join,
                candidate.rows(),
                clusters,
            ))
        }
        (Columns::Regression { labels, scores: sc }, Columns::Regression { scores: sb, .. }) => {
            let point = |s| FullResult::Regression(regression::point(labels, s, weights));
            let reps = |s, p: &(dyn Fn(usize, usize) + Sync)| {
                regression::replicates(labels, s, weights, iv, clusters, p)
            };
            Ok(paired(
                (point(sc), point(sb)),
                &tasks::REGRESSION_METRICS,
                bootstrap,
                || (reps(sc, &half), reps(sb, &offset)),
                iv,
                join,
                candidate.rows(),
                clusters,
            ))
        }
        (
            Columns::Ranking {
                labels,
                scores,
                queries,
                ids,
            },
            Columns::Ranking {
                labels: lb,
                scores: sb,
                queries: qb,
                ids: ib,
            },
        ) => {
            let _ = join;
            use crate::full::ranking;
            let ro = &options.ranking;
            ranking::check_gain(labels, ro)?;
            ranking::check_gain(lb, ro)?;
            let cand = ranking::per_query(labels, scores, queries, ro);
            let base = ranking::per_query(lb, sb, qb, ro);
            let name =
                |ids: &ArrayRef, row: u32| crate::json::query_ids(ids, &[row])[0].to_string();
            let r = ranking::compare(
                cand,
                base,
                [&|row| name(ids, row), &|row| name(ib, row)],
                ro,
                iv,
                progress,
            )?;
            let mut warnings = r.candidate.notes.clone();
            warnings.extend(r.notes);
            Ok(Comparison {
                join: Join::Query(queries.column.clone()),
                rows: candidate.rows(),
                candidate: FullResult::Ranking(Box::new(r.candidate)),
                baseline: FullResult::Ranking(Box::new(r.baseline)),
                delta: r.delta,
                delong: Err("DeLong's test is for ROC-AUC (binary)".to_string()),
                obuchowski: None,
                class_f1_delta: Vec::new(),
                warnings,
            })
        }
        _ => Err(Error::usage(format!(
            "{} is a {} task but {} is a {} task: compare predictions for the same problem",
            candidate.path.display(),
            candidate.task,
            baseline.path.display(),
            baseline.task
        ))),
    }
}

/// `candidate − baseline` of every metric in `names`: undefined when either
/// side is.
fn point_deltas(cand: &MetricSet, base: &MetricSet, names: &[&str]) -> MetricSet {
    let mut delta = MetricSet::new();
    for name in names {
        let (Some(a), Some(b)) = (cand.get(name), base.get(name)) else {
            continue;
        };
        let d = match (a.value, b.value) {
            (Some(a), Some(b)) => Metric::point(a - b),
            _ => Metric::undefined(format!(
                "{name} is undefined for the candidate or the baseline"
            )),
        };
        delta.insert(name, d);
    }
    delta
}

/// Replicate-by-replicate differences.
/// The comparison of two unsorted-pass tasks (multiclass, regression):
/// point values, then (when `bootstrap`) each side's intervals and the
/// paired intervals of the differences from the same resamples.
#[allow(clippy::too_many_arguments)]
fn paired(
    (mut cand, mut base): (FullResult, FullResult),
    names: &[&str],
    bootstrap: bool,
    replicates: impl FnOnce() -> (Replicates, Replicates),
    iv: &unc::IntervalOptions,
    join: Join,
    rows: usize,
    clusters: Option<&Clusters>,
) -> Comparison {
    let mut delta = point_deltas(cand.metrics(), base.metrics(), names);
    let mut class_f1_delta = class_f1_deltas(&cand, &base);
    let mut warnings = Vec::new();
    if let Some(reason) = clusters
        .and_then(unc::too_few_clusters)
        .filter(|_| iv.replicates > 0)
    {
        warnings.push(reason);
    }
    if bootstrap {
        warnings.extend(unc::replicate_notes(iv));
        warnings.extend(clusters.map(unc::cluster_note));
        let (rc, rb) = replicates();
        for (result, reps) in [(&mut cand, &rc), (&mut base, &rb)] {
            if let FullResult::Multiclass(m) = result {
                multiclass::class_intervals(m, reps, iv.level);
            }
        }
        let none = |_: &str| None;
        for (side, result, reps) in [("candidate", &mut cand, &rc), ("baseline", &mut base, &rb)] {
            let notes = unc::attach(result.metrics_mut(), reps, &none, iv);
            warnings.extend(notes.into_iter().map(|w| format!("{side} {w}")));
        }
        let difference = rc.difference(&rb);
        let notes = unc::attach(&mut delta, &difference, &none, iv);
        warnings.extend(notes.into_iter().map(|w| format!("delta {w}")));
        for (d, values) in class_f1_delta.iter_mut().zip(&difference.per_class_f1) {
            if d.value.is_some()
                && let Some(ci) = unc::percentile_interval(values, iv.level)
            {
                d.ci = Some(ci);
                d.method = "bootstrap-percentile".to_string();
            }
        }
    }
    Comparison {
        join,
        rows,
        candidate: cand,
        baseline: base,
        delta,
        delong: Err("DeLong's test compares binary ROC-AUCs".to_string()),
        obuchowski: None,
        class_f1_delta,
        warnings,
    }
}

/// Each class's F1, candidate − baseline (multiclass; empty otherwise):
/// undefined where either side's is.
fn class_f1_deltas(cand: &FullResult, base: &FullResult) -> Vec<Metric> {
    let (FullResult::Multiclass(a), FullResult::Multiclass(b)) = (cand, base) else {
        return Vec::new();
    };
    a.per_class
        .iter()
        .zip(&b.per_class)
        .map(|(x, y)| match (x.f1, y.f1) {
            (Some(p), Some(q)) => Metric::point(p - q),
            _ => Metric::undefined("F1 is undefined for the candidate or the baseline"),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn compare_binary(
    labels: &[u8],
    sc: &Floats,
    sb: &Floats,
    weights: Option<&Floats>,
    clusters: Option<&Clusters>,
    join: Join,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Comparison {
    let iv = &options.intervals;
    let bopts = BinaryOptions {
        threshold: options.threshold,
        sweep: options.thresholds,
        intervals: *iv,
        keep_replicates: true,
        clusters,
        need: crate::uncertainty::bootstrap::Need::binary(&options.metrics),
    };
    let half = |done: usize, total: usize| progress(done, 2 * total);
    let cand = binary::full(labels, sc, weights, &bopts, &half);
    let offset = |done: usize, total: usize| progress(total + done, 2 * total);
    let base = binary::full(labels, sb, weights, &bopts, &offset);

    // Paired DeLong test (Obuchowski's with clusters).
    let cluster_index = clusters.map(|c| c.index(|_| true));
    let paired_test = match (
        &cand.ranking,
        &base.ranking,
        cand.metrics.value("roc_auc"),
        base.metrics.value("roc_auc"),
    ) {
        (Some(rc), Some(rb), Some(ac), Some(ab)) if weights.is_none() => {
            let va = delong::placements(&cand.curve, labels, &rc.group_of_row());
            let vb = delong::placements(&base.curve, labels, &rb.group_of_row());
            match &cluster_index {
                None => delong::paired(labels, &va, &vb, ac, ab),
                Some((of_row, count)) => {
                    delong::obuchowski_paired(labels, &va, &vb, ac, ab, of_row, *count)
                }
            }
        }
        (_, _, Some(_), Some(_)) if weights.is_some() => Err(
            "DeLong's test is for unweighted rows; use the bootstrap interval of the difference"
                .to_string(),
        ),
        _ => Err("ROC-AUC is undefined for these rows (one class)".to_string()),
    };
    let (delong, obuchowski) = match clusters {
        None => (paired_test, None),
        Some(c) => (
            Err(format!(
                "rows are clustered by {}: DeLong's test assumes independent rows; Obuchowski's clustered test is used instead",
                c.describe()
            )),
            Some(paired_test),
        ),
    };
    let test = obuchowski.as_ref().unwrap_or(&delong);

    let mut delta = point_deltas(&cand.metrics, &base.metrics, &METRICS);
    let mut warnings = Vec::new();
    match (&cand.replicates, &base.replicates) {
        (Some(rc), Some(rb)) => {
            let differences = rc.difference(rb);
            let auc_acceleration = match (iv.method, &cand.ranking, &base.ranking) {
                (CiMethod::Bca, Some(rkc), Some(rkb)) if weights.is_none() => {
                    match (cand.metrics.value("roc_auc"), base.metrics.value("roc_auc")) {
                        (Some(ac), Some(ab)) => {
                            let ic = bootstrap::auc_influence(rkc, &cand.curve, ac);
                            let ib = bootstrap::auc_influence(rkb, &base.curve, ab);
                            let diff = ic.iter().zip(&ib).map(|(x, y)| x - y);
                            Some(match &cluster_index {
                                None => intervals::acceleration(diff),
                                // A cluster's influence is its rows'.
                                Some((of_row, count)) => {
                                    let mut per = vec![0.0; *count];
                                    for (u, &c) in diff.zip(of_row) {
                                        per[c as usize] += u;
                                    }
                                    intervals::acceleration(per.into_iter())
                                }
                            })
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            warnings.extend(
                unc::attach(
                    &mut delta,
                    &differences,
                    &|name| {
                        if name == "roc_auc" {
                            auc_acceleration
                        } else {
                            None
                        }
                    },
                    iv,
                )
                .into_iter()
                .map(|w| format!("delta {w}")),
            );
        }
        // No bootstrap: DeLong's (Obuchowski's) paired interval for the
        // AUC difference.
        _ => delong_interval(&mut delta, test, iv, obuchowski.is_some()),
    }
    // Notes on the number of replicates hold for both models: said once.
    let mut global = unc::replicate_notes(iv);
    if iv.replicates > 0 {
        global.extend(clusters.map(unc::cluster_note));
    }
    let own = |w: &&String| !global.contains(w);
    warnings.splice(0..0, global.iter().cloned());
    warnings.extend(
        cand.interval_notes
            .iter()
            .filter(own)
            .map(|w| format!("candidate {w}")),
    );
    warnings.extend(
        base.interval_notes
            .iter()
            .filter(own)
            .map(|w| format!("baseline {w}")),
    );
    Comparison {
        join,
        rows: labels.len(),
        candidate: FullResult::Binary(Box::new(strip(cand))),
        baseline: FullResult::Binary(Box::new(strip(base))),
        delta,
        delong,
        obuchowski,
        class_f1_delta: Vec::new(),
        warnings,
    }
}

/// Compares the two models of a paired state ([`PairedState`]: two score
/// columns of the same rows, reduced where they live and merged): each
/// model's full tier from its own state, bit for bit as from the rows, the
/// point differences, and — binary — DeLong's paired test from the joint
/// histogram, equal to the rows' (its sums are exact). With the bootstrap
/// (binary; unweighted rows or whole-number weights, Poisson, percentile
/// intervals, as from one state) both models read the same draws of the
/// joint histogram ([`from_state::paired_binary_replicates`]), so the
/// differences are paired; the draws are per pair of scores, not per row,
/// so intervals equal those of the same state on one machine with the same
/// seed, not the rows' (as for `full` from a state).
pub fn compare_states(
    p: &PairedState,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Comparison> {
    crate::full::check_options(options)?;
    let header = &p.candidate.header;
    let pair_groups = p.check().map_err(|m| Error::bad_format(&header.path, m))?;
    options.metrics.check(header.task)?;
    let iv = &options.intervals;
    let name = header.path.display();
    let refuse = |why: &str| {
        Err(Error::usage(format!(
            "{name}: {why}; pass bootstrap=0 for point metrics and DeLong's paired test, or compare the rows on one machine"
        )))
    };
    let everything_zero = header.weighted && p.candidate.state.rows() == 0;
    let bootstrap = iv.replicates > 0 && !everything_zero;
    let (TaskState::Binary(sc), TaskState::Binary(sb)) = (&p.candidate.state, &p.baseline.state)
    else {
        if bootstrap {
            return refuse(&format!(
                "bootstrap intervals from a {} state are not built",
                header.task
            ));
        }
        let point = FullOptions {
            intervals: unc::IntervalOptions {
                replicates: 0,
                ..*iv
            },
            ..*options
        };
        let cand = crate::full::full_state(&p.candidate, &point, progress)?;
        let base = crate::full::full_state(&p.baseline, &point, progress)?;
        let names: Vec<&str> = match header.task {
            crate::data::Task::Multiclass => {
                tasks::multiclass_metric_names(header.class_names.len())
            }
            _ => tasks::REGRESSION_METRICS.to_vec(),
        };
        let mut c = paired(
            (cand, base),
            &names,
            false,
            no_replicates,
            iv,
            Join::Position,
            header.rows as usize,
            None,
        );
        finish_selection(&mut c, header.task, options);
        return Ok(c);
    };
    // The joint histogram's pairs with each pair's group on either side
    // (none without counts to pair).
    let joint = p.joint.as_ref().ok().zip(pair_groups.as_ref());
    if bootstrap {
        if joint.is_none() {
            let why = p.joint.as_ref().err().copied().unwrap_or(NoJoint::Weights);
            return refuse(&format!(
                "the paired bootstrap draws counts per pair of scores, and {}",
                why.reason()
            ));
        }
        if iv.resample != crate::uncertainty::Resample::Poisson {
            return refuse(&format!(
                "the bootstrap from a state draws Poisson counts; resample={} needs the rows",
                iv.resample.as_str()
            ));
        }
        if iv.method == CiMethod::Bca {
            return refuse("BCa needs the rows' jackknife; from a state use method=percentile");
        }
    }
    let bopts = options.of_state();
    let mut cand = binary::from_state(sc, &bopts);
    let mut base = binary::from_state(sb, &bopts);
    let weighted = header.weighted;
    let mut delta = point_deltas(&cand.metrics, &base.metrics, &METRICS);
    let mut warnings = unc::replicate_notes(iv);
    if let (true, Some((joint, of_pair))) = (bootstrap, joint) {
        let scores = |s: &crate::state::binary::BinaryState| -> Vec<f64> {
            s.histogram().groups().map(|g| g.0).collect()
        };
        let (rc, rb) = from_state::paired_binary_replicates(
            joint.groups(),
            of_pair,
            &scores(sc),
            &scores(sb),
            iv.replicates,
            iv.seed,
            options.threshold,
            binary::band_grid(options.thresholds),
            progress,
        );
        binary::attach_replicates(&mut cand, &rc, None, iv);
        binary::attach_replicates(&mut base, &rb, None, iv);
        if weighted {
            warnings.push(crate::full::FREQUENCY_WEIGHTS.to_string());
        }
        let notes = unc::attach(&mut delta, &rc.difference(&rb), &|_| None, iv);
        warnings.extend(notes.into_iter().map(|w| format!("delta {w}")));
    }
    binary::proportion_intervals(&mut cand, weighted, iv);
    binary::proportion_intervals(&mut base, weighted, iv);
    let test = match (
        cand.metrics.value("roc_auc"),
        base.metrics.value("roc_auc"),
        joint,
    ) {
        (Some(_), Some(_), _) if weighted => Err(
            "DeLong's test is for unweighted rows; use the bootstrap interval of the difference"
                .to_string(),
        ),
        (Some(ac), Some(ab), Some((joint, [ga, gb]))) => {
            // Each pair's placements on either side (its group's, from the
            // ranking tables: one point per distinct score).
            let (v10a, v01a) = delong::placement_tables(&cand.curve);
            let (v10b, v01b) = delong::placement_tables(&base.curve);
            let rows = joint.groups().iter().zip(ga.iter().zip(gb)).flat_map(
                |(&(_, _, pos, neg), (&a, &b))| {
                    let (a, b) = (a as usize, b as usize);
                    [
                        (true, v10a[a], v10b[b], pos),
                        (false, v01a[a], v01b[b], neg),
                    ]
                    .into_iter()
                    .filter(|r| r.3 > 0)
                },
            );
            delong::paired_counts(rows, ac, ab)
        }
        (Some(_), Some(_), None) => Err(format!(
            "DeLong's paired test reads the joint histogram, and {}",
            p.joint.as_ref().err().map_or("", |w| w.reason())
        )),
        _ => Err("ROC-AUC is undefined for these rows (one class)".to_string()),
    };
    if !bootstrap {
        delong_interval(&mut delta, &test, iv, false);
    }
    let global = warnings.clone();
    let own = |w: &&String| !global.contains(w);
    for (side, out) in [("candidate", &cand), ("baseline", &base)] {
        warnings.extend(
            out.interval_notes
                .iter()
                .filter(own)
                .map(|w| format!("{side} {w}")),
        );
    }
    let mut c = Comparison {
        join: Join::Position,
        rows: header.rows as usize,
        candidate: FullResult::Binary(Box::new(strip(cand))),
        baseline: FullResult::Binary(Box::new(strip(base))),
        delta,
        delong: test,
        obuchowski: None,
        class_f1_delta: Vec::new(),
        warnings,
    };
    if everything_zero {
        for r in [&mut c.candidate, &mut c.baseline] {
            r.withhold_all(crate::full::EVERY_WEIGHT_ZERO);
        }
    }
    finish_selection(&mut c, header.task, options);
    Ok(c)
}

/// Keeps the metrics `--metrics` asked for.
fn finish_selection(c: &mut Comparison, task: crate::data::Task, options: &FullOptions) {
    let sel = &options.metrics;
    sel.retain(task, c.candidate.metrics_mut());
    sel.retain(task, c.baseline.metrics_mut());
    sel.retain(task, &mut c.delta);
}

/// No replicates: [`paired`] reads them only with the bootstrap.
fn no_replicates() -> (Replicates, Replicates) {
    let none = || Replicates {
        names: Vec::new(),
        values: Vec::new(),
        jackknife: Vec::new(),
        tpr: Vec::new(),
        precision: Vec::new(),
        f1: Vec::new(),
        grid: Vec::new(),
        per_class_f1: Vec::new(),
        one_vs_rest: Vec::new(),
    };
    (none(), none())
}

/// Without the bootstrap: DeLong's (Obuchowski's) paired interval on the
/// ROC-AUC difference.
fn delong_interval(
    delta: &mut MetricSet,
    test: &std::result::Result<PairedDeLong, String>,
    iv: &unc::IntervalOptions,
    obuchowski: bool,
) {
    if let (Ok(d), Some(m)) = (test, delta.get("roc_auc").cloned()) {
        let z = normal_quantile(0.5 + iv.level / 2.0);
        let se = d.variance.sqrt();
        delta.insert(
            "roc_auc",
            Metric {
                ci: Some([d.difference - z * se, d.difference + z * se]),
                method: if obuchowski { "obuchowski" } else { "delong" }.to_string(),
                ..m
            },
        );
    }
}

/// Drops what only the comparison needed.
fn strip(mut b: BinaryFull) -> BinaryFull {
    b.replicates = None;
    b.ranking = None;
    b
}
