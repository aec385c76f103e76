//! Multiclass classification: the full tier's point metrics.
//!
//! Scores are a `rows × k` probability matrix; the predicted class is the
//! most probable one (the first on ties, as numpy's `argmax`).
//!
//! | name | definition |
//! |---|---|
//! | `accuracy` | weighted share of rows whose predicted class is the label |
//! | `top_3_accuracy`, `top_5_accuracy` (when `k < classes`) | the label is among the `k` highest scores; ties ranked as scikit-learn's `top_k_accuracy_score` (a stable ascending argsort, reversed: the higher class index wins a tie) |
//! | `macro_*`, `micro_*`, `weighted_*` precision, recall, F1 | scikit-learn's averages over the classes present in the labels or the predictions; a class with nothing predicted (or no rows) counts 0 for that term, as scikit-learn's `zero_division=0` |
//! | `macro_roc_auc`, `weighted_roc_auc` | one-vs-rest ROC-AUC per class ([`BinaryCurve::roc_auc`]); macro = mean over the classes present in the labels, weighted = by support (scikit-learn `multi_class="ovr"`; scikit-learn refuses data with an absent class, evalkit leaves it out and says so) |
//! | `macro_average_precision`, `weighted_average_precision` | the same for average precision |
//! | `log_loss` | weighted mean of `−ln p_label`, clipped to `[1e-15, 1−1e-15]` |
//! | `brier` | weighted mean of `Σ_c (p_c − [label = c])²` |
//! | `ece` | expected calibration error of the top class's probability ([`super::calibration`]) |
//!
//! The rows fold into a mergeable state (`state::multiclass`: exact sums, so
//! the values do not depend on the order of the rows, the chunking or the
//! thread count) and [`point_metrics`] computes every metric and table from
//! its sums: the full tier (`full::multiclass`) and a merged state share
//! each formula. Rows of weight 0 count
//! nowhere (sums, confusion matrix, curves, reliability bins); only which
//! classes are present — as a label or a prediction, which scikit-learn's
//! averages cover — and the notes see them.

use super::calibration::{Bin, BinSums};
use super::curves::{self, BinaryCurve, Counts, PrecisionSum};
use super::{Metric, MetricSet, neg_log};
use crate::data::{Float, Floats};

/// One row of the per-class table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassRow {
    /// Class index.
    pub class: usize,
    /// Rows (or weight) with this label.
    pub support: f64,
    /// Rows (or weight) predicted as this class.
    pub predicted: f64,
    /// Precision; `None` when nothing is predicted as this class.
    pub precision: Option<f64>,
    /// Recall; `None` when no row has this label.
    pub recall: Option<f64>,
    /// F1; `None` when the class is neither a label nor a prediction.
    pub f1: Option<f64>,
    /// F1's percentile bootstrap interval (with the bootstrap; `None`
    /// without, or where F1 is undefined in too many replicates).
    pub f1_ci: Option<[f64; 2]>,
    /// One-vs-rest ROC-AUC; `None` when the class has no rows (or only it has).
    pub roc_auc: Option<f64>,
    /// Its percentile bootstrap interval (as `f1_ci`).
    pub roc_auc_ci: Option<[f64; 2]>,
    /// One-vs-rest average precision; `None` when the class has no rows.
    pub average_precision: Option<f64>,
    /// Its percentile bootstrap interval (as `f1_ci`).
    pub average_precision_ci: Option<[f64; 2]>,
}

/// One class's pointwise bootstrap bands of its one-vs-rest curves, on
/// the binary bands' grids ([`crate::full::binary::Bands`]): TPR at FPR
/// `i / 99` and precision at recall `i / 99`, `None` where a point has no
/// interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassBands {
    /// Lower TPR at each FPR of the grid.
    pub tpr_lo: Vec<Option<f64>>,
    /// Upper TPR.
    pub tpr_hi: Vec<Option<f64>>,
    /// Lower precision at each recall of the grid.
    pub precision_lo: Vec<Option<f64>>,
    /// Upper precision.
    pub precision_hi: Vec<Option<f64>>,
}

