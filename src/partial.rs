//! The low-FPR end of the ROC curve (binary, `evalkit full --max-fpr 0.1
//! --tpr-at-fpr 0.01`), where screening and fraud models live.
//!
//! - `partial_roc_auc`: the area under the ROC curve up to FPR `max_fpr`,
//!   standardised by McClish's correction (McClish 1989) exactly as
//!   scikit-learn's `roc_auc_score(max_fpr=...)`: the curve is cut at
//!   `max_fpr` (its TPR there interpolated between the points around it),
//!   the trapezoidal area `A` taken, and `0.5·(1 + (A − m²/2)/(m − m²/2))`
//!   reported, so 0.5 is chance and 1 perfect over that range; at `max_fpr
//!   = 1` it is the ROC-AUC.
//! - `tpr_at_fpr_X`: the highest TPR of a threshold whose FPR is at most X
//!   (an operating point one can ship, not an interpolation); 0 when no
//!   threshold keeps FPR that low.
//!
//! Both come from the exact ranking table (rows or a state) and, with the
//! rows and the bootstrap, get percentile intervals from Poisson
//! replicates of the rows (or of whole clusters), each recomputed on the
//! replicate's whole curve.

use crate::data::Predictions;
use crate::full::FullResult;
use crate::metrics::{Metric, MetricSet};
use crate::operating::{Counts, each_replicate};
use crate::uncertainty::bootstrap::Ranking;
use crate::uncertainty::{self, IntervalOptions};

/// Which low-FPR metrics to add.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LowFpr {
    /// The partial ROC-AUC's range, in (0, 1].
    pub max_fpr: Option<f64>,
    /// FPRs at which to report the TPR, each in [0, 1].
    pub tpr_at_fpr: Vec<f64>,
}

impl LowFpr {
    /// Nothing asked for.
    pub fn is_empty(&self) -> bool {
        self.max_fpr.is_none() && self.tpr_at_fpr.is_empty()
    }

    /// Checks the ranges (a usage error names the option).
    pub fn check(&self) -> crate::error::Result<()> {
        if let Some(m) = self.max_fpr
            && !(m > 0.0 && m <= 1.0)
        {
            return Err(crate::error::Error::usage(format!(
                "--max-fpr {m}: the partial ROC-AUC's range must be in (0, 1]"
            )));
        }
        if let Some(x) = self.tpr_at_fpr.iter().find(|x| !(0.0..=1.0).contains(*x)) {
            return Err(crate::error::Error::usage(format!(
                "--tpr-at-fpr {x}: a false positive rate is in [0, 1]"
            )));
        }
        Ok(())
    }

    /// The metrics' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.max_fpr
            .map(|_| "partial_roc_auc".to_string())
            .into_iter()
            .chain(self.tpr_at_fpr.iter().map(|x| format!("tpr_at_fpr_{x}")))
            .collect()
    }

    /// The metrics' values on one curve (NaN where undefined).
    fn values(&self, c: &Counts) -> Vec<f64> {
        self.max_fpr
            .map(|m| partial_auc(c, m).unwrap_or(f64::NAN))
            .into_iter()
            .chain(
                self.tpr_at_fpr
                    .iter()
                    .map(|&x| tpr_at_fpr(c, x).unwrap_or(f64::NAN)),
            )
            .collect()
    }
}

/// McClish-standardised partial ROC-AUC up to FPR `max_fpr` of a curve
/// (cumulative counts at each distinct score, descending); `None` without
/// positives or negatives.
pub(crate) fn partial_auc(c: &Counts, max_fpr: f64) -> Option<f64> {
    if c.p <= 0.0 || c.n <= 0.0 {
        return None;
    }
    let mut area = 0.0;
    let (mut x0, mut y0) = (0.0, 0.0);
    for (&tp, &fp) in c.tp.iter().zip(c.fp) {
        let (x1, y1) = (fp / c.n, tp / c.p);
        if x1 <= max_fpr {
            area += (x1 - x0) * (y0 + y1) / 2.0;
        } else {
            // The segment crossing max_fpr: its TPR there, interpolated.
            let y = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0);
            area += (max_fpr - x0) * (y0 + y) / 2.0;
            break;
        }
        (x0, y0) = (x1, y1);
    }
    let (min_area, max_area) = (0.5 * max_fpr * max_fpr, max_fpr);
    Some(0.5 * (1.0 + (area - min_area) / (max_area - min_area)))
}

