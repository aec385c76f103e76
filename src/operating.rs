//! Operating points (binary, `evalkit full --operating-point`): the
//! threshold to ship at, chosen to meet a constraint (`precision>=0.95`,
//! `recall>=0.9`, `fpr<=0.01`, `specificity>=0.99`) while maximising an
//! objective, with how far the choice can be trusted.
//!
//! **Certified** (the default): a threshold is kept only when the
//! constraint holds at its one-sided Clopper–Pearson bound at the
//! report's level (the lower bound of precision, recall and specificity,
//! the upper bound of FPR): the test of "the constraint fails" at `α = 1 −
//! level` rejects. Trying many thresholds is handled by **fixed-sequence
//! testing** (Bauer 1991; as in Learn then Test, Angelopoulos et al. 2021):
//! the thresholds are tested in an order fixed before the labels are
//! looked at, from the one most likely to hold towards the least, and the
//! sequence stops at the first that fails; every threshold before it is
//! certified, and the chance that any certified threshold violates the
//! constraint is at most `α` — with no correction, whatever the number of
//! thresholds. The orders: recall from the lowest threshold up (recall
//! falls as the threshold rises), FPR and specificity from the highest
//! down, precision from the highest down, starting at the first threshold
//! with enough predicted positives for a precision halfway between the
//! target and 1 to certify (which depends on the scores only: at fewer
//! rows one mistake would end the sequence). Precision is not
//! monotone in the threshold: a dip near the top stops its sequence early,
//! and the result says how many thresholds were tested. The objective then
//! picks among the certified thresholds. Certification counts rows: it
//! needs unweighted rows, and it assumes independent rows (with
//! `--cluster` a note says so).
//!
//! **Uncertified** (`--uncertified`): every threshold whose point estimate
//! meets the constraint is eligible.
//!
//! With the rows and the bootstrap, each point gets **intervals** of its
//! precision, recall, FPR, specificity and F1 at the chosen threshold
//! (percentile, Poisson replicates over the rows or clusters), and an
//! **optimism-corrected** estimate: on each replicate the threshold is
//! chosen again, by the same rule, on the rows the replicate drew, and
//! scored on the rows it left out (the out-of-bag, or leave-one-out
//! bootstrap, estimate of Efron & Tibshirani 1997): the mean of those
//! scores is what to expect on new data. (Each replicate certifies on its
//! drawn rows counted with their multiplicity, which overstates their
//! information: the rule there is somewhat bolder than on the data.)
//!
//! Thresholds are distinct scores, a row positive iff `score ≥ threshold`,
//! as everywhere in evalkit. An infeasible constraint is a result with its
//! reason and no threshold, not an error.

use rayon::prelude::*;
use serde::Serialize;

use crate::metrics::curves::BinaryCurve;
use crate::metrics::{Metric, MetricSet};
use crate::uncertainty::binomial::{clopper_pearson, incomplete_beta};
use crate::uncertainty::bootstrap::Ranking;
use crate::uncertainty::{self, lanes};

/// A rate an operating point constrains or optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rate {
    /// `tp / (tp + fp)`.
    Precision,
    /// `tp / P`.
    Recall,
    /// `fp / N`.
    Fpr,
    /// `1 − fp / N`.
    Specificity,
    /// `2·tp / (2·tp + fp + fn)` (an objective only).
    F1,
}

impl Rate {
    /// Every rate, in the order of the metric sets.
    pub const ALL: [Rate; 5] = [
        Rate::Precision,
        Rate::Recall,
        Rate::Fpr,
        Rate::Specificity,
        Rate::F1,
    ];

    /// Its name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rate::Precision => "precision",
            Rate::Recall => "recall",
            Rate::Fpr => "fpr",
            Rate::Specificity => "specificity",
            Rate::F1 => "f1",
        }
    }

    fn parse(s: &str) -> Option<Rate> {
        Rate::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Higher is better (all but FPR).
    fn higher_is_better(self) -> bool {
        self != Rate::Fpr
    }

    /// Its value from counts: `tp`, `fp` at the threshold of `p`
    /// positives and `n` negatives; `None` where undefined.
    /// The formulas are the point metrics' ([`crate::metrics::curves::Counts`]);
    /// FPR, which they lack, is `fp / n`.
    pub fn value(self, tp: f64, fp: f64, p: f64, n: f64) -> Option<f64> {
        let c = crate::metrics::curves::Counts {
            tp,
            fp,
            tn: n - fp,
            fn_: p - tp,
        };
        match self {
            Rate::Precision => c.precision(),
            Rate::Recall => c.recall(),
            Rate::Fpr => (n > 0.0).then(|| fp / n),
            Rate::Specificity => c.specificity(),
            Rate::F1 => c.f1(),
        }
    }
}