/// The multiclass full tier's result.
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassFull {
    /// Metrics, in the order of the module table.
    pub metrics: MetricSet,
    /// Confusion matrix, `[actual][predicted]` (counts or weight sums).
    pub confusion: Vec<Vec<f64>>,
    /// Per-class table.
    pub per_class: Vec<ClassRow>,
    /// Reliability bins of the top class's probability.
    pub reliability: Vec<Bin>,
    /// Notes on classes left out of averages.
    pub notes: Vec<String>,
    /// With the bootstrap: each class's one-vs-rest curve bands (empty
    /// without it; `None` for a class whose curves are undefined). Kept for
    /// the report, not written to JSON (400 numbers per class).
    pub class_bands: Vec<Option<ClassBands>>,
}

/// Names of the multiclass metrics for `k` classes, in the module table's
/// order: the point metrics' and the bootstrap replicates'.
pub fn multiclass_metric_names(k: usize) -> Vec<&'static str> {
    let mut v = vec!["accuracy"];
    if k > 3 {
        v.push("top_3_accuracy");
    }
    if k > 5 {
        v.push("top_5_accuracy");
    }
    v.extend([
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "micro_precision",
        "micro_recall",
        "micro_f1",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
        "macro_roc_auc",
        "weighted_roc_auc",
        "macro_average_precision",
        "weighted_average_precision",
        "log_loss",
        "brier",
        "ece",
    ]);
    v
}

/// Rank of the label among the row's scores, in scikit-learn's
/// `top_k_accuracy_score` order: classes scoring higher, or equal with a
/// higher index, come first.
#[inline]
pub fn label_rank<F: Float>(row: &[F], y: usize) -> usize {
    let sy = row[y].to_f64();
    row.iter()
        .enumerate()
        .filter(|&(c, s)| {
            let s = s.to_f64();
            s > sy || (s == sy && c > y)
        })
        .count()
}

/// Index of the first maximum.
#[inline]
pub fn argmax<F: Float>(row: &[F]) -> usize {
    let mut best = 0;
    let mut best_p = row[0].to_f64();
    for (c, p) in row.iter().enumerate().skip(1) {
        let p = p.to_f64();
        if p > best_p {
            best = c;
            best_p = p;
        }
    }
    best
}

/// A row's log loss: `−ln p_label`, clipped ([`neg_log`]).
#[inline]
pub fn row_log_loss<F: Float>(row: &[F], y: usize) -> f64 {
    neg_log(row[y].to_f64())
}

/// A row's Brier term: `Σ_c (p_c − [label = c])²`, summed in class order.
#[inline]
pub fn row_brier<F: Float>(row: &[F], y: usize) -> f64 {
    let mut sq = 0.0;
    for (j, p) in row.iter().enumerate() {
        let e = p.to_f64() - if j == y { 1.0 } else { 0.0 };
        sq += e * e;
    }
    sq
}

/// What the multiclass point metrics are computed from: the sums of a
/// multiclass state (`state::multiclass`), each rounded once (see
/// [`point_metrics`]).
#[derive(Debug, Clone)]
pub struct MulticlassSums {
    /// Σw of the rows that count (the row count without weights).
    pub weight: f64,
    /// Σw·log loss.
    pub log_loss: f64,
    /// Σw·Brier term.
    pub brier: f64,
    /// Σw of the rows whose predicted class is the label.
    pub correct: f64,
    /// Σw of the rows whose label ranks in the top 3.
    pub top3: f64,
    /// Σw of the rows whose label ranks in the top 5.
    pub top5: f64,
    /// `[actual][predicted]`: row counts, or weight sums.
    pub confusion: Vec<Vec<f64>>,
    /// Per class, Σw of its label rows (the confusion row's sum).
    pub support: Vec<f64>,
    /// Per class, Σw of the rows predicted as it (the confusion column's sum).
    pub predicted: Vec<f64>,
    /// Per class, rows with it as label, rows of weight 0 included (for
    /// which classes scikit-learn's averages cover, and the notes).
    pub label_rows: Vec<u64>,
    /// Per class, rows predicted as it, rows of weight 0 included.
    pub predicted_rows: Vec<u64>,
    /// Per class, the one-vs-rest ranking numbers.
    pub ovr: Vec<OvrParts>,
    /// Reliability bins of the top class's probability.
    pub bins: BinSums,
}

