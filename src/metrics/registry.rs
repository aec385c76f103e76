//! The metric registry: every metric the tiers report, with the task it
//! belongs to, which way is better, and whether it is a headline metric.
//!
//! The report (summary columns, the colour of a difference), the suites
//! (which end of an interval a `max_drop` gate judges) and the JSON
//! documents (`metric_info`) read direction and headline from here, so a
//! metric's meaning is written down once.

use serde::Serialize;

use crate::data::Task;

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better (AUC, accuracy, F1, R²).
    Higher,
    /// Lower is better (losses, errors, calibration error).
    Lower,
    /// Neither: a location, not a quality (`best_f1_threshold`).
    Neither,
}

/// One metric of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    /// The name in tables, JSON, suites and Python.
    pub name: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Position among the task's headline metrics (report summary), when
    /// it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headline: Option<u8>,
    /// One line on what it is.
    pub summary: &'static str,
}

const fn m(
    name: &'static str,
    direction: Direction,
    headline: Option<u8>,
    summary: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        direction,
        headline,
        summary,
    }
}

use Direction::{Higher, Lower, Neither};

/// The binary full tier's metrics, in its order.
pub const BINARY: [MetricInfo; 13] = [
    m("roc_auc", Higher, Some(0), "area under the ROC curve"),
    m(
        "average_precision",
        Higher,
        Some(1),
        "area under the precision-recall steps",
    ),
    m("log_loss", Lower, Some(2), "mean negative log-likelihood"),
    m(
        "brier",
        Lower,
        None,
        "mean squared error of the probability",
    ),
    m("accuracy", Higher, None, "share right at the threshold"),
    m("precision", Higher, None, "precision at the threshold"),
    m("recall", Higher, None, "recall at the threshold"),
    m(
        "specificity",
        Higher,
        None,
        "recall of class 0 at the threshold",
    ),
    m("f1", Higher, Some(3), "F1 at the threshold"),
    m("mcc", Higher, None, "Matthews correlation at the threshold"),
    m(
        "best_f1",
        Higher,
        None,
        "the best F1 over every distinct score",
    ),
    m(
        "best_f1_threshold",
        Neither,
        None,
        "the highest score attaining the best F1",
    ),
    m("ece", Lower, Some(4), "expected calibration error, 15 bins"),
];

/// The multiclass full tier's metrics, in its order (the top-k accuracies
/// only with more than k classes).
pub const MULTICLASS: [MetricInfo; 19] = [
    m(
        "accuracy",
        Higher,
        Some(0),
        "share of rows whose top class is right",
    ),
    m(
        "top_3_accuracy",
        Higher,
        None,
        "share with the label in the top 3",
    ),
    m(
        "top_5_accuracy",
        Higher,
        None,
        "share with the label in the top 5",
    ),
    m(
        "macro_precision",
        Higher,
        None,
        "mean of per-class precision",
    ),
    m("macro_recall", Higher, None, "mean of per-class recall"),
    m("macro_f1", Higher, Some(1), "mean of per-class F1"),
    m(
        "micro_precision",
        Higher,
        None,
        "precision over all classes pooled",
    ),
    m(
        "micro_recall",
        Higher,
        None,
        "recall over all classes pooled",
    ),
    m("micro_f1", Higher, None, "F1 over all classes pooled"),
    m(
        "weighted_precision",
        Higher,
        None,
        "support-weighted precision",
    ),
    m("weighted_recall", Higher, None, "support-weighted recall"),
    m("weighted_f1", Higher, None, "support-weighted F1"),
    m("macro_roc_auc", Higher, Some(2), "mean one-vs-rest ROC-AUC"),
    m(
        "weighted_roc_auc",
        Higher,
        None,
        "support-weighted one-vs-rest ROC-AUC",
    ),
    m(
        "macro_average_precision",
        Higher,
        None,
        "mean one-vs-rest average precision",
    ),
    m(
        "weighted_average_precision",
        Higher,
        None,
        "support-weighted one-vs-rest average precision",
    ),
    m("log_loss", Lower, Some(3), "mean negative log-likelihood"),
    m(
        "brier",
        Lower,
        None,
        "mean squared error of the probabilities",
    ),
    m(
        "ece",
        Lower,
        Some(4),
        "expected calibration error of the top class",
    ),
];

/// The regression full tier's metrics, in its order.
pub const REGRESSION: [MetricInfo; 5] = [
    m("mse", Lower, None, "mean squared error"),
    m("rmse", Lower, Some(0), "root mean squared error"),
    m("mae", Lower, Some(1), "mean absolute error"),
    m("r2", Higher, Some(2), "coefficient of determination"),
    m("max_error", Lower, Some(3), "largest absolute error"),
];

