//! The report's charts: inline SVG drawn with plotters (text as SVG
//! `<text>`, no font files). Every model has a colour and a dash pattern,
//! so overlaid curves stay apart in print; the baseline is grey.

use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{Curve, Curves, Histogram};
use crate::metrics::calibration::Bin;
use crate::uncertainty::CiMethod;
use crate::uncertainty::binomial::clopper_pearson;
use crate::uncertainty::intervals::{normal_quantile, wilson};

/// Chart size in SVG pixels.
pub(super) const SIZE: (u32, u32) = (560, 420);

/// Colours of the candidates, in order (colour-blind friendly).
pub(super) const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// The baseline's colour.
pub(super) const GREY: RGBColor = RGBColor(110, 110, 110);

/// One model on a chart.
pub struct Series<'a> {
    /// Legend name.
    pub name: &'a str,
    /// Its data.
    pub curves: &'a Curves,
    /// Candidate index (colour and dash), `None` for the baseline.
    pub index: Option<usize>,
}

impl Series<'_> {
    pub(super) fn colour(&self) -> RGBColor {
        self.index.map_or(GREY, |i| PALETTE[i % PALETTE.len()])
    }

    /// (dash, gap) in pixels; `None` is a solid line.
    pub(super) fn dash(&self) -> Option<(u32, u32)> {
        match self.index {
            None => Some((4, 4)),
            Some(i) => [
                None,
                Some((9, 4)),
                Some((2, 3)),
                Some((14, 4)),
                Some((5, 2)),
                Some((1, 5)),
            ][i % 6],
        }
    }
}

pub(super) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

pub(super) fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw the chart: {e}")
}

/// A legend entry: label, colour, dash, width.
pub struct Legend {
    label: String,
    colour: RGBColor,
    dash: Option<(u32, u32)>,
    width: u32,
}

/// Draws a polyline in a model's style; returns its legend entry when
/// `label` is given.
pub(super) fn line(
    chart: &mut Chart,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    dash: Option<(u32, u32)>,
    width: u32,
    label: Option<&str>,
    legend: &mut Vec<Legend>,
) -> Result<(), String> {
    let style = colour.stroke_width(width);
    match dash {
        None => chart
            .draw_series(LineSeries::new(points, style))
            .map_err(err)?,
        Some((d, g)) => chart
            .draw_series(DashedLineSeries::new(points, d, g, style))
            .map_err(err)?,
    };
    if let Some(label) = label {
        legend.push(Legend {
            label: label.to_string(),
            colour,
            dash,
            width,
        });
    }
    Ok(())
}

/// Where the legend box goes.
#[derive(Clone, Copy)]
pub(super) enum Corner {
    LowerRight,
    LowerLeft,
    UpperLeft,
    UpperRight,
}