/// One class's one-vs-rest ranking numbers: twice the ROC area and the
/// precision sum of its ranking table, with its positives and negatives
/// (rows, or weights). From one table ([`OvrParts::of`]) or added up from
/// the table's score ranges (`state::ranges`): the same numbers, bit for
/// bit, so both finish through [`OvrParts::roc_auc`] and
/// [`OvrParts::average_precision`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OvrParts {
    /// Twice the ROC area in count (or weight) units
    /// ([`BinaryCurve::roc_area2`]).
    pub area2: f64,
    /// `Σ (Rₙ − Rₙ₋₁)·Pₙ` ([`BinaryCurve::precision_sum`]).
    pub precision_sum: f64,
    /// The class's rows (or weight).
    pub positives: f64,
    /// The other classes' rows (or weight).
    pub negatives: f64,
}

impl OvrParts {
    /// The numbers of one class's whole ranking table.
    pub fn of(curve: &BinaryCurve) -> OvrParts {
        OvrParts {
            area2: curve.roc_area2(),
            precision_sum: curve.precision_sum(),
            positives: curve.positives(),
            negatives: curve.negatives(),
        }
    }

    /// One-vs-rest ROC-AUC ([`curves::roc_auc`], as
    /// [`BinaryCurve::roc_auc`]).
    pub fn roc_auc(&self) -> Result<f64, String> {
        curves::roc_auc(self.area2, self.positives, self.negatives)
    }

    /// One-vs-rest average precision ([`curves::average_precision`], as
    /// [`BinaryCurve::average_precision`]).
    pub fn average_precision(&self) -> Result<f64, String> {
        curves::average_precision(
            PrecisionSum::RecallSteps(self.precision_sum),
            self.positives,
        )
    }
}

impl MulticlassSums {
    /// The additive row sums.
    pub fn row_sums(&self) -> RowSums {
        RowSums {
            weight: self.weight,
            log_loss: self.log_loss,
            brier: self.brier,
            correct: self.correct,
            top3: self.top3,
            top5: self.top5,
        }
    }

    /// Class `c`'s counts (row counts, or weight sums).
    pub fn class_counts(&self, c: usize) -> ClassCounts {
        ClassCounts {
            tp: self.confusion[c][c],
            predicted: self.predicted[c],
            support: self.support[c],
        }
    }
}

// The final formulas of the multiclass metrics, over their sufficient
// numbers. The point metrics ([`point_metrics`]) and the bootstrap
// replicate lanes (`uncertainty::tasks`, which accumulate the same numbers
// lane by lane in one pass) both finish here, so each formula and each
// convention for undefined values exists once.

/// The additive row sums of the multiclass metrics: Σw and the weighted
/// sums of the per-row terms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RowSums {
    /// Σw of the rows that count (the row count without weights).
    pub weight: f64,
    /// Σw·log loss.
    pub log_loss: f64,
    /// Σw·Brier term.
    pub brier: f64,
    /// Σw of the rows whose predicted class is the label.
    pub correct: f64,
    /// Σw of the rows whose label ranks in the top 3.
    pub top3: f64,
    /// Σw of the rows whose label ranks in the top 5.
    pub top5: f64,
}

impl RowSums {
    /// Accuracy: `Σw·correct / Σw`.
    pub fn accuracy(&self) -> f64 {
        self.correct / self.weight
    }
    /// Top-3 accuracy: `Σw·[label in the top 3] / Σw`.
    pub fn top_3_accuracy(&self) -> f64 {
        self.top3 / self.weight
    }
    /// Top-5 accuracy.
    pub fn top_5_accuracy(&self) -> f64 {
        self.top5 / self.weight
    }
    /// Log loss: `Σw·(−ln p_label) / Σw`.
    pub fn mean_log_loss(&self) -> f64 {
        self.log_loss / self.weight
    }
    /// Brier score: `Σw·Σ_c (p_c − [label = c])² / Σw`.
    pub fn mean_brier(&self) -> f64 {
        self.brier / self.weight
    }
}

/// One class's counts (row counts, or weight sums): its true positives,
/// the rows predicted as it (`tp + fp`) and the rows labelled it
/// (`tp + fn`, its support).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClassCounts {
    /// Rows labelled and predicted as the class.
    pub tp: f64,
    /// Rows predicted as the class.
    pub predicted: f64,
    /// Rows labelled as the class.
    pub support: f64,
}

