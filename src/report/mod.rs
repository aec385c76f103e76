//! The HTML report for candidate review (docs/spec.md §9, `evalkit report`).
//!
//! Two steps: [`build`] runs the full tier (and the comparison with the
//! baseline, and the slices) and keeps what the page shows in a [`Report`]
//! — a plain, serialisable model with every curve already down-sampled to
//! at most [`MAX_POINTS`] points and no raw rows; [`html::render`] turns the
//! model into one self-contained HTML page (inline CSS and SVG charts drawn
//! with plotters, no scripts, no external requests). [`write`] puts the page
//! on disk atomically.

pub mod charts;
pub mod html;
pub mod serving;
pub mod task_charts;
pub mod views;

use std::path::Path;

use serde::Serialize;

use crate::compare::{self, Join};
use crate::data::{Columns, Header, Predictions};
use crate::error::{Error, Result};
use crate::full::binary::{BinaryFull, DeLongInterval};
use crate::full::{FullOptions, FullResult, full};
use crate::metrics::calibration::Bin;
use crate::metrics::multiclass::{ClassRow, MulticlassFull, argmax};
use crate::metrics::regression::Residuals;
use crate::metrics::{MetricSet, registry};
use crate::slices;
use crate::state::file::StateFile;

/// Most points per curve in the report.
pub const MAX_POINTS: usize = 1000;

/// Bins of the score histograms.
const HISTOGRAM_BINS: usize = 20;

/// What to put in the report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The full tier's options (threshold, sweep, intervals).
    pub full: FullOptions,
    /// Display names of the candidates (default: the file stems).
    pub names: Vec<String>,
    /// Match rows with the baseline by this id column (else by position).
    pub id: Option<String>,
    /// Slicings (each a list of crossed passthrough columns).
    pub slices: Vec<Vec<String>>,
    /// Slices with fewer rows get no intervals.
    pub min_slice: usize,
    /// Page title.
    pub title: Option<String>,
    /// Operating points of every binary model ([`crate::operating`]).
    pub operating_points: Vec<crate::operating::Spec>,
    /// Certify them (else choose by point estimates).
    pub certified: bool,
    /// Error costs of every binary model ([`crate::costs`]).
    pub cost: Option<crate::costs::Costs>,
    /// Partial ROC-AUC and TPR at fixed FPRs of every binary model
    /// ([`crate::partial`]).
    pub low_fpr: crate::partial::LowFpr,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            full: FullOptions::default(),
            names: Vec::new(),
            id: None,
            slices: Vec::new(),
            min_slice: slices::DEFAULT_MIN_ROWS,
            title: None,
            operating_points: Vec::new(),
            certified: true,
            cost: None,
            low_fpr: crate::partial::LowFpr::default(),
        }
    }
}

/// One gate's verdict, shown in the summary (filled by suites).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    /// The gate as written, e.g. `roc_auc min_lower_ci 0.85`.
    pub gate: String,
    /// The candidate it was judged on.
    pub candidate: String,
    /// The point value (the metric, the paired difference, the statistic).
    pub value: Option<f64>,
    /// Its interval, when there is one.
    pub interval: Option<[f64; 2]>,
    /// What was compared with the bound (`"lower bound"`, `"worst-case
    /// drop"`, ...); empty when the gate could not be judged.
    pub judged_on: String,
    /// The number compared with the bound.
    pub measured: Option<f64>,
    /// The unit of `value` and `measured` (empty for metrics).
    pub unit: String,
    /// Pass, fail or inconclusive; `passed` is what it counts as.
    pub verdict: crate::suite::Outcome,
    /// The minimum detectable effect, where there is an interval.
    pub mde: Option<f64>,
    /// Passed or not.
    pub passed: bool,
    /// Why it failed, or how it was judged.
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Page title.
    pub title: String,
    /// When the report was made (UTC, RFC 3339).
    pub created: String,
    /// evalkit's version.
    pub evalkit_version: String,
    /// The task of every file.
    pub task: String,
    /// Decision threshold (binary).
    pub threshold: f64,
    /// How the intervals were made.
    pub intervals: IntervalSummary,
    /// Headline metrics of the summary, in order.
    pub headline: Vec<String>,
    /// The candidates, in the order given.
    pub candidates: Vec<Candidate>,
    /// The baseline, when one was given.
    pub baseline: Option<Candidate>,
    /// Gate verdicts, when a suite made the report.
    pub gates: Vec<GateVerdict>,
    /// The serving profile, when a suite profiled the model.
    pub serving: Option<crate::profile::Profile>,
}

