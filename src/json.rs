//! The machine-readable result documents (docs/spec.md §5), built in one place so the
//! CLI's `--json` and the Python binding's `.to_dict()` are the same.
//!
//! Every document has `evalkit_version`, `tier`, `file`, `task`,
//! `task_reason`, `rows`, `headline` and `directions` (from the metric
//! registry), `rows_used`, `seed`, `metrics` and `warnings`.
//! Each metric is `{"value": f64|null, "ci": [lo, hi]|null, "method": "..."}`,
//! plus `"reason"` when the value is undefined and `"std_error"` where the
//! tier estimates one. The fast tier on every row gives `"ci": null`,
//! `"method": "exact"`, `"std_error": 0` and a `"reason"` that says the value
//! is exact. Counts are integers unless the file has weights.
//!
//! Binary `full` documents carry `delong` and `obuchowski` (the clustered
//! interval with `--cluster`, else `null`); `compare` documents the paired
//! tests under the same two keys. A run over a prediction file's rows says
//! which clusters the bootstrap resampled: `"clusters": {"column", "count"}`,
//! `null` for rows ([`set_clusters`]).

use serde_json::{Value, json};

use crate::data::{Header, Predictions};
use crate::fast::{FastOptions, FastResult};
use crate::full::binary::{BinaryFull, Thresholds};
use crate::full::{FullOptions, FullResult};
use crate::metrics::calibration::Bin;
use crate::metrics::curves::Sweep;
use crate::metrics::multiclass::MulticlassFull;

/// A count: an integer without weights, a float with them.
fn count(v: f64, weighted: bool) -> Value {
    if !weighted && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
        Value::from(v as u64)
    } else {
        Value::from(v)
    }
}

fn counts(v: &[f64], weighted: bool) -> Value {
    Value::Array(v.iter().map(|&x| count(x, weighted)).collect())
}

fn header(preds: &Header, tier: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("evalkit_version".into(), json!(crate::VERSION));
    m.insert("tier".into(), json!(tier));
    m.insert("file".into(), json!(preds.path.display().to_string()));
    m.insert("task".into(), json!(preds.task.as_str()));
    m.insert("task_reason".into(), json!(preds.task_reason));
    m.insert("rows".into(), json!(preds.rows));
    if preds.sources > 1 {
        m.insert("sources".into(), json!(preds.sources));
    }
    // From the metric registry: the task's headline metrics and which way
    // each of its metrics is better ("higher", "lower", "neither").
    m.insert(
        "headline".into(),
        json!(crate::metrics::registry::headline(preds.task)),
    );
    m.insert(
        "directions".into(),
        Value::Object(
            crate::metrics::registry::of_task(preds.task)
                .iter()
                .map(|i| (i.name.to_string(), json!(i.direction)))
                .collect(),
        ),
    );
    m
}

/// Adds the cost analysis (`cost`) and the decision curve
/// (`decision_curve`) to a full-tier document.
pub fn add_costs(
    doc: &mut Value,
    cost: &crate::costs::CostResult,
    curve: &crate::costs::DecisionCurve,
) {
    if let Some(m) = doc.as_object_mut() {
        m.insert("cost".into(), json!(cost));
        m.insert("decision_curve".into(), json!(curve));
    }
}

/// Adds the operating points (`operating_points`, when any were asked
/// for) to a full-tier document.
pub fn add_operating_points(doc: &mut Value, points: &[crate::operating::OperatingPoint]) {
    if !points.is_empty()
        && let Some(m) = doc.as_object_mut()
    {
        m.insert("operating_points".into(), json!(points));
    }
}

/// Says in a full or compare document which clusters the bootstrap
/// resampled: `"clusters": {"column": …, "count": …}`, or `null` for rows.
pub fn set_clusters(doc: &mut Value, clusters: Option<&crate::clusters::Clusters>) {
    if let Value::Object(m) = doc {
        m.insert(
            "clusters".into(),
            clusters.map_or(
                Value::Null,
                |c| json!({"column": c.column, "count": c.count()}),
            ),
        );
    }
}

