//! The full tier (SPEC §4): every row, every metric of the task.

use crate::data::{Columns, Predictions};
use crate::error::{Error, Result};
use crate::metrics::binary::{self, BinaryFull, BinaryOptions, Thresholds};
use crate::metrics::multiclass::{self, MulticlassFull};
use crate::metrics::regression::{self, RegressionFull};
use crate::uncertainty::IntervalOptions;

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
}

impl Default for FullOptions {
    fn default() -> Self {
        FullOptions {
            threshold: 0.5,
            thresholds: Thresholds::Grid(1000),
            intervals: IntervalOptions::default(),
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
}

impl FullResult {
    /// The metrics.
    pub fn metrics(&self) -> &crate::metrics::MetricSet {
        match self {
            FullResult::Binary(b) => &b.metrics,
            FullResult::Multiclass(m) => &m.metrics,
            FullResult::Regression(r) => &r.metrics,
        }
    }

    /// The metrics, to attach intervals to.
    pub fn metrics_mut(&mut self) -> &mut crate::metrics::MetricSet {
        match self {
            FullResult::Binary(b) => &mut b.metrics,
            FullResult::Multiclass(m) => &mut m.metrics,
            FullResult::Regression(r) => &mut r.metrics,
        }
    }

    /// Warnings: every undefined metric with its reason, then notes (classes
    /// left out of averages, …).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.metrics().warnings();
        match self {
            FullResult::Binary(b) => w.extend(b.interval_notes.iter().cloned()),
            FullResult::Multiclass(m) => w.extend(m.notes.iter().cloned()),
            FullResult::Regression(r) => w.extend(r.notes.iter().cloned()),
        }
        w
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
        && !(2..=crate::metrics::binary::MAX_GRID).contains(&n)
    {
        return Err(Error::usage(format!(
            "--thresholds {n}: the grid needs 2 to {} points",
            crate::metrics::binary::MAX_GRID
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
    match &preds.columns {
        Columns::Binary { labels, scores } => Ok(FullResult::Binary(Box::new(binary::full(
            labels,
            scores,
            preds.weights.as_ref(),
            &BinaryOptions {
                threshold: options.threshold,
                sweep: options.thresholds,
                intervals: options.intervals,
                keep_replicates: false,
            },
            progress,
        )))),
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => Ok(FullResult::Multiclass(multiclass::full(
            labels,
            scores,
            *classes,
            preds.weights.as_ref(),
            &preds.class_names,
            &options.intervals,
            progress,
        ))),
        Columns::Regression { labels, scores } => Ok(FullResult::Regression(regression::full(
            labels,
            scores,
            preds.weights.as_ref(),
            &options.intervals,
            progress,
        ))),
    }
}