/// One operating point asked for: a constraint and an objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The constrained rate (precision, recall, FPR or specificity).
    pub rate: Rate,
    /// Its bound: at least `target` (at most, for FPR).
    pub target: f64,
    /// The rate to optimise among the eligible thresholds.
    pub objective: Rate,
}

impl Spec {
    /// The constraint as written: `precision>=0.95`.
    pub fn constraint(&self) -> String {
        let op = if self.rate.higher_is_better() {
            ">="
        } else {
            "<="
        };
        format!("{}{op}{}", self.rate.name(), self.target)
    }

    /// The objective as written: `maximize recall`.
    pub fn objective_text(&self) -> String {
        let verb = if self.objective.higher_is_better() {
            "maximize"
        } else {
            "minimize"
        };
        format!("{verb} {}", self.objective.name())
    }

    /// The constraint holds for `value`.
    fn holds(&self, value: f64) -> bool {
        if self.rate.higher_is_better() {
            value >= self.target
        } else {
            value <= self.target
        }
    }
}

/// The objective a constraint gets by default: recall for every
/// constraint but recall's own, which maximises precision.
pub fn default_objective(rate: Rate) -> Rate {
    if rate == Rate::Recall {
        Rate::Precision
    } else {
        Rate::Recall
    }
}

const SYNTAX: &str = "an operating point is RATE>=X (precision, recall, specificity) or fpr<=X, with 0 < X < 1, optionally followed by ,maximize=RATE (precision, recall, specificity, f1) or ,minimize=fpr";

impl std::str::FromStr for Spec {
    type Err = String;
    fn from_str(text: &str) -> Result<Spec, String> {
        let bad = |why: &str| format!("'{text}': {why} ({SYNTAX})");
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut parts = compact.split(',');
        let constraint = parts.next().unwrap_or_default();
        let (name, op, value) = if let Some((a, b)) = constraint.split_once(">=") {
            (a, ">=", b)
        } else if let Some((a, b)) = constraint.split_once("<=") {
            (a, "<=", b)
        } else {
            return Err(bad("no >= or <="));
        };
        let rate = Rate::parse(name)
            .filter(|r| *r != Rate::F1)
            .ok_or_else(|| bad(&format!("'{name}' is not a rate an operating point bounds")))?;
        let want = if rate.higher_is_better() { ">=" } else { "<=" };
        if op != want {
            return Err(bad(&format!(
                "{} is bounded {} (higher is {})",
                rate.name(),
                if want == ">=" {
                    "from below"
                } else {
                    "from above"
                },
                if want == ">=" { "better" } else { "worse" }
            )));
        }
        let target: f64 = value
            .parse()
            .ok()
            .filter(|t: &f64| *t > 0.0 && *t < 1.0)
            .ok_or_else(|| bad(&format!("'{value}' is not a number between 0 and 1")))?;
        let objective = match parts.next() {
            None => default_objective(rate),
            Some(o) => {
                let (verb, name) = o
                    .split_once('=')
                    .ok_or_else(|| bad(&format!("'{o}' is not maximize=RATE or minimize=fpr")))?;
                let r = Rate::parse(name).ok_or_else(|| bad(&format!("'{name}' is not a rate")))?;
                match (verb, r.higher_is_better()) {
                    ("maximize", true) | ("minimize", false) => r,
                    ("maximize" | "minimize", _) => {
                        return Err(bad(&format!("{verb} {name} optimises the wrong way")));
                    }
                    _ => return Err(bad(&format!("'{verb}' is not maximize or minimize"))),
                }
            }
        };
        if parts.next().is_some() {
            return Err(bad("more than one objective"));
        }
        Ok(Spec {
            rate,
            target,
            objective,
        })
    }
}

/// The one-sided bound behind a certified choice, at the chosen threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bound {
    /// `clopper-pearson`.
    pub method: &'static str,
    /// `lower` (precision, recall, specificity) or `upper` (FPR).
    pub side: &'static str,
    /// The one-sided confidence level.
    pub level: f64,
    /// The bound.
    pub value: f64,
}

/// The optimism-corrected (out-of-bag) estimate of an operating point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expected {
    /// Each rate's mean over the replicates on the rows they left out, at
    /// the threshold chosen on the rows they drew.
    pub metrics: MetricSet,
    /// Replicates where the rule found a threshold (of all replicates).
    pub replicates: usize,
}