/// How the intervals were made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalSummary {
    /// Bootstrap replicates (0: none).
    pub replicates: usize,
    /// Confidence level.
    pub level: f64,
    /// percentile, bca, wilson or clopper-pearson.
    pub method: String,
    /// poisson, multinomial or stratified.
    pub resample: String,
    /// Seed.
    pub seed: u64,
}

/// One model's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Display name.
    pub name: String,
    /// The prediction file.
    pub file: String,
    /// Rows.
    pub rows: usize,
    /// Rows carry sample weights.
    pub weighted: bool,
    /// Class names.
    pub classes: Vec<String>,
    /// Every metric with its interval.
    pub metrics: MetricSet,
    /// `candidate − baseline` with paired intervals.
    pub delta: Option<MetricSet>,
    /// DeLong's interval of the ROC-AUC (binary); Obuchowski's clustered
    /// interval when the rows are clustered (`clusters`).
    pub delong: Option<DeLongInterval>,
    /// DeLong's (clustered: Obuchowski's) paired test against the baseline
    /// (binary): z and p.
    pub delong_test: Option<[f64; 2]>,
    /// The cluster column and count ("user_id (300 clusters)") when the
    /// bootstrap resampled clusters.
    pub clusters: Option<String>,
    /// The charts' data.
    pub curves: Curves,
    /// Confusion matrix (binary: at the threshold).
    pub confusion: Confusion,
    /// Per-class table (multiclass).
    pub per_class: Vec<ClassRow>,
    /// With a baseline (multiclass): each class's F1, candidate − baseline,
    /// with its paired interval.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub class_f1_delta: Vec<crate::metrics::Metric>,
    /// Operating points (binary, when asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operating_points: Vec<crate::operating::OperatingPoint>,
    /// The cost analysis (binary, with costs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::costs::CostResult>,
    /// Residual quantiles (regression).
    pub residuals: Option<Residuals>,
    /// With a baseline (regression): both models' mean absolute errors per
    /// decile of the actual value and their paired difference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decile_delta: Vec<views::DecileDelta>,
    /// Per-slice rows.
    pub slices: Vec<SliceRow>,
    /// Inference statistics from the file's metadata.
    pub inference: Option<serde_json::Value>,
    /// Where the predictions came from.
    pub provenance: Provenance,
    /// Undefined metrics and notes.
    pub warnings: Vec<String>,
}

/// A curve as points.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Curve {
    /// x values.
    pub x: Vec<f64>,
    /// y values.
    pub y: Vec<f64>,
}

/// A pointwise band.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Band {
    /// x values.
    pub x: Vec<f64>,
    /// Lower bounds.
    pub lo: Vec<f64>,
    /// Upper bounds.
    pub hi: Vec<f64>,
}

/// A histogram of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// What the rows are (e.g. `label 1`).
    pub label: String,
    /// Bin edges (`counts.len() + 1`).
    pub edges: Vec<f64>,
    /// Rows (or weight) per bin.
    pub counts: Vec<f64>,
}

/// The data of every chart of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Curves {
    /// ROC curve (FPR, TPR).
    pub roc: Option<Curve>,
    /// Its bootstrap band.
    pub roc_band: Option<Band>,
    /// Precision–recall curve (recall, precision).
    pub pr: Option<Curve>,
    /// Its bootstrap band.
    pub pr_band: Option<Band>,
    /// Share of positives (the PR baseline).
    pub prevalence: Option<f64>,
    /// Precision vs threshold.
    pub precision_at: Option<Curve>,
    /// Recall vs threshold.
    pub recall_at: Option<Curve>,
    /// F1 vs threshold.
    pub f1_at: Option<Curve>,
    /// The threshold of the best F1.
    pub best_f1_threshold: Option<f64>,
    /// Reliability bins.
    pub reliability: Vec<Bin>,
    /// What the reliability diagram is about.
    pub reliability_of: String,
    /// Score (or residual) distributions.
    pub histograms: Vec<Histogram>,
    /// What the histograms show.
    pub histogram_of: String,
    /// The histograms' horizontal axis.
    pub histogram_axis: String,
    /// What the histograms count (empty: rows).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub histogram_unit: String,
    /// Regression: actual against predicted, binned.
    pub actual_vs_predicted: Option<views::Density>,
    /// Regression: residual against predicted, binned.
    pub residual_vs_predicted: Option<views::Density>,
    /// Regression: calibration by decile of the prediction.
    pub deciles: Vec<views::Decile>,
    /// Regression: the absolute error's weighted percentiles 0, 1, …, 100
    /// (its distribution function, to overlay models).
    pub abs_error: Vec<f64>,
    /// Binary: the decision curve (net benefit against the threshold
    /// probability, [`crate::costs::decision_curve`]).
    pub decision: Option<crate::costs::DecisionCurve>,
    /// Multiclass: one-vs-rest ROC and precision–recall curves of the
    /// classes with the lowest one-vs-rest ROC-AUC (at most
    /// [`views::CLASS_CURVES`]).
    pub class_curves: Vec<views::ClassCurve>,
}