/// The fast tier's document.
pub fn fast(preds: &Header, options: &FastOptions, result: &FastResult) -> Value {
    let mut m = header(preds, "fast");
    m.insert("rows_used".into(), json!(result.rows_used));
    m.insert("seed".into(), json!(options.seed));
    m.insert(
        "sample".into(),
        match options.sample {
            Some(n) => json!(n),
            None => json!("all"),
        },
    );
    m.insert("threshold".into(), json!(options.threshold));
    m.insert("weight_column".into(), json!(preds.weight_column));
    m.insert("strata_kind".into(), json!(result.strata_kind));
    m.insert("strata".into(), json!(result.strata));
    m.insert("metrics".into(), json!(result.metrics));
    m.insert("warnings".into(), json!(result.metrics.warnings()));
    Value::Object(m)
}

/// The full tier's document.
pub fn full(preds: &Header, options: &FullOptions, result: &FullResult) -> Value {
    let mut m = header(preds, "full");
    let iv = &options.intervals;
    let bootstrapped = iv.replicates > 0;
    m.insert("rows_used".into(), json!(preds.rows));
    m.insert(
        "seed".into(),
        if bootstrapped {
            json!(iv.seed)
        } else {
            Value::Null
        },
    );
    m.insert(
        "bootstrap".into(),
        if bootstrapped {
            json!({
                "replicates": iv.replicates,
                "level": iv.level,
                "method": iv.method.as_str(),
                "resample": iv.resample.as_str(),
            })
        } else {
            Value::Null
        },
    );
    m.insert("weight_column".into(), json!(preds.weight_column));
    match result {
        FullResult::Binary(b) => binary(&mut m, preds, options, b),
        FullResult::Multiclass(mc) => multiclass(&mut m, preds, mc),
        FullResult::Regression(r) => {
            m.insert("metrics".into(), json!(r.metrics));
            m.insert("residuals".into(), json!(r.residuals));
        }
        FullResult::Ranking(r) => ranking(&mut m, r),
    }
    m.insert("warnings".into(), json!(result.warnings()));
    Value::Object(m)
}

/// The ranking conventions and query counts; the headline and directions
/// name the run's cutoffs.
fn ranking(m: &mut serde_json::Map<String, Value>, r: &crate::full::ranking::RankingFull) {
    m.insert("headline".into(), json!(r.options.headline()));
    m.insert(
        "directions".into(),
        Value::Object(
            r.metrics
                .iter()
                .map(|(n, _)| (n.to_string(), json!(crate::metrics::registry::direction(n))))
                .collect(),
        ),
    );
    m.insert("ranking".into(), ranking_options(&r.options));
    m.insert("queries".into(), json!(r.per_query.len()));
    m.insert("queries_used".into(), json!(r.counted));
    m.insert("empty_queries".into(), json!(r.empty_queries));
    m.insert("metrics".into(), json!(r.metrics));
}

/// The cutoffs and conventions of ranking metrics, as documents give them.
pub fn ranking_options(o: &crate::metrics::ranking::RankingOptions) -> Value {
    json!({
        "k": &*o.ks,
        "gain": o.gain.as_str(),
        "empty_queries": o.empty.as_str(),
        "ties": "averaged",
    })
}

/// Adds every query's values to a ranking document (`--per-query`), as
/// columns of equal length: `query` (the id as the file holds it),
/// `items`, `relevant` and one column per metric.
pub fn add_per_query(
    doc: &mut Value,
    per_query: &crate::full::ranking::PerQuery,
    ids: &arrow::array::ArrayRef,
) {
    let mut cols = serde_json::Map::new();
    cols.insert(
        "query".into(),
        Value::Array(query_ids(ids, &per_query.first_row)),
    );
    cols.insert("items".into(), json!(per_query.items));
    cols.insert("relevant".into(), json!(per_query.relevant));
    for (m, name) in per_query.names.iter().enumerate() {
        cols.insert(
            name.clone(),
            json!(
                (0..per_query.len())
                    .map(|q| per_query.row(q)[m])
                    .collect::<Vec<f64>>()
            ),
        );
    }
    if let Value::Object(o) = doc {
        o.insert("per_query".into(), Value::Object(cols));
    }
}