/// Draws the legend box in a corner of the plotting area (pixels).
pub(super) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    area: (std::ops::Range<i32>, std::ops::Range<i32>),
    corner: Corner,
    entries: &[Legend],
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    let (xr, yr) = area;
    let row = 20;
    let chars = entries
        .iter()
        .map(|e| e.label.chars().count())
        .max()
        .unwrap_or(0) as i32;
    let (w, h) = (44 + 7 * chars, row * entries.len() as i32 + 8);
    let x0 = match corner {
        Corner::LowerLeft | Corner::UpperLeft => xr.start + 8,
        Corner::LowerRight | Corner::UpperRight => xr.end - 8 - w,
    };
    let y0 = match corner {
        Corner::UpperLeft | Corner::UpperRight => yr.start + 8,
        Corner::LowerLeft | Corner::LowerRight => yr.end - 8 - h,
    };
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| err(e);
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        WHITE.mix(0.88).filled(),
    ))
    .map_err(e)?;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        RGBColor(190, 190, 190).stroke_width(1),
    ))
    .map_err(e)?;
    for (i, entry) in entries.iter().enumerate() {
        let y = y0 + 4 + row * i as i32 + row / 2;
        let style = entry.colour.stroke_width(entry.width);
        let path = vec![(x0 + 8, y), (x0 + 34, y)];
        match entry.dash {
            None => root.draw(&PathElement::new(path, style)).map_err(e)?,
            Some((d, g)) => root
                .draw(&DashedPathElement::new(path, d, g, style))
                .map_err(e)?,
        }
        root.draw(&Text::new(
            entry.label.clone(),
            (x0 + 40, y - 7),
            ("sans-serif", 15).into_font().color(&RGBColor(40, 40, 40)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

fn points(c: &Curve) -> Vec<(f64, f64)> {
    c.x.iter().copied().zip(c.y.iter().copied()).collect()
}

/// A chart on [0, 1]² (or the given ranges) with labelled axes; `draw`
/// adds the series.
pub(super) fn frame(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    corner: Corner,
    draw: impl FnOnce(&mut Chart, &mut Vec<Legend>) -> Result<(), String>,
) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        mesh(&mut chart, x_desc, y_desc, 6, (15, 16))?;
        let mut legend = Vec::new();
        draw(&mut chart, &mut legend)?;
        let area = chart.plotting_area().get_pixel_range();
        draw_legend(&root, area, corner, &legend)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// The grid and labelled axes of a chart: `labels` labels per axis,
/// `fonts` the sizes of the tick labels and of the axis names.
pub(super) fn mesh(
    chart: &mut Chart,
    x_desc: &str,
    y_desc: &str,
    labels: usize,
    fonts: (u32, u32),
) -> Result<(), String> {
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(labels)
        .y_labels(labels)
        .label_style(("sans-serif", fonts.0))
        .axis_desc_style(("sans-serif", fonts.1))
        .max_light_lines(1)
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)
}

/// A shaded band between two curves.
pub(super) fn shade(chart: &mut Chart, band: &super::Band, colour: RGBColor) -> Result<(), String> {
    let outline: Vec<(f64, f64)> = band
        .x
        .iter()
        .zip(&band.hi)
        .map(|(&x, &h)| (x, h))
        .chain(band.x.iter().zip(&band.lo).rev().map(|(&x, &l)| (x, l)))
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(
            outline,
            colour.mix(0.15).filled(),
        )))
        .map_err(err)?;
    Ok(())
}

/// ROC curves with their bootstrap bands and the chance diagonal; the
/// legend carries each AUC (with DeLong's interval when given).
pub fn roc(series: &[Series], auc_labels: &[String]) -> Result<String, String> {
    roc_frame("ROC curve", |chart, legend| {
        for s in series {
            if let Some(b) = &s.curves.roc_band {
                shade(chart, b, s.colour())?;
            }
        }
        for (s, label) in series.iter().zip(auc_labels) {
            if let Some(c) = &s.curves.roc {
                line(
                    chart,
                    points(c),
                    s.colour(),
                    s.dash(),
                    2,
                    Some(label),
                    legend,
                )?;
            }
        }
        Ok(())
    })
}

/// A ROC chart: the unit square with the dotted chance diagonal; `draw`
/// adds the curves.
fn roc_frame(
    caption: &str,
    draw: impl FnOnce(&mut Chart, &mut Vec<Legend>) -> Result<(), String>,
) -> Result<String, String> {
    frame(
        caption,
        "false positive rate",
        "true positive rate",
        0.0..1.0,
        0.0..1.0,
        Corner::LowerRight,
        |chart, legend| {
            line(
                chart,
                vec![(0.0, 0.0), (1.0, 1.0)],
                RGBColor(190, 190, 190),
                Some((3, 3)),
                1,
                None,
                legend,
            )?;
            draw(chart, legend)
        },
    )
}

/// Precision–recall curves with bands and each model's prevalence line.
pub fn pr(series: &[Series]) -> Result<String, String> {
    frame(
        "Precision–recall curve",
        "recall",
        "precision",
        0.0..1.0,
        0.0..1.02,
        Corner::LowerLeft,
        |chart, legend| {
            for s in series {
                if let Some(b) = &s.curves.pr_band {
                    shade(chart, b, s.colour())?;
                }
            }
            for s in series {
                if let Some(c) = &s.curves.pr {
                    line(
                        chart,
                        points(c),
                        s.colour(),
                        s.dash(),
                        2,
                        Some(s.name),
                        legend,
                    )?;
                }
                if let Some(p) = s.curves.prevalence {
                    line(
                        chart,
                        vec![(0.0, p), (1.0, p)],
                        s.colour(),
                        Some((2, 5)),
                        1,
                        None,
                        legend,
                    )?;
                }
            }
            Ok(())
        },
    )
}

/// Precision (thin), recall (thin, dotted) and F1 (thick) against the
/// threshold; each model's best-F1 threshold and the chosen threshold are
/// marked with vertical lines.
pub fn thresholds(series: &[Series], chosen: f64) -> Result<String, String> {
    frame(
        "Precision, recall and F1 vs threshold",
        "threshold",
        "value",
        0.0..1.0,
        0.0..1.02,
        Corner::LowerLeft,
        |chart, legend| {
            line(
                chart,
                vec![(chosen, 0.0), (chosen, 1.02)],
                BLACK,
                Some((6, 3)),
                1,
                Some(&format!("chosen threshold {chosen}")),
                legend,
            )?;
            for s in series {
                let c = s.colour();
                if let Some(f1) = &s.curves.f1_at {
                    line(
                        chart,
                        points(f1),
                        c,
                        s.dash(),
                        3,
                        Some(&format!("{} F1", s.name)),
                        legend,
                    )?;
                }
                if let Some(p) = &s.curves.precision_at {
                    line(
                        chart,
                        points(p),
                        c,
                        Some((8, 3)),
                        1,
                        Some(&format!("{} precision", s.name)),
                        legend,
                    )?;
                }
                if let Some(r) = &s.curves.recall_at {
                    line(
                        chart,
                        points(r),
                        c,
                        Some((2, 2)),
                        1,
                        Some(&format!("{} recall", s.name)),
                        legend,
                    )?;
                }
                if let Some(t) = s.curves.best_f1_threshold {
                    line(
                        chart,
                        vec![(t, 0.0), (t, 1.02)],
                        c,
                        Some((1, 3)),
                        2,
                        None,
                        legend,
                    )?;
                }
            }
            Ok(())
        },
    )
}

/// The decision curve of every model (net benefit against the threshold
/// probability), acting on every row dotted and acting on none (0)
/// dashed; the vertical range runs from a little below 0 to the largest
/// share of positives, where the curves start.
pub fn decision(series: &[Series]) -> Result<String, String> {
    let top = series
        .iter()
        .filter_map(|s| s.curves.decision.as_ref())
        .flat_map(|d| d.net_benefit.iter().chain(&d.treat_all))
        .fold(0.0f64, |a, &b| a.max(b));
    let top = if top > 0.0 { top * 1.05 } else { 1.0 };
    let bottom = -0.1 * top;
    frame(
        "Decision curve",
        "threshold probability",
        "net benefit",
        0.0..1.0,
        bottom..top,
        Corner::UpperRight,
        |chart, legend| {
            line(
                chart,
                vec![(0.0, 0.0), (1.0, 0.0)],
                BLACK,
                Some((6, 3)),
                1,
                Some("act on none"),
                legend,
            )?;
            for s in series {
                let Some(d) = &s.curves.decision else {
                    continue;
                };
                let clip = |v: &[f64]| -> Vec<(f64, f64)> {
                    d.threshold
                        .iter()
                        .zip(v)
                        .filter(|(_, y)| **y >= bottom)
                        .map(|(&x, &y)| (x, y))
                        .collect()
                };
                line(
                    chart,
                    clip(&d.treat_all),
                    s.colour(),
                    Some((1, 3)),
                    1,
                    Some(&format!("{} act on all", s.name)),
                    legend,
                )?;
                line(
                    chart,
                    clip(&d.net_benefit),
                    s.colour(),
                    s.dash(),
                    2,
                    Some(s.name),
                    legend,
                )?;
            }
            Ok(())
        },
    )
}

/// Expected cost per row against the threshold for the models with a
/// cost analysis, each optimum marked with a point.
pub fn cost(models: &[(&Series, &crate::costs::CostResult)]) -> Result<String, String> {
    let top = models
        .iter()
        .flat_map(|(_, c)| c.curve.expected_cost.iter())
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, &b| a.max(b));
    let top = if top > 0.0 { top * 1.05 } else { 1.0 };
    frame(
        "Expected cost vs threshold",
        "threshold",
        "expected cost per row",
        0.0..1.0,
        0.0..top,
        Corner::UpperRight,
        |chart, legend| {
            for (s, c) in models {
                let pts: Vec<(f64, f64)> = c
                    .curve
                    .threshold
                    .iter()
                    .zip(&c.curve.expected_cost)
                    .filter(|(_, y)| y.is_finite())
                    .map(|(&x, &y)| (x, y))
                    .collect();
                line(chart, pts, s.colour(), s.dash(), 2, Some(s.name), legend)?;
                if let (Some(t), Some(v)) = (c.threshold, c.expected_cost) {
                    chart
                        .draw_series(std::iter::once(Circle::new((t, v), 5, s.colour().filled())))
                        .map_err(err)?;
                }
            }
            Ok(())
        },
    )
}