/// A confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Confusion {
    /// Class names (rows: actual, columns: predicted).
    pub labels: Vec<String>,
    /// Counts (or weight sums).
    pub matrix: Vec<Vec<f64>>,
    /// The threshold (binary).
    pub threshold: Option<f64>,
}

/// One slice in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceRow {
    /// Key columns.
    pub by: Vec<String>,
    /// Key values.
    pub key: Vec<String>,
    /// Rows.
    pub rows: usize,
    /// Too small for intervals.
    pub too_small: bool,
    /// Headline metrics.
    pub metrics: MetricSet,
    /// The headline metric against the rest of the rows, when tested.
    pub versus_rest: Option<crate::slices::VersusRest>,
    /// With a baseline: the candidate's ROC-AUC against the baseline's on
    /// the slice's rows (paired), when tested.
    pub versus_baseline: Option<crate::slices::VersusBaseline>,
}

/// Where a model's predictions came from.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Provenance {
    /// Prediction file size in bytes.
    pub file_bytes: Option<u64>,
    /// What wrote the file.
    pub created_by: Option<String>,
    /// Model path, size and blake3 (from `evalkit infer`).
    pub model: Option<serde_json::Value>,
    /// Data path, size, rows and blake3 (features left out).
    pub data: Option<serde_json::Value>,
}

/// Headline metrics of a task, in summary order (from the
/// [registry](crate::metrics::registry)), those the result has: with
/// `--metrics`, the asked-for ones among them, or every asked-for metric
/// when it names no headline one.
pub fn headline(result: &FullResult) -> Vec<String> {
    let task = match result {
        FullResult::Binary(_) => crate::data::Task::Binary,
        FullResult::Multiclass(_) => crate::data::Task::Multiclass,
        FullResult::Regression(_) => crate::data::Task::Regression,
        FullResult::Ranking(_) => crate::data::Task::Ranking,
    };
    let names: Vec<String> = match result {
        // At the run's largest cutoff.
        FullResult::Ranking(r) => r.options.headline(),
        _ => registry::headline(task)
            .into_iter()
            .map(str::to_string)
            .collect(),
    };
    let present: Vec<String> = names
        .into_iter()
        .filter(|n| result.metrics().get(n).is_some())
        .collect();
    if present.is_empty() {
        return result
            .metrics()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
    }
    present
}

/// Keeps at most `max` points of a polyline, evenly spread along its
/// length (the first and last always kept).
pub fn downsample(x: &[f64], y: &[f64], max: usize) -> Curve {
    let n = x.len().min(y.len());
    if n <= max || max < 2 {
        return Curve {
            x: x[..n].to_vec(),
            y: y[..n].to_vec(),
        };
    }
    let mut cum = Vec::with_capacity(n);
    let mut total = 0.0;
    cum.push(0.0);
    for i in 1..n {
        total += ((x[i] - x[i - 1]).powi(2) + (y[i] - y[i - 1]).powi(2)).sqrt();
        cum.push(total);
    }
    let mut keep = Vec::with_capacity(max);
    keep.push(0usize);
    let mut i = 0;
    for k in 1..max - 1 {
        let target = total * k as f64 / (max - 1) as f64;
        while i < n - 1 && cum[i] < target {
            i += 1;
        }
        if *keep.last().unwrap_or(&0) != i && i < n - 1 {
            keep.push(i);
        }
    }
    keep.push(n - 1);
    Curve {
        x: keep.iter().map(|&i| x[i]).collect(),
        y: keep.iter().map(|&i| y[i]).collect(),
    }
}