/// The ids at `rows` of a query column: integers as numbers, anything else
/// as its text.
pub fn query_ids(ids: &arrow::array::ArrayRef, rows: &[u32]) -> Vec<Value> {
    if let Some(ints) = crate::data::int_values(ids) {
        return rows
            .iter()
            .map(|&r| match i64::try_from(ints[r as usize]) {
                Ok(v) => json!(v),
                Err(_) => json!(ints[r as usize].to_string()),
            })
            .collect();
    }
    match arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8) {
        Ok(a) => {
            use arrow::array::AsArray;
            let s = a.as_string::<i32>();
            rows.iter().map(|&r| json!(s.value(r as usize))).collect()
        }
        Err(_) => rows.iter().map(|&r| json!(r)).collect(),
    }
}

fn binary(
    m: &mut serde_json::Map<String, Value>,
    preds: &Header,
    options: &FullOptions,
    b: &BinaryFull,
) {
    let w = preds.weighted;
    m.insert("threshold".into(), json!(options.threshold));
    m.insert("classes".into(), json!(preds.class_names));
    m.insert("positives".into(), count(b.positives, w));
    m.insert("negatives".into(), count(b.negatives, w));
    m.insert("distinct_scores".into(), json!(b.distinct_scores));
    m.insert("metrics".into(), json!(b.metrics));
    let c = &b.confusion;
    m.insert(
        "confusion_matrix".into(),
        json!({
            "threshold": options.threshold,
            "labels": preds.class_names,
            "matrix": [[count(c.tn, w), count(c.fp, w)], [count(c.fn_, w), count(c.tp, w)]],
        }),
    );
    let interval = |r: &Result<crate::full::binary::DeLongInterval, String>| match r {
        Ok(d) => json!(d),
        Err(reason) => json!({"auc": null, "std_error": null, "ci": null, "reason": reason}),
    };
    m.insert("delong".into(), interval(&b.delong));
    m.insert(
        "obuchowski".into(),
        b.obuchowski.as_ref().map_or(Value::Null, interval),
    );
    m.insert("bands".into(), json!(b.bands));
    m.insert(
        "reliability".into(),
        reliability(&b.reliability, b.metrics.value("ece"), w),
    );
    let mut sw = sweep(&b.sweep, w);
    if let Value::Object(o) = &mut sw {
        let kind = match options.thresholds {
            Thresholds::Grid(_) => "grid",
            Thresholds::Distinct => "distinct",
        };
        o.insert("kind".into(), json!(kind));
    }
    m.insert("sweep".into(), sw);
}

fn multiclass(m: &mut serde_json::Map<String, Value>, preds: &Header, mc: &MulticlassFull) {
    let w = preds.weighted;
    m.insert("classes".into(), json!(preds.class_names));
    m.insert("metrics".into(), json!(mc.metrics));
    m.insert(
        "confusion_matrix".into(),
        json!({
            "labels": preds.class_names,
            "matrix": mc.confusion.iter().map(|row| counts(row, w)).collect::<Vec<_>>(),
        }),
    );
    m.insert(
        "per_class".into(),
        Value::Array(
            mc.per_class
                .iter()
                .map(|r| {
                    json!({
                        "class": preds.class_names[r.class],
                        "support": count(r.support, w),
                        "predicted": count(r.predicted, w),
                        "precision": r.precision,
                        "recall": r.recall,
                        "f1": r.f1,
                        "f1_ci": r.f1_ci,
                        "roc_auc": r.roc_auc,
                        "roc_auc_ci": r.roc_auc_ci,
                        "average_precision": r.average_precision,
                        "average_precision_ci": r.average_precision_ci,
                    })
                })
                .collect(),
        ),
    );
    m.insert(
        "reliability".into(),
        reliability(&mc.reliability, mc.metrics.value("ece"), w),
    );
}

