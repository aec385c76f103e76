//! The full tier (docs/spec.md §4): every row, every metric of the task.
//!
//! One module per task ([`binary`], [`multiclass`], [`regression`]) puts
//! the layers together: the rows fold into the task's state
//! ([`crate::state`]), the state finishes through the point metrics'
//! formulas ([`crate::metrics`]), and the bootstrap ([`crate::uncertainty`])
//! attaches intervals. This module runs the task of a prediction file or a
//! state file.

pub mod binary;
pub mod multiclass;
pub mod ranking;
pub mod regression;

use crate::data::{Columns, Float, Predictions};
use crate::error::{Error, Result};
use crate::metrics::multiclass::MulticlassFull;
use crate::metrics::ranking::RankingOptions;
use crate::metrics::registry::Selection;
use crate::metrics::regression::RegressionFull;
use crate::state::file::{StateFile, TaskState};
use crate::uncertainty::IntervalOptions;
use crate::uncertainty::bootstrap::Need;
use binary::{BinaryFull, BinaryOptions, Thresholds};

/// Options of the full tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FullOptions {
    /// Decision threshold (binary; multiclass predicts the most probable
    /// class).
    pub threshold: f64,
    /// Where the threshold sweep is evaluated (binary).
    pub thresholds: Thresholds,
    /// Bootstrap intervals (`replicates: 0` turns them off) and the
    /// confidence level.
    pub intervals: IntervalOptions,
    /// Cutoffs and conventions (ranking).
    pub ranking: RankingOptions,
    /// The metrics asked for (`--metrics`): only these are computed and
    /// reported, with what they need.
    pub metrics: Selection,
}

impl FullOptions {
    /// The binary options of a finish from states (no rows: no clusters,
    /// no replicates kept).
    pub fn of_state(&self) -> BinaryOptions<'static> {
        BinaryOptions {
            threshold: self.threshold,
            sweep: self.thresholds,
            intervals: self.intervals,
            keep_replicates: false,
            clusters: None,
            need: Need::binary(&self.metrics),
        }
    }
}

impl Default for FullOptions {
    fn default() -> Self {
        FullOptions {
            threshold: 0.5,
            thresholds: Thresholds::Grid(1000),
            intervals: IntervalOptions::default(),
            ranking: RankingOptions::default(),
            metrics: Selection::ALL,
        }
    }
}

/// The full tier's result, by task.
#[derive(Debug, Clone, PartialEq)]
pub enum FullResult {
    /// Binary classification.
    Binary(Box<BinaryFull>),
    /// Multiclass classification.
    Multiclass(MulticlassFull),
    /// Regression.
    Regression(RegressionFull),
    /// Ranking.
    Ranking(Box<ranking::RankingFull>),
}

impl FullResult {
    /// The metrics.
    pub fn metrics(&self) -> &crate::metrics::MetricSet {
        match self {
            FullResult::Binary(b) => &b.metrics,
            FullResult::Multiclass(m) => &m.metrics,
            FullResult::Regression(r) => &r.metrics,
            FullResult::Ranking(r) => &r.metrics,
        }
    }

    /// The metrics, to attach intervals to.
    pub fn metrics_mut(&mut self) -> &mut crate::metrics::MetricSet {
        match self {
            FullResult::Binary(b) => &mut b.metrics,
            FullResult::Multiclass(m) => &mut m.metrics,
            FullResult::Regression(r) => &mut r.metrics,
            FullResult::Ranking(r) => &mut r.metrics,
        }
    }

    /// Warnings: every undefined metric with its reason, then notes (classes
    /// left out of averages, …), each said once.
    pub fn warnings(&self) -> Vec<String> {
        if let Some(reason) = self.withheld() {
            return vec![format!("no metric has a value: {reason}")];
        }
        let mut w = self.metrics().warnings();
        match self {
            FullResult::Binary(b) => w.extend(b.interval_notes.iter().cloned()),
            FullResult::Multiclass(m) => w.extend(m.notes.iter().cloned()),
            FullResult::Regression(r) => w.extend(r.notes.iter().cloned()),
            FullResult::Ranking(r) => w.extend(r.notes.iter().cloned()),
        }
        let mut seen = std::collections::HashSet::new();
        w.retain(|x| seen.insert(x.clone()));
        w
    }