fn band(x: &[f64], lo: &[Option<f64>], hi: &[Option<f64>]) -> Option<Band> {
    let mut b = Band::default();
    for ((&x, l), h) in x.iter().zip(lo).zip(hi) {
        if let (Some(l), Some(h)) = (l, h) {
            b.x.push(x);
            b.lo.push(*l);
            b.hi.push(*h);
        }
    }
    (!b.x.is_empty()).then_some(b)
}

/// Paired (x, y) where y is defined.
fn defined(x: &[f64], y: &[Option<f64>]) -> (Vec<f64>, Vec<f64>) {
    x.iter()
        .zip(y)
        .filter_map(|(&x, y)| y.map(|y| (x, y)))
        .unzip()
}

fn histogram(
    label: String,
    values: impl Iterator<Item = (f64, f64)>,
    lo: f64,
    hi: f64,
) -> Histogram {
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let mut counts = vec![0.0; HISTOGRAM_BINS];
    for (v, w) in values {
        let b = if width > 0.0 {
            (((v - lo) / width).floor().max(0.0) as usize).min(HISTOGRAM_BINS - 1)
        } else {
            0
        };
        counts[b] += w;
    }
    Histogram {
        label,
        edges: (0..=HISTOGRAM_BINS)
            .map(|i| lo + width * i as f64)
            .collect(),
        counts,
    }
}

/// Where a candidate's numbers come from: a prediction file's rows, or a
/// state (merged shards or a state file), whose charts come from its tables.
#[derive(Clone, Copy)]
enum Source<'a> {
    Rows(&'a Predictions),
    State(&'a StateFile),
}

impl Source<'_> {
    fn header(&self) -> Header {
        match self {
            Source::Rows(p) => p.header(),
            Source::State(f) => f.header.clone(),
        }
    }

    fn rows(&self) -> Option<&Predictions> {
        match self {
            Source::Rows(p) => Some(p),
            Source::State(_) => None,
        }
    }
}

fn binary_curves(b: &BinaryFull, source: Source<'_>) -> Curves {
    let (p, n) = (b.positives, b.negatives);
    let mut c = Curves {
        prevalence: (p + n > 0.0).then(|| p / (p + n)),
        best_f1_threshold: b.metrics.value("best_f1_threshold"),
        reliability: b.reliability.clone(),
        reliability_of: "the probability of class 1".to_string(),
        histogram_of: "score by actual class".to_string(),
        histogram_axis: "score (probability of class 1)".to_string(),
        ..Curves::default()
    };
    let curve = &b.curve;
    if p > 0.0 && n > 0.0 {
        let mut fpr = vec![0.0];
        let mut tpr = vec![0.0];
        fpr.extend(curve.fps.iter().map(|&f| f / n));
        tpr.extend(curve.tps.iter().map(|&t| t / p));
        c.roc = Some(downsample(&fpr, &tpr, MAX_POINTS));
    }
    if p > 0.0 {
        // scikit-learn's curve: from (recall 0, precision 1) through every
        // distinct score.
        let mut recall = vec![0.0];
        let mut precision = vec![1.0];
        for (&t, &f) in curve.tps.iter().zip(&curve.fps) {
            if t + f > 0.0 {
                recall.push(t / p);
                precision.push(t / (t + f));
            }
        }
        c.pr = Some(downsample(&recall, &precision, MAX_POINTS));
    }
    if let Some(bands) = &b.bands {
        c.roc_band = band(&bands.fpr, &bands.tpr_lo, &bands.tpr_hi);
        c.pr_band = band(&bands.recall, &bands.precision_lo, &bands.precision_hi);
    }
    c.decision = Some(crate::costs::decision_curve(curve));
    let s = &b.sweep;
    let pick = |x: &[f64], y: &[f64]| downsample(x, y, MAX_POINTS);
    c.precision_at = Some(pick(&s.threshold, &s.precision));
    let (x, y) = defined(&s.threshold, &s.recall);
    c.recall_at = Some(pick(&x, &y));
    let (x, y) = defined(&s.threshold, &s.f1);
    c.f1_at = Some(pick(&x, &y));
    let header = source.header();
    let name = |class: usize| {
        header
            .class_names
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    };
    match source {
        Source::Rows(preds) => {
            if let Columns::Binary { labels, scores } = &preds.columns {
                let w = |r: usize| preds.weights.as_ref().map_or(1.0, |w| w.get(r));
                for class in [0u8, 1] {
                    c.histograms.push(histogram(
                        format!("actual {}", name(class as usize)),
                        (0..labels.len())
                            .filter(|&r| labels[r] == class)
                            .map(|r| (scores.get(r), w(r))),
                        0.0,
                        1.0,
                    ));
                }
            }
        }
        Source::State(_) => {
            // Each distinct score's negatives and positives, from the
            // ranking table's steps (counts, or weights rounded once per
            // step: the same bins as the rows give).
            let step = |cum: &[f64]| -> Vec<f64> {
                let mut prev = 0.0;
                cum.iter()
                    .map(|&v| {
                        let d = v - prev;
                        prev = v;
                        d
                    })
                    .collect()
            };
            for (class, cum) in [(0, &curve.fps), (1, &curve.tps)] {
                let weights = step(cum);
                c.histograms.push(histogram(
                    format!("actual {}", name(class)),
                    curve.thresholds.iter().copied().zip(weights),
                    0.0,
                    1.0,
                ));
            }
        }
    }
    c
}

