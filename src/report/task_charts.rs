//! The report's charts beyond the binary curves: the confusion-matrix heat
//! map (multiclass), binned densities and calibration by decile
//! (regression), and the slices' forest plot (every task). Inline SVG from
//! plotters, sizes independent of the row count.

use plotters::prelude::*;

use super::charts::{Corner, GREY, PALETTE, SIZE, Series, err, frame, line, mesh, shade};
use super::views::Density;

/// Text colour of labels.
const INK: RGBColor = RGBColor(40, 40, 40);

/// The colour at share `t` in [0, 1] from white to `to`.
fn ramp(to: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8| (255.0 - t * (255.0 - f64::from(a))).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

/// A label cut to `max` characters (with an ellipsis).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// An axis range over `[lo, hi]` with 5% padding; `half` either side of a
/// single value; [0, 1] when there are no finite values.
fn span(lo: f64, hi: f64, half: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - half, lo + half)
    };
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Confusion-matrix heat map: each cell shaded by its share of the actual
/// class's rows (the row-normalised rate), with the count written in when
/// there are at most 15 classes. Rows: actual; columns: predicted.
pub fn confusion_map(name: &str, labels: &[String], matrix: &[Vec<f64>]) -> Result<String, String> {
    let k = matrix.len();
    let side = 420u32;
    let (left, top) = (120u32, 64u32);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (left + side + 24, top + side + 56))
            .into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let font = |size: u32| ("sans-serif", size).into_font().color(&INK);
        root.draw(&Text::new(
            format!("Confusion matrix · {}", short(name, 40)),
            (12, 8),
            font(20),
        ))
        .map_err(err)?;
        let cell = f64::from(side) / k.max(1) as f64;
        let at = |i: usize| (i as f64 * cell).round() as i32;
        let (x0, y0) = (left as i32, top as i32);
        let blue = PALETTE[0];
        let label_every = k.div_ceil(30).max(1);
        for (i, row) in matrix.iter().enumerate() {
            let total: f64 = row.iter().sum();
            for (j, &v) in row.iter().enumerate() {
                let rate = if total > 0.0 { v / total } else { 0.0 };
                let rect = [(x0 + at(j), y0 + at(i)), (x0 + at(j + 1), y0 + at(i + 1))];
                root.draw(&Rectangle::new(rect, ramp(blue, rate).filled()))
                    .map_err(err)?;
                if k <= 15 && v > 0.0 {
                    let colour = if rate > 0.5 { WHITE } else { INK };
                    root.draw(&Text::new(
                        crate::format::number(v),
                        (x0 + at(j) + 4, y0 + at(i) + (cell / 2.0) as i32 - 7),
                        ("sans-serif", 13).into_font().color(&colour),
                    ))
                    .map_err(err)?;
                }
            }
        }
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + side as i32, y0 + side as i32)],
            RGBColor(190, 190, 190).stroke_width(1),
        ))
        .map_err(err)?;
        for (i, l) in labels.iter().enumerate().take(k) {
            if i % label_every != 0 {
                continue;
            }
            let mid = at(i) + (cell / 2.0) as i32;
            // Actual down the left, predicted along the top.
            root.draw(&Text::new(short(l, 14), (8, y0 + mid - 7), font(13)))
                .map_err(err)?;
            root.draw(&Text::new(short(l, 4), (x0 + mid - 8, y0 - 18), font(13)))
                .map_err(err)?;
        }
        root.draw(&Text::new(
            "rows: actual · columns: predicted · shade: share of the actual class",
            (12, (top + side + 14) as i32),
            font(14),
        ))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Which reference line a density chart draws.
#[derive(Clone, Copy)]
pub enum Reference {
    /// `y = x` (predicted against actual).
    Identity,
    /// `y = 0` (residuals).
    Zero,
}