fn reliability(bins: &[Bin], ece: Option<f64>, w: bool) -> Value {
    json!({
        "bins": bins.len(),
        "ece": ece,
        "lower": bins.iter().map(|x| x.lower).collect::<Vec<_>>(),
        "upper": bins.iter().map(|x| x.upper).collect::<Vec<_>>(),
        "count": bins.iter().map(|x| x.count).collect::<Vec<_>>(),
        "weight": bins.iter().map(|x| count(x.weight, w)).collect::<Vec<_>>(),
        "mean_predicted": bins.iter().map(|x| x.mean_predicted).collect::<Vec<_>>(),
        "observed": bins.iter().map(|x| x.observed).collect::<Vec<_>>(),
    })
}

fn sweep(s: &Sweep, weighted: bool) -> Value {
    json!({
        "kind": "grid",
        "threshold": s.threshold,
        "tp": counts(&s.tp, weighted),
        "fp": counts(&s.fp, weighted),
        "tn": counts(&s.tn, weighted),
        "fn": counts(&s.fn_, weighted),
        "precision": s.precision,
        "recall": s.recall,
        "f1": s.f1,
        "specificity": s.specificity,
        "accuracy": s.accuracy,
        "mcc": s.mcc,
    })
}

/// Adds the slices to the full tier's document: `min_slice`, and under
/// `slices` one entry per slice with its key, rows, whether it was too small
/// for intervals, its metrics and its warnings.
pub fn add_slices(
    doc: &mut Value,
    weighted: bool,
    min_rows: usize,
    slices: &[crate::slices::Slice],
) {
    let list: Vec<Value> = slices
        .iter()
        .map(|s| {
            let mut o = slice_head(&s.by, &s.key, s.rows, s.too_small, &s.result, weighted);
            o.insert("metrics".into(), json!(s.result.metrics()));
            let test = s.versus_rest.as_ref().map_or(Value::Null, test_json);
            slice_tail(
                o,
                "versus_rest",
                test,
                s.result.warnings(),
                (s.rows, s.too_small),
                min_rows,
            )
        })
        .collect();
    let flagged = slices
        .iter()
        .filter(|s| matches!(&s.versus_rest, Some(Ok(t)) if t.flagged))
        .count();
    put_slices(doc, min_rows, flagged, list);
}

/// A slice's test in JSON, or `p_value: null` with the reason.
fn test_json<T: serde::Serialize>(t: &Result<T, String>) -> Value {
    match t {
        Ok(t) => json!(t),
        Err(reason) => json!({"p_value": null, "reason": reason}),
    }
}

/// Closes a slice's entry: its test under `name`, and its warnings (with
/// one for a slice under the minimum size).
fn slice_tail(
    mut o: serde_json::Map<String, Value>,
    name: &str,
    test: Value,
    mut warnings: Vec<String>,
    (rows, too_small): (usize, bool),
    min_rows: usize,
) -> Value {
    o.insert(name.into(), test);
    if too_small {
        warnings.push(format!("{rows} rows, fewer than {min_rows}: no intervals"));
    }
    o.insert("warnings".into(), json!(warnings));
    Value::Object(o)
}

/// Puts `min_slice`, `slices_flagged` and `slices` into the document.
fn put_slices(doc: &mut Value, min_rows: usize, flagged: usize, list: Vec<Value>) {
    if let Value::Object(m) = doc {
        m.insert("min_slice".into(), json!(min_rows));
        m.insert("slices_flagged".into(), json!(flagged));
        m.insert("slices".into(), Value::Array(list));
    }
}