    /// The one reason shared by every metric, when all are undefined for
    /// it (every weight 0).
    pub fn withheld(&self) -> Option<&str> {
        let mut reasons = self
            .metrics()
            .iter()
            .map(|(_, m)| m.value.is_none().then_some(m.reason.as_deref()).flatten());
        let first = reasons.next()??;
        (first == EVERY_WEIGHT_ZERO && reasons.all(|r| r == Some(first))).then_some(first)
    }

    /// Makes every metric undefined for `reason`, and drops what was
    /// derived from rows that carry no weight (intervals, DeLong's interval,
    /// bands, notes).
    pub(crate) fn withhold_all(&mut self, reason: &str) {
        let names: Vec<String> = self.metrics().iter().map(|(n, _)| n.to_string()).collect();
        let metrics = self.metrics_mut();
        for name in names {
            metrics.insert(&name, crate::metrics::Metric::undefined(reason));
        }
        match self {
            FullResult::Binary(b) => {
                b.delong = Err(reason.to_string());
                b.bands = None;
                b.interval_notes.clear();
            }
            FullResult::Multiclass(m) => m.notes.clear(),
            FullResult::Regression(r) => r.notes.clear(),
            FullResult::Ranking(r) => r.notes.clear(),
        }
    }
}

/// Checks options that clap cannot: ranges of the threshold and level.
pub fn check_options(options: &FullOptions) -> Result<()> {
    if !(0.0..=1.0).contains(&options.threshold) {
        return Err(Error::usage(format!(
            "--threshold {} is not a probability in [0, 1]",
            options.threshold
        )));
    }
    let level = options.intervals.level;
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::usage(format!(
            "--ci {level} is not a level in (0, 1)"
        )));
    }
    if let Thresholds::Grid(n) = options.thresholds
        && !(2..=binary::MAX_GRID).contains(&n)
    {
        return Err(Error::usage(format!(
            "--thresholds {n}: the grid needs 2 to {} points",
            binary::MAX_GRID
        )));
    }
    Ok(())
}

/// Checks that the resampling fits the rows: stratified replicates need
/// classes, and resample rows, not clusters.
pub fn check_resampling(preds: &Predictions, options: &FullOptions) -> Result<()> {
    let iv = &options.intervals;
    if iv.resample != crate::uncertainty::Resample::Stratified || iv.replicates == 0 {
        return Ok(());
    }
    if matches!(
        preds.task,
        crate::data::Task::Regression | crate::data::Task::Ranking
    ) {
        return Err(Error::usage(format!(
            "--resample stratified keeps each class's count, and {} has no classes; use poisson or multinomial",
            preds.task
        )));
    }
    if let Some(c) = &preds.clusters {
        return Err(Error::usage(format!(
            "--resample stratified draws rows within each class, and --cluster {} draws whole clusters: choose one",
            c.column
        )));
    }
    Ok(())
}

/// Runs the full tier.
pub fn full(preds: &Predictions, options: &FullOptions) -> Result<FullResult> {
    full_with_progress(preds, options, &|_, _| {})
}