/// The multiclass charts; the right/wrong histogram needs the rows (a
/// state keeps only the reliability bins).
fn multiclass_curves(m: &MulticlassFull, preds: Option<&Predictions>) -> Curves {
    let mut c = Curves {
        reliability: m.reliability.clone(),
        reliability_of: "the top class's probability".to_string(),
        histogram_of: "top class's probability, right vs wrong".to_string(),
        histogram_axis: "top class's probability".to_string(),
        ..Curves::default()
    };
    if let Some(preds) = preds
        && let Columns::Multiclass {
            labels,
            scores,
            classes,
        } = &preds.columns
    {
        let k = *classes;
        let w = |r: usize| preds.weights.as_ref().map_or(1.0, |w| w.get(r));
        let top: Vec<(usize, f64)> = crate::with_floats!(scores, s => (0..labels.len())
            .map(|r| {
                let row = &s[r * k..(r + 1) * k];
                let a = argmax(row);
                (a, crate::data::Float::to_f64(row[a]))
            })
            .collect());
        c.class_curves = views::class_curves(labels, scores, k, preds, m);
        for (name, right) in [("right", true), ("wrong", false)] {
            c.histograms.push(histogram(
                name.to_string(),
                (0..labels.len())
                    .filter(|&r| (top[r].0 == labels[r] as usize) == right)
                    .map(|r| (top[r].1, w(r))),
                0.0,
                1.0,
            ));
        }
    }
    c
}

/// The regression charts; the residual histogram, the binned densities and
/// the deciles need the rows (a state keeps the residual quantiles).
fn regression_curves(preds: Option<&Predictions>, residuals: &Residuals, level: f64) -> Curves {
    let mut c = Curves {
        histogram_of: "residual (label − prediction)".to_string(),
        histogram_axis: "residual (label − prediction)".to_string(),
        ..Curves::default()
    };
    if let Some(preds) = preds
        && let Columns::Regression { labels, scores } = &preds.columns
    {
        let w = |r: usize| preds.weights.as_ref().map_or(1.0, |w| w.get(r));
        // 1%–99% of the residuals, so one outlier does not flatten the rest.
        let q = &residuals.quantiles;
        let (lo, hi) = (q[1], q[q.len() - 2]);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 1.0, lo + 1.0)
        };
        c.histograms.push(histogram(
            "rows".to_string(),
            (0..labels.len())
                .map(|r| (labels.get(r) - scores.get(r), w(r)))
                .filter(|(v, _)| *v >= lo && *v <= hi),
            lo,
            hi,
        ));
        c.abs_error = views::abs_error_percentiles(labels, scores, &w);
        c.actual_vs_predicted = views::actual_vs_predicted(labels, scores, &w);
        c.residual_vs_predicted = views::residual_vs_predicted(labels, scores, &w);
        c.deciles = views::deciles(labels, scores, &w, level);
    }
    c
}

/// A ranking's chart: the distribution of the headline NDCG over the
/// queries that count (its mean is the metric).
fn ranking_curves(r: &crate::full::ranking::RankingFull) -> Curves {
    let name = r.options.headline().swap_remove(0);
    let values = r.per_query.column(&name).unwrap_or_default();
    let counted = (0..r.per_query.len()).filter(|&q| r.per_query.counts(q, r.options.empty));
    Curves {
        histogram_of: format!("{name} per query"),
        histogram_axis: name,
        histogram_unit: "queries".to_string(),
        histograms: vec![histogram(
            "queries".to_string(),
            counted.map(|q| (values[q], 1.0)),
            0.0,
            1.0,
        )],
        ..Curves::default()
    }
}

