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

/// The metrics asked for with `--metrics` (or `metrics=` in Python): which
/// of the task's metrics the tiers compute and report. A name may belong to
/// several tasks (`accuracy`, `log_loss`); the selection keeps one flag per
/// (task, metric) of the registry, so it is fixed before the task is known
/// and checked against it afterwards ([`Selection::check`]). Ranking names
/// select their family at every cutoff (`ndcg@10` or `ndcg@k`: NDCG at each
/// `--k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// One flag per (task, metric); `None`: every metric.
    bits: Option<u64>,
    /// Names of another task are an error ([`Selection::check`]); not for
    /// a suite's gates, which judge (and fail) such names themselves.
    strict: bool,
}

/// The registry's tasks, in the order of [`Selection`]'s flags.
const TASKS: [Task; 4] = [
    Task::Binary,
    Task::Multiclass,
    Task::Regression,
    Task::Ranking,
];

/// The flag of `task`'s `i`-th metric.
fn flag(task: Task, i: usize) -> u64 {
    let offset: usize = TASKS
        .iter()
        .take_while(|t| **t != task)
        .map(|t| of_task(*t).len())
        .sum();
    1 << (offset + i)
}

/// The flags of every task's metric called `name` (0: none).
fn flags_of(name: &str) -> u64 {
    let fam = family(name);
    let mut bits = 0;
    for task in TASKS {
        for (i, m) in of_task(task).iter().enumerate() {
            if m.name == fam {
                bits |= flag(task, i);
            }
        }
    }
    bits
}

impl Selection {
    /// Every metric of the task (no `--metrics`).
    pub const ALL: Selection = Selection {
        bits: None,
        strict: false,
    };

    /// The metrics named in `names` (a comma-separated list, spaces
    /// ignored); a name of no task's metrics is a usage error listing every
    /// task's names.
    pub fn parse(names: &str) -> crate::error::Result<Selection> {
        let mut bits = 0u64;
        let mut any = false;
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            any = true;
            let of_name = flags_of(name);
            bits |= of_name;
            if of_name == 0 {
                return Err(crate::error::Error::usage(format!(
                    "no metric is called '{name}'; the metrics are {}",
                    TASKS
                        .iter()
                        .map(|t| format!("{t}: {}", names_of(*t)))
                        .collect::<Vec<_>>()
                        .join("; ")
                )));
            }
        }
        if !any {
            return Err(crate::error::Error::usage(
                "the list of metrics is empty: name at least one",
            ));
        }
        Ok(Selection {
            bits: Some(bits),
            strict: true,
        })
    }

    /// The metrics among `names` that the registry knows (a suite's gate
    /// metrics; others, such as `partial_roc_auc` or operating-point
    /// metrics, come from other parts and are left out).
    pub fn known<'a>(names: impl IntoIterator<Item = &'a str>) -> Selection {
        let bits = names
            .into_iter()
            .fold(0, |bits, name| bits | flags_of(name));
        Selection {
            bits: Some(bits),
            strict: false,
        }
    }

    /// True without `--metrics`: every metric.
    pub fn is_all(&self) -> bool {
        self.bits.is_none()
    }

    /// Checks the names against the task of the data: a name that is only
    /// another task's metric is a usage error listing the task's metrics.
    pub fn check(&self, task: Task) -> crate::error::Result<()> {
        let Some(bits) = self.bits.filter(|_| self.strict) else {
            return Ok(());
        };
        let own: Vec<&str> = of_task(task)
            .iter()
            .enumerate()
            .filter(|&(i, _)| bits & flag(task, i) != 0)
            .map(|(_, m)| m.name)
            .collect();
        for other in TASKS.into_iter().filter(|t| *t != task) {
            for (i, m) in of_task(other).iter().enumerate() {
                if bits & flag(other, i) != 0 && !own.contains(&m.name) {
                    return Err(crate::error::Error::usage(format!(
                        "{} is a {other} metric, and these predictions are {task}; the {task} metrics are {}",
                        m.name,
                        names_of(task)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether the metric `name` of `task` is asked for (ranking names by
    /// family).
    pub fn wants(&self, task: Task, name: &str) -> bool {
        let Some(bits) = self.bits else { return true };
        let fam = family(name);
        of_task(task)
            .iter()
            .position(|m| m.name == fam)
            .is_some_and(|i| bits & flag(task, i) != 0)
    }

    /// Whether any of `names` of `task` is asked for.
    pub fn wants_any(&self, task: Task, names: &[&str]) -> bool {
        names.iter().any(|n| self.wants(task, n))
    }

    /// This selection with `task`'s metric `name` added (what another part
    /// needs: the slices' test against the rest reads the headline metric).
    pub fn with(self, task: Task, name: &str) -> Selection {
        let Some(bits) = self.bits else { return self };
        let fam = family(name);
        match of_task(task).iter().position(|m| m.name == fam) {
            Some(i) => Selection {
                bits: Some(bits | flag(task, i)),
                ..self
            },
            None => self,
        }
    }

    /// Keeps the metrics of `set` that are asked for.
    pub fn retain(&self, task: Task, set: &mut crate::metrics::MetricSet) {
        if self.bits.is_some() {
            set.retain(|name| self.wants(task, name));
        }
    }
}

/// `task`'s metric names, comma-separated.
fn names_of(task: Task) -> String {
    of_task(task)
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_of_every_task_has_its_own_selection_flag() {
        let total: usize = TASKS.iter().map(|t| of_task(*t).len()).sum();
        assert!(total <= 64, "{total} metrics: Selection's flags are a u64");
        let sel = Selection::parse("accuracy,ndcg@3").unwrap();
        assert!(sel.wants(Task::Binary, "accuracy") && sel.wants(Task::Multiclass, "accuracy"));
        assert!(sel.wants(Task::Ranking, "ndcg@10") && !sel.wants(Task::Ranking, "ndcg"));
        assert!(!sel.wants(Task::Binary, "roc_auc"));
        assert!(sel.check(Task::Binary).is_err(), "ndcg@3 is not binary");
        assert!(
            Selection::parse("accuracy")
                .unwrap()
                .check(Task::Multiclass)
                .is_ok()
        );
        assert!(
            Selection::known(["rmse"]).check(Task::Binary).is_ok(),
            "suites judge names themselves"
        );
        assert!(Selection::ALL.wants(Task::Regression, "r2"));
    }

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