/// Runs the full tier, calling `progress(done, total)` as the bootstrap's
/// batches finish.
pub fn full_with_progress(
    preds: &Predictions,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FullResult> {
    check_options(options)?;
    options.metrics.check(preds.task)?;
    check_resampling(preds, options)?;
    if let Columns::Ranking { labels, .. } = &preds.columns {
        ranking::check_gain(labels, &options.ranking)?;
    }
    if preds
        .weights
        .as_ref()
        .is_some_and(|w| crate::with_floats!(w, s => s.iter().all(|v| v.to_f64() <= 0.0)))
    {
        // Nothing carries weight: no metric has a value. The same result
        // for a file and for a slice of a larger file.
        let mut point = *options;
        point.intervals.replicates = 0;
        let mut result = run(preds, &point, progress);
        result.withhold_all(EVERY_WEIGHT_ZERO);
        options.metrics.retain(preds.task, result.metrics_mut());
        return Ok(result);
    }
    let mut result = run(preds, options, progress);
    options.metrics.retain(preds.task, result.metrics_mut());
    Ok(result)
}

/// Runs the full tier from a state (several files, shards, a state file):
/// the same point metrics, tables and DeLong's interval as a run over the
/// rows, bit for bit. Bootstrap intervals come from the state for
/// unweighted binary rows with Poisson resampling and percentile intervals
/// ([`crate::uncertainty::from_state`]); elsewhere they need one
/// prediction file's rows, and asking for them is a usage error that says
/// so.
pub fn full_state(
    file: &StateFile,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FullResult> {
    check_options(options)?;
    options.metrics.check(file.header.task)?;
    let iv = &options.intervals;
    let name = file.header.path.display();
    let refuse = |why: &str| {
        Err(Error::usage(format!(
            "{name}: {why}; pass --bootstrap 0 for point metrics (ROC-AUC keeps DeLong's interval), or give one prediction file"
        )))
    };
    let everything_zero = file.state.weighted() && file.state.rows() == 0;
    let bootstrap = iv.replicates > 0 && !everything_zero;
    // The histogram as frequencies, which the bootstrap draws from (once:
    // it walks every distinct score).
    let frequencies = match &file.state {
        TaskState::Binary(s) if bootstrap => s.histogram().frequency_groups(),
        _ => None,
    };
    if bootstrap {
        match &file.state {
            TaskState::Binary(_) if frequencies.is_none() => {
                return refuse(
                    "the bootstrap from a state draws a count per distinct score, which weights that are not whole numbers do not give",
                );
            }
            TaskState::Binary(_) if iv.resample != crate::uncertainty::Resample::Poisson => {
                return refuse(&format!(
                    "the bootstrap from a state draws Poisson counts; --resample {} needs the rows",
                    iv.resample.as_str()
                ));
            }
            TaskState::Binary(_) if iv.method == crate::uncertainty::CiMethod::Bca => {
                return refuse(
                    "BCa needs the rows' jackknife; from a state use --method percentile",
                );
            }
            TaskState::Binary(_) => {}
            TaskState::Multiclass(_) | TaskState::Regression(_) => {
                return refuse(&format!(
                    "bootstrap intervals from a {} state are not built",
                    file.header.task
                ));
            }
        }
    }
    let mut result = match &file.state {
        TaskState::Binary(s) => {
            let mut out = binary::from_state(s, &options.of_state());
            // Refused above when the weights are not frequencies.
            if let Some(frequencies) = frequencies {
                let reps = crate::uncertainty::from_state::binary_replicates(
                    frequencies,
                    iv.replicates,
                    iv.seed,
                    options.threshold,
                    binary::band_grid(options.thresholds),
                    progress,
                );
                binary::attach_replicates(&mut out, &reps, None, iv);
                if s.weighted() {
                    out.interval_notes.push(FREQUENCY_WEIGHTS.to_string());
                }
            }
            binary::proportion_intervals(&mut out, s.weighted(), iv);
            FullResult::Binary(Box::new(out))
        }
        TaskState::Multiclass(s) => FullResult::Multiclass(s.finish(&file.header.class_names)),
        TaskState::Regression(s) => FullResult::Regression(s.finish()),
    };
    if everything_zero {
        result.withhold_all(EVERY_WEIGHT_ZERO);
    }
    options
        .metrics
        .retain(file.header.task, result.metrics_mut());
    Ok(result)
}

/// The note on intervals from a state of whole-number weights.
pub const FREQUENCY_WEIGHTS: &str = "bootstrap from a state: whole-number weights are taken as frequencies (a row of weight k draws as k rows, each Poisson(1)); the bootstrap of the file itself scales one Poisson(1) draw per row by its weight, so its intervals differ";

/// The reason every metric is undefined when every row has weight 0.
pub const EVERY_WEIGHT_ZERO: &str = "every weight is 0, so no row counts";

fn run(
    preds: &Predictions,
    options: &FullOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> FullResult {
    match &preds.columns {
        Columns::Binary { labels, scores } => FullResult::Binary(Box::new(binary::full(
            labels,
            scores,
            preds.weights.as_ref(),
            &BinaryOptions {
                threshold: options.threshold,
                sweep: options.thresholds,
                intervals: options.intervals,
                keep_replicates: false,
                clusters: preds.clusters.as_ref(),
                need: Need::binary(&options.metrics),
            },
            progress,
        ))),
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => FullResult::Multiclass(multiclass::full(
            labels,
            scores,
            *classes,
            preds.weights.as_ref(),
            &preds.class_names,
            &options.intervals,
            preds.clusters.as_ref(),
            Need::multiclass(&options.metrics),
            progress,
        )),
        Columns::Regression { labels, scores } => FullResult::Regression(regression::full(
            labels,
            scores,
            preds.weights.as_ref(),
            &options.intervals,
            preds.clusters.as_ref(),
            progress,
        )),
        Columns::Ranking {
            labels,
            scores,
            queries,
            ..
        } => FullResult::Ranking(Box::new(ranking::full(
            labels,
            scores,
            queries,
            &options.ranking,
            &options.intervals,
            progress,
        ))),
    }
}