impl ClassCounts {
    fn fp(&self) -> f64 {
        self.predicted - self.tp
    }
    fn fn_(&self) -> f64 {
        self.support - self.tp
    }
    /// `tp / (tp + fp)`; `None` when nothing is predicted as the class.
    pub fn precision(&self) -> Option<f64> {
        let (tp, fp) = (self.tp, self.fp());
        (tp + fp > 0.0).then(|| tp / (tp + fp))
    }
    /// `tp / support`; `None` when no row has the class as label.
    pub fn recall(&self) -> Option<f64> {
        (self.support > 0.0).then(|| self.tp / self.support)
    }
    /// `2tp / (2tp + fp + fn)`; `None` when the class is neither a label nor
    /// a prediction.
    pub fn f1(&self) -> Option<f64> {
        let (tp, fp, fn_) = (self.tp, self.fp(), self.fn_());
        (2.0 * tp + fp + fn_ > 0.0).then(|| 2.0 * tp / (2.0 * tp + fp + fn_))
    }
}

/// Precision, recall and F1 averaged over classes (in that order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Averages {
    /// The mean over the classes, a class's undefined value counting 0.
    pub macro_: [f64; 3],
    /// From the classes' summed counts, 0 where undefined.
    pub micro: [f64; 3],
    /// The mean weighted by support; `None` when the supports sum to 0.
    pub weighted: Option<[f64; 3]>,
}

/// scikit-learn's macro, micro and weighted precision, recall and F1 over
/// `classes` (the classes present as a label or a prediction, in class
/// order), with `zero_division=0`.
pub fn averages(classes: &[ClassCounts]) -> Averages {
    type Pick = fn(&ClassCounts) -> Option<f64>;
    let picks: [Pick; 3] = [ClassCounts::precision, ClassCounts::recall, ClassCounts::f1];
    let macro_ = picks.map(|pick| {
        classes.iter().map(|c| pick(c).unwrap_or(0.0)).sum::<f64>() / classes.len() as f64
    });
    // The summed false positives and negatives, as `(Σ + predicted) − tp`
    // and `(Σ + support) − tp` class by class.
    let (tp, fp, fn_) = classes.iter().fold((0.0, 0.0, 0.0), |(a, b, d), c| {
        (a + c.tp, b + c.predicted - c.tp, d + c.support - c.tp)
    });
    let all = Counts {
        tp,
        fp,
        tn: 0.0,
        fn_,
    };
    let micro = [all.precision(), all.recall(), all.f1()].map(|v| v.unwrap_or(0.0));
    let sw: f64 = classes.iter().map(|c| c.support).sum();
    let weighted = (sw > 0.0).then(|| {
        picks.map(|pick| {
            classes
                .iter()
                .map(|c| c.support * pick(c).unwrap_or(0.0))
                .sum::<f64>()
                / sw
        })
    });
    Averages {
        macro_,
        micro,
        weighted,
    }
}

/// The macro and support-weighted averages of a one-vs-rest metric, from
/// each class's `(value, support)`: over the classes with rows (support > 0)
/// whose value is defined, `(Σ v / count, Σ v·support / Σ support)`; `None`
/// when no class qualifies.
pub fn ovr_averages(classes: impl Iterator<Item = (Option<f64>, f64)>) -> Option<(f64, f64)> {
    let vals: Vec<(f64, f64)> = classes
        .filter(|&(_, support)| support > 0.0)
        .filter_map(|(v, support)| v.map(|v| (v, support)))
        .collect();
    if vals.is_empty() {
        return None;
    }
    let mac = vals.iter().map(|v| v.0).sum::<f64>() / vals.len() as f64;
    let sw: f64 = vals.iter().map(|v| v.1).sum();
    let wtd = vals.iter().map(|v| v.0 * v.1).sum::<f64>() / sw;
    Some((mac, wtd))
}

/// One class's scores (column `c` of the matrix), in the stored width.
pub(crate) fn column(scores: &Floats, k: usize, c: usize) -> Floats {
    match scores {
        Floats::F32(v) => Floats::from(v.iter().skip(c).step_by(k).copied().collect::<Vec<f32>>()),
        Floats::F64(v) => Floats::from(v.iter().skip(c).step_by(k).copied().collect::<Vec<f64>>()),
    }
}