/// The highest TPR of a threshold with FPR at most `x` (0 when none);
/// `None` without positives or negatives.
pub(crate) fn tpr_at_fpr(c: &Counts, x: f64) -> Option<f64> {
    if c.p <= 0.0 || c.n <= 0.0 {
        return None;
    }
    // FPR rises with each threshold: the last one within x has the most
    // true positives.
    let k = c.fp.partition_point(|&fp| fp / c.n <= x);
    Some(if k == 0 { 0.0 } else { c.tp[k - 1] / c.p })
}

/// Each replicate's low-FPR values on `preds`' rows (Poisson replicates of
/// the rows, or of the clusters `clusters`, from `intervals.seed`): the
/// same rows in replicate `r` for any two models of the same rows.
fn replicate_values(
    preds: &Predictions,
    low: &LowFpr,
    intervals: &IntervalOptions,
    clusters: Option<&[u64]>,
) -> Option<Vec<Vec<f64>>> {
    let crate::data::Columns::Binary { labels, scores } = &preds.columns else {
        return None;
    };
    let rk = Ranking::build(labels, scores, preds.weights.as_ref());
    Some(each_replicate(
        &rk,
        intervals.replicates,
        intervals.seed,
        clusters,
        |inside, _| low.values(inside),
    ))
}

/// Puts the low-FPR point values of a binary result's curve into its
/// metrics; `false` for other tasks.
fn put_points(result: &mut FullResult, low: &LowFpr) -> bool {
    let FullResult::Binary(b) = result else {
        return false;
    };
    let c = Counts {
        tp: &b.curve.tps,
        fp: &b.curve.fps,
        p: b.curve.positives(),
        n: b.curve.negatives(),
    };
    for (name, v) in low.names().iter().zip(low.values(&c)) {
        b.metrics.insert(
            name,
            if v.is_finite() {
                Metric::point(v)
            } else {
                Metric::undefined("the data has one class only")
            },
        );
    }
    true
}

/// Percentile intervals of `low`'s metrics in `metrics` from per-replicate
/// values; notes for those left without one.
fn put_intervals(
    metrics: &mut MetricSet,
    low: &LowFpr,
    reps: &[Vec<f64>],
    level: f64,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (i, name) in low.names().iter().enumerate() {
        let values: Vec<f64> = reps.iter().map(|r| r[i]).collect();
        if let Some(m) = metrics.get_mut(name)
            && m.value.is_some()
        {
            match uncertainty::percentile_interval(&values, level) {
                Some(ci) => {
                    m.ci = Some(ci);
                    m.method = "bootstrap-percentile".to_string();
                }
                None => notes.push(format!(
                    "{name}: no interval (too few replicates, or undefined in too many)"
                )),
            }
        }
    }
    notes
}

const NO_ROWS: &str = "partial_roc_auc and tpr_at_fpr get intervals from the rows of one prediction file; merged files and states give point values";

/// Adds the low-FPR metrics to a binary result (from its ranking table),
/// with percentile intervals when `preds` (its rows) and replicates are
/// given; returns notes. Other tasks are left alone.
pub fn attach(
    result: &mut FullResult,
    preds: Option<&Predictions>,
    low: &LowFpr,
    intervals: &IntervalOptions,
) -> Vec<String> {
    if low.is_empty() || !put_points(result, low) || intervals.replicates == 0 {
        return Vec::new();
    }
    let Some(preds) = preds else {
        return vec![NO_ROWS.to_string()];
    };
    let clusters = preds.clusters.as_ref().map(|c| c.keys());
    match replicate_values(preds, low, intervals, clusters) {
        Some(reps) => put_intervals(result.metrics_mut(), low, &reps, intervals.level),
        None => Vec::new(),
    }
}

