//! The report's page: one self-contained HTML file (inline CSS and SVG, no
//! scripts, no external requests), readable offline, with JavaScript off
//! and in print. Every string from data or metadata goes through [`esc`];
//! a Content-Security-Policy (`default-src 'none'`) makes the browser
//! refuse any script or request the page might still carry.

use std::fmt::Write;

use super::charts::{self, Series};
use super::task_charts::{self, ClassView, ForestRow, Reference};
use super::{Candidate, Report};
use crate::metrics::Metric;
use crate::metrics::registry::{self, Direction};
use crate::uncertainty::CiMethod;

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for tables: 4 decimals, integers as integers.
/// One number format for the whole page ([`crate::format::number`]).
fn num(v: f64) -> String {
    crate::format::number(v)
}

fn opt(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), num)
}

fn ci(m: &Metric) -> String {
    m.ci.map_or(String::new(), |[lo, hi]| {
        format!(" <span class=\"ci\">[{}, {}]</span>", num(lo), num(hi))
    })
}

/// A metric cell: value and interval, or `n/a` with the reason as a title.
fn cell(m: Option<&Metric>) -> String {
    match m {
        None => "<td class=\"na\">—</td>".to_string(),
        Some(m) => match m.value {
            Some(v) => format!("<td>{}{}</td>", num(v), ci(m)),
            None => format!(
                "<td class=\"na\" title=\"{}\">n/a</td>",
                esc(m.reason.as_deref().unwrap_or("undefined"))
            ),
        },
    }
}

/// A delta cell, coloured when its interval excludes zero (green when the
/// candidate is better, red when worse).
fn delta_cell(name: &str, d: Option<&Metric>) -> String {
    let Some(d) = d else {
        return "<td class=\"na\">—</td>".to_string();
    };
    let Some(v) = d.value else {
        return format!(
            "<td class=\"na\" title=\"{}\">n/a</td>",
            esc(d.reason.as_deref().unwrap_or("undefined"))
        );
    };
    let class = match d.ci {
        Some([lo, hi]) if lo > 0.0 || hi < 0.0 => {
            let up = lo > 0.0;
            match registry::direction(name) {
                Direction::Neither => "shift",
                Direction::Higher if up => "better",
                Direction::Lower if !up => "better",
                _ => "worse",
            }
        }
        _ => "flat",
    };
    let sign = if v > 0.0 { "+" } else { "" };
    format!("<td class=\"{class}\">{sign}{}{}</td>", num(v), ci(d))
}

