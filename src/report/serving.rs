//! The serving section of a report (and the page `evalkit profile
//! --report` writes): latency against batch size, throughput and latency
//! against concurrency with their intervals and bands, the footprint, the
//! environment, and the quality difference of a side-by-side profile.

use std::fmt::Write;

use plotters::prelude::*;

use super::GateVerdict;
use super::charts::{Corner, PALETTE, SIZE, draw_legend, err, line};
use super::html::{CSS, esc, gates_table, swatch};
use crate::format::{mebibytes, number};
use crate::profile::stats::Percentile;
use crate::profile::{ModelProfile, Profile};

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A chart with a log2 x axis labelled by the counts themselves (batch
/// sizes, clients; counts that are not powers of two go unlabelled):
/// `draw(chart, legend)` draws with x = log2(count).
fn log2_chart(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    counts: &[usize],
    y_max: f64,
    draw: impl FnOnce(&mut super::charts::Chart, &mut Vec<super::charts::Legend>) -> Result<(), String>,
) -> Result<String, String> {
    let lo = counts.iter().copied().min().unwrap_or(1).max(1) as f64;
    let hi = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let (x0, x1) = (lo.log2() - 0.25, hi.log2() + 0.25);
    let y1 = if y_max.is_finite() && y_max > 0.0 {
        y_max * 1.1
    } else {
        1.0
    };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(err)?;
        // Ticks at the profiled counts only, labelled as counts.
        let ticks: Vec<i32> = counts
            .iter()
            .map(|&c| (c.max(1) as f64).log2())
            .filter(|x| x.fract() == 0.0)
            .map(|x| x as i32)
            .collect();
        let x_label = |x: &f64| {
            let r = x.round();
            if (x - r).abs() < 1e-9 && ticks.contains(&(r as i32)) {
                format!("{}", 2f64.powi(r as i32))
            } else {
                String::new()
            }
        };
        let y_label = |y: &f64| number(*y);
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(((x1 - x0).ceil() as usize + 1) * 4)
            .y_labels(6)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .max_light_lines(1)
            .light_line_style(RGBColor(242, 242, 242))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        let mut legend = Vec::new();
        draw(&mut chart, &mut legend)?;
        let area = chart.plotting_area().get_pixel_range();
        draw_legend(&root, area, Corner::UpperLeft, &legend)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// A shaded band between `lo` and `hi` at `x`.
fn band(
    chart: &mut super::charts::Chart,
    x: &[f64],
    lo: &[f64],
    hi: &[f64],
    c: RGBColor,
) -> Result<(), String> {
    if x.len() < 2 {
        return Ok(());
    }
    let outline: Vec<(f64, f64)> = x
        .iter()
        .zip(hi)
        .map(|(&x, &h)| (x, h))
        .chain(x.iter().zip(lo).rev().map(|(&x, &l)| (x, l)))
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.15).filled())))
        .map_err(err)?;
    Ok(())
}

fn dots(chart: &mut super::charts::Chart, pts: &[(f64, f64)], c: RGBColor) -> Result<(), String> {
    chart
        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
        .map_err(err)?;
    Ok(())
}

/// Ends of a percentile's interval, the value where an end is missing.
fn ends(p: &Percentile) -> (f64, f64) {
    (p.lower.unwrap_or(p.value), p.upper.unwrap_or(p.value))
}

fn latency_chart(p: &Profile) -> Result<String, String> {
    let sizes: Vec<usize> = p.settings.batch_sizes.clone();
    let y_max = p
        .models
        .iter()
        .flat_map(|m| m.latency.iter().map(|r| ends(&r.latency_ms.p99).1))
        .fold(0.0, f64::max);
    log2_chart(
        "Latency per request",
        "rows per request (batch size)",
        "ms",
        &sizes,
        y_max,
        |chart, legend| {
            for (i, m) in p.models.iter().enumerate() {
                let c = colour(i);
                let x: Vec<f64> = m
                    .latency
                    .iter()
                    .map(|r| (r.batch_size as f64).log2())
                    .collect();
                let (lo, hi): (Vec<f64>, Vec<f64>) =
                    m.latency.iter().map(|r| ends(&r.latency_ms.p99)).unzip();
                band(chart, &x, &lo, &hi, c)?;
                let p50: Vec<(f64, f64)> = x
                    .iter()
                    .zip(&m.latency)
                    .map(|(&x, r)| (x, r.latency_ms.p50.value))
                    .collect();
                let p99: Vec<(f64, f64)> = x
                    .iter()
                    .zip(&m.latency)
                    .map(|(&x, r)| (x, r.latency_ms.p99.value))
                    .collect();
                dots(chart, &p50, c)?;
                dots(chart, &p99, c)?;
                line(
                    chart,
                    p50,
                    c,
                    None,
                    2,
                    Some(&format!("{} p50", m.name)),
                    legend,
                )?;
                line(
                    chart,
                    p99,
                    c,
                    Some((6, 4)),
                    2,
                    Some(&format!("{} p99", m.name)),
                    legend,
                )?;
            }
            Ok(())
        },
    )
}