/// A slice's identity in JSON: `by`, `key` (column → value), `rows`,
/// `too_small`, and its class counts.
fn slice_head(
    by: &[String],
    key: &[String],
    rows: usize,
    too_small: bool,
    result: &FullResult,
    w: bool,
) -> serde_json::Map<String, Value> {
    let mut o = serde_json::Map::new();
    o.insert("by".into(), json!(by));
    o.insert(
        "key".into(),
        Value::Object(
            by.iter()
                .cloned()
                .zip(key.iter().map(|k| json!(k)))
                .collect(),
        ),
    );
    o.insert("rows".into(), json!(rows));
    o.insert("too_small".into(), json!(too_small));
    match result {
        FullResult::Binary(b) => {
            o.insert("positives".into(), count(b.positives, w));
            o.insert("negatives".into(), count(b.negatives, w));
        }
        FullResult::Multiclass(m) => {
            o.insert(
                "support".into(),
                counts(
                    &m.per_class.iter().map(|r| r.support).collect::<Vec<_>>(),
                    w,
                ),
            );
        }
        FullResult::Regression(_) => {}
        FullResult::Ranking(r) => {
            o.insert("queries".into(), json!(r.per_query.len()));
        }
    }
    o
}

/// Adds `compare --slice`'s slices to the comparison's document:
/// `min_slice`, `slices_flagged` (slices where the candidate is worse than
/// the baseline after adjustment), and under `slices` each slice's
/// candidate metrics (`metrics`), baseline metrics (`baseline`), paired
/// differences (`delta`) and `versus_baseline` test.
pub fn add_compared_slices(
    doc: &mut Value,
    weighted: bool,
    min_rows: usize,
    slices: &[crate::slices::ComparedSlice],
) {
    let list: Vec<Value> = slices
        .iter()
        .map(|s| {
            let c = &s.comparison;
            let mut o = slice_head(&s.by, &s.key, s.rows, s.too_small, &c.candidate, weighted);
            o.insert("metrics".into(), json!(c.candidate.metrics()));
            o.insert("baseline".into(), json!(c.baseline.metrics()));
            o.insert("delta".into(), json!(c.delta));
            slice_tail(
                o,
                "versus_baseline",
                test_json(&s.versus_baseline),
                c.warnings.clone(),
                (s.rows, s.too_small),
                min_rows,
            )
        })
        .collect();
    let flagged = slices
        .iter()
        .filter(|s| matches!(&s.versus_baseline, Ok(t) if t.flagged))
        .count();
    put_slices(doc, min_rows, flagged, list);
}

/// The comparison's document: the candidate's metrics under `metrics`, the
/// baseline's under `baseline`, the paired differences under `delta`, and
/// DeLong's paired test under `delong`.
pub fn compare(
    candidate: &Predictions,
    baseline: &Predictions,
    options: &FullOptions,
    c: &crate::compare::Comparison,
) -> Value {
    compare_of(
        &candidate.header(),
        &baseline.path,
        candidate.clusters.as_ref(),
        options,
        c,
    )
}