/// Reliability diagram: observed frequency against mean predicted
/// probability per bin, with each bin's interval at `level` (on its row
/// count; [`bin_interval`]), over the rows-per-bin bars. Lines join only neighbouring
/// bins of at least [`RELIABLE_BIN_ROWS`] rows; a smaller bin is a hollow
/// point with its (wide) interval, so a few rows cannot draw a zig-zag.
pub fn reliability(series: &[Series], level: f64, method: CiMethod) -> Result<String, String> {
    let of = series
        .first()
        .map_or(String::new(), |s| s.curves.reliability_of.clone());
    frame(
        "Reliability diagram",
        &format!("mean predicted ({of})"),
        "observed frequency",
        0.0..1.0,
        0.0..1.0,
        Corner::UpperLeft,
        |chart, legend| {
            line(
                chart,
                vec![(0.0, 0.0), (1.0, 1.0)],
                RGBColor(190, 190, 190),
                Some((3, 3)),
                1,
                None,
                legend,
            )?;
            let models = series.len().max(1) as f64;
            for (m, s) in series.iter().enumerate() {
                let bins = &s.curves.reliability;
                let total: f64 = bins.iter().map(|b| b.weight).sum();
                // Bars: up to 20% of the height for the fullest bin.
                let most = bins.iter().map(|b| b.weight).fold(0.0, f64::max);
                for b in bins {
                    if total > 0.0 && most > 0.0 && b.weight > 0.0 {
                        let w = (b.upper - b.lower) / models;
                        let x0 = b.lower + w * m as f64;
                        let h = 0.2 * b.weight / most;
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(x0, 0.0), (x0 + w * 0.9, h)],
                                s.colour().mix(0.35).filled(),
                            )))
                            .map_err(err)?;
                    }
                }
                let pts: Vec<(f64, f64, u64)> = bins
                    .iter()
                    .filter_map(|b| Some((b.mean_predicted?, b.observed?, b.count)))
                    .collect();
                // Intervals.
                for (b, &(x, _, _)) in bins.iter().filter(|b| b.observed.is_some()).zip(&pts) {
                    let Some([lo, hi]) = bin_interval(b, level, method) else {
                        continue;
                    };
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, lo), (x, hi)],
                            s.colour().mix(0.6).stroke_width(1),
                        )))
                        .map_err(err)?;
                }
                // Lines through runs of neighbouring well-filled bins; the
                // legend entry once.
                let mut labelled = false;
                let mut run: Vec<(f64, f64)> = Vec::new();
                for (i, &(x, y, n)) in pts.iter().enumerate() {
                    if n >= RELIABLE_BIN_ROWS {
                        run.push((x, y));
                    }
                    let ends = n < RELIABLE_BIN_ROWS || i + 1 == pts.len();
                    if ends && !run.is_empty() {
                        let label = (!labelled).then_some(s.name);
                        labelled = true;
                        line(
                            chart,
                            std::mem::take(&mut run),
                            s.colour(),
                            s.dash(),
                            2,
                            label,
                            legend,
                        )?;
                    }
                }
                if !labelled {
                    legend.push(Legend {
                        label: s.name.to_string(),
                        colour: s.colour(),
                        dash: s.dash(),
                        width: 2,
                    });
                }
                chart
                    .draw_series(pts.iter().map(|&(x, y, n)| {
                        let style = if n >= RELIABLE_BIN_ROWS {
                            s.colour().filled()
                        } else {
                            s.colour().stroke_width(1)
                        };
                        Circle::new((x, y), 3, style)
                    }))
                    .map_err(err)?;
            }
            Ok(())
        },
    )
}