/// The ranking full tier's metric families, in its order: a family with
/// `@k` is measured at every cutoff (`ndcg@10` is the entry `ndcg@k`;
/// [`info`] and [`lookup`] take either). The headline positions are the
/// families'; at which cutoff is the run's
/// ([`crate::metrics::ranking::RankingOptions::headline`]).
pub const RANKING: [MetricInfo; 8] = [
    m(
        "ndcg@k",
        Higher,
        Some(0),
        "normalised discounted cumulative gain of the top k",
    ),
    m(
        "map@k",
        Higher,
        Some(1),
        "average precision of the top k, over all the query's relevant items",
    ),
    m(
        "precision@k",
        Higher,
        None,
        "share of the top k that is relevant",
    ),
    m(
        "recall@k",
        Higher,
        Some(3),
        "share of the relevant items in the top k",
    ),
    m(
        "hit_rate@k",
        Higher,
        None,
        "share of queries with a relevant item in the top k",
    ),
    m(
        "mrr",
        Higher,
        Some(2),
        "mean reciprocal rank of the first relevant item",
    ),
    m("ndcg", Higher, None, "NDCG of the whole list"),
    m("map", Higher, None, "average precision of the whole list"),
];

/// The registry entry's name of a ranking metric at a cutoff
/// (`"ndcg@10"` → `"ndcg@k"`), else `name`.
fn family(name: &str) -> std::borrow::Cow<'_, str> {
    match crate::metrics::ranking::parse_name(name) {
        Some((f, Some(_))) => std::borrow::Cow::Owned(format!("{f}@k")),
        _ => std::borrow::Cow::Borrowed(name),
    }
}

/// The fast tier's estimates beside the full tier's (same meaning).
const FAST: [MetricInfo; 1] = [m("mse", Lower, None, "mean squared error")];

/// The metrics of `task`, in the full tier's order.
pub fn of_task(task: Task) -> &'static [MetricInfo] {
    match task {
        Task::Binary => &BINARY,
        Task::Multiclass => &MULTICLASS,
        Task::Regression => &REGRESSION,
        Task::Ranking => &RANKING,
    }
}

/// The metric called `name` in `task`.
pub fn info(task: Task, name: &str) -> Option<&'static MetricInfo> {
    let name = family(name);
    of_task(task).iter().find(|m| m.name == name)
}

/// The metric called `name` in any task (a name means the same thing
/// wherever it appears).
pub fn lookup(name: &str) -> Option<&'static MetricInfo> {
    let name = family(name);
    BINARY
        .iter()
        .chain(&MULTICLASS)
        .chain(&REGRESSION)
        .chain(&RANKING)
        .chain(&FAST)
        .find(|m| m.name == name)
}

/// Which way `name` is better; [`Direction::Higher`] for a name the
/// registry does not know.
pub fn direction(name: &str) -> Direction {
    lookup(name).map_or(Higher, |m| m.direction)
}

/// The headline metrics of `task`, in summary order.
pub fn headline(task: Task) -> Vec<&'static str> {
    let mut h: Vec<&MetricInfo> = of_task(task)
        .iter()
        .filter(|m| m.headline.is_some())
        .collect();
    h.sort_by_key(|m| m.headline);
    h.into_iter().map(|m| m.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_means_one_thing_in_every_task() {
        let all: Vec<&MetricInfo> = BINARY
            .iter()
            .chain(&MULTICLASS)
            .chain(&REGRESSION)
            .chain(&RANKING)
            .chain(&FAST)
            .collect();
        for a in &all {
            for b in &all {
                if a.name == b.name {
                    assert_eq!(a.direction, b.direction, "{}", a.name);
                }
            }
        }
    }

    #[test]
    fn the_lists_are_the_tiers_lists() {
        let binary: Vec<&str> = BINARY.iter().map(|m| m.name).collect();
        assert_eq!(binary, super::super::binary::METRICS);
        let regression: Vec<&str> = REGRESSION.iter().map(|m| m.name).collect();
        assert_eq!(regression, super::super::regression::REGRESSION_METRICS);
        let multiclass: Vec<&str> = MULTICLASS.iter().map(|m| m.name).collect();
        assert_eq!(
            multiclass,
            super::super::multiclass::multiclass_metric_names(6)
        );
        // Every ranking metric has its family's entry, and the families
        // are the registry's, each once.
        let options = crate::metrics::ranking::RankingOptions::default();
        let mut families: Vec<&str> = options
            .names()
            .iter()
            .map(|n| info(Task::Ranking, n).expect(n).name)
            .collect();
        families.dedup();
        let ranking: Vec<&str> = RANKING.iter().map(|m| m.name).collect();
        assert_eq!(families, ranking);
        assert_eq!(
            options
                .headline()
                .iter()
                .map(|n| info(Task::Ranking, n).unwrap().name)
                .collect::<Vec<_>>(),
            headline(Task::Ranking)
        );
    }

    #[test]
    fn headlines_and_directions() {
        assert_eq!(
            headline(Task::Binary),
            ["roc_auc", "average_precision", "log_loss", "f1", "ece"]
        );
        assert_eq!(
            headline(Task::Multiclass),
            ["accuracy", "macro_f1", "macro_roc_auc", "log_loss", "ece"]
        );
        assert_eq!(
            headline(Task::Regression),
            ["rmse", "mae", "r2", "max_error"]
        );
        assert_eq!(direction("log_loss"), Direction::Lower);
        assert_eq!(direction("best_f1_threshold"), Direction::Neither);
        assert_eq!(direction("r2"), Direction::Higher);
    }
}