/// Adds the low-FPR metrics to both sides of a binary comparison and their
/// paired differences (candidate − baseline) to its `delta`, each with a
/// percentile interval: replicate `r` draws the same rows for both models
/// (the Poisson weights are keyed by row, or by the candidate's clusters),
/// so the differences are paired. `aligned` is the baseline in the
/// candidate's row order. Refuses other tasks.
pub fn attach_paired(
    c: &mut crate::compare::Comparison,
    candidate: &Predictions,
    aligned: &Predictions,
    low: &LowFpr,
    intervals: &IntervalOptions,
) -> crate::error::Result<Vec<String>> {
    if low.is_empty() {
        return Ok(Vec::new());
    }
    if !put_points(&mut c.candidate, low) || !put_points(&mut c.baseline, low) {
        return Err(crate::error::Error::usage(format!(
            "--max-fpr and --tpr-at-fpr read a binary classifier's ROC curve, but {} is a {} task",
            candidate.path.display(),
            candidate.task
        )));
    }
    for name in low.names() {
        let (a, b) = (
            c.candidate.metrics().value(&name),
            c.baseline.metrics().value(&name),
        );
        c.delta.insert(
            &name,
            match (a, b) {
                (Some(a), Some(b)) => Metric::point(a - b),
                _ => Metric::undefined("undefined for one of the models"),
            },
        );
    }
    if intervals.replicates == 0 {
        return Ok(Vec::new());
    }
    let clusters = candidate.clusters.as_ref().map(|k| k.keys());
    let (Some(rc), Some(rb)) = (
        replicate_values(candidate, low, intervals, clusters),
        replicate_values(aligned, low, intervals, clusters),
    ) else {
        return Ok(Vec::new());
    };
    let mut notes = put_intervals(c.candidate.metrics_mut(), low, &rc, intervals.level);
    notes.extend(put_intervals(
        c.baseline.metrics_mut(),
        low,
        &rb,
        intervals.level,
    ));
    let diff: Vec<Vec<f64>> = rc
        .iter()
        .zip(&rb)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect())
        .collect();
    notes.extend(
        put_intervals(&mut c.delta, low, &diff, intervals.level)
            .into_iter()
            .map(|n| format!("delta {n}")),
    );
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_auc_of_a_known_curve() {
        // Points (0, 0), (0.25, 0.5), (0.5, 1): up to 0.5 the area is
        // 0.25·0.25 + 0.25·0.75 = 0.25; McClish: 0.5·(1 + (0.25 − 0.125) /
        // (0.5 − 0.125)) = 2/3.
        let c = Counts {
            tp: &[2.0, 4.0],
            fp: &[1.0, 2.0],
            p: 4.0,
            n: 4.0,
        };
        assert!((partial_auc(&c, 0.5).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        // Up to 0.125: TPR there 0.25, area 0.125·0.125 = 1/64.
        let want = 0.5 * (1.0 + (1.0 / 64.0 - 0.5 / 64.0) / (0.125 - 0.5 / 64.0));
        assert!((partial_auc(&c, 0.125).unwrap() - want).abs() < 1e-15);
        assert_eq!(tpr_at_fpr(&c, 0.25), Some(0.5));
        assert_eq!(tpr_at_fpr(&c, 0.2), Some(0.0));
        assert_eq!(tpr_at_fpr(&c, 1.0), Some(1.0));
        let one = Counts {
            tp: &[1.0],
            fp: &[0.0],
            p: 1.0,
            n: 0.0,
        };
        assert_eq!(partial_auc(&one, 0.5), None);
    }
}