/// A reliability bin's interval on its observed frequency: Clopper–Pearson's
/// with `--method clopper-pearson` when the bin's rows are unweighted (its
/// weight is its row count, so the frequency is a count of rows), Wilson's
/// on the row count otherwise. `None` for an empty bin.
pub fn bin_interval(b: &Bin, level: f64, method: CiMethod) -> Option<[f64; 2]> {
    let y = b.observed?;
    let n = b.count as f64;
    if method == CiMethod::ClopperPearson && b.weight == n {
        return clopper_pearson((y * n).round(), n, level);
    }
    (n > 0.0).then(|| wilson(y, n, normal_quantile(0.5 + level / 2.0)))
}

/// Rows a reliability bin needs to be joined to its neighbours by a line.
pub const RELIABLE_BIN_ROWS: u64 = 10;

/// One model's distributions as overlaid step histograms (density, so
/// groups of different sizes compare).
pub fn histograms(
    name: &str,
    of: &str,
    axis: &str,
    unit: &str,
    hists: &[Histogram],
) -> Result<String, String> {
    let lo = hists
        .first()
        .and_then(|h| h.edges.first().copied())
        .unwrap_or(0.0);
    let hi = hists
        .first()
        .and_then(|h| h.edges.last().copied())
        .unwrap_or(1.0);
    let density: Vec<Vec<f64>> = hists
        .iter()
        .map(|h| {
            let total: f64 = h.counts.iter().sum();
            h.counts
                .iter()
                .map(|&c| if total > 0.0 { c / total } else { 0.0 })
                .collect()
        })
        .collect();
    let top = density
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-9)
        * 1.1;
    frame(
        &format!("{name}: {of}"),
        axis,
        &format!("share of {unit}"),
        lo..hi,
        0.0..top,
        Corner::UpperRight,
        |chart, legend| {
            for (i, (h, d)) in hists.iter().zip(&density).enumerate() {
                let colour = PALETTE[(i + 2) % PALETTE.len()];
                chart
                    .draw_series(d.iter().enumerate().map(|(b, &v)| {
                        Rectangle::new(
                            [(h.edges[b], 0.0), (h.edges[b + 1], v)],
                            colour.mix(0.25).filled(),
                        )
                    }))
                    .map_err(err)?;
                let mut step = Vec::with_capacity(2 * d.len() + 2);
                step.push((h.edges[0], 0.0));
                for (b, &v) in d.iter().enumerate() {
                    step.push((h.edges[b], v));
                    step.push((h.edges[b + 1], v));
                }
                step.push((h.edges[d.len()], 0.0));
                let dash = [None, Some((8, 4)), Some((2, 3))][i % 3];
                line(chart, step, colour, dash, 2, Some(&h.label), legend)?;
            }
            Ok(())
        },
    )
}