/// With a regression baseline (`aligned`: its rows in the candidate's
/// order): the per-decile paired differences of the absolute error
/// ([`views::decile_deltas`]); empty for the other tasks.
fn decile_deltas(
    preds: &Predictions,
    aligned: &Predictions,
    options: &ReportOptions,
) -> Vec<views::DecileDelta> {
    match (&preds.columns, &aligned.columns) {
        (
            Columns::Regression { labels, scores },
            Columns::Regression {
                scores: baseline, ..
            },
        ) => {
            let w = |r: usize| preds.weights.as_ref().map_or(1.0, |w| w.get(r));
            views::decile_deltas(labels, scores, baseline, &w, options.full.intervals.level)
        }
        _ => Vec::new(),
    }
}

fn metadata_json(preds: Option<&Predictions>, key: &str) -> Option<serde_json::Value> {
    preds?
        .metadata
        .get(key)
        .and_then(|v| serde_json::from_str(v).ok())
}

fn candidate(
    name: String,
    source: Source<'_>,
    result: &FullResult,
    options: &ReportOptions,
) -> Result<Candidate> {
    let header = source.header();
    let preds = source.rows();
    let (curves, confusion, per_class, residuals, delong) = match result {
        FullResult::Binary(b) => {
            let c = &b.confusion;
            (
                binary_curves(b, source),
                Confusion {
                    labels: header.class_names.clone(),
                    matrix: vec![vec![c.tn, c.fp], vec![c.fn_, c.tp]],
                    threshold: Some(options.full.threshold),
                },
                Vec::new(),
                None,
                match &b.obuchowski {
                    Some(o) => o.as_ref().ok().copied(),
                    None => b.delong.as_ref().ok().copied(),
                },
            )
        }
        FullResult::Multiclass(m) => (
            multiclass_curves(m, preds),
            Confusion {
                labels: header.class_names.clone(),
                matrix: m.confusion.clone(),
                threshold: None,
            },
            m.per_class.clone(),
            None,
            None,
        ),
        FullResult::Regression(r) => (
            regression_curves(preds, &r.residuals, options.full.intervals.level),
            Confusion::default(),
            Vec::new(),
            Some(r.residuals.clone()),
            None,
        ),
        FullResult::Ranking(r) => (
            ranking_curves(r),
            Confusion::default(),
            Vec::new(),
            None,
            None,
        ),
    };
    let (operating_points, cost) = match result {
        FullResult::Binary(b) => (
            crate::operating::for_result(
                result,
                preds,
                &options.operating_points,
                options.certified,
                &options.full.intervals,
            ),
            options
                .cost
                .as_ref()
                .map(|c| crate::costs::analyse(c, &b.curve, preds, options.full.threshold))
                .transpose()?,
        ),
        _ => (Vec::new(), None),
    };
    let heads = headline(result);
    let slices = if options.slices.is_empty() {
        Vec::new()
    } else {
        let Some(preds) = preds else {
            return Err(Error::usage(SLICES_NEED_ROWS));
        };
        slices::full_sliced(
            preds,
            &options.slices,
            &options.full,
            options.min_slice,
            &|_, _| {},
        )?
        .into_iter()
        .map(|s| {
            let mut metrics = MetricSet::new();
            for h in &heads {
                if let Some(m) = s.result.metrics().get(h) {
                    metrics.insert(h, m.clone());
                }
            }
            SliceRow {
                by: s.by,
                key: s.key,
                rows: s.rows,
                too_small: s.too_small,
                metrics,
                versus_rest: s.versus_rest.and_then(|t| t.ok()),
                versus_baseline: None,
            }
        })
        .collect()
    };
    let data = metadata_json(preds, "evalkit.data").map(|mut d| {
        // The feature list can be long: the report keeps the count.
        if let Some(o) = d.as_object_mut()
            && let Some(f) = o.remove("features")
        {
            o.insert(
                "feature_count".to_string(),
                serde_json::json!(f.as_array().map_or(0, Vec::len)),
            );
        }
        d
    });
    Ok(Candidate {
        name,
        file: header.path.display().to_string(),
        rows: header.rows as usize,
        weighted: header.weighted,
        classes: header.class_names.clone(),
        metrics: result.metrics().clone(),
        delta: None,
        delong,
        delong_test: None,
        clusters: preds
            .and_then(|p| p.clusters.as_ref())
            .map(|c| c.describe()),
        curves,
        confusion,
        per_class,
        class_f1_delta: Vec::new(),
        operating_points,
        cost,
        residuals,
        decile_delta: Vec::new(),
        slices,
        inference: metadata_json(preds, "evalkit.inference"),
        provenance: Provenance {
            file_bytes: std::fs::metadata(&header.path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            created_by: preds.and_then(|p| p.metadata.get("evalkit.created_by").cloned()),
            model: metadata_json(preds, "evalkit.model"),
            data,
        },
        warnings: result.warnings(),
    })
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().to_string(),
    )
}