pub(super) const CSS: &str = r#"
:root { --fg: #1d2327; --muted: #5f6b73; --line: #d9dee2; --bg-alt: #f5f7f8;
        --better: #0b7a3e; --better-bg: #e3f4ea; --worse: #b3261e; --worse-bg: #fbe7e5; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1240px; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
.meta { color: var(--muted); margin: 0 0 12px; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
td.na { color: var(--muted); }
.ci { color: var(--muted); font-size: 13px; white-space: nowrap; }
td.better { background: var(--better-bg); color: var(--better); }
td.worse { background: var(--worse-bg); color: var(--worse); }
span.worse { color: var(--worse); font-weight: 600; }
td.better .ci, td.worse .ci { color: inherit; }
.pass { color: var(--better); font-weight: 600; }
.fail { color: var(--worse); font-weight: 600; }
.inconclusive { color: #8a5a00; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 18px; }
.charts > .wide { grid-column: 1 / -1; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px; background: #fff; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; padding: 4px 6px 2px; }
.swatch { display: inline-block; width: 22px; height: 0; border-top: 3px solid; vertical-align: middle; margin-right: 6px; }
ul.warnings { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
details > summary { cursor: pointer; color: #0b5cad; margin: 6px 0; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
  .charts { grid-template-columns: 1fr 1fr; }
  .charts > .wide { grid-column: 1 / -1; }
  details { display: block; }
  details > summary { display: none; }
  td.better, td.worse { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Colour of candidate `i` in tables (matches the charts).
pub(super) fn swatch(index: Option<usize>) -> String {
    const HEX: [&str; 6] = [
        "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
    ];
    let (c, style) = match index {
        None => ("#6e6e6e", "dashed"),
        Some(i) => (HEX[i % 6], ["solid", "dashed", "dotted"][i % 3]),
    };
    format!(
        "<span class=\"swatch\" style=\"border-top-color:{c};border-top-style:{style}\"></span>"
    )
}

fn models(r: &Report) -> Vec<(Option<usize>, &Candidate)> {
    let mut v: Vec<(Option<usize>, &Candidate)> = r
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (Some(i), c))
        .collect();
    if let Some(b) = &r.baseline {
        v.push((None, b));
    }
    v
}

fn figure(out: &mut String, svg: Result<String, String>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = write!(
                out,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                svg.trim_start_matches(|c| c != '<'),
                caption
            );
        }
        Err(e) => {
            let _ = write!(out, "<figure><p class=\"na\">{}</p></figure>", esc(&e));
        }
    }
}

fn summary(out: &mut String, r: &Report) {
    let _ = write!(
        out,
        "<section id=\"summary\"><h2>Summary</h2><table><thead><tr><th>model</th><th>rows</th>"
    );
    for h in &r.headline {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (idx, c) in models(r) {
        let _ = write!(
            out,
            "<tr><td>{}{}{}</td><td>{}</td>",
            swatch(idx),
            esc(&c.name),
            if idx.is_none() && c.name != "baseline" {
                " <span class=\"ci\">(baseline)</span>"
            } else {
                ""
            },
            c.rows
        );
        for h in &r.headline {
            out.push_str(&cell(c.metrics.get(h)));
        }
        out.push_str("</tr>");
        if let Some(d) = &c.delta {
            let _ = write!(
                out,
                "<tr><td class=\"ci\">&nbsp;&nbsp;Δ vs {}</td><td></td>",
                esc(&r
                    .baseline
                    .as_ref()
                    .map_or("baseline".to_string(), |b| b.name.clone()))
            );
            for h in &r.headline {
                out.push_str(&delta_cell(h, d.get(h)));
            }
            out.push_str("</tr>");
        }
    }
    out.push_str("</tbody></table>");
    if r.baseline.is_some() {
        let _ = write!(
            out,
            "<p class=\"meta\">Δ = candidate − baseline on the same rows, with the {}% paired interval; green: the interval excludes 0 in the candidate's favour, red: against it.</p>",
            r.intervals.level * 100.0
        );
    }
    out.push_str("</section>");
}

fn gates(out: &mut String, r: &Report) {
    gates_table(out, &r.gates);
}

/// The gates' section: the verdicts line and one row per gate.
pub(super) fn gates_table(out: &mut String, gates: &[super::GateVerdict]) {
    if gates.is_empty() {
        return;
    }
    let failed = gates.iter().filter(|g| !g.passed).count();
    let _ = write!(
        out,
        "<section id=\"gates\"><h2>Gates</h2><p class=\"{}\">{}</p><table><thead><tr><th>gate</th><th>model</th><th>value</th><th class=\"text\">judged</th><th>verdict</th></tr></thead><tbody>",
        if failed == 0 { "pass" } else { "fail" },
        esc(&crate::suite::verdicts_line(
            gates.iter().map(|g| (g.verdict, g.passed))
        ))
    );
    for g in gates {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}{}</td><td class=\"text\">{}</td><td class=\"{}\">{}</td></tr>",
            esc(&g.gate),
            esc(&g.candidate),
            g.value
                .map_or("n/a".to_string(), |v| crate::format::with_unit(v, &g.unit)),
            g.interval.map_or(String::new(), |[lo, hi]| format!(
                " <span class=\"ci\">[{}, {}]</span>",
                num(lo),
                num(hi)
            )),
            esc(&g.detail),
            match g.verdict {
                crate::suite::Outcome::Pass => "pass",
                crate::suite::Outcome::Fail => "fail",
                crate::suite::Outcome::Inconclusive => "inconclusive",
            },
            esc(g.verdict.label(g.passed)),
        );
    }
    out.push_str("</tbody></table><p class=\"meta\">Value: the point value (for a drop, the paired difference candidate − baseline) with its interval; judged: the number the gate compared with its bound, and the smallest difference this data detects with 80% power. Inconclusive: the interval straddles the bound; the suite's <code>on_inconclusive</code> says what it counts as.</p></section>");
}

fn curves(out: &mut String, r: &Report) {
    let ms = models(r);
    let series: Vec<Series> = ms
        .iter()
        .map(|(i, c)| Series {
            name: &c.name,
            curves: &c.curves,
            index: *i,
        })
        .collect();
    out.push_str("<section id=\"curves\"><h2>Curves</h2><div class=\"charts\">");
    let level = r.intervals.level * 100.0;
    let band = if r.intervals.replicates > 0 {
        format!("shaded: pointwise {level}% bootstrap band")
    } else {
        "no bootstrap bands (--bootstrap 0)".to_string()
    };
    if series.iter().any(|s| s.curves.roc.is_some()) {
        let labels: Vec<String> = ms
            .iter()
            .map(|(_, c)| {
                // DeLong's AUC when --metrics left ROC-AUC out of the table.
                let auc = c
                    .metrics
                    .value("roc_auc")
                    .or(c.delong.as_ref().map(|d| d.auc))
                    .map_or("n/a".to_string(), |v| format!("{v:.3}"));
                match &c.delong {
                    Some(d) => format!("{} AUC {auc} [{:.3}, {:.3}]", c.name, d.ci[0], d.ci[1]),
                    None => format!("{} AUC {auc}", c.name),
                }
            })
            .collect();
        figure(
            out,
            charts::roc(&series, &labels),
            &format!(
                "ROC; legend: AUC with {} {level}% interval; {band}; dotted: chance.",
                if ms.iter().any(|(_, c)| c.clusters.is_some()) {
                    "Obuchowski's clustered"
                } else {
                    "DeLong's"
                }
            ),
        );
    }
    if series.iter().any(|s| s.curves.pr.is_some()) {
        figure(
            out,
            charts::pr(&series),
            &format!(
                "Precision–recall; {band}; thin dotted line: each model's share of positives."
            ),
        );
    }
    if series.iter().any(|s| s.curves.f1_at.is_some()) {
        figure(
            out,
            charts::thresholds(&series, r.threshold),
            "Thick: F1; dashed: precision; dotted: recall; vertical dotted line in each model's colour: its best-F1 threshold; black dashes: the chosen threshold.",
        );
    }
    if series.iter().any(|s| s.curves.decision.is_some()) {
        figure(
            out,
            charts::decision(&series),
            "Decision curve (Vickers & Elkin 2006): the net benefit (TP − FP·pt/(1 − pt))/rows of acting on the rows scoring at least the threshold probability pt, against acting on every row (dotted, in each model's colour) and on none (black dashes); it reads scores as probabilities.",
        );
    }
    let costed: Vec<(&Series, &crate::costs::CostResult)> = series
        .iter()
        .zip(&ms)
        .filter_map(|(s, (_, c))| c.cost.as_ref().map(|k| (s, k)))
        .collect();
    if let Some((_, first)) = costed.first() {
        figure(
            out,
            charts::cost(&costed),
            &format!(
                "Expected cost per row against the threshold (a false positive costs {}, a false negative {}); points: each model's cost-optimal threshold.",
                esc(&first.fp.to_string()),
                esc(&first.fn_.to_string())
            ),
        );
    }
    if series.iter().any(|s| !s.curves.reliability.is_empty()) {
        let method = r.intervals.method.parse().unwrap_or(CiMethod::Percentile);
        figure(
            out,
            charts::reliability(&series, r.intervals.level, method),
            &reliability_caption(&series, r.intervals.level, method),
        );
    }
    if series.iter().any(|s| !s.curves.abs_error.is_empty()) {
        figure(
            out,
            task_charts::abs_error(&series),
            "Absolute error of every model: the share of rows whose error is at most x (from each model's percentiles 0–100; the axis ends at the largest 99th percentile); higher and further left is better.",
        );
    }
    if series.iter().any(|s| !s.curves.deciles.is_empty()) {
        figure(
            out,
            task_charts::deciles(&series),
            &format!(
                "Each model's rows split into tenths by prediction: mean actual against mean prediction, bars: {level}% normal interval of the mean actual; dashed: actual = predicted."
            ),
        );
    }
    for c in &r.candidates {
        decile_delta_chart(out, c, level);
    }
    for (s, (_, c)) in series.iter().zip(&ms) {
        for (d, title, y, reference) in [
            (
                &s.curves.actual_vs_predicted,
                "actual vs predicted",
                "actual",
                Reference::Identity,
            ),
            (
                &s.curves.residual_vs_predicted,
                "residual vs predicted",
                "residual (label − prediction)",
                Reference::Zero,
            ),
        ] {
            if let Some(d) = d {
                figure(
                    out,
                    task_charts::density(
                        &format!("{}: {title}", s.name),
                        "predicted",
                        y,
                        d,
                        reference,
                    ),
                    &format!(
                        "{}: {title}, rows binned on a {n}×{n} grid over 1%–99% of the values (darker: more rows, square-root scale){}.",
                        esc(s.name),
                        if d.outside > 0.0 {
                            format!("; {} rows outside the range are not drawn", num(d.outside))
                        } else {
                            String::new()
                        },
                        n = super::views::DENSITY_BINS
                    ),
                );
            }
        }
        if !c.per_class.is_empty() {
            class_f1(out, c, level);
        }
        if !s.curves.class_curves.is_empty() {
            class_panels(out, s, c, &band, level);
        }
        if !c.per_class.is_empty() && !c.confusion.matrix.is_empty() {
            figure(
                out,
                task_charts::confusion_map(&c.name, &c.confusion.labels, &c.confusion.matrix),
                &format!(
                    "{}: confusion matrix, each cell shaded by its share of the actual class's rows (the diagonal is each class's recall); counts written in up to 15 classes. The most confused pairs are listed under Tables.",
                    esc(&c.name)
                ),
            );
        }
    }
    for s in &series {
        if !s.curves.histograms.is_empty() {
            let unit = if s.curves.histogram_unit.is_empty() {
                "rows"
            } else {
                &s.curves.histogram_unit
            };
            figure(
                out,
                charts::histograms(
                    s.name,
                    &s.curves.histogram_of,
                    &s.curves.histogram_axis,
                    unit,
                    &s.curves.histograms,
                ),
                &format!(
                    "{}: {}, as shares of each group's {unit}.",
                    esc(s.name),
                    esc(&s.curves.histogram_of),
                ),
            );
        }
    }
    out.push_str("</div></section>");
}

/// One model's one-vs-rest ROC and precision–recall small multiples,
/// full width.
fn class_panels(out: &mut String, s: &Series, c: &Candidate, band: &str, level: f64) {
    let curves = &s.curves.class_curves;
    let shown = format!(
        "the {} classes with the lowest one-vs-rest ROC-AUC (of {}), weakest first",
        curves.len(),
        c.per_class.len()
    );
    let interval = if curves.iter().any(|k| k.auc_ci.is_some()) {
        format!(" with its {level}% percentile bootstrap interval")
    } else {
        String::new()
    };
    for (view, caption) in [
        (
            ClassView::Roc,
            format!(
                "{}: one-vs-rest ROC curves of {shown}; each panel: the class and its AUC{interval}; {band}; dotted: chance.",
                esc(&c.name)
            ),
        ),
        (
            ClassView::Pr,
            format!(
                "{}: one-vs-rest precision–recall curves of the same classes; each panel: the class and its average precision{interval}; {band}; dotted: the class's share of rows.",
                esc(&c.name)
            ),
        ),
    ] {
        out.push_str("<div class=\"wide\">");
        figure(
            out,
            task_charts::class_panels(&c.name, curves, view, s.colour(), s.dash()),
            &caption,
        );
        out.push_str("</div>");
    }
}

/// The reliability diagram's caption; it says so when most bins hold too
/// few rows to read.
fn reliability_caption(series: &[Series], level: f64, method: CiMethod) -> String {
    let min = charts::RELIABLE_BIN_ROWS;
    let which = if method == CiMethod::ClopperPearson {
        "Clopper–Pearson interval on the bin's rows (Wilson's where rows are weighted)"
    } else {
        "Wilson interval on the bin's rows"
    };
    let mut caption = format!(
        "Points: observed frequency per bin (15 equal-width bins) with its {}% {which}; lines join neighbouring bins of at least {min} rows, hollow points are bins with fewer; bars: rows per bin, relative to the fullest.",
        num(level * 100.0)
    );
    for s in series {
        let filled: Vec<u64> = s
            .curves
            .reliability
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| b.count)
            .collect();
        let small = filled.iter().filter(|&&n| n < min).count();
        if small * 2 > filled.len() {
            let _ = write!(
                caption,
                " {}: {small} of {} filled bins hold fewer than {min} rows ({} rows in all): too few to read calibration from; trust the intervals, not the points.",
                esc(s.name),
                filled.len(),
                num(filled.iter().sum::<u64>() as f64)
            );
        }
    }
    caption
}

fn metric_table(out: &mut String, r: &Report) {
    let ms = models(r);
    out.push_str("<h3>Every metric</h3><table><thead><tr><th>metric</th>");
    for (i, c) in &ms {
        let _ = write!(out, "<th>{}{}</th>", swatch(*i), esc(&c.name));
        if c.delta.is_some() {
            let _ = write!(out, "<th>Δ {}</th>", esc(&c.name));
        }
    }
    out.push_str("</tr></thead><tbody>");
    let names: Vec<&str> = ms.first().map_or(Vec::new(), |(_, c)| {
        c.metrics.iter().map(|(n, _)| n).collect()
    });
    for n in names {
        let _ = write!(out, "<tr><td>{}</td>", esc(n));
        for (_, c) in &ms {
            out.push_str(&cell(c.metrics.get(n)));
            if let Some(d) = &c.delta {
                out.push_str(&delta_cell(n, d.get(n)));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn confusion(out: &mut String, c: &Candidate) {
    let m = &c.confusion;
    if m.matrix.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>Confusion matrix · {}{}</h3><table><thead><tr><th>actual \\ predicted</th>",
        esc(&c.name),
        m.threshold
            .map_or(String::new(), |t| format!(" at threshold {t}"))
    );
    for l in &m.labels {
        let _ = write!(out, "<th>{}</th>", esc(l));
    }
    out.push_str("<th>recall</th></tr></thead><tbody>");
    for (i, row) in m.matrix.iter().enumerate() {
        let total: f64 = row.iter().sum();
        let _ = write!(
            out,
            "<tr><th>{}</th>",
            esc(m.labels.get(i).map_or("", String::as_str))
        );
        for v in row {
            let rate = if total > 0.0 {
                format!(" <span class=\"ci\">{:.1}%</span>", 100.0 * v / total)
            } else {
                String::new()
            };
            let _ = write!(out, "<td>{}{rate}</td>", num(*v));
        }
        let diag = row.get(i).copied().unwrap_or(0.0);
        let _ = write!(
            out,
            "<td>{}</td></tr>",
            if total > 0.0 {
                format!("{:.1}%", 100.0 * diag / total)
            } else {
                "n/a".to_string()
            }
        );
    }
    out.push_str("</tbody></table>");
    if !c.per_class.is_empty() {
        confused_pairs(out, c);
    }
}

/// Pairs listed under the multiclass confusion matrix.
const CONFUSED_PAIRS: usize = 8;

/// The off-diagonal cells with the most rows: which class is taken for
/// which, and how often relative to the actual class.
fn confused_pairs(out: &mut String, c: &Candidate) {
    let m = &c.confusion;
    let mut pairs: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (i, row) in m.matrix.iter().enumerate() {
        let total: f64 = row.iter().sum();
        for (j, &v) in row.iter().enumerate() {
            if i != j && v > 0.0 {
                pairs.push((i, j, v, v / total));
            }
        }
    }
    if pairs.is_empty() {
        return;
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.3.total_cmp(&a.3)));
    let _ = write!(
        out,
        "<h3>Most confused · {}</h3><table><thead><tr><th>actual</th><th>predicted as</th><th>rows</th><th>share of actual</th></tr></thead><tbody>",
        esc(&c.name)
    );
    let name = |i: usize| esc(m.labels.get(i).map_or("", String::as_str));
    for &(i, j, v, share) in pairs.iter().take(CONFUSED_PAIRS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td></tr>",
            name(i),
            name(j),
            num(v),
            100.0 * share
        );
    }
    out.push_str("</tbody></table>");
}

fn per_class(out: &mut String, c: &Candidate) {
    if c.per_class.is_empty() {
        return;
    }
    let paired = !c.class_f1_delta.is_empty();
    let _ = write!(
        out,
        "<h3>Per class · {}</h3><table><thead><tr><th>class</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th>{}<th>ROC-AUC</th><th>avg precision</th></tr></thead><tbody>",
        esc(&c.name),
        if paired {
            "<th>Δ F1 vs baseline</th>"
        } else {
            ""
        }
    );
    for (i, row) in c.per_class.iter().enumerate() {
        let f1 = match (row.f1, row.f1_ci) {
            (Some(v), Some([lo, hi])) => format!(
                "<td>{} <span class=\"ci\">[{}, {}]</span></td>",
                num(v),
                num(lo),
                num(hi)
            ),
            (v, _) => format!("<td>{}</td>", opt(v)),
        };
        let delta = if paired {
            delta_cell("f1", c.class_f1_delta.get(i))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{f1}{delta}<td>{}</td><td>{}</td></tr>",
            esc(c.classes.get(row.class).map_or("", String::as_str)),
            num(row.support),
            num(row.predicted),
            opt(row.precision),
            opt(row.recall),
            opt(row.roc_auc),
            opt(row.average_precision)
        );
    }
    out.push_str("</tbody></table>");
}

fn slices(out: &mut String, c: &Candidate, headline: &[String]) {
    if c.slices.is_empty() {
        return;
    }
    let mut start = 0;
    while start < c.slices.len() {
        let by = &c.slices[start].by;
        let mut group: Vec<_> = c.slices[start..]
            .iter()
            .take_while(|s| &s.by == by)
            .collect();
        // Slices worse than the rest after adjustment first, most
        // significant first; the others in key order.
        crate::slices::flagged_first(&mut group, |s| {
            s.versus_rest
                .as_ref()
                .filter(|t| t.flagged)
                .map(|t| t.p_holm)
        });
        let tested = group.iter().any(|s| s.versus_rest.is_some());
        let paired = group.iter().any(|s| s.versus_baseline.is_some());
        let _ = write!(
            out,
            "<h3>Slices by {} · {}</h3>",
            esc(&by.join(" × ")),
            esc(&c.name)
        );
        if let Some(metric) = headline.first() {
            forest(out, c, &group, metric);
        }
        out.push_str("<table><thead><tr>");
        for col in by {
            let _ = write!(out, "<th>{}</th>", esc(col));
        }
        out.push_str("<th>rows</th>");
        for h in headline {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        if tested {
            out.push_str("<th>vs rest</th><th>p (Holm)</th>");
        }
        if paired {
            out.push_str("<th>AUC vs baseline</th><th>p (Holm)</th>");
        }
        out.push_str("</tr></thead><tbody>");
        for s in &group {
            out.push_str("<tr>");
            for k in &s.key {
                let _ = write!(out, "<td>{}</td>", esc(k));
            }
            let _ = write!(
                out,
                "<td>{}{}</td>",
                s.rows,
                if s.too_small { " †" } else { "" }
            );
            for h in headline {
                out.push_str(&cell(s.metrics.get(h)));
            }
            if tested {
                test_cells(
                    out,
                    s.versus_rest
                        .as_ref()
                        .map(|t| (t.difference, t.p_holm, t.flagged)),
                    "worse",
                );
            }
            if paired {
                test_cells(
                    out,
                    s.versus_baseline
                        .as_ref()
                        .map(|t| (t.difference, t.p_holm, t.flagged)),
                    "below baseline",
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if tested {
            let flagged = group
                .iter()
                .filter(|s| s.versus_rest.as_ref().is_some_and(|t| t.flagged))
                .count();
            let _ = write!(
                out,
                "<p class=\"meta\">vs rest: the slice's {} minus the rest of the rows'; p: two-sided, Holm-adjusted across every slice tested. {flagged} slice{} worse after adjustment{}.</p>",
                esc(group
                    .iter()
                    .find_map(|s| s.versus_rest.as_ref().map(|t| t.metric))
                    .unwrap_or("")),
                if flagged == 1 { " is" } else { "s are" },
                if flagged > 0 { ", listed first" } else { "" }
            );
        }
        if paired {
            let below = group
                .iter()
                .filter(|s| s.versus_baseline.as_ref().is_some_and(|t| t.flagged))
                .count();
            let _ = write!(
                out,
                "<p class=\"meta\">AUC vs baseline: the candidate's ROC-AUC minus the baseline's on the slice's rows; p: DeLong's paired test (Obuchowski's with clusters), Holm-adjusted across every slice. {below} slice{} below the baseline after adjustment.</p>",
                if below == 1 { " is" } else { "s are" }
            );
        }
        if group.iter().any(|s| s.too_small) {
            out.push_str("<p class=\"meta\">† too few rows for intervals: point values only.</p>");
        }
        start += group.len();
    }
}

/// Per-class F1 with its interval, weakest first, macro F1 as the
/// reference line.
fn class_f1(out: &mut String, c: &Candidate, level: f64) {
    let mut rows: Vec<ForestRow> = c
        .per_class
        .iter()
        .filter_map(|r| {
            Some(ForestRow {
                label: c.classes.get(r.class).cloned().unwrap_or_default(),
                value: r.f1?,
                ci: r.f1_ci,
                flagged: false,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.value.total_cmp(&b.value));
    let shown = rows.len().min(task_charts::FOREST_MAX);
    figure(
        out,
        task_charts::forest(
            &format!("{}: F1 per class", c.name),
            "F1",
            &rows,
            c.metrics.value("macro_f1"),
        ),
        &format!(
            "{}: each class's F1 (a row is predicted as its top-probability class), weakest first{}; bars: {level}% percentile bootstrap interval{}; dashed: macro F1.",
            esc(&c.name),
            if shown < rows.len() {
                format!(" (the {shown} weakest of {})", rows.len())
            } else {
                String::new()
            },
            if rows.iter().all(|r| r.ci.is_none()) {
                " (none without the bootstrap)"
            } else {
                ""
            }
        ),
    );
}

/// The forest plot of one slicing: the headline metric per slice with its
/// interval, worst first, the whole data's value as the reference line.
fn forest(out: &mut String, c: &Candidate, group: &[&super::SliceRow], metric: &str) {
    let mut rows: Vec<ForestRow> = group
        .iter()
        .filter_map(|s| {
            let m = s.metrics.get(metric)?;
            Some(ForestRow {
                label: s.key.join(" × "),
                value: m.value?,
                ci: m.ci,
                flagged: s.versus_rest.as_ref().is_some_and(|t| t.flagged)
                    || s.versus_baseline.as_ref().is_some_and(|t| t.flagged),
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    // Worst first: ascending when higher is better, else descending.
    let lower_better = registry::direction(metric) == Direction::Lower;
    rows.sort_by(|a, b| {
        let o = a.value.total_cmp(&b.value);
        if lower_better { o.reverse() } else { o }
    });
    let shown = rows.len().min(task_charts::FOREST_MAX);
    let _ = write!(out, "<div class=\"charts\">");
    figure(
        out,
        task_charts::forest(
            &format!("{}: {metric} by slice", c.name),
            metric,
            &rows,
            c.metrics.value(metric),
        ),
        &format!(
            "{metric} per slice{}, worst first{}; bars: the slice's interval where it has one; dashed: the whole data's value; ▼ and the second colour: flagged after adjustment.",
            if shown < rows.len() {
                format!(" (the {shown} worst of {})", rows.len())
            } else {
                String::new()
            },
            if rows.iter().any(|r| r.ci.is_none()) {
                " (slices without a bar have no interval)"
            } else {
                ""
            }
        ),
    );
    out.push_str("</div>");
}

/// A slice test's two cells: the signed difference, and Holm's p-value
/// with `flag` marked when the test flagged the slice.
fn test_cells(out: &mut String, test: Option<(f64, f64, bool)>, flag: &str) {
    match test {
        Some((difference, p_holm, flagged)) => {
            let _ = write!(
                out,
                "<td>{}{}</td><td>{}{}</td>",
                if difference > 0.0 { "+" } else { "" },
                num(difference),
                num(p_holm),
                if flagged {
                    format!(" <span class=\"worse\">▼ {}</span>", esc(flag))
                } else {
                    String::new()
                }
            );
        }
        None => out.push_str("<td>n/a</td><td>n/a</td>"),
    }
}

fn residuals(out: &mut String, c: &Candidate) {
    let Some(r) = &c.residuals else { return };
    let _ = write!(
        out,
        "<h3>Residuals · {}</h3><table><thead><tr><th>mean</th>",
        esc(&c.name)
    );
    for p in &r.probabilities {
        let _ = write!(out, "<th>q{}</th>", num(100.0 * p));
    }
    let _ = write!(out, "</tr></thead><tbody><tr><td>{}</td>", num(r.mean));
    for q in &r.quantiles {
        let _ = write!(out, "<td>{}</td>", num(*q));
    }
    out.push_str("</tr></tbody></table>");
}

/// One model's operating points: the choice, the rates there with their
/// intervals, and what to expect on new data.
fn operating_points(out: &mut String, c: &Candidate, level: f64) {
    let Some(first) = c.operating_points.first() else {
        return;
    };
    let rates = ["precision", "recall", "fpr", "f1"];
    let _ = write!(
        out,
        "<h3>Operating points · {}</h3><table><thead><tr><th class=\"text\">constraint</th><th class=\"text\">objective</th><th>threshold</th>{}",
        esc(&c.name),
        if first.certified {
            "<th>bound</th>"
        } else {
            ""
        }
    );
    for r in rates {
        let _ = write!(out, "<th>{r}</th>");
    }
    let expected = ["precision", "recall"];
    for r in expected {
        let _ = write!(out, "<th>expected {r}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for p in &c.operating_points {
        let _ = write!(
            out,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td>",
            esc(&p.constraint),
            esc(&p.objective)
        );
        match p.threshold {
            Some(t) => {
                let _ = write!(out, "<td>{}</td>", num(t));
                if first.certified {
                    out.push_str(&format!(
                        "<td>{}</td>",
                        opt(p.bound.as_ref().map(|b| b.value))
                    ));
                }
                for r in rates {
                    out.push_str(&cell(p.metrics.get(r)));
                }
                for r in expected {
                    out.push_str(&cell(p.expected.as_ref().and_then(|e| e.metrics.get(r))));
                }
            }
            None => {
                let span = 1 + usize::from(first.certified) + rates.len() + expected.len();
                let _ = write!(
                    out,
                    "<td class=\"na text\" colspan=\"{span}\">{}</td>",
                    esc(p.reason.as_deref().unwrap_or("no threshold"))
                );
            }
        }
        out.push_str("</tr>");
    }
    let _ = write!(
        out,
        "</tbody></table><p class=\"meta\">{} Rates at the threshold with {}% percentile bootstrap intervals; expected: chosen again on each replicate's rows and scored on the rows it left out (the out-of-bag estimate of what new data will show).</p>",
        if first.certified {
            format!(
                "Certified: the constraint holds at its one-sided {}% Clopper–Pearson bound (shown), thresholds tested in a fixed sequence.",
                crate::format::number(100.0 * level)
            )
        } else {
            "Chosen by point estimates (uncertified).".to_string()
        },
        crate::format::number(100.0 * level)
    );
}

/// One model's cost analysis.
fn costs(out: &mut String, c: &Candidate) {
    let Some(k) = &c.cost else { return };
    let _ = write!(
        out,
        "<h3>Costs · {}</h3><table><thead><tr><th class=\"text\">rule</th><th>expected cost per row</th></tr></thead><tbody>",
        esc(&c.name)
    );
    let mut row = |rule: String, v: Option<f64>| {
        let _ = write!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td></tr>",
            esc(&rule),
            opt(v)
        );
    };
    row(
        match k.threshold {
            Some(t) => format!("cost-optimal threshold {}", num(t)),
            None => "cost-optimal: every row negative".to_string(),
        },
        k.expected_cost,
    );
    if let Some(a) = &k.at_threshold {
        row(
            format!("threshold {}", num(a.threshold)),
            Some(a.expected_cost),
        );
    }
    row("every row negative".to_string(), k.predict_none);
    row("every row positive".to_string(), k.predict_all);
    let _ = write!(
        out,
        "</tbody></table><p class=\"meta\">A false positive costs {}, a false negative {}. At the optimum: precision {}, recall {}, FPR {}.</p>",
        esc(&k.fp.to_string()),
        esc(&k.fn_.to_string()),
        opt(k.metrics.value("precision")),
        opt(k.metrics.value("recall")),
        opt(k.metrics.value("fpr"))
    );
}

/// A decile of the actual value as shown: its range (`short`: three
/// significant digits, for the chart).
fn decile_label(d: &super::views::DecileDelta, short: bool) -> String {
    let f = if short { crate::format::short } else { num };
    format!("{} to {}", f(d.actual[0]), f(d.actual[1]))
}

/// A decile's difference as a metric (MAE's direction colours it).
fn decile_metric(d: &super::views::DecileDelta) -> Metric {
    Metric {
        ci: d.ci,
        ..Metric::point(d.delta)
    }
}

/// With a regression baseline: the paired difference of the mean absolute
/// error per decile of the actual value, as a forest plot.
fn decile_delta_chart(out: &mut String, c: &Candidate, level: f64) {
    if c.decile_delta.is_empty() {
        return;
    }
    let rows: Vec<ForestRow> = c
        .decile_delta
        .iter()
        .map(|d| ForestRow {
            label: decile_label(d, true),
            value: d.delta,
            ci: d.ci,
            flagged: d.ci.is_some_and(|[lo, _]| lo > 0.0),
        })
        .collect();
    figure(
        out,
        task_charts::forest(
            &format!("{}: Δ MAE vs baseline by decile", c.name),
            "candidate MAE − baseline MAE",
            &rows,
            Some(0.0),
        ),
        &format!(
            "{}: the rows split into tenths by the actual value (lowest first), each with the paired difference of the mean absolute error, candidate − baseline; bars: {level}% normal interval; dashed: no difference; ▼ and the second colour: the candidate is worse on those rows (the interval lies above 0).",
            esc(&c.name)
        ),
    );
}

/// The per-decile differences as a table, coloured as the summary's
/// deltas.
fn decile_delta_table(out: &mut String, c: &Candidate) {
    if c.decile_delta.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>Absolute error by decile of the actual value · {}</h3><table><thead><tr><th>decile</th><th>actual</th><th>rows</th><th>MAE</th><th>baseline MAE</th><th>Δ MAE</th></tr></thead><tbody>",
        esc(&c.name)
    );
    for (i, d) in c.decile_delta.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            i + 1,
            esc(&decile_label(d, false)),
            d.rows,
            num(d.candidate_mae),
            num(d.baseline_mae),
            delta_cell("mae", Some(&decile_metric(d)))
        );
    }
    out.push_str("</tbody></table><p class=\"meta\">Rows split into tenths by the actual value (ties by row), the same rows for both models; Δ: the weighted mean of each row's paired difference |y − candidate| − |y − baseline| with its normal interval (green: the candidate's error is lower, red: higher).</p>");
}

fn json_num(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

fn json_str(v: &serde_json::Value, key: &str) -> String {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => esc(s),
        Some(serde_json::Value::Null) | None => "—".to_string(),
        Some(other) => esc(&other.to_string()),
    }
}

fn inference(out: &mut String, r: &Report) {
    let ms = models(r);
    out.push_str("<section id=\"inference\"><h2>Inference</h2>");
    if ms.iter().all(|(_, c)| c.inference.is_none()) {
        out.push_str("<p class=\"meta\">No inference statistics: these prediction files were not written by <code>evalkit infer</code>.</p></section>");
        return;
    }
    out.push_str("<table><thead><tr><th>model</th><th>provider</th><th>device</th><th>batch size</th><th>threads</th><th>rows/s, whole pass</th><th>rows/s, model</th><th>batch latency</th><th>peak memory</th></tr></thead><tbody>");
    for (i, c) in &ms {
        let _ = write!(out, "<tr><td>{}{}</td>", swatch(*i), esc(&c.name));
        match &c.inference {
            None => out.push_str("<td class=\"na\" colspan=\"8\">not from evalkit infer</td>"),
            Some(v) => {
                let ms = |k: &str| opt(json_num(v, &["latency_ms", k]));
                let latency = match json_num(v, &["batches"]) {
                    Some(1.0) => format!("{} ms (1 batch)", ms("p50")),
                    b => format!(
                        "p50 {} ms, p95 {} ms, p99 {} ms ({} batches)",
                        ms("p50"),
                        ms("p95"),
                        ms("p99"),
                        opt(b)
                    ),
                };
                let _ = write!(
                    out,
                    "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    json_str(v, "provider"),
                    json_str(v, "device"),
                    json_str(v, "batch_size"),
                    json_str(v, "threads"),
                    opt(json_num(v, &["rows_per_s"]).map(f64::round)),
                    opt(json_num(v, &["model_rows_per_s"]).map(f64::round)),
                    latency,
                    json_num(v, &["peak_rss_bytes"])
                        .map_or("n/a".to_string(), crate::format::mebibytes),
                );
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table><p class=\"meta\">Rows/s, whole pass: the rows over the pass's wall time (reading and converting the data, running the model, collecting the scores). Rows/s, model: the rows over the time inside ONNX Runtime's <code>run</code> alone. Batch latency: ONNX Runtime's <code>run</code> per batch of <em>batch size</em> rows, with percentiles over the batches. Peak memory: the process's peak resident set size.</p></section>");
}

/// An escaped path that wraps after its separators, not inside a name.
fn breakable_path(escaped: &str) -> String {
    escaped.replace('/', "/<wbr>").replace('\\', "\\<wbr>")
}

fn provenance(out: &mut String, r: &Report) {
    out.push_str("<section id=\"provenance\"><h2>Provenance</h2><table><thead><tr><th>model</th><th>prediction file</th><th>model file</th><th>model blake3</th><th>data</th><th>data blake3</th><th>written by</th></tr></thead><tbody>");
    for (i, c) in models(r) {
        let p = &c.provenance;
        let field = |v: &Option<serde_json::Value>, k: &str| {
            v.as_ref().map_or("—".to_string(), |v| json_str(v, k))
        };
        let _ = write!(
            out,
            "<tr><td>{}{}</td><td class=\"mono\">{}{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            swatch(i),
            esc(&c.name),
            breakable_path(&esc(&c.file)),
            p.file_bytes
                .map_or(String::new(), |b| format!(" ({} bytes)", num(b as f64))),
            breakable_path(&field(&p.model, "path")),
            field(&p.model, "blake3"),
            breakable_path(&field(&p.data, "path")),
            field(&p.data, "blake3"),
            esc(p.created_by.as_deref().unwrap_or("—")),
        );
    }
    let iv = &r.intervals;
    let _ = write!(
        out,
        "</tbody></table><p class=\"meta\">Intervals: {}. Threshold {}. evalkit {}, report made {}.</p></section>",
        if iv.replicates > 0 {
            format!(
                "{}% bootstrap {} from {} {} replicates, seed {}{}",
                iv.level * 100.0,
                esc(&iv.method),
                iv.replicates,
                esc(&iv.resample),
                iv.seed,
                models(r)
                    .iter()
                    .find_map(|(_, c)| c.clusters.as_ref())
                    .map_or(String::new(), |c| format!(
                        ", resampling whole clusters of {}",
                        esc(c)
                    ))
            )
        } else {
            "none (no bootstrap)".to_string()
        },
        r.threshold,
        esc(&r.evalkit_version),
        esc(&r.created)
    );
}

fn warnings(out: &mut String, r: &Report) {
    let ms = models(r);
    if ms.iter().all(|(_, c)| c.warnings.is_empty()) {
        return;
    }
    out.push_str("<section id=\"notes\"><h2>Notes</h2>");
    for (_, c) in ms {
        if c.warnings.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{}</h3><ul class=\"warnings\">", esc(&c.name));
        for w in &c.warnings {
            let _ = write!(out, "<li>{}</li>", esc(w));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// Renders the report as one HTML page.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let rows: Vec<String> = r.candidates.iter().map(|c| c.rows.to_string()).collect();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&r.title)
    );
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"meta\">{} task · {} rows · {} · evalkit {}</p></header>",
        esc(&r.title),
        esc(&r.task),
        esc(&rows.join(" / ")),
        esc(&r.created),
        esc(&r.evalkit_version)
    );
    out.push_str("<nav><a href=\"#summary\">Summary</a>");
    if !r.gates.is_empty() {
        out.push_str("<a href=\"#gates\">Gates</a>");
    }
    out.push_str("<a href=\"#curves\">Curves</a><a href=\"#tables\">Tables</a><a href=\"#inference\">Inference</a>");
    if r.serving.is_some() {
        out.push_str("<a href=\"#serving\">Serving</a>");
    }
    out.push_str("<a href=\"#provenance\">Provenance</a></nav>");
    summary(&mut out, r);
    gates(&mut out, r);
    curves(&mut out, r);
    out.push_str("<section id=\"tables\"><h2>Tables</h2>");
    metric_table(&mut out, r);
    for (_, c) in models(r) {
        confusion(&mut out, c);
    }
    for (_, c) in models(r) {
        operating_points(&mut out, c, r.intervals.level);
        costs(&mut out, c);
        per_class(&mut out, c);
        residuals(&mut out, c);
        decile_delta_table(&mut out, c);
    }
    for c in &r.candidates {
        slices(&mut out, c, &r.headline);
    }
    out.push_str("</section>");
    inference(&mut out, r);
    if let Some(p) = &r.serving {
        super::serving::section(&mut out, p);
    }
    provenance(&mut out, r);
    warnings(&mut out, r);
    out.push_str("</body></html>\n");
    out
}
