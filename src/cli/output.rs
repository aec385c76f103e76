//! Human output: aligned tables on stdout.

use std::fmt::Write as _;

use evalkit::data::{Header, Predictions};
use evalkit::fast::{FastOptions, FastResult};
use evalkit::full::binary::BinaryFull;
use evalkit::full::{FullOptions, FullResult};
use evalkit::metrics::MetricSet;
use evalkit::metrics::multiclass::MulticlassFull;
use evalkit::metrics::regression::RegressionFull;

/// A number for a table: 6 decimals in the usual range, scientific outside.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

/// Whether stdout's human output is coloured (`--color`, `NO_COLOR`).
static COLOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets whether stdout's human output is coloured.
pub fn set_color(on: bool) {
    COLOR.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// `text` in an ANSI SGR style (`"32"` green, `"1;31"` bold red, …) when
/// colour is on.
pub fn paint(text: &str, sgr: &str) -> String {
    if COLOR.load(std::sync::atomic::Ordering::Relaxed) {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The characters a terminal shows: ANSI escape sequences take no room.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut escape = false;
    for c in s.chars() {
        match (escape, c) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A gate's verdict as the tables show it, coloured: pass green, failure
/// red, inconclusive yellow.
fn verdict(o: evalkit::suite::Outcome, passed: bool) -> String {
    let sgr = match o {
        evalkit::suite::Outcome::Pass => "32",
        evalkit::suite::Outcome::Fail => "1;31",
        evalkit::suite::Outcome::Inconclusive => "33",
    };
    paint(o.label(passed), sgr)
}

/// Left-aligned columns separated by two spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| visible_len(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c] - visible_len(cell);
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The title line and the first rows of the header table (task, weights),
/// then `rows_line` as the "rows" row.
fn header(out: &mut String, tier: &str, preds: &Header, rows_line: String) {
    let _ = writeln!(out, "evalkit {tier} · {}", preds.path.display());
    let mut rows = Vec::new();
    if preds.sources > 1 {
        rows.push(vec![
            "inputs".to_string(),
            format!("{} prediction files, merged", preds.sources),
        ]);
    }
    rows.push(vec![
        "task".to_string(),
        format!("{} ({})", preds.task, preds.task_reason),
    ]);
    if let Some(w) = &preds.weight_column {
        rows.push(vec!["weights".to_string(), format!("column '{w}'")]);
    }
    rows.push(vec!["rows".to_string(), rows_line]);
    out.push_str(&table(&rows));
}

fn metric_rows(metrics: &MetricSet, with_se: bool) -> Vec<Vec<String>> {
    let with_ci = metrics.iter().any(|(_, m)| m.ci.is_some());
    let mut head = vec!["metric".to_string(), "value".to_string()];
    if with_se {
        head.push("std error".to_string());
    }
    if with_ci {
        head.push("interval".to_string());
    }
    let mut rows = vec![head];
    for (name, m) in metrics.iter() {
        let mut r = vec![name.to_string(), m.value.map_or("n/a".to_string(), num)];
        if with_se {
            r.push(m.std_error.map_or("n/a".to_string(), num));
        }
        if with_ci {
            r.push(m.ci.map_or("n/a".to_string(), |[lo, hi]| {
                format!("[{}, {}]", num(lo), num(hi))
            }));
        }
        rows.push(r);
    }
    rows
}

/// The fast tier's table.
pub fn fast(preds: &Header, options: &FastOptions, r: &FastResult) -> String {
    let mut out = String::new();
    let sample = if r.rows_used == r.rows {
        "every row".to_string()
    } else {
        format!("seed {}, stratified by {}", options.seed, r.strata_kind)
    };
    header(
        &mut out,
        "fast",
        preds,
        format!("{} in file, {} sampled ({sample})", r.rows, r.rows_used),
    );
    out.push('\n');
    let mut strata = vec![vec![
        r.strata_kind.to_string(),
        "rows".to_string(),
        "sampled".to_string(),
    ]];
    for s in &r.strata {
        strata.push(vec![
            s.name.clone(),
            s.rows.to_string(),
            s.sampled.to_string(),
        ]);
    }
    out.push_str(&table(&strata));
    out.push('\n');
    out.push_str(&table(&metric_rows(&r.metrics, true)));
    let every_row = r.metrics.iter().all(|(_, m)| m.method == "exact");
    let intervals = if every_row {
        "every row: exact values, no sampling error".to_string()
    } else if preds.task == evalkit::data::Task::Regression {
        format!("intervals: {}%, normal", num(options.level * 100.0))
    } else if preds.task == evalkit::data::Task::Ranking {
        format!(
            "whole queries sampled; intervals: {}%, normal over queries",
            num(options.level * 100.0)
        )
    } else {
        format!(
            "intervals: {}%, log_loss normal, accuracy Wilson (effective sample size)",
            num(options.level * 100.0)
        )
    };
    let accuracy = match preds.task {
        evalkit::data::Task::Binary => format!("; accuracy at threshold {}", options.threshold),
        evalkit::data::Task::Multiclass => "; accuracy of the most probable class".to_string(),
        evalkit::data::Task::Regression | evalkit::data::Task::Ranking => String::new(),
    };
    let _ = writeln!(out, "\n{intervals}{accuracy}");
    out
}

/// The full tier's table.
pub fn full(preds: &Header, options: &FullOptions, r: &FullResult) -> String {
    let mut out = String::new();
    match r {
        FullResult::Binary(b) => binary(&mut out, preds, options, b),
        FullResult::Multiclass(m) => multiclass(&mut out, preds, options, m),
        FullResult::Regression(g) => regression(&mut out, preds, options, g),
        FullResult::Ranking(r) => ranking(&mut out, preds, options, r),
    }
    out
}

/// Metrics of the per-slice table: those asked for with `--metrics`, else
/// the task's headline ones.
fn slice_metrics(r: &FullResult, options: &FullOptions) -> Vec<String> {
    if !options.metrics.is_all() {
        return r.metrics().iter().map(|(n, _)| n.to_string()).collect();
    }
    let names: &[&str] = match r {
        FullResult::Binary(_) => &["roc_auc", "average_precision", "log_loss", "accuracy", "f1"],
        FullResult::Multiclass(_) => &["accuracy", "macro_f1", "macro_roc_auc", "log_loss"],
        FullResult::Regression(_) => &["rmse", "mae", "r2"],
        // At the run's largest cutoff.
        FullResult::Ranking(r) => return r.options.headline(),
    };
    names.iter().map(|n| n.to_string()).collect()
}

/// The per-slice tables: one per slicing, one row per slice with its
/// headline metrics; the first metric carries its interval.
pub fn slices(options: &FullOptions, min_rows: usize, slices: &[evalkit::slices::Slice]) -> String {
    let mut out = String::new();
    let pct = format!("{}%", options.intervals.level * 100.0);
    let mut start = 0;
    while start < slices.len() {
        let by = &slices[start].by;
        let end = start + slices[start..].iter().take_while(|s| &s.by == by).count();
        let names = slice_metrics(&slices[start].result, options);
        let _ = writeln!(out, "\nslices by {}", by.join(" × "));
        let mut header: Vec<String> = by.clone();
        header.push("rows".to_string());
        for (i, n) in names.iter().enumerate() {
            header.push(n.to_string());
            if i == 0 && options.intervals.replicates > 0 {
                header.push(format!("{pct} interval"));
            }
        }
        let tested = slices[start..end]
            .iter()
            .any(|s| matches!(s.versus_rest, Some(Ok(_))));
        if tested {
            header.push("vs rest".to_string());
            header.push("p (Holm)".to_string());
        }
        let mut rows = vec![header];
        let mut small = false;
        // Slices flagged as worse than the rest first, most significant
        // first; the others in key order.
        let mut group: Vec<&evalkit::slices::Slice> = slices[start..end].iter().collect();
        evalkit::slices::flagged_first(&mut group, |s| match &s.versus_rest {
            Some(Ok(t)) if t.flagged => Some(t.p_holm),
            _ => None,
        });
        let mut flagged = 0;
        for s in group {
            let mut row = s.key.clone();
            row.push(rows_cell(s.rows, s.too_small, &mut small));
            for (i, n) in names.iter().enumerate() {
                let m = s.result.metrics().get(n);
                row.push(opt(m.and_then(|m| m.value)));
                if i == 0 && options.intervals.replicates > 0 {
                    row.push(m.and_then(|m| m.ci).map_or("n/a".to_string(), |[lo, hi]| {
                        format!("[{}, {}]", num(lo), num(hi))
                    }));
                }
            }
            if tested {
                match &s.versus_rest {
                    Some(Ok(t)) => {
                        row.push(format!(
                            "{}{}",
                            if t.difference > 0.0 { "+" } else { "" },
                            num(t.difference)
                        ));
                        row.push(if t.flagged {
                            flagged += 1;
                            format!("{} worse ▼", num(t.p_holm))
                        } else {
                            num(t.p_holm)
                        });
                    }
                    _ => {
                        row.push("n/a".to_string());
                        row.push("n/a".to_string());
                    }
                }
            }
            rows.push(row);
        }
        out.push_str(&table(&rows));
        let tested_metric = slices[start..end]
            .iter()
            .find_map(|s| match &s.versus_rest {
                Some(Ok(t)) => Some(t.metric),
                _ => None,
            })
            .unwrap_or_default();
        let test = format!(
            "vs rest: the slice's {tested_metric} minus the rest's; p: two-sided, Holm-adjusted across every slice tested; {flagged} worse"
        );
        let small =
            small.then(|| format!("† fewer than {min_rows} rows: point values only, no intervals"));
        slice_notes(&mut out, tested.then_some(test), flagged, options, small);
        start = end;
    }
    out
}

/// `compare --slice`: one table per slicing, one row per slice with both
/// models' headline metric, the differences of the headline metrics (the
/// first with its paired interval) and, for binary tasks, the paired
/// ROC-AUC test's Holm-adjusted p-value; slices where the candidate is
/// significantly worse first.
pub fn compared_slices(
    options: &FullOptions,
    min_rows: usize,
    slices: &[evalkit::slices::ComparedSlice],
) -> String {
    let mut out = String::new();
    let replicates = options.intervals.replicates > 0;
    let pct = format!("{}%", options.intervals.level * 100.0);
    let signed = |v: Option<f64>| match v {
        Some(v) if v > 0.0 => format!("+{}", num(v)),
        v => opt(v),
    };
    let mut start = 0;
    while start < slices.len() {
        let by = &slices[start].by;
        let end = start + slices[start..].iter().take_while(|s| &s.by == by).count();
        let names = slice_metrics(&slices[start].comparison.candidate, options);
        let _ = writeln!(out, "\nslices by {}: candidate vs baseline", by.join(" × "));
        let mut header: Vec<String> = by.clone();
        header.push("rows".to_string());
        header.push(format!("{} candidate", names[0]));
        header.push("baseline".to_string());
        for (i, n) in names.iter().enumerate() {
            header.push(format!("Δ {n}"));
            if i == 0 && replicates {
                header.push(format!("{pct} interval"));
            }
        }
        let tested = slices[start..end].iter().any(|s| s.versus_baseline.is_ok());
        if tested {
            header.push("p (Holm)".to_string());
        }
        let mut rows = vec![header];
        let mut group: Vec<&evalkit::slices::ComparedSlice> = slices[start..end].iter().collect();
        evalkit::slices::flagged_first(&mut group, |s| match &s.versus_baseline {
            Ok(t) if t.flagged => Some(t.p_holm),
            _ => None,
        });
        let (mut small, mut flagged) = (false, 0);
        for s in group {
            let c = &s.comparison;
            let mut row = s.key.clone();
            row.push(rows_cell(s.rows, s.too_small, &mut small));
            row.push(opt(c.candidate.metrics().value(&names[0])));
            row.push(opt(c.baseline.metrics().value(&names[0])));
            for (i, n) in names.iter().enumerate() {
                let d = c.delta.get(n);
                row.push(signed(d.and_then(|d| d.value)));
                if i == 0 && replicates {
                    row.push(d.and_then(|d| d.ci).map_or("n/a".to_string(), |[lo, hi]| {
                        format!("[{}, {}]", num(lo), num(hi))
                    }));
                }
            }
            if tested {
                row.push(match &s.versus_baseline {
                    Ok(t) if t.flagged => {
                        flagged += 1;
                        format!("{} worse ▼", num(t.p_holm))
                    }
                    Ok(t) => num(t.p_holm),
                    Err(_) => "n/a".to_string(),
                });
            }
            rows.push(row);
        }
        out.push_str(&table(&rows));
        let test = format!(
            "p: DeLong's paired test of ROC-AUC on the slice's rows (Obuchowski's with clusters), two-sided, Holm-adjusted across every slice tested; {flagged} worse than the baseline"
        );
        let small = small.then(|| {
            format!("† fewer than {min_rows} rows: point values only, no intervals or test")
        });
        slice_notes(&mut out, tested.then_some(test), flagged, options, small);
        start = end;
    }
    out
}

/// A slice's row count, marked `†` (and `small` set) when it is under the
/// minimum size.
fn rows_cell(rows: usize, too_small: bool, small: &mut bool) -> String {
    if too_small {
        *small = true;
        format!("{rows} †")
    } else {
        rows.to_string()
    }
}

/// The lines under a slicing's table: the test (`test`, up to "N worse")
/// with the level it flags at, and the note on small slices.
fn slice_notes(
    out: &mut String,
    test: Option<String>,
    flagged: usize,
    options: &FullOptions,
    small: Option<String>,
) {
    if let Some(test) = test {
        let level = options.intervals.level;
        let _ = writeln!(
            out,
            "{test} at {} after adjustment{}",
            ((1.0 - level) * 1e9).round() / 1e9,
            if flagged > 0 {
                " (▼, listed first)"
            } else {
                ""
            }
        );
    }
    if let Some(small) = small {
        let _ = writeln!(out, "{small}");
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), num)
}

/// "intervals: 95%, bootstrap percentile with 1000 poisson replicates (seed 0)"
fn intervals_line(out: &mut String, options: &FullOptions) {
    let iv = &options.intervals;
    if iv.replicates > 0 {
        let _ = writeln!(
            out,
            "\nintervals: {}%, bootstrap {} with {} {} replicates (seed {})",
            iv.level * 100.0,
            iv.method.as_str(),
            iv.replicates,
            iv.resample.as_str(),
            iv.seed
        );
    }
}

fn multiclass(out: &mut String, preds: &Header, options: &FullOptions, m: &MulticlassFull) {
    header(
        out,
        "full",
        preds,
        format!("{} ({} classes)", preds.rows, preds.class_names.len()),
    );
    out.push('\n');
    out.push_str(&table(&metric_rows(&m.metrics, false)));
    intervals_line(out, options);
    out.push('\n');
    let mut rows = vec![
        [
            "class",
            "support",
            "predicted",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "avg_precision",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &m.per_class {
        rows.push(vec![
            preds.class_names[r.class].clone(),
            num(r.support),
            num(r.predicted),
            opt(r.precision),
            opt(r.recall),
            opt(r.f1),
            opt(r.roc_auc),
            opt(r.average_precision),
        ]);
    }
    out.push_str(&table(&rows));
    let _ = writeln!(out, "\nconfusion matrix (rows: actual, columns: predicted)");
    let mut rows = vec![
        std::iter::once(String::new())
            .chain(preds.class_names.iter().cloned())
            .collect::<Vec<_>>(),
    ];
    for (c, row) in m.confusion.iter().enumerate() {
        rows.push(
            std::iter::once(preds.class_names[c].clone())
                .chain(row.iter().map(|&v| num(v)))
                .collect(),
        );
    }
    out.push_str(&table(&rows));
}

fn ranking(
    out: &mut String,
    preds: &Header,
    options: &FullOptions,
    r: &evalkit::full::ranking::RankingFull,
) {
    let pq = &r.per_query;
    header(
        out,
        "full",
        preds,
        format!(
            "{} ({} queries, {} in the means)",
            preds.rows,
            pq.len(),
            r.counted
        ),
    );
    let _ = writeln!(out, "ranking: {}; ties in score averaged", r.options);
    out.push('\n');
    out.push_str(&table(&metric_rows(&r.metrics, false)));
    intervals_line(out, options);
}

fn regression(out: &mut String, preds: &Header, options: &FullOptions, g: &RegressionFull) {
    header(out, "full", preds, preds.rows.to_string());
    out.push('\n');
    out.push_str(&table(&metric_rows(&g.metrics, false)));
    intervals_line(out, options);
    let _ = writeln!(
        out,
        "\nresiduals (label − prediction): mean {}",
        num(g.residuals.mean)
    );
    let head: Vec<String> = g
        .residuals
        .probabilities
        .iter()
        .map(|p| format!("q{}", p * 100.0))
        .collect();
    let vals: Vec<String> = g.residuals.quantiles.iter().map(|&v| num(v)).collect();
    out.push_str(&table(&[head, vals]));
}

fn binary(out: &mut String, preds: &Header, options: &FullOptions, b: &BinaryFull) {
    let weighted = preds.weighted;
    let what = if weighted { "weight" } else { "rows" };
    header(
        out,
        "full",
        preds,
        format!(
            "{} ({what}: {} positive, {} negative; {} distinct scores)",
            preds.rows,
            num(b.positives),
            num(b.negatives),
            b.distinct_scores
        ),
    );
    out.push('\n');
    out.push_str(&table(&metric_rows(&b.metrics, false)));
    let iv = &options.intervals;
    let pct = format!("{}%", iv.level * 100.0);
    intervals_line(out, options);
    // With clusters, Obuchowski's clustered interval stands in for DeLong's
    // (whose reason for standing down is in the JSON).
    let (name, interval) = match &b.obuchowski {
        Some(o) => ("Obuchowski (clustered)", o),
        None => ("DeLong", &b.delong),
    };
    match interval {
        Ok(d) => {
            let _ = writeln!(
                out,
                "{}{name}: roc_auc {} ± {} (std error), {pct} interval [{}, {}]",
                if iv.replicates > 0 { "" } else { "\n" },
                num(d.auc),
                num(d.std_error),
                num(d.ci[0]),
                num(d.ci[1])
            );
        }
        Err(reason) => {
            let _ = writeln!(out, "{name}: n/a ({reason})");
        }
    }
    let c = &b.confusion;
    let names = &preds.class_names;
    let _ = writeln!(
        out,
        "\nconfusion matrix at threshold {} (rows: actual)",
        options.threshold
    );
    out.push_str(&table(&[
        vec![
            String::new(),
            format!("predicted {}", names[0]),
            format!("predicted {}", names[1]),
        ],
        vec![format!("actual {}", names[0]), num(c.tn), num(c.fp)],
        vec![format!("actual {}", names[1]), num(c.fn_), num(c.tp)],
    ]));
}

/// The comparison's table.
pub fn compare(
    candidate: &Predictions,
    baseline: &Predictions,
    options: &FullOptions,
    c: &evalkit::compare::Comparison,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "evalkit compare · {} vs {}",
        candidate.path.display(),
        baseline.path.display()
    );
    let join = match &c.join {
        evalkit::compare::Join::Id(col) => format!("matched by column '{col}'"),
        evalkit::compare::Join::Position => "matched by position".to_string(),
        evalkit::compare::Join::Query(col) => format!("paired query by query ('{col}')"),
    };
    out.push_str(&table(&[
        vec![
            "task".to_string(),
            format!("{} ({})", candidate.task, candidate.task_reason),
        ],
        vec!["rows".to_string(), format!("{} ({join})", c.rows)],
    ]));
    out.push('\n');
    let iv = &options.intervals;
    let pct = format!("{}%", iv.level * 100.0);
    let mut rows = vec![vec![
        "metric".to_string(),
        "candidate".to_string(),
        "baseline".to_string(),
        "delta".to_string(),
        format!("{pct} interval of delta"),
        String::new(),
    ]];
    let mut marked = false;
    for (name, d) in c.delta.iter() {
        let signed = |v: f64| {
            if v > 0.0 {
                format!("+{}", num(v))
            } else {
                num(v)
            }
        };
        let excludes_zero = d.ci.is_some_and(|[lo, hi]| lo > 0.0 || hi < 0.0);
        marked |= excludes_zero;
        rows.push(vec![
            name.to_string(),
            opt(c.candidate.metrics().value(name)),
            opt(c.baseline.metrics().value(name)),
            d.value.map_or("n/a".to_string(), signed),
            d.ci.map_or("n/a".to_string(), |[lo, hi]| {
                format!("[{}, {}]", num(lo), num(hi))
            }),
            if excludes_zero {
                "*".to_string()
            } else {
                String::new()
            },
        ]);
    }
    out.push_str(&table(&rows));
    if marked {
        let _ = writeln!(out, "* the interval of the difference excludes 0");
    }
    if iv.replicates > 0 {
        let _ = writeln!(
            out,
            "\nintervals: paired bootstrap {} with {} {} replicates (seed {}), the same resamples for both models",
            iv.method.as_str(),
            iv.replicates,
            iv.resample.as_str(),
            iv.seed
        );
    }
    let (name, test) = match &c.obuchowski {
        Some(o) => ("Obuchowski (clustered)", o),
        None => ("DeLong", &c.delong),
    };
    match test {
        Ok(d) => {
            let _ = writeln!(
                out,
                "{name} paired test of roc_auc: difference {}, z = {:.3}, p = {}",
                num(d.difference),
                d.z,
                num(d.p_value)
            );
        }
        Err(reason) if matches!(c.candidate, evalkit::full::FullResult::Binary(_)) => {
            let _ = writeln!(out, "{name} paired test: n/a ({reason})");
        }
        Err(_) => {}
    }
    out
}

/// The inference summary.
pub fn infer(options: &evalkit::infer::InferOptions, r: &evalkit::infer::InferReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "evalkit infer · {} on {} → {}",
        options.model.display(),
        options.data.display(),
        r.output.display()
    );
    let meta = |k: &str| r.metadata_json(k).unwrap_or(serde_json::Value::Null);
    let (model, data, inf) = (
        meta("evalkit.model"),
        meta("evalkit.data"),
        meta("evalkit.inference"),
    );
    let task = r.metadata.get("evalkit.task").cloned().unwrap_or_default();
    let mut rows = vec![
        vec![
            "task".to_string(),
            format!("{task} ({})", model["score"].as_str().unwrap_or("")),
        ],
        vec![
            "rows".to_string(),
            format!(
                "{} ({} features{})",
                data["rows"],
                data["features"].as_array().map_or(0, Vec::len),
                if r.metadata.contains_key("evalkit.labels") {
                    ", no labels"
                } else {
                    ""
                }
            ),
        ],
    ];
    let f = |v: &serde_json::Value| v.as_f64().map_or("n/a".to_string(), num);
    rows.push(vec![
        "provider".to_string(),
        format!(
            "{}, {} threads, batch size {}",
            inf["provider"].as_str().unwrap_or("?"),
            inf["threads"],
            inf["batch_size"]
        ),
    ]);
    let grouped = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("n/a".to_string(), |v| evalkit::format::number(v.round()))
    };
    rows.push(vec![
        "speed".to_string(),
        match inf["model_rows_per_s"].as_f64() {
            Some(_) => format!(
                "{} rows/s over the whole pass (reading, converting, the model); {} rows/s inside ONNX Runtime",
                grouped(&inf["rows_per_s"]),
                grouped(&inf["model_rows_per_s"])
            ),
            None => format!("{} rows/s over the whole pass", grouped(&inf["rows_per_s"])),
        },
    ]);
    rows.push(vec![
        "batch latency".to_string(),
        match inf["batches"].as_u64() {
            Some(1) => format!("{} ms (1 batch)", f(&inf["latency_ms"]["p50"])),
            batches => format!(
                "p50 {} ms, p95 {} ms, p99 {} ms ({} batches)",
                f(&inf["latency_ms"]["p50"]),
                f(&inf["latency_ms"]["p95"]),
                f(&inf["latency_ms"]["p99"]),
                batches.map_or("n/a".to_string(), |b| b.to_string())
            ),
        },
    ]);
    if let Some(b) = inf["peak_rss_bytes"].as_f64() {
        rows.push(vec![
            "memory".to_string(),
            format!("peak {}", evalkit::format::mebibytes(b)),
        ]);
    }
    let cache = match (&r.cache, &r.entry) {
        (evalkit::infer::CacheStatus::Hit, Some(e)) => format!(
            "hit: {} (no inference ran; figures above are from the run that made it)",
            e.display()
        ),
        (evalkit::infer::CacheStatus::Miss, Some(e)) => format!("miss: stored as {}", e.display()),
        _ if options.no_cache => "off (--no-cache)".to_string(),
        _ => "off: the cache could not be used (see the warning)".to_string(),
    };
    rows.push(vec!["cache".to_string(), cache]);
    out.push_str(&table(&rows));
    out
}

/// The verdicts of a suite run.
pub fn suite(r: &evalkit::suite::SuiteResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "evalkit run · {} ({})", r.name, r.suite);
    let mut head = vec![
        vec!["task".to_string(), r.task.clone()],
        vec!["candidate".to_string(), r.candidate.clone()],
    ];
    if let Some(b) = &r.baseline {
        head.push(vec!["baseline".to_string(), b.clone()]);
    }
    if let Some(p) = &r.report {
        head.push(vec!["report".to_string(), p.clone()]);
    }
    out.push_str(&table(&head));
    out.push('\n');
    let mut rows = vec![
        ["gate", "line", "value", "interval", "verdict", "judged"]
            .map(String::from)
            .to_vec(),
    ];
    for v in &r.gates {
        rows.push(vec![
            v.gate.clone(),
            v.line.to_string(),
            v.value.map_or("n/a".to_string(), |x| {
                evalkit::format::with_unit(x, &v.unit)
            }),
            v.interval.map_or(String::new(), |[lo, hi]| {
                let n = evalkit::format::number;
                format!("[{}, {}]", n(lo), n(hi))
            }),
            verdict(v.verdict, v.passed),
            v.detail.clone(),
        ]);
    }
    out.push_str(&table(&rows));
    let line = evalkit::suite::verdicts_line(r.gates.iter().map(|v| (v.verdict, v.passed)));
    let _ = writeln!(
        out,
        "\n{}",
        paint(&line, if r.passed { "32" } else { "1;31" })
    );
    out
}

/// `evalkit power`'s summary.
pub fn power(o: &evalkit::power::PowerOptions, r: &evalkit::power::PowerResult) -> String {
    let mut out = String::new();
    let design = match o.paired {
        None => "one model against a fixed bound".to_string(),
        Some(rho) => format!("two models on the same rows, estimates correlated {rho}"),
    };
    let _ = writeln!(
        out,
        "evalkit power · {} {} → {} (effect {}{}), {design}",
        o.metric,
        num(o.value),
        num(o.value + o.effect),
        if o.effect > 0.0 { "+" } else { "" },
        num(o.effect)
    );
    let counts = match (r.positives, r.negatives) {
        (Some(p), Some(n)) => format!(
            " ({} positive, {} negative at prevalence {})",
            evalkit::format::number(p as f64),
            evalkit::format::number(n as f64),
            o.prevalence
        ),
        _ => String::new(),
    };
    out.push_str(&table(&[
        vec![
            "rows needed".to_string(),
            format!("{}{counts}", evalkit::format::number(r.rows as f64)),
        ],
        vec![
            "power".to_string(),
            format!("{} at α = {} (two-sided)", num(r.power_reached), o.alpha),
        ],
        vec![
            "std error".to_string(),
            format!(
                "{} of the estimated difference at that size",
                num(r.std_error)
            ),
        ],
    ]));
    out
}

/// The operating points: the choice and the rates there (with intervals),
/// then the optimism-corrected estimate, then why a point has no threshold.
pub fn operating_points(points: &[evalkit::operating::OperatingPoint], level: f64) -> String {
    let mut out = String::new();
    let Some(first) = points.first() else {
        return out;
    };
    let pct = format!("{}%", level * 100.0);
    let _ = writeln!(
        out,
        "\noperating points ({})",
        if first.certified {
            format!(
                "certified: the constraint holds at its one-sided {pct} Clopper–Pearson bound, thresholds tried in a fixed sequence"
            )
        } else {
            "uncertified: chosen by point estimates".to_string()
        }
    );
    let rates = ["precision", "recall", "fpr", "f1"];
    let cell = |m: &MetricSet, name: &str| match m.get(name) {
        Some(m) => match (m.value, m.ci) {
            (Some(v), Some([lo, hi])) => format!("{} [{}, {}]", num(v), num(lo), num(hi)),
            (Some(v), None) => num(v),
            (None, _) => "n/a".to_string(),
        },
        None => "n/a".to_string(),
    };
    let mut header: Vec<String> = ["constraint", "objective", "threshold"]
        .map(str::to_string)
        .to_vec();
    if first.certified {
        header.push("bound".to_string());
    }
    header.extend(rates.map(str::to_string));
    let mut rows = vec![header];
    for p in points {
        let mut row = vec![p.constraint.clone(), p.objective.clone(), opt(p.threshold)];
        if first.certified {
            row.push(p.bound.as_ref().map_or("n/a".to_string(), |b| num(b.value)));
        }
        row.extend(rates.map(|r| cell(&p.metrics, r)));
        rows.push(row);
    }
    out.push_str(&table(&rows));
    if points.iter().any(|p| p.expected.is_some()) {
        let _ = writeln!(
            out,
            "\nexpected on new data (out-of-bag: chosen again on each replicate's rows, scored on the rows it left out)"
        );
        let mut header = vec!["constraint".to_string()];
        header.extend(rates.map(str::to_string));
        header.push("replicates".to_string());
        let mut rows = vec![header];
        for p in points {
            let Some(e) = &p.expected else { continue };
            let mut row = vec![p.constraint.clone()];
            row.extend(rates.map(|r| cell(&e.metrics, r)));
            row.push(e.replicates.to_string());
            rows.push(row);
        }
        out.push_str(&table(&rows));
    }
    for p in points {
        if let Some(r) = &p.reason {
            let _ = writeln!(out, "{}: {r}", p.constraint);
        }
    }
    out
}

/// The cost analysis: the cost-optimal threshold and what it costs against
/// the chosen threshold and the two trivial rules.
pub fn costs(c: &evalkit::costs::CostResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncosts (a false positive: {}, a false negative: {}), expected cost per row",
        c.fp, c.fn_
    );
    let mut rows = vec![vec!["rule".to_string(), "expected cost".to_string()]];
    rows.push(vec![
        match c.threshold {
            Some(t) => format!("cost-optimal threshold {}", num(t)),
            None => "cost-optimal: predict every row negative".to_string(),
        },
        opt(c.expected_cost),
    ]);
    if let Some(a) = &c.at_threshold {
        rows.push(vec![
            format!("threshold {}", num(a.threshold)),
            num(a.expected_cost),
        ]);
    }
    rows.push(vec!["every row negative".to_string(), opt(c.predict_none)]);
    rows.push(vec!["every row positive".to_string(), opt(c.predict_all)]);
    out.push_str(&table(&rows));
    let at = |name: &str| opt(c.metrics.value(name));
    let _ = writeln!(
        out,
        "at the optimum: precision {}, recall {}, fpr {}, f1 {}",
        at("precision"),
        at("recall"),
        at("fpr"),
        at("f1")
    );
    out
}