fn qps_chart(p: &Profile) -> Result<String, String> {
    let levels = p.settings.concurrency.clone();
    let y_max = p
        .models
        .iter()
        .flat_map(|m| {
            m.throughput
                .iter()
                .map(|r| r.qps_ci.map_or(r.qps, |[_, hi]| hi))
        })
        .fold(0.0, f64::max);
    log2_chart(
        "Throughput",
        "concurrent clients",
        "requests/s",
        &levels,
        y_max,
        |chart, legend| {
            for (i, m) in p.models.iter().enumerate() {
                let c = colour(i);
                let x: Vec<f64> = m
                    .throughput
                    .iter()
                    .map(|r| (r.concurrency as f64).log2())
                    .collect();
                let (lo, hi): (Vec<f64>, Vec<f64>) = m
                    .throughput
                    .iter()
                    .map(|r| r.qps_ci.map_or((r.qps, r.qps), |[l, h]| (l, h)))
                    .unzip();
                band(chart, &x, &lo, &hi, c)?;
                let pts: Vec<(f64, f64)> = x
                    .iter()
                    .zip(&m.throughput)
                    .map(|(&x, r)| (x, r.qps))
                    .collect();
                dots(chart, &pts, c)?;
                line(chart, pts, c, None, 2, Some(&m.name), legend)?;
            }
            Ok(())
        },
    )
}

fn load_latency_chart(p: &Profile) -> Result<String, String> {
    let levels = p.settings.concurrency.clone();
    let y_max = p
        .models
        .iter()
        .flat_map(|m| m.throughput.iter().map(|r| r.latency_ms.p99.value))
        .fold(0.0, f64::max);
    log2_chart(
        "Latency under load (band: p50 to p99)",
        "concurrent clients",
        "ms",
        &levels,
        y_max,
        |chart, legend| {
            for (i, m) in p.models.iter().enumerate() {
                let c = colour(i);
                let x: Vec<f64> = m
                    .throughput
                    .iter()
                    .map(|r| (r.concurrency as f64).log2())
                    .collect();
                let lo: Vec<f64> = m
                    .throughput
                    .iter()
                    .map(|r| r.latency_ms.p50.value)
                    .collect();
                let hi: Vec<f64> = m
                    .throughput
                    .iter()
                    .map(|r| r.latency_ms.p99.value)
                    .collect();
                band(chart, &x, &lo, &hi, c)?;
                let p50: Vec<(f64, f64)> = x.iter().copied().zip(lo).collect();
                let p99: Vec<(f64, f64)> = x.iter().copied().zip(hi).collect();
                dots(chart, &p50, c)?;
                line(
                    chart,
                    p50,
                    c,
                    None,
                    2,
                    Some(&format!("{} p50", m.name)),
                    legend,
                )?;
                line(chart, p99, c, Some((6, 4)), 1, None, legend)?;
            }
            Ok(())
        },
    )
}

fn figure(out: &mut String, svg: Result<String, String>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = write!(
                out,
                "<figure>{svg}<figcaption>{}</figcaption></figure>",
                esc(caption)
            );
        }
        Err(e) => {
            let _ = write!(out, "<figure><p class=\"na\">{}</p></figure>", esc(&e));
        }
    }
}

fn pct(p: &Percentile) -> String {
    let end = |v: Option<f64>| v.map_or("—".to_string(), number);
    format!(
        "{} <span class=\"ci\">[{}, {}]</span>",
        number(p.value),
        end(p.lower),
        end(p.upper)
    )
}

fn tables(out: &mut String, i: usize, m: &ModelProfile, level: &str) {
    let f = &m.footprint;
    let mb = |b: Option<u64>| b.map_or("n/a".to_string(), |b| mebibytes(b as f64));
    let _ = write!(
        out,
        "<h3>{}{} <span class=\"meta\">{} · {}</span></h3>",
        swatch(Some(i)),
        esc(&m.name),
        esc(&m.path),
        esc(&m.input)
    );
    let _ = write!(
        out,
        "<table><thead><tr><th class=\"text\">footprint</th><th>model file</th><th>session init</th><th>session memory</th><th>peak memory under load</th></tr></thead><tbody><tr><td class=\"text\">{}</td><td>{}</td><td>{} ms</td><td>{}</td><td>{}{}</td></tr></tbody></table>",
        esc(&m.name),
        crate::format::bytes(f.model_bytes as f64),
        number(f.init_ms),
        mb(f.session_memory_bytes),
        mb(f.peak_rss_bytes),
        if f.peak_since_reset { "" } else { " (process)" }
    );
    if !m.latency.is_empty() {
        let _ = write!(
            out,
            "<table><thead><tr><th>batch size</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>inside run, mean ms</th><th>overhead</th><th>rows/s</th></tr></thead><tbody>"
        );
        for r in &m.latency {
            let l = &r.latency_ms;
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td></tr>",
                r.batch_size,
                l.requests,
                pct(&l.p50),
                pct(&l.p95),
                pct(&l.p99),
                number(l.max),
                number(r.model_ms_mean),
                r.overhead_pct,
                number(r.rows_per_s.round())
            );
        }
        out.push_str("</tbody></table>");
    }
    if !m.throughput.is_empty() {
        let _ = write!(
            out,
            "<table><thead><tr><th>clients</th><th>rows per request</th><th>requests</th><th>requests/s [{level}]</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr></thead><tbody>"
        );
        for r in &m.throughput {
            let l = &r.latency_ms;
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.concurrency,
                r.batch_size,
                l.requests,
                number(r.qps.round()),
                r.qps_ci.map_or(String::new(), |[lo, hi]| format!(
                    " <span class=\"ci\">[{}, {}]</span>",
                    number(lo.round()),
                    number(hi.round())
                )),
                pct(&l.p50),
                pct(&l.p95),
                pct(&l.p99),
                number(l.max)
            );
        }
        out.push_str("</tbody></table>");
    }
}

