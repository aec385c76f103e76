//! Costs and decision curves (binary, `evalkit full --cost fp=1,fn=20`).
//!
//! A false positive costs `fp` and a false negative `fn` — each a number,
//! or a column of the prediction file giving every row its own cost (a
//! missed fraud costs its amount). The expected cost per row at threshold
//! `t` (a row positive iff `score ≥ t`) is
//! `(Σ_{negatives, s ≥ t} w·fp + Σ_{positives, s < t} w·fn) / Σ w`
//! (`w` the sample weights, 1 without). The cost-optimal threshold is the
//! distinct score where it is least — or no threshold at all when
//! predicting every row negative costs least; ties go to fewer predicted
//! positives. The cost curve gives the expected cost on a 101-point grid of
//! thresholds.
//!
//! The **decision curve** (Vickers & Elkin 2006) gives, for threshold
//! probabilities `pt` = 0.01, 0.02, …, 0.99, the net benefit of acting on
//! the rows scoring at least `pt`: `(TP − FP · pt/(1 − pt)) / W`, against
//! acting on every row, `(P − N · pt/(1 − pt)) / W` (acting on none is 0).
//! It reads the score as a probability: a model whose scores are not
//! calibrated is judged at thresholds it does not mean.

use serde::Serialize;

use crate::data::{Floats, Predictions};
use crate::error::{Error, Result};
use crate::metrics::MetricSet;
use crate::metrics::curves::BinaryCurve;
use crate::uncertainty::bootstrap::Ranking;

/// One outcome's cost: a number, or a column with one cost per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cost {
    /// The same cost for every row.
    Constant(f64),
    /// A column of the prediction file (numbers ≥ 0).
    Column(String),
}

impl Serialize for Cost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Cost::Constant(v) => s.serialize_f64(*v),
            Cost::Column(c) => s.serialize_str(c),
        }
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cost::Constant(v) => write!(f, "{v}"),
            Cost::Column(c) => write!(f, "column {c}"),
        }
    }
}

/// The costs of a false positive and a false negative.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    /// A false positive's cost.
    pub fp: Cost,
    /// A false negative's cost.
    pub fn_: Cost,
}

const SYNTAX: &str =
    "costs are fp=X,fn=Y, each a number 0 or more or the name of a column with one cost per row";

impl std::str::FromStr for Costs {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Costs, String> {
        let bad = |why: String| format!("'{text}': {why} ({SYNTAX})");
        let (mut fp, mut fn_) = (None, None);
        for part in text.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' is not KEY=VALUE")))?;
            let (key, value) = (key.trim(), value.trim());
            let cost = match value.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Cost::Constant(v),
                Ok(_) => return Err(bad(format!("{key}={value} is not a cost (0 or more)"))),
                Err(_) if value.is_empty() => return Err(bad(format!("{key} has no value"))),
                Err(_) => Cost::Column(value.to_string()),
            };
            let slot = match key {
                "fp" => &mut fp,
                "fn" => &mut fn_,
                other => return Err(bad(format!("'{other}' is neither fp nor fn"))),
            };
            if slot.replace(cost).is_some() {
                return Err(bad(format!("{key} is given twice")));
            }
        }
        let (Some(fp), Some(fn_)) = (fp, fn_) else {
            return Err(bad("both fp and fn are needed".to_string()));
        };
        if fp == Cost::Constant(0.0) && fn_ == Cost::Constant(0.0) {
            return Err(bad("every outcome is free: nothing to choose".to_string()));
        }
        Ok(Costs { fp, fn_ })
    }
}

impl Costs {
    /// The columns the costs read (to read them with the rows).
    pub fn columns(&self) -> Vec<String> {
        [&self.fp, &self.fn_]
            .into_iter()
            .filter_map(|c| match c {
                Cost::Column(c) => Some(c.clone()),
                Cost::Constant(_) => None,
            })
            .collect()
    }
}

/// The expected cost at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtThreshold {
    /// The threshold.
    pub threshold: f64,
    /// The expected cost per row there.
    pub expected_cost: f64,
}

/// The cost curve on a grid of thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostCurve {
    /// Thresholds 0, 0.01, …, 1.
    pub threshold: Vec<f64>,
    /// The expected cost per row at each.
    pub expected_cost: Vec<f64>,
}