/// Every multiclass point metric and table from a state's sums, in the
/// module table's order. The full tier and the mergeable state
/// (`state::multiclass`) both finish here, so each formula exists once.
/// `names` are the class names, for notes.
pub fn point_metrics(sums: &MulticlassSums, names: &[String]) -> MulticlassFull {
    let k = sums.confusion.len();
    let confusion = &sums.confusion;
    let support = &sums.support;
    let predicted_w = &sums.predicted;
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    // Classes present as a label or a prediction (by row, not weight).
    let seen: Vec<bool> = (0..k)
        .map(|c| sums.label_rows[c] > 0 || sums.predicted_rows[c] > 0)
        .collect();

    // One-vs-rest curves, one class per task.
    let ovr: Vec<(Option<f64>, Option<f64>)> = sums
        .ovr
        .iter()
        .map(|o| (o.roc_auc().ok(), o.average_precision().ok()))
        .collect();

    let per_class: Vec<ClassRow> = (0..k)
        .map(|c| {
            let counts = sums.class_counts(c);
            ClassRow {
                class: c,
                support: support[c],
                predicted: predicted_w[c],
                precision: counts.precision(),
                recall: counts.recall(),
                f1: counts.f1(),
                f1_ci: None,
                roc_auc: ovr[c].0,
                roc_auc_ci: None,
                average_precision: ovr[c].1,
                average_precision_ci: None,
            }
        })
        .collect();

    let mut m = MetricSet::new();
    let rows = sums.row_sums();
    m.insert("accuracy", Metric::point(rows.accuracy()));
    if k > 3 {
        m.insert("top_3_accuracy", Metric::point(rows.top_3_accuracy()));
    }
    if k > 5 {
        m.insert("top_5_accuracy", Metric::point(rows.top_5_accuracy()));
    }

    let included: Vec<ClassCounts> = (0..k)
        .filter(|&c| seen[c])
        .map(|c| sums.class_counts(c))
        .collect();
    let avg = averages(&included);
    let mut notes = Vec::new();
    for (i, name) in ["precision", "recall", "f1"].into_iter().enumerate() {
        m.insert(&format!("macro_{name}"), Metric::point(avg.macro_[i]));
    }
    for (i, name) in ["precision", "recall", "f1"].into_iter().enumerate() {
        m.insert(&format!("micro_{name}"), Metric::point(avg.micro[i]));
    }
    for (i, name) in ["precision", "recall", "f1"].into_iter().enumerate() {
        m.insert(
            &format!("weighted_{name}"),
            match avg.weighted {
                Some(w) => Metric::point(w[i]),
                None => Metric::undefined("every row has weight 0"),
            },
        );
    }

    // One-vs-rest averages over the classes that have rows.
    // Classes with no label rows, and classes whose label rows all have
    // weight 0: both are left out, each said as it is.
    for (weightless, what) in [(false, "no rows"), (true, "rows only of weight 0")] {
        let absent: Vec<String> = (0..k)
            .filter(|&c| support[c] <= 0.0 && (sums.label_rows[c] > 0) == weightless)
            .map(name)
            .collect();
        if !absent.is_empty() {
            notes.push(format!(
                "class{} {} {} {what}: left out of the one-vs-rest ROC-AUC and average-precision averages",
                if absent.len() > 1 { "es" } else { "" },
                absent.join(", "),
                if absent.len() > 1 { "have" } else { "has" }
            ));
        }
    }
    for (name, idx) in [("roc_auc", 0usize), ("average_precision", 1)] {
        let values = (0..k).map(|c| (if idx == 0 { ovr[c].0 } else { ovr[c].1 }, support[c]));
        match ovr_averages(values) {
            None => {
                let why = "fewer than two classes have rows, so one-vs-rest curves are undefined";
                m.insert(&format!("macro_{name}"), Metric::undefined(why));
                m.insert(&format!("weighted_{name}"), Metric::undefined(why));
            }
            Some((mac, wtd)) => {
                m.insert(&format!("macro_{name}"), Metric::point(mac));
                m.insert(&format!("weighted_{name}"), Metric::point(wtd));
            }
        }
    }
    m.insert("log_loss", Metric::point(rows.mean_log_loss()));
    m.insert("brier", Metric::point(rows.mean_brier()));
    m.insert("ece", Metric::point(sums.bins.ece()));

    MulticlassFull {
        metrics: m,
        confusion: confusion.clone(),
        per_class,
        reliability: sums.bins.bins(),
        notes,
        class_bands: Vec::new(),
    }
}