/// `compare --json` from what describes the rows: the candidate's header,
/// the baseline's file and the clusters, if any (a paired state has
/// neither predictions nor clusters).
pub fn compare_of(
    candidate: &Header,
    baseline: &std::path::Path,
    clusters: Option<&crate::clusters::Clusters>,
    options: &FullOptions,
    c: &crate::compare::Comparison,
) -> Value {
    let mut m = header(candidate, "compare");
    let iv = &options.intervals;
    m.insert(
        "baseline_file".into(),
        json!(baseline.display().to_string()),
    );
    m.insert("rows_used".into(), json!(c.rows));
    m.insert(
        "seed".into(),
        if iv.replicates > 0 {
            json!(iv.seed)
        } else {
            Value::Null
        },
    );
    m.insert(
        "join".into(),
        match &c.join {
            crate::compare::Join::Id(col) => json!({"by": "id", "column": col}),
            crate::compare::Join::Position => json!({"by": "position"}),
            crate::compare::Join::Query(col) => json!({"by": "query", "column": col}),
        },
    );
    m.insert(
        "bootstrap".into(),
        if iv.replicates > 0 {
            json!({
                "replicates": iv.replicates,
                "level": iv.level,
                "method": iv.method.as_str(),
                "resample": iv.resample.as_str(),
            })
        } else {
            Value::Null
        },
    );
    m.insert("threshold".into(), json!(options.threshold));
    m.insert("metrics".into(), json!(c.candidate.metrics()));
    m.insert("baseline".into(), json!(c.baseline.metrics()));
    m.insert("delta".into(), json!(c.delta));
    if let FullResult::Multiclass(mc) = &c.candidate {
        m.insert(
            "per_class_delta".into(),
            Value::Array(
                mc.per_class
                    .iter()
                    .zip(&c.class_f1_delta)
                    .map(|(r, d)| {
                        json!({
                            "class": candidate.class_names.get(r.class),
                            "f1": d,
                        })
                    })
                    .collect(),
            ),
        );
    }
    let test = |t: &Result<crate::uncertainty::delong::PairedDeLong, String>| match t {
        Ok(d) => json!({
            "candidate_auc": d.auc_a,
            "baseline_auc": d.auc_b,
            "difference": d.difference,
            "std_error": d.variance.sqrt(),
            "z": d.z,
            "p_value": d.p_value,
        }),
        Err(reason) => json!({"z": null, "p_value": null, "reason": reason}),
    };
    m.insert("delong".into(), test(&c.delong));
    m.insert(
        "obuchowski".into(),
        c.obuchowski.as_ref().map_or(Value::Null, test),
    );
    let mut warnings = c.candidate.metrics().warnings();
    warnings.extend(c.warnings.iter().cloned());
    m.insert("warnings".into(), json!(warnings));
    let mut doc = Value::Object(m);
    set_clusters(&mut doc, clusters);
    doc
}

/// `evalkit power`'s document: the options and the rows needed.
pub fn power(o: &crate::power::PowerOptions, r: &crate::power::PowerResult) -> Value {
    json!({
        "evalkit_version": crate::VERSION,
        "tier": "power",
        "metric": o.metric,
        "value": o.value,
        "effect": o.effect,
        "alternative": o.value + o.effect,
        "prevalence": if o.metric == "roc_auc" { json!(o.prevalence) } else { Value::Null },
        "power": o.power,
        "alpha": o.alpha,
        "design": if o.paired.is_some() { "paired" } else { "against_bound" },
        "paired_correlation": o.paired,
        "rows": r.rows,
        "positives": r.positives,
        "negatives": r.negatives,
        "std_error": r.std_error,
        "power_reached": r.power_reached,
    })
}

/// `evalkit profile --json`: the serving profile (docs/spec.md §10).
pub fn profile(p: &crate::profile::Profile) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("evalkit_version".to_string(), json!(crate::VERSION));
    doc.insert("tier".to_string(), json!("profile"));
    if let Ok(Value::Object(m)) = serde_json::to_value(p) {
        doc.extend(m);
    }
    Value::Object(doc)
}

/// `evalkit infer --json`: what the inference pass did (docs/spec.md §6).
pub fn infer(options: &crate::infer::InferOptions, r: &crate::infer::InferReport) -> Value {
    let meta = |k: &str| r.metadata_json(k).unwrap_or(Value::Null);
    json!({
        "evalkit_version": crate::VERSION,
        "tier": "infer",
        "model": options.model.display().to_string(),
        "data": options.data.display().to_string(),
        "file": r.output.display().to_string(),
        "task": r.metadata.get("evalkit.task"),
        "rows": meta("evalkit.data")["rows"],
        "labels": !r.metadata.contains_key("evalkit.labels"),
        "cache": {
            "status": r.cache.as_str(),
            "key": r.key,
            "entry": r.entry.as_ref().map(|e| e.display().to_string()),
        },
        "model_output": meta("evalkit.model"),
        "inference": meta("evalkit.inference"),
        "warnings": r.notes,
    })
}