/// The cost analysis of a binary result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostResult {
    /// A false positive's cost (a number or a column).
    pub fp: Cost,
    /// A false negative's cost.
    #[serde(rename = "fn")]
    pub fn_: Cost,
    /// The cost-optimal threshold; `None` when predicting every row negative
    /// costs least (or there are no rows).
    pub threshold: Option<f64>,
    /// Its expected cost per row (`None` without weight).
    pub expected_cost: Option<f64>,
    /// The total cost there (a weighted sum).
    pub total_cost: f64,
    /// The expected cost at the full tier's threshold (`--threshold`).
    pub at_threshold: Option<AtThreshold>,
    /// Predicting every row negative: the expected cost.
    pub predict_none: Option<f64>,
    /// Predicting every row positive.
    pub predict_all: Option<f64>,
    /// Precision, recall, FPR, specificity and F1 at the optimum.
    pub metrics: MetricSet,
    /// The cost curve.
    pub curve: CostCurve,
}

/// Cumulative costs at each distinct score (descending): the false
/// positives' cost `fp[g]` and the true positives' avoided false-negative
/// cost `saved[g]` over the rows scoring at least threshold `g`.
struct Cumulative<'a> {
    thresholds: &'a [f64],
    fp: Vec<f64>,
    saved: Vec<f64>,
    /// Every positive's false-negative cost (the cost of predicting none).
    fn_total: f64,
    /// Σ w.
    weight: f64,
}

impl Cumulative<'_> {
    /// The total cost with the first `k` groups predicted positive.
    fn total(&self, k: usize) -> f64 {
        if k == 0 {
            self.fn_total
        } else {
            self.fp[k - 1] + (self.fn_total - self.saved[k - 1])
        }
    }

    /// Groups scoring at least `t`.
    fn above(&self, t: f64) -> usize {
        self.thresholds.partition_point(|&x| x >= t)
    }
}

/// The per-row costs of `costs` for `preds`: each column read as amounts
/// (numbers, present, 0 or more), constants repeated; errors name the
/// column and first bad row.
fn per_row(costs: &Costs, preds: &Predictions) -> Result<[Floats; 2]> {
    let rows = preds.rows();
    let one = |c: &Cost| -> Result<Floats> {
        match c {
            Cost::Constant(v) => Ok(Floats::from(vec![*v; rows])),
            Cost::Column(name) => {
                let array = preds.extra(name).ok_or_else(|| {
                        Error::usage(format!(
                            "--cost reads column '{name}', which {} does not have as a passthrough column",
                            preds.path.display()
                        ))
                    })?;
                crate::data::amounts(&preds.path, name, array, "cost")
            }
        }
    };
    Ok([one(&costs.fp)?, one(&costs.fn_)?])
}

/// The cost analysis of a binary full-tier result (`curve`: its ranking
/// table; `preds`: its rows, needed for per-row cost columns); `threshold`
/// is the full tier's decision threshold.
pub fn analyse(
    costs: &Costs,
    curve: &BinaryCurve,
    preds: Option<&Predictions>,
    threshold: f64,
) -> Result<CostResult> {
    let (p, n) = (curve.positives(), curve.negatives());
    let cum = match (costs.columns().is_empty(), preds) {
        (true, _) => {
            let (cfp, cfn) = match (&costs.fp, &costs.fn_) {
                (Cost::Constant(a), Cost::Constant(b)) => (*a, *b),
                _ => unreachable!("no cost column"),
            };
            Cumulative {
                thresholds: &curve.thresholds,
                fp: curve.fps.iter().map(|&f| cfp * f).collect(),
                saved: curve.tps.iter().map(|&t| cfn * t).collect(),
                fn_total: cfn * p,
                weight: p + n,
            }
        }
        (false, None) => {
            return Err(Error::usage(
                "--cost with a cost column needs the rows of one prediction file (a state or merged files keep no columns)",
            ));
        }
        (false, Some(preds)) => per_row_cumulative(costs, curve, preds)?,
    };
    Ok(finish(costs, curve, &cum, threshold))
}