/// A binned density: each cell shaded by its rows relative to the fullest
/// (on a square-root scale, so sparse regions stay visible), with the
/// reference line.
pub fn density(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    d: &Density,
    reference: Reference,
) -> Result<String, String> {
    let most = d.counts.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let n = d.counts.len().max(1) as f64;
    let (wx, wy) = ((d.x[1] - d.x[0]) / n, (d.y[1] - d.y[0]) / n);
    frame(
        title,
        x_desc,
        y_desc,
        d.x[0]..d.x[1],
        d.y[0]..d.y[1],
        Corner::UpperLeft,
        |chart, legend| {
            let colour = PALETTE[0];
            chart
                .draw_series(d.counts.iter().enumerate().flat_map(|(i, col)| {
                    col.iter()
                        .enumerate()
                        .filter(|(_, v)| **v > 0.0)
                        .map(move |(j, &v)| {
                            let x = d.x[0] + wx * i as f64;
                            let y = d.y[0] + wy * j as f64;
                            let t = 0.12 + 0.88 * (v / most).sqrt();
                            Rectangle::new([(x, y), (x + wx, y + wy)], ramp(colour, t).filled())
                        })
                }))
                .map_err(err)?;
            let points = match reference {
                Reference::Identity => {
                    let lo = d.x[0].max(d.y[0]);
                    let hi = d.x[1].min(d.y[1]);
                    vec![(lo, lo), (hi, hi)]
                }
                Reference::Zero => vec![(d.x[0], 0.0), (d.x[1], 0.0)],
            };
            let label = match reference {
                Reference::Identity => "actual = predicted",
                Reference::Zero => "residual 0",
            };
            line(chart, points, BLACK, Some((6, 4)), 1, Some(label), legend)
        },
    )
}

/// Calibration by decile: each model's mean actual against mean predicted
/// per decile of its prediction, with the interval of the mean actual, and
/// the identity line.
pub fn deciles(series: &[Series]) -> Result<String, String> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in series {
        for d in &s.curves.deciles {
            let [a, b] = d.ci.unwrap_or([d.mean_actual; 2]);
            lo = lo.min(d.mean_predicted).min(a);
            hi = hi.max(d.mean_predicted).max(b);
        }
    }
    let (lo, hi) = span(lo, hi, 1.0);
    frame(
        "Calibration by decile of the prediction",
        "mean predicted",
        "mean actual",
        lo..hi,
        lo..hi,
        Corner::LowerRight,
        |chart, legend| {
            line(
                chart,
                vec![(lo, lo), (hi, hi)],
                GREY,
                Some((6, 4)),
                1,
                None,
                legend,
            )?;
            for s in series {
                let pts: Vec<(f64, f64)> = s
                    .curves
                    .deciles
                    .iter()
                    .map(|d| (d.mean_predicted, d.mean_actual))
                    .collect();
                for d in &s.curves.deciles {
                    if let Some([a, b]) = d.ci {
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                vec![(d.mean_predicted, a), (d.mean_predicted, b)],
                                s.colour().mix(0.7).stroke_width(2),
                            )))
                            .map_err(err)?;
                    }
                }
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, s.colour().filled())))
                    .map_err(err)?;
                line(chart, pts, s.colour(), s.dash(), 2, Some(s.name), legend)?;
            }
            Ok(())
        },
    )
}

/// One row of a forest plot.
pub struct ForestRow {
    /// The slice's key, as shown.
    pub label: String,
    /// The metric's value.
    pub value: f64,
    /// Its interval, when it has one.
    pub ci: Option<[f64; 2]>,
    /// Flagged as worse after adjustment.
    pub flagged: bool,
}

/// Most slices a forest plot shows.
pub const FOREST_MAX: usize = 40;