/// One operating point's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The constraint, e.g. `precision>=0.95`.
    pub constraint: String,
    /// The objective, e.g. `maximize recall`.
    pub objective: String,
    /// Chosen at the constraint's confidence bound (not the point value).
    pub certified: bool,
    /// The threshold (positive iff `score >= threshold`); `None` when no
    /// threshold qualifies (see `reason`).
    pub threshold: Option<f64>,
    /// Why there is no threshold.
    pub reason: Option<String>,
    /// Certified: the constraint's one-sided bound at the threshold.
    pub bound: Option<Bound>,
    /// Certified: thresholds the fixed sequence tested (the last one
    /// failed, unless every threshold passed).
    pub tested: Option<usize>,
    /// Precision, recall, FPR, specificity and F1 at the threshold, with
    /// bootstrap intervals when there were replicates.
    pub metrics: MetricSet,
    /// The optimism-corrected estimate (needs the rows and the bootstrap).
    pub expected: Option<Expected>,
    /// Notes (clustered rows, replicates without a threshold).
    pub notes: Vec<String>,
}

/// What the certified tests need: the one-sided error `α` and, for
/// precision, the smallest number of true positives that certifies each
/// number of predicted positives (built as far as needed).
struct Certifier {
    alpha: f64,
    /// Precision: `k_min[n]`, the least `tp` out of `n` predicted positives
    /// whose test rejects (`u64::MAX`: none does).
    k_min: Vec<u64>,
    /// Precision: predicted positives where the sequence starts (`None`:
    /// beyond the table).
    start: Option<f64>,
}

impl Certifier {
    fn new(alpha: f64) -> Certifier {
        Certifier {
            alpha,
            k_min: Vec::new(),
            start: None,
        }
    }

    /// `P(Bin(n, x) ≥ k)`.
    fn upper_tail(n: f64, x: f64, k: f64) -> f64 {
        if k <= 0.0 {
            1.0
        } else if k > n {
            0.0
        } else {
            incomplete_beta(k, n - k + 1.0, x)
        }
    }

    /// The least `k` of `n` with `P(Bin(n, x) ≥ k) ≤ α` (`n + 1` when none).
    fn least_k(&self, n: u64, x: f64, from: u64) -> u64 {
        let mut k = from;
        while k <= n && Self::upper_tail(n as f64, x, k as f64) > self.alpha {
            k += 1;
        }
        k
    }

    /// Precision's table up to `n_max` predicted positives for `target`
    /// (`k_min` grows by at most one per step and never falls), and where
    /// its sequence starts: the fewest predicted positives at which a
    /// precision halfway between the target and 1 certifies.
    fn precision_table(&mut self, target: f64, n_max: u64) {
        self.k_min.clear();
        self.k_min.push(u64::MAX);
        let mut k = 1;
        let halfway = target + (1.0 - target) / 2.0;
        self.start = None;
        for n in 1..=n_max {
            k = self.least_k(n, target, k);
            self.k_min.push(if k <= n { k } else { u64::MAX });
            if self.start.is_none() && k <= n && k as f64 <= halfway * n as f64 {
                self.start = Some(n as f64);
            }
        }
    }

    /// Whether `tp` out of `n` predicted positives certifies the precision
    /// target (beyond the table: not certified, which is always valid).
    fn precision_ok(&self, tp: f64, n: f64) -> bool {
        self.k_min
            .get(n as usize)
            .is_some_and(|&k| k != u64::MAX && tp >= k as f64)
    }