/// The cumulative costs of per-row costs, over the rows' ranking (the
/// same distinct scores as `curve`).
fn per_row_cumulative<'a>(
    costs: &Costs,
    curve: &'a BinaryCurve,
    preds: &Predictions,
) -> Result<Cumulative<'a>> {
    let crate::data::Columns::Binary { labels, scores } = &preds.columns else {
        return Err(Error::usage("--cost is for binary tasks"));
    };
    let [cfp, cfn] = per_row(costs, preds)?;
    let rk = Ranking::build(labels, scores, preds.weights.as_ref());
    let groups = rk.group_end.len();
    let (mut fp, mut saved) = (Vec::with_capacity(groups), Vec::with_capacity(groups));
    let (mut a, mut b, mut weight) = (0.0, 0.0, 0.0);
    let mut start = 0;
    for &end in &rk.group_end {
        for pos in start..end as usize {
            let row = rk.rows[pos] as usize;
            let w = rk.weights.as_ref().map_or(1.0, |w| w[pos]);
            weight += w;
            if rk.labels[pos] == 1 {
                b += w * cfn.get(row);
            } else {
                a += w * cfp.get(row);
            }
        }
        fp.push(a);
        saved.push(b);
        start = end as usize;
    }
    Ok(Cumulative {
        thresholds: &curve.thresholds,
        fp,
        saved,
        fn_total: b,
        weight,
    })
}

fn finish(costs: &Costs, curve: &BinaryCurve, cum: &Cumulative, threshold: f64) -> CostResult {
    let groups = cum.thresholds.len();
    let per_row = |total: f64| (cum.weight > 0.0).then(|| total / cum.weight);
    // The least total cost over "none positive" (k = 0) and every distinct
    // score (k = g + 1); ties go to fewer predicted positives.
    let mut best = 0;
    for k in 1..=groups {
        if cum.total(k) < cum.total(best) {
            best = k;
        }
    }
    let (p, n) = (curve.positives(), curve.negatives());
    let metrics = if best == 0 {
        crate::operating::rates(0.0, 0.0, p, n)
    } else {
        crate::operating::rates(curve.tps[best - 1], curve.fps[best - 1], p, n)
    };
    let grid: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    CostResult {
        fp: costs.fp.clone(),
        fn_: costs.fn_.clone(),
        threshold: (best > 0).then(|| cum.thresholds[best - 1]),
        expected_cost: per_row(cum.total(best)),
        total_cost: cum.total(best),
        at_threshold: per_row(cum.total(cum.above(threshold))).map(|expected_cost| AtThreshold {
            threshold,
            expected_cost,
        }),
        predict_none: per_row(cum.total(0)),
        predict_all: per_row(cum.total(groups)),
        metrics,
        curve: CostCurve {
            expected_cost: grid
                .iter()
                .map(|&t| per_row(cum.total(cum.above(t))).unwrap_or(f64::NAN))
                .collect(),
            threshold: grid,
        },
    }
}

/// The decision curve: net benefit of the model, and of acting on every
/// row, at threshold probabilities 0.01, …, 0.99.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DecisionCurve {
    /// Threshold probabilities.
    pub threshold: Vec<f64>,
    /// The model's net benefit at each.
    pub net_benefit: Vec<f64>,
    /// Acting on every row.
    pub treat_all: Vec<f64>,
}

/// The decision curve of a binary result's curve; empty without weight.
pub fn decision_curve(curve: &BinaryCurve) -> DecisionCurve {
    let (p, n) = (curve.positives(), curve.negatives());
    let w = p + n;
    let mut out = DecisionCurve::default();
    if w <= 0.0 {
        return out;
    }
    for i in 1..100 {
        let pt = f64::from(i) / 100.0;
        let odds = pt / (1.0 - pt);
        let c = curve.counts_at(pt);
        out.threshold.push(pt);
        out.net_benefit.push((c.tp - c.fp * odds) / w);
        out.treat_all.push((p - n * odds) / w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_parse_numbers_and_columns() {
        let c: Costs = "fp=1,fn=20".parse().unwrap();
        assert_eq!((c.fp, c.fn_), (Cost::Constant(1.0), Cost::Constant(20.0)));
        let c: Costs = " fn = amount , fp=0.5".parse().unwrap();
        assert_eq!(c.fn_, Cost::Column("amount".to_string()));
        assert_eq!(c.columns(), vec!["amount".to_string()]);
        for bad in [
            "fp=1",
            "fp=1,fn=-2",
            "fp=1,fn=inf",
            "fp=1,fn=",
            "fp=1,fn=2,fp=3",
            "fp=1,tn=2",
            "fp=0,fn=0",
            "fp:1,fn:2",
        ] {
            assert!(bad.parse::<Costs>().is_err(), "{bad}");
        }
    }
}