/// Why a report from states has no slices.
const SLICES_NEED_ROWS: &str = "--slice needs prediction files (their slice columns); a state or several merged files carry none";

const NO_CANDIDATE: &str = "the report needs at least one prediction file";

/// Checks a report's inputs before any work: at least one candidate, a
/// name per candidate when names are given, valid options, and one task
/// for every input (`described`: each input's path and task, candidates
/// first).
fn check_candidates(
    described: &[(&Path, crate::data::Task)],
    candidates: usize,
    options: &ReportOptions,
) -> Result<()> {
    let Some(&(first_path, first_task)) = described.first() else {
        return Err(Error::usage(NO_CANDIDATE));
    };
    if !options.names.is_empty() && options.names.len() != candidates {
        return Err(Error::usage(format!(
            "--names gives {} names for {candidates} prediction files",
            options.names.len(),
        )));
    }
    crate::full::check_options(&options.full)?;
    for &(path, task) in described {
        if task != first_task {
            return Err(Error::usage(format!(
                "{} is a {} task but {} is a {} task: a report compares models of one task",
                path.display(),
                task,
                first_path.display(),
                first_task
            )));
        }
    }
    Ok(())
}

/// Runs the full tier on every candidate (paired with the baseline when
/// there is one) and gathers the report's model. `progress(done, total)`
/// counts models.
pub fn build(
    candidates: &[Predictions],
    baseline: Option<&Predictions>,
    options: &ReportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report> {
    let described: Vec<(&Path, crate::data::Task)> = candidates
        .iter()
        .chain(baseline)
        .map(|c| (c.path.as_path(), c.task))
        .collect();
    check_candidates(&described, candidates.len(), options)?;
    let Some(first) = candidates.first() else {
        return Err(Error::usage(NO_CANDIDATE));
    };
    let total = candidates.len();
    let mut out = Vec::new();
    let mut base_entry = None;
    let mut heads = Vec::new();
    for (i, preds) in candidates.iter().enumerate() {
        let name = options
            .names
            .get(i)
            .cloned()
            .unwrap_or_else(|| stem(&preds.path));
        let entry = match baseline {
            Some(base) => {
                let (aligned, notes) = compare::align(preds, base, options.id.as_deref())?;
                let join = options.id.clone().map_or(Join::Position, Join::Id);
                let mut c = compare::compare(preds, &aligned, join, &options.full, &|_, _| {})?;
                let low_notes = crate::partial::attach_paired(
                    &mut c,
                    preds,
                    &aligned,
                    &options.low_fpr,
                    &options.full.intervals,
                )?;
                let mut entry = candidate(name, Source::Rows(preds), &c.candidate, options)?;
                entry.warnings.extend(low_notes);
                entry.delta = Some(c.delta.clone());
                entry.class_f1_delta = c.class_f1_delta.clone();
                entry.decile_delta = decile_deltas(preds, &aligned, options);
                if !options.slices.is_empty() {
                    let tests = slices::versus_baseline(
                        preds,
                        &aligned,
                        &options.slices,
                        options.min_slice,
                        options.full.intervals.level,
                    )?;
                    for (row, t) in entry.slices.iter_mut().zip(tests) {
                        row.versus_baseline = t.ok();
                    }
                }
                entry.delong_test = c
                    .obuchowski
                    .as_ref()
                    .unwrap_or(&c.delong)
                    .as_ref()
                    .ok()
                    .map(|d| [d.z, d.p_value]);
                entry.warnings.extend(notes);
                for w in &c.warnings {
                    // Notes on the replicates are in both the candidate's
                    // and the comparison's warnings: said once.
                    if !entry.warnings.contains(w) {
                        entry.warnings.push(w.clone());
                    }
                }
                if base_entry.is_none() {
                    // The baseline's rows carry no passthrough columns:
                    // per-row costs are the candidate's alone.
                    let base_opts = ReportOptions {
                        slices: Vec::new(),
                        cost: options.cost.clone().filter(|c| c.columns().is_empty()),
                        ..options.clone()
                    };
                    base_entry = Some(candidate(
                        stem(&base.path),
                        Source::Rows(&aligned),
                        &c.baseline,
                        &base_opts,
                    )?);
                }
                heads = headline(&c.candidate);
                entry
            }
            None => {
                let mut r = full(preds, &options.full)?;
                let low_notes = crate::partial::attach(
                    &mut r,
                    Some(preds),
                    &options.low_fpr,
                    &options.full.intervals,
                );
                heads = headline(&r);
                let mut entry = candidate(name, Source::Rows(preds), &r, options)?;
                entry.warnings.extend(low_notes);
                entry
            }
        };
        out.push(entry);
        progress(i + 1, total);
    }
    Ok(assemble(out, base_entry, heads, first.task, options))
}

/// The report of candidates given as states (each the merge of its shards,
/// or a state file): every metric and chart a state gives — the rows'
/// right/wrong (multiclass) and residual (regression) histograms need the
/// rows and are left out, as are slices and a baseline (paired rows).
/// `progress(done, total)` counts models.
pub fn build_from_states(
    candidates: &[StateFile],
    options: &ReportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report> {
    if !options.slices.is_empty() {
        return Err(Error::usage(SLICES_NEED_ROWS));
    }
    let described: Vec<(&Path, crate::data::Task)> = candidates
        .iter()
        .map(|c| (c.header.path.as_path(), c.header.task))
        .collect();
    check_candidates(&described, candidates.len(), options)?;
    let Some(first) = candidates.first() else {
        return Err(Error::usage(NO_CANDIDATE));
    };
    let task = first.header.task;
    let total = candidates.len();
    let mut out = Vec::new();
    let mut heads = Vec::new();
    for (i, file) in candidates.iter().enumerate() {
        let name = options
            .names
            .get(i)
            .cloned()
            .unwrap_or_else(|| stem(&file.header.path));
        let mut r = crate::full::full_state(file, &options.full, &|_, _| {})?;
        crate::partial::attach(&mut r, None, &options.low_fpr, &options.full.intervals);
        heads = headline(&r);
        out.push(candidate(name, Source::State(file), &r, options)?);
        progress(i + 1, total);
    }
    Ok(assemble(out, None, heads, task, options))
}

/// The report around its candidates.
fn assemble(
    out: Vec<Candidate>,
    base_entry: Option<Candidate>,
    heads: Vec<String>,
    task: crate::data::Task,
    options: &ReportOptions,
) -> Report {
    let iv = &options.full.intervals;
    Report {
        title: options.title.clone().unwrap_or_else(|| {
            format!(
                "evalkit report · {}",
                out.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }),
        created: utc_now(),
        evalkit_version: crate::VERSION.to_string(),
        task: task.to_string(),
        threshold: options.full.threshold,
        intervals: IntervalSummary {
            replicates: iv.replicates,
            level: iv.level,
            method: iv.method.as_str().to_string(),
            resample: iv.resample.as_str().to_string(),
            seed: iv.seed,
        },
        headline: heads,
        candidates: out,
        baseline: base_entry,
        gates: Vec::new(),
        serving: None,
    }
}

/// Writes `html` to `path` through a temporary file and a rename, so a
/// failed run never leaves a half-written report. Only a regular file (or a
/// link to one, written through) is replaced; the folder must exist (see
/// [`crate::output_file`]).
pub fn write(path: &Path, html: &str) -> Result<()> {
    crate::output_file::write(path, html.as_bytes())
}

/// The current time, UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_ends_and_bounds_the_count() {
        let x: Vec<f64> = (0..10_000).map(|i| i as f64 / 9999.0).collect();
        let y: Vec<f64> = x.iter().map(|v| v.sqrt()).collect();
        let c = downsample(&x, &y, 1000);
        assert!(c.x.len() <= 1000 && c.x.len() > 900, "{}", c.x.len());
        assert_eq!((c.x[0], *c.x.last().unwrap()), (0.0, 1.0));
        assert!(c.x.windows(2).all(|w| w[0] < w[1]));
        let small = downsample(&x[..10], &y[..10], 1000);
        assert_eq!(small.x.len(), 10);
    }

    #[test]
    fn utc_now_is_rfc3339() {
        let t = utc_now();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