/// Forest plot: one row per slice (in the given order, at most
/// [`FOREST_MAX`]), the metric's value as a point with its interval as a
/// bar, flagged slices in the second colour with `▼`, and the whole data's
/// value as a dashed vertical line.
pub fn forest(
    title: &str,
    metric: &str,
    rows: &[ForestRow],
    whole: Option<f64>,
) -> Result<String, String> {
    let rows = &rows[..rows.len().min(FOREST_MAX)];
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for r in rows {
        let [a, b] = r.ci.unwrap_or([r.value; 2]);
        lo = lo.min(a).min(r.value);
        hi = hi.max(b).max(r.value);
    }
    if let Some(w) = whole {
        lo = lo.min(w);
        hi = hi.max(w);
    }
    let (lo, hi) = span(lo, hi, 0.05);
    let row_px = 22u32;
    let height = 110 + row_px * rows.len() as u32;
    let left = 150u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (SIZE.0 + 40, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(left)
            .build_cartesian_2d(lo..hi, 0.0..n.max(1.0))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(metric)
            .x_labels(6)
            .y_labels(0)
            .disable_y_mesh()
            .max_light_lines(1)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(242, 242, 242))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        if let Some(w) = whole {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(w, 0.0), (w, n.max(1.0))],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (i, r) in rows.iter().enumerate() {
            // The first row at the top.
            let y = n - i as f64 - 0.5;
            let colour = if r.flagged { PALETTE[1] } else { PALETTE[0] };
            if let Some([a, b]) = r.ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(a, y), (b, y)],
                        colour.stroke_width(2),
                    )))
                    .map_err(err)?;
            }
            chart
                .draw_series(std::iter::once(Circle::new(
                    (r.value, y),
                    4,
                    colour.filled(),
                )))
                .map_err(err)?;
            let (px, py) = chart.backend_coord(&(lo, y));
            let text = format!(
                "{}{}",
                short(&r.label, 18),
                if r.flagged { " ▼" } else { "" }
            );
            root.draw(&Text::new(
                text,
                (px - left as i32 + 8, py - 8),
                ("sans-serif", 14).into_font().color(&INK),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Which one-vs-rest curve [`class_panels`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassView {
    /// ROC: false against true positive rate, the chance diagonal.
    Roc,
    /// Precision–recall, the class's share of rows as the chance level.
    Pr,
}

/// Columns of the one-vs-rest small multiples.
pub const CLASS_PANEL_COLUMNS: usize = 4;

/// One-vs-rest curves of one model's weakest classes as small multiples
/// (one panel per class, [`CLASS_PANEL_COLUMNS`] to a row, in the given
/// order): the curve in the model's colour and dash over its bootstrap
/// band, the chance level dotted, and the class with its AUC (or average
/// precision) and interval as the panel's title.
pub fn class_panels(
    name: &str,
    curves: &[super::views::ClassCurve],
    view: ClassView,
    colour: RGBColor,
    dash: Option<(u32, u32)>,
) -> Result<String, String> {
    let cols = CLASS_PANEL_COLUMNS;
    let rows = curves.len().div_ceil(cols).max(1);
    let (pw, ph, title) = (280u32, 250u32, 40u32);
    let (caption, x_desc, y_desc) = match view {
        ClassView::Roc => ("one-vs-rest ROC", "FPR", "TPR"),
        ClassView::Pr => ("one-vs-rest precision–recall", "recall", "precision"),
    };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (pw * cols as u32, title + ph * rows as u32))
            .into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let body = root
            .titled(
                &format!("{}: {caption}, weakest classes", short(name, 30)),
                ("sans-serif", 20),
            )
            .map_err(err)?;
        for (panel, c) in body.split_evenly((rows, cols)).iter().zip(curves) {
            let (value, ci, curve, band) = match view {
                ClassView::Roc => (Some(c.auc), c.auc_ci, &c.roc, &c.roc_band),
                ClassView::Pr => (
                    c.average_precision,
                    c.average_precision_ci,
                    &c.pr,
                    &c.pr_band,
                ),
            };
            let label = match (value, ci) {
                (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
                (Some(v), None) => format!("{v:.3}"),
                (None, _) => "n/a".to_string(),
            };
            let what = if view == ClassView::Roc { "AUC" } else { "AP" };
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{} · {what} {label}", short(&c.class, 12)),
                    ("sans-serif", 14),
                )
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(40)
                .build_cartesian_2d(0.0..1.0, 0.0..1.02)
                .map_err(err)?;
            mesh(&mut chart, x_desc, y_desc, 3, (12, 12))?;
            let mut legend = Vec::new();
            if let Some(b) = band {
                shade(&mut chart, b, colour)?;
            }
            let chance = match view {
                ClassView::Roc => vec![(0.0, 0.0), (1.0, 1.0)],
                ClassView::Pr => vec![(0.0, c.prevalence), (1.0, c.prevalence)],
            };
            let grey = RGBColor(190, 190, 190);
            line(&mut chart, chance, grey, Some((3, 3)), 1, None, &mut legend)?;
            let pts: Vec<(f64, f64)> = curve
                .x
                .iter()
                .copied()
                .zip(curve.y.iter().copied())
                .collect();
            line(&mut chart, pts, colour, dash, 2, None, &mut legend)?;
        }
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// The absolute error's distribution function of every model, overlaid:
/// the share of rows with an error at most x, up to the largest model's
/// 99th percentile.
pub fn abs_error(series: &[Series]) -> Result<String, String> {
    let hi = series
        .iter()
        .filter_map(|s| s.curves.abs_error.get(99).copied())
        .fold(0.0f64, f64::max);
    let hi = if hi > 0.0 { hi } else { 1.0 };
    frame(
        "Absolute error, every model",
        "|label − prediction|",
        "share of rows with an error at most this",
        0.0..hi,
        0.0..1.0,
        Corner::LowerRight,
        |chart, legend| {
            for s in series.iter().filter(|s| !s.curves.abs_error.is_empty()) {
                let pts: Vec<(f64, f64)> = s
                    .curves
                    .abs_error
                    .iter()
                    .enumerate()
                    .map(|(k, &e)| (e.min(hi), k as f64 / 100.0))
                    .collect();
                line(chart, pts, s.colour(), s.dash(), 2, Some(s.name), legend)?;
            }
            Ok(())
        },
    )
}