    /// The least true-positive count certifying recall ≥ `target` out of
    /// `p` positives (`p + 1` when none does).
    fn recall_min(&self, target: f64, p: u64) -> u64 {
        // Bisection on the monotone tail.
        let (mut lo, mut hi) = (0u64, p + 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if Self::upper_tail(p as f64, target, mid as f64) <= self.alpha {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The largest false-positive count certifying FPR ≤ `target` out of
    /// `n` negatives (`None` when none does): `P(Bin(n, target) ≤ fp) ≤ α`.
    fn fpr_max(&self, target: f64, n: u64) -> Option<u64> {
        // P(Bin(n, x) ≤ f) = 1 − P(Bin(n, x) ≥ f + 1), falling in f.
        let lower = |f: u64| 1.0 - Self::upper_tail(n as f64, target, f as f64 + 1.0);
        if lower(0) > self.alpha {
            return None;
        }
        let (mut lo, mut hi) = (0u64, n);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if lower(mid) <= self.alpha {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }
}

/// Cumulative counts at each threshold (distinct scores, descending):
/// `tp[g]`, `fp[g]` over the rows scoring at least threshold `g`, of `p`
/// positives and `n` negatives.
pub(crate) struct Counts<'a> {
    /// True positives (weight) at each threshold.
    pub(crate) tp: &'a [f64],
    /// False positives.
    pub(crate) fp: &'a [f64],
    /// Positives.
    pub(crate) p: f64,
    /// Negatives.
    pub(crate) n: f64,
}

impl Counts<'_> {
    fn value(&self, rate: Rate, g: usize) -> Option<f64> {
        rate.value(self.tp[g], self.fp[g], self.p, self.n)
    }
}

/// The outcome of a choice on one curve.
struct Choice {
    /// The chosen threshold's index.
    group: Option<usize>,
    /// Certified: thresholds tested.
    tested: Option<usize>,
}

/// The eligible threshold with the best objective; ties go to the higher
/// F1 (of two thresholds with the same true positives, the one with fewer
/// false positives; with the same false positives, the one with more true
/// positives), then to the higher threshold.
fn best(spec: &Spec, c: &Counts, eligible: impl Iterator<Item = usize>) -> Option<usize> {
    let mut out: Option<(usize, (f64, f64))> = None;
    for g in eligible {
        let Some(v) = c.value(spec.objective, g) else {
            continue;
        };
        let v = if spec.objective.higher_is_better() {
            v
        } else {
            -v
        };
        let key = (v, c.value(Rate::F1, g).unwrap_or(f64::NEG_INFINITY));
        if out.is_none_or(|(h, b)| key > b || (key == b && g < h)) {
            out = Some((g, key));
        }
    }
    out.map(|(g, _)| g)
}

/// Chooses a threshold on one curve: certified with `certifier` (whose
/// precision table is built for `spec`), else by the point estimates.
fn choose(spec: &Spec, c: &Counts, certifier: Option<&Certifier>) -> Choice {
    let groups = c.tp.len();
    let Some(cert) = certifier else {
        let eligible =
            (0..groups).filter(|&g| c.value(spec.rate, g).is_some_and(|v| spec.holds(v)));
        return Choice {
            group: best(spec, c, eligible),
            tested: None,
        };
    };
    // The fixed sequence: `order` yields thresholds most-likely-first, `ok`
    // tests one; the certified thresholds are those before the first
    // failure.
    // Recall's least true positives and FPR's most false positives depend
    // on the curve's totals only: found once.
    let tp_min = (spec.rate == Rate::Recall && c.p > 0.0)
        .then(|| cert.recall_min(spec.target, c.p as u64) as f64);
    let fp_max = match spec.rate {
        Rate::Fpr | Rate::Specificity if c.n > 0.0 => {
            let x = if spec.rate == Rate::Fpr {
                spec.target
            } else {
                1.0 - spec.target
            };
            cert.fpr_max(x, c.n as u64).map(|m| m as f64)
        }
        _ => None,
    };
    let ok = |g: usize| -> bool {
        let (tp, fp) = (c.tp[g], c.fp[g]);
        match spec.rate {
            Rate::Precision => cert.precision_ok(tp, tp + fp),
            Rate::Recall => tp_min.is_some_and(|m| tp >= m),
            Rate::Fpr | Rate::Specificity => fp_max.is_some_and(|m| fp <= m),
            Rate::F1 => false,
        }
    };
    let order: Box<dyn Iterator<Item = usize>> = match spec.rate {
        Rate::Recall => Box::new((0..groups).rev()),
        Rate::Precision => {
            // Label-free: where enough rows are predicted positive for a
            // precision halfway between the target and 1 to certify.
            let start = cert.start.map_or(groups, |n_start| {
                (0..groups)
                    .find(|&g| c.tp[g] + c.fp[g] >= n_start)
                    .unwrap_or(groups)
            });
            Box::new(start..groups)
        }
        _ => Box::new(0..groups),
    };
    // The certified thresholds stream into the objective (no list of them
    // per replicate); the failing one is counted as tested.
    let mut tested = 0;
    let group = best(
        spec,
        c,
        order.take_while(|&g| {
            tested += 1;
            ok(g)
        }),
    );
    Choice {
        group,
        tested: Some(tested),
    }
}

/// What the operating points are computed with.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Certify (the default) or choose by point estimates.
    pub certified: bool,
    /// The confidence level (one-sided for the certification, two-sided
    /// for the intervals).
    pub level: f64,
}

/// The operating points of a binary result's curve (from rows or a
/// state), without intervals: the choice, the bound and the rates at the
/// threshold. Weighted rows cannot be certified (the point gets a reason).
pub fn choose_points(curve: &BinaryCurve, specs: &[Spec], options: Options) -> Vec<OperatingPoint> {
    let (p, n) = (curve.positives(), curve.negatives());
    let c = Counts {
        tp: &curve.tps,
        fp: &curve.fps,
        p,
        n,
    };
    specs
        .iter()
        .map(|spec| {
            let mut point = OperatingPoint {
                constraint: spec.constraint(),
                objective: spec.objective_text(),
                certified: options.certified,
                threshold: None,
                reason: None,
                bound: None,
                tested: None,
                metrics: MetricSet::new(),
                expected: None,
                notes: Vec::new(),
            };
            if options.certified && curve.weighted {
                point.reason = Some("certification counts rows (Clopper–Pearson) and weighted rows have no counts: pass --uncertified for the choice by point estimates".to_string());
                return point;
            }
            let cert = options.certified.then(|| certifier(spec, options.level, p + n));
            let choice = choose(spec, &c, cert.as_ref());
            point.tested = choice.tested;
            match choice.group {
                Some(g) => {
                    point.threshold = Some(curve.thresholds[g]);
                    point.metrics = rates_at(&c, g);
                    if options.certified {
                        point.bound = Some(bound(spec, &c, g, options.level));
                    }
                }
                None => point.reason = Some(infeasible(spec, &c, choice.tested, options.level)),
            }
            point
        })
        .collect()
}

/// A certifier for `spec` at `level`, its precision table covering `rows`
/// predicted positives.
fn certifier(spec: &Spec, level: f64, rows: f64) -> Certifier {
    let mut cert = Certifier::new(1.0 - level);
    if spec.rate == Rate::Precision {
        cert.precision_table(spec.target, rows.max(0.0) as u64);
    }
    cert
}

/// The rates at threshold `g` as point metrics.
fn rates_at(c: &Counts, g: usize) -> MetricSet {
    rates(c.tp[g], c.fp[g], c.p, c.n)
}

/// Precision, recall, FPR, specificity and F1 of `tp`, `fp` out of `p`
/// positives and `n` negatives, as point metrics (undefined ones with
/// their reason).
pub fn rates(tp: f64, fp: f64, p: f64, n: f64) -> MetricSet {
    let mut m = MetricSet::new();
    for rate in Rate::ALL {
        m.insert(
            rate.name(),
            match rate.value(tp, fp, p, n) {
                Some(v) => Metric::point(v),
                None => {
                    Metric::undefined(format!("{} is undefined at this threshold", rate.name()))
                }
            },
        );
    }
    m
}

/// The one-sided Clopper–Pearson bound of the constrained rate at `g`.
fn bound(spec: &Spec, c: &Counts, g: usize, level: f64) -> Bound {
    let (tp, fp) = (c.tp[g], c.fp[g]);
    let (k, n, lower, flip) = match spec.rate {
        Rate::Precision => (tp, tp + fp, true, false),
        Rate::Recall => (tp, c.p, true, false),
        Rate::Fpr => (fp, c.n, false, false),
        _ => (fp, c.n, false, true),
    };
    // The one-sided bound at `level` is an end of the two-sided interval
    // at 2·level − 1.
    let [lo, hi] = clopper_pearson(k, n, 2.0 * level - 1.0).unwrap_or([0.0, 1.0]);
    let value = match (lower, flip) {
        (true, _) => lo,
        (false, false) => hi,
        // Specificity's lower bound is one minus FPR's upper bound.
        (false, true) => 1.0 - hi,
    };
    Bound {
        method: "clopper-pearson",
        side: if lower || flip { "lower" } else { "upper" },
        level,
        value,
    }
}

/// Why no threshold qualifies.
fn infeasible(spec: &Spec, c: &Counts, tested: Option<usize>, level: f64) -> String {
    let need = match spec.rate {
        Rate::Precision => {
            c.tp.last()
                .is_none_or(|&t| t == 0.0)
                .then_some("no positive rows")
        }
        Rate::Recall => (c.p <= 0.0).then_some("no positive rows"),
        _ => (c.n <= 0.0).then_some("no negative rows"),
    };
    if let Some(need) = need {
        return format!("{}: {need}", spec.constraint());
    }
    // Rows meet the constraint, but the objective is undefined at every
    // threshold (recall without positives, specificity without negatives).
    if (0..c.tp.len()).all(|g| c.value(spec.objective, g).is_none()) {
        return format!(
            "{}: {} is undefined on this data (no {} rows)",
            spec.constraint(),
            spec.objective.name(),
            if c.p <= 0.0 { "positive" } else { "negative" }
        );
    }
    let best_point = (0..c.tp.len())
        .filter_map(|g| c.value(spec.rate, g))
        .reduce(|a, b| {
            if spec.rate.higher_is_better() {
                a.max(b)
            } else {
                a.min(b)
            }
        });
    let reach = best_point.map_or(String::new(), |v| {
        format!(" (the best point value is {})", crate::format::number(v))
    });
    // Certified: too few rows for even a perfect record to certify.
    let alpha = 1.0 - level;
    let (rows, of, x) = match spec.rate {
        Rate::Recall => (c.p, "positives", spec.target),
        Rate::Fpr => (c.n, "negatives", 1.0 - spec.target),
        Rate::Specificity => (c.n, "negatives", spec.target),
        _ => (f64::INFINITY, "", 0.5),
    };
    let fewest = (alpha.ln() / x.ln()).ceil();
    if tested.is_some() && rows < fewest {
        return format!(
            "{} cannot be certified at {}% with {} {of}, even with no error: it takes at least {}",
            spec.constraint(),
            crate::format::number(100.0 * level),
            crate::format::number(rows),
            crate::format::number(fewest)
        );
    }
    match tested {
        None => format!("no threshold reaches {}{reach}", spec.constraint()),
        Some(t) => format!(
            "no threshold keeps {} at its one-sided {}% Clopper–Pearson bound{reach}; the fixed sequence stopped after {t} threshold{}",
            spec.constraint(),
            crate::format::number(100.0 * level),
            if t == 1 { "" } else { "s" }
        ),
    }
}

/// Per-replicate outcome of every operating point.
struct ReplicateOut {
    /// Rates at each point's fixed threshold on the drawn rows.
    at_fixed: Vec<[f64; 5]>,
    /// Rates on the left-out rows at the threshold chosen on the drawn
    /// rows; `None` without a choice.
    out_of_bag: Vec<Option<[f64; 5]>>,
}

/// Runs `f` on every Poisson replicate of a ranking's rows (of whole
/// clusters with `clusters`, `keys[row]`; the weights of
/// [`lanes::poisson_weight`] from `seed`): `f(drawn, left_out)` gets the
/// cumulative counts at every distinct score of the rows the replicate drew
/// (weighted by their counts and file weights) and of the rows it left out
/// (by their file weights).
pub(crate) fn each_replicate<T: Send>(
    rk: &Ranking,
    replicates: usize,
    seed: u64,
    clusters: Option<&[u64]>,
    f: impl Fn(&Counts, &Counts) -> T + Sync,
) -> Vec<T> {
    let groups = rk.group_end.len();
    let hashes = lanes::unit_hashes(seed, rk.rows.par_iter().copied(), clusters);
    // Each position's weight as a positive and as a negative (one is 0).
    let split: Vec<(f64, f64)> = (0..rk.rows.len())
        .map(|pos| {
            let w = rk.weights.as_ref().map_or(1.0, |w| w[pos]);
            if rk.labels[pos] == 1 {
                (w, 0.0)
            } else {
                (0.0, w)
            }
        })
        .collect();
    // Each worker reuses its four curves from replicate to replicate (fresh
    // ones would cost more in page faults than the pass itself).
    (0..replicates)
        .into_par_iter()
        .map_init(
            || [(); 4].map(|_| vec![0.0f64; groups]),
            |[tp_in, fp_in, tp_out, fp_out], r| {
                let key = lanes::replicate_key(seed, r);
                let (mut ti, mut fi, mut to, mut fo) = (0.0, 0.0, 0.0, 0.0);
                let mut start = 0usize;
                for (g, &end) in rk.group_end.iter().enumerate() {
                    // Branch-free: a row adds its weight times its count
                    // to the drawn sums, or its weight to the left-out
                    // ones (adding zeros changes no sum).
                    for pos in start..end as usize {
                        let k = f64::from(lanes::poisson_of_hash(key, r, hashes[pos]));
                        let (pw, nw) = split[pos];
                        let out = f64::from(u8::from(k == 0.0));
                        ti += k * pw;
                        fi += k * nw;
                        to += out * pw;
                        fo += out * nw;
                    }
                    (tp_in[g], fp_in[g], tp_out[g], fp_out[g]) = (ti, fi, to, fo);
                    start = end as usize;
                }
                let inside = Counts {
                    tp: tp_in,
                    fp: fp_in,
                    p: ti,
                    n: fi,
                };
                let outside = Counts {
                    tp: tp_out,
                    fp: fp_out,
                    p: to,
                    n: fo,
                };
                f(&inside, &outside)
            },
        )
        .collect()
}

/// Adds bootstrap intervals and the optimism-corrected estimate to points
/// chosen by [`choose_points`] on the same rows (`rk`, their ranking):
/// `replicates` Poisson replicates of the rows (of whole clusters with
/// `clusters`, `keys[row]`) from `seed`.
pub fn resample(
    points: &mut [OperatingPoint],
    specs: &[Spec],
    rk: &Ranking,
    options: Options,
    replicates: usize,
    seed: u64,
    clusters: Option<&[u64]>,
) {
    if replicates == 0 {
        return;
    }
    let fixed: Vec<Option<usize>> = points
        .iter()
        .map(|p| {
            let t = p.threshold?;
            rk.thresholds.iter().position(|&x| x == t)
        })
        .collect();
    // Certifiers sized for the largest replicate: a Poisson total rarely
    // passes rows + 8·√rows + 16; past the table nothing is certified.
    let rows = rk.rows.len() as f64;
    let cap = rows + 8.0 * rows.sqrt() + 16.0;
    let certifiers: Vec<Option<Certifier>> = specs
        .iter()
        .map(|s| {
            (options.certified && rk.weights.is_none()).then(|| certifier(s, options.level, cap))
        })
        .collect();
    let outs: Vec<ReplicateOut> =
        each_replicate(rk, replicates, seed, clusters, |inside, outside| {
            let all =
                |c: &Counts, g: usize| Rate::ALL.map(|rate| c.value(rate, g).unwrap_or(f64::NAN));
            let at_fixed = fixed
                .iter()
                .map(|g| g.map_or([f64::NAN; 5], |g| all(inside, g)))
                .collect();
            let out_of_bag = specs
                .iter()
                .zip(&certifiers)
                .map(|(spec, cert)| {
                    if options.certified && cert.is_none() {
                        return None;
                    }
                    let g = choose(spec, inside, cert.as_ref()).group?;
                    Some(all(outside, g))
                })
                .collect();
            ReplicateOut {
                at_fixed,
                out_of_bag,
            }
        });
    for (i, point) in points.iter_mut().enumerate() {
        if fixed[i].is_some() {
            for (j, rate) in Rate::ALL.iter().enumerate() {
                let values: Vec<f64> = outs.iter().map(|o| o.at_fixed[i][j]).collect();
                if let Some(m) = point.metrics.get_mut(rate.name())
                    && m.value.is_some()
                    && let Some(ci) = uncertainty::percentile_interval(&values, options.level)
                {
                    m.ci = Some(ci);
                    m.method = "bootstrap-percentile".to_string();
                }
            }
        }
        let chosen: Vec<&[f64; 5]> = outs
            .iter()
            .filter_map(|o| o.out_of_bag[i].as_ref())
            .collect();
        if chosen.is_empty() {
            if point.reason.is_none() || certifiers[i].is_some() {
                point.notes.push(format!(
                    "no replicate found a threshold for {}: no optimism-corrected estimate",
                    point.constraint
                ));
            }
            continue;
        }
        let mut metrics = MetricSet::new();
        for (j, rate) in Rate::ALL.iter().enumerate() {
            let v: Vec<f64> = chosen
                .iter()
                .map(|c| c[j])
                .filter(|v| v.is_finite())
                .collect();
            metrics.insert(
                rate.name(),
                if v.is_empty() {
                    Metric::undefined(format!(
                        "{} is undefined on every replicate's left-out rows",
                        rate.name()
                    ))
                } else {
                    Metric::point(v.iter().sum::<f64>() / v.len() as f64)
                },
            );
        }
        if chosen.len() < replicates {
            point.notes.push(format!(
                "{} of {replicates} replicates found a threshold for {}; the optimism-corrected estimate averages those",
                chosen.len(),
                point.constraint
            ));
        }
        point.expected = Some(Expected {
            metrics,
            replicates: chosen.len(),
        });
    }
    if clusters.is_some() && options.certified {
        for point in points.iter_mut() {
            point.notes.push("the certification's Clopper–Pearson bound treats rows as independent; the intervals and the optimism-corrected estimate resample clusters".to_string());
        }
    }
}

/// Refuses operating points for a task other than binary (before any
/// work).
pub fn check_task(specs: &[Spec], header: &crate::data::Header) -> crate::error::Result<()> {
    if specs.is_empty() || header.task == crate::data::Task::Binary {
        return Ok(());
    }
    Err(crate::error::Error::usage(format!(
        "--operating-point chooses a threshold of a binary classifier, but {} is a {} task",
        header.path.display(),
        header.task
    )))
}

/// The operating points of a binary full-tier result: chosen on its curve
/// (rows or a state); with the rows (`preds`) and replicates in
/// `intervals`, with intervals and the optimism-corrected estimate.
/// Empty for other tasks or without specs.
pub fn for_result(
    result: &crate::full::FullResult,
    preds: Option<&crate::data::Predictions>,
    specs: &[Spec],
    certified: bool,
    intervals: &uncertainty::IntervalOptions,
) -> Vec<OperatingPoint> {
    let crate::full::FullResult::Binary(b) = result else {
        return Vec::new();
    };
    if specs.is_empty() {
        return Vec::new();
    }
    let options = Options {
        certified,
        level: intervals.level,
    };
    let mut points = choose_points(&b.curve, specs, options);
    if preds.is_none() && intervals.replicates > 0 {
        for p in &mut points {
            p.notes.push("operating points get intervals and the optimism-corrected estimate from the rows of one prediction file; merged files and states give the choice only".to_string());
        }
    }
    if let Some(preds) = preds
        && let crate::data::Columns::Binary { labels, scores } = &preds.columns
        && intervals.replicates > 0
    {
        let rk = Ranking::build(labels, scores, preds.weights.as_ref());
        resample(
            &mut points,
            specs,
            &rk,
            options,
            intervals.replicates,
            intervals.seed,
            preds.clusters.as_ref().map(|c| c.keys()),
        );
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_defaults_and_refuse_nonsense() {
        let s: Spec = "precision>=0.95".parse().unwrap();
        assert_eq!(
            (s.rate, s.target, s.objective),
            (Rate::Precision, 0.95, Rate::Recall)
        );
        let s: Spec = " fpr <= 0.01 , maximize=f1".parse().unwrap();
        assert_eq!((s.rate, s.objective), (Rate::Fpr, Rate::F1));
        assert_eq!(s.constraint(), "fpr<=0.01");
        let s: Spec = "recall>=0.9".parse().unwrap();
        assert_eq!(s.objective, Rate::Precision);
        let s: Spec = "specificity>=0.99,minimize=fpr".parse().unwrap();
        assert_eq!(s.objective_text(), "minimize fpr");
        for bad in [
            "precision",
            "precision<=0.9",
            "fpr>=0.1",
            "f1>=0.5",
            "auc>=0.5",
            "recall>=1",
            "recall>=0",
            "recall>=nan",
            "recall>=0.9,maximize=fpr",
            "recall>=0.9,minimize=recall",
            "recall>=0.9,best=recall",
            "recall>=0.9,maximize=f1,maximize=recall",
        ] {
            let e = bad.parse::<Spec>().unwrap_err();
            assert!(e.contains(bad.split(',').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn certifier_tables_equal_the_binomial_tail() {
        let mut cert = Certifier::new(0.05);
        cert.precision_table(0.9, 300);
        for n in 1..=300u64 {
            // The least k whose upper tail is at most α, by brute force.
            let want = (0..=n)
                .find(|&k| Certifier::upper_tail(n as f64, 0.9, k as f64) <= 0.05)
                .unwrap_or(u64::MAX);
            assert_eq!(cert.k_min[n as usize], want, "n = {n}");
            // It certifies exactly when the Clopper–Pearson lower bound
            // reaches the target.
            if want != u64::MAX && want > 0 {
                let lo = clopper_pearson(want as f64, n as f64, 0.9).unwrap()[0];
                assert!(lo >= 0.9 - 1e-12, "n {n} k {want}: {lo}");
                let lo = clopper_pearson(want as f64 - 1.0, n as f64, 0.9).unwrap()[0];
                assert!(lo < 0.9, "n {n} k {}: {lo}", want - 1);
            }
        }
        // 0.9^28 > 0.05 ≥ 0.9^29: 29 predicted positives, all right, are
        // the fewest that certify.
        assert_eq!(cert.k_min[28], u64::MAX);
        assert_eq!(cert.k_min[29], 29);
        let r = cert.recall_min(0.8, 100);
        assert!(Certifier::upper_tail(100.0, 0.8, r as f64) <= 0.05);
        assert!(Certifier::upper_tail(100.0, 0.8, r as f64 - 1.0) > 0.05);
        let f = cert.fpr_max(0.1, 200).unwrap();
        let le = |f: u64| 1.0 - Certifier::upper_tail(200.0, 0.1, f as f64 + 1.0);
        assert!(le(f) <= 0.05 && le(f + 1) > 0.05);
        assert_eq!(cert.fpr_max(0.01, 10), None);
    }
}