/// The serving section (`<section id="serving">`).
pub fn section(out: &mut String, p: &Profile) {
    let e = &p.environment;
    let level = format!("{}%", number(p.settings.level * 100.0));
    let _ = write!(
        out,
        "<section id=\"serving\"><h2>Serving</h2><p class=\"meta\">{} on {} · {} intra-op thread(s) per session · {} ({} cores, {}) · ONNX Runtime {} · evalkit {} · requests of real rows from <code>{}</code> ({} rows, {} features) · each run at most {} s or {} requests after {} warm-up requests</p>",
        esc(&e.provider),
        esc(&e.device),
        e.intra_op_threads,
        esc(&e.cpu),
        e.cores,
        esc(&e.os),
        esc(&e.onnxruntime_version),
        esc(&e.evalkit_version),
        esc(&p.data.path),
        p.data.request_rows,
        p.data.features,
        number(p.settings.duration_s),
        p.settings.max_requests,
        p.settings.warmup
    );
    out.push_str("<div class=\"charts\">");
    if !p.settings.batch_sizes.is_empty() {
        figure(
            out,
            latency_chart(p),
            &format!(
                "One request at a time: p50 (solid) and p99 (dashed) per request, the band the p99's {level} distribution-free interval."
            ),
        );
    }
    if !p.settings.concurrency.is_empty() {
        figure(
            out,
            qps_chart(p),
            &format!(
                "Closed loop, one session per client: completed requests per second, the band its {level} batch-means interval."
            ),
        );
        figure(
            out,
            load_latency_chart(p),
            "Latency per request under each load: p50 (solid) to p99 (dashed).",
        );
    }
    out.push_str("</div>");
    for (i, m) in p.models.iter().enumerate() {
        tables(out, i, m, &level);
    }
    if let Some(q) = &p.quality {
        let _ = write!(
            out,
            "<h3>Quality against {}</h3><table><thead><tr><th class=\"text\">model</th><th class=\"text\">metric</th><th>{}</th><th>value</th><th>difference [{level}]</th></tr></thead><tbody>",
            esc(&q.reference),
            esc(&q.reference)
        );
        let o = |v: Option<f64>| v.map_or("n/a".to_string(), number);
        for d in &q.models {
            for m in &d.metrics {
                let _ = write!(
                    out,
                    "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                    esc(&d.model),
                    esc(&m.metric),
                    o(m.reference),
                    o(m.value),
                    o(m.delta),
                    m.delta_ci.map_or(String::new(), |[lo, hi]| format!(
                        " <span class=\"ci\">[{}, {}]</span>",
                        number(lo),
                        number(hi)
                    ))
                );
            }
        }
        let _ = write!(
            out,
            "</tbody></table><p class=\"meta\">{} task, {} rows, each model run once over them; paired bootstrap of {} replicates.</p>",
            esc(&q.task),
            q.rows,
            q.replicates
        );
    }
    out.push_str("<p class=\"meta\">Latency: a request's whole time as its caller sees it (the input tensor over the rows, ONNX Runtime's <code>run</code>, the scores copied out); percentiles are nearest-rank over the requests, each with the requests behind it and a distribution-free interval from order statistics (— where too few requests bound that end). Overhead: the mean time outside <code>run</code> as a share of the time inside it. Session memory: the resident set's growth while the first session loaded. Peak memory: the process's peak resident set during the model's runs.</p></section>");
}

/// A page of its own for a profile (`evalkit profile --report`), with
/// gate verdicts when a suite made it.
pub fn page(p: &Profile, gates: Option<&[GateVerdict]>) -> String {
    let names: Vec<&str> = p.models.iter().map(|m| m.name.as_str()).collect();
    let title = format!("evalkit profile · {}", names.join(" vs "));
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><header><h1>{}</h1><p class=\"meta\">serving profile · evalkit {}</p></header>",
        esc(&title),
        esc(&title),
        esc(&p.environment.evalkit_version)
    );
    if let Some(g) = gates {
        gates_table(&mut out, g);
    }
    section(&mut out, p);
    out.push_str("</body></html>\n");
    out
}