/// `evalkit profile`: environment, then per model its footprint, latency
/// per batch size and throughput per concurrency level; the quality
/// comparison last.
pub fn profile(p: &evalkit::profile::Profile) -> String {
    use evalkit::format::{mebibytes, number};
    use evalkit::profile::stats::Percentile;
    let e = &p.environment;
    let level = format!("{}%", number(p.settings.level * 100.0));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "evalkit profile · {} ({} rows as requests, {} features)",
        p.data.path, p.data.request_rows, p.data.features
    );
    let _ = writeln!(
        out,
        "on {} · {} intra-op thread{} per session · {} ({} cores, {}) · ONNX Runtime {}",
        e.provider,
        e.intra_op_threads,
        if e.intra_op_threads == 1 { "" } else { "s" },
        e.cpu,
        e.cores,
        e.os,
        e.onnxruntime_version
    );
    let ci = |q: &Percentile| match (q.lower, q.upper) {
        (Some(l), Some(u)) => format!("{} [{}, {}]", number(q.value), number(l), number(u)),
        (Some(l), None) => format!("{} [{}, —]", number(q.value), number(l)),
        (None, Some(u)) => format!("{} [—, {}]", number(q.value), number(u)),
        (None, None) => format!("{} [—]", number(q.value)),
    };
    let opt_mib = |b: Option<u64>| b.map_or("n/a".to_string(), |b| mebibytes(b as f64));
    for m in &p.models {
        let f = &m.footprint;
        let _ = writeln!(out, "\n{} · {} ({})", m.name, m.path, m.input);
        let _ = writeln!(
            out,
            "  footprint: file {} · init {} ms · session memory {} · peak memory {}{}",
            evalkit::format::bytes(f.model_bytes as f64),
            number(f.init_ms),
            opt_mib(f.session_memory_bytes),
            opt_mib(f.peak_rss_bytes),
            if f.peak_since_reset { "" } else { " (process)" }
        );
        if !m.latency.is_empty() {
            let _ = writeln!(
                out,
                "  latency, one request at a time (ms; [{level} interval], — where too few requests bound it):"
            );
            let mut rows = vec![vec![
                "    batch".to_string(),
                "requests".to_string(),
                "p50".to_string(),
                "p95".to_string(),
                "p99".to_string(),
                "max".to_string(),
                "in run".to_string(),
                "overhead".to_string(),
                "rows/s".to_string(),
            ]];
            for r in &m.latency {
                let l = &r.latency_ms;
                rows.push(vec![
                    format!("    {}", r.batch_size),
                    l.requests.to_string(),
                    ci(&l.p50),
                    ci(&l.p95),
                    ci(&l.p99),
                    number(l.max),
                    number(r.model_ms_mean),
                    format!("{:.1}%", r.overhead_pct),
                    number(r.rows_per_s.round()),
                ]);
            }
            out.push_str(&table(&rows));
        }
        if !m.throughput.is_empty() {
            let _ = writeln!(
                out,
                "  throughput, closed loop, {} row{} per request (one session per client):",
                m.throughput[0].batch_size,
                if m.throughput[0].batch_size == 1 {
                    ""
                } else {
                    "s"
                }
            );
            let mut rows = vec![vec![
                "    clients".to_string(),
                "requests".to_string(),
                format!("req/s [{level}]"),
                "p50 ms".to_string(),
                "p99 ms".to_string(),
                "max ms".to_string(),
            ]];
            for r in &m.throughput {
                let l = &r.latency_ms;
                rows.push(vec![
                    format!("    {}", r.concurrency),
                    l.requests.to_string(),
                    match r.qps_ci {
                        Some([lo, hi]) => format!(
                            "{} [{}, {}]",
                            number(r.qps.round()),
                            number(lo.round()),
                            number(hi.round())
                        ),
                        None => number(r.qps.round()),
                    },
                    ci(&l.p50),
                    ci(&l.p99),
                    number(l.max),
                ]);
            }
            out.push_str(&table(&rows));
        }
    }
    if let Some(q) = &p.quality {
        let _ = writeln!(
            out,
            "\nquality against {} ({} task, {} rows; paired bootstrap, {} replicates, {level}):",
            q.reference, q.task, q.rows, q.replicates
        );
        let mut rows = vec![vec![
            "  model".to_string(),
            "metric".to_string(),
            q.reference.clone(),
            "value".to_string(),
            "difference [interval]".to_string(),
        ]];
        let o = |v: Option<f64>| v.map_or("n/a".to_string(), number);
        for d in &q.models {
            for m in &d.metrics {
                rows.push(vec![
                    format!("  {}", d.model),
                    m.metric.clone(),
                    o(m.reference),
                    o(m.value),
                    match (m.delta, m.delta_ci) {
                        (Some(v), Some([lo, hi])) => {
                            format!("{} [{}, {}]", number(v), number(lo), number(hi))
                        }
                        (v, _) => o(v),
                    },
                ]);
            }
        }
        out.push_str(&table(&rows));
    }
    out
}
