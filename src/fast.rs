//! The fast tier (docs/spec.md §4): loss and accuracy on a stratified, seeded sample.
//!
//! Estimates are stratified means: `Σ_h (W_h / W) · m_h`, where `m_h` is the
//! (weighted) mean over the rows sampled from stratum `h` and `W_h` the
//! stratum's row count (or weight) in the whole file. With `--sample all`
//! this is exactly the full-file mean. The standard error is the textbook
//! stratified one with the finite-population correction,
//! `SE² = Σ_h (W_h/W)² (1 − n_h/N_h) s²_h / n_h` (weighted: the linearised
//! variance of each stratum's ratio mean), so it is 0 when every row is used;
//! a stratum with one sampled row contributes no variance estimate.
//!
//! The loss's interval is the normal one, `m ± z·SE`. Accuracy is a
//! proportion, and a normal interval around one breaks where it matters most:
//! a sample whose rows are all right gives `SE = 0` and "1 [1, 1]". Its
//! interval is Wilson's score interval at the design's effective sample size
//! (Korn & Graubard, 1998, *Survey Methodology* 24(2)):
//! `n_eff = p(1 − p) / SE²`, or the rows sampled when `SE = 0` (`p` is 0 or 1,
//! or every stratum is constant), so stratification and the finite-population
//! correction still narrow it.
//!
//! When every row is used the values are exact: no interval (`ci: null`,
//! method `"exact"`, standard error 0 and a reason that says so), not a
//! zero-width one.

use std::path::PathBuf;

use crate::data::{Columns, Header, Predictions, ReadOptions, Task};
use crate::error::{Error, Result};
use crate::metrics::binary::binary_log_loss;
use crate::metrics::{Metric, MetricSet, neg_log};
use crate::sample::{Sample, decile_strata, stratified};
use crate::state::exact::ExactSum;
use crate::uncertainty::intervals::wilson;

/// Options of the fast tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastOptions {
    /// Rows to sample; `None` uses every row.
    pub sample: Option<usize>,
    /// Seed of the sample.
    pub seed: u64,
    /// Decision threshold for binary accuracy.
    pub threshold: f64,
    /// Confidence level of the normal intervals.
    pub level: f64,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            sample: Some(10_000),
            seed: 0,
            threshold: 0.5,
            level: 0.95,
        }
    }
}

/// One stratum of the sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stratum {
    /// Class name, or the label range of a regression decile.
    pub name: String,
    /// Rows in the file.
    pub rows: u64,
    /// Rows sampled.
    pub sampled: u64,
}

/// The fast tier's result.
#[derive(Debug, Clone, PartialEq)]
pub struct FastResult {
    /// Rows in the file.
    pub rows: usize,
    /// Rows sampled.
    pub rows_used: usize,
    /// What the strata are ("class" or "label decile").
    pub strata_kind: &'static str,
    /// Per-stratum counts.
    pub strata: Vec<Stratum>,
    /// `log_loss` (classification) or `mse` (regression), and `accuracy`
    /// (classification).
    pub metrics: MetricSet,
}

/// Runs the fast tier.
pub fn fast(preds: &Predictions, options: &FastOptions) -> FastResult {
    let weights = preds.weights.as_ref();
    let (sample, names, strata_kind, ids): (Sample, Vec<String>, &'static str, Vec<u8>) =
        match &preds.columns {
            Columns::Binary { labels, .. } => (
                stratified(labels, 2, options.sample, options.seed),
                preds.class_names.clone(),
                "class",
                Vec::new(),
            ),
            Columns::Multiclass {
                labels, classes, ..
            } => (
                stratified(labels, *classes, options.sample, options.seed),
                preds.class_names.clone(),
                "class",
                Vec::new(),
            ),
            Columns::Regression { labels, .. } => {
                let (ids, cuts) = decile_strata(&labels.to_f64_vec());
                let names = decile_names(&cuts);
                (
                    stratified(&ids, 10, options.sample, options.seed),
                    names,
                    DECILES,
                    ids,
                )
            }
            Columns::Ranking { .. } => return fast_ranking(preds, options),
        };
    let stratum_of = |r: usize| -> usize {
        match &preds.columns {
            Columns::Binary { labels, .. } => labels[r] as usize,
            Columns::Multiclass { labels, .. } => labels[r] as usize,
            Columns::Regression { .. } => ids[r] as usize,
            Columns::Ranking { .. } => unreachable!("rankings are sampled by query"),
        }
    };

    // Stratum weights in the whole file (row counts without weights).
    let stratum_weight: Vec<f64> = match weights {
        None => sample.totals.iter().map(|&t| t as f64).collect(),
        Some(wt) => {
            // Exact sums: the same bits in any order or split of the rows
            // (files read in chunks, an engine's blocks).
            let mut acc = vec![ExactSum::new(); sample.totals.len()];
            for r in 0..preds.rows() {
                acc[stratum_of(r)].add(wt.get(r));
            }
            acc.iter().map(ExactSum::value).collect()
        }
    };
    let terms: Vec<Term> = sample
        .rows
        .iter()
        .map(|&r| {
            let r = r as usize;
            term(preds, r, stratum_of(r), options.threshold)
        })
        .collect();
    let strata = Strata {
        names,
        kind: strata_kind,
        totals: sample.totals,
        sampled: sample.sampled,
        weight: stratum_weight,
    };
    finish(preds.task, preds.rows() as u64, &terms, strata, options)
}

/// The stream of the query sample.
const QUERY_STREAM: u64 = 0x7175_6572_7900;

/// A ranking's fast tier: whole queries drawn uniformly without
/// replacement (seeded; as many as hold `sample` rows on average, at least
/// 2), their headline metrics ([`RankingOptions::headline`] at the default
/// cutoffs) averaged with the simple-random-sample standard error and its
/// finite-population correction over queries, normal intervals. Every
/// query drawn (`sample: None`, or more rows than the file has) gives the
/// full tier's means, exactly.
///
/// [`RankingOptions::headline`]: crate::metrics::ranking::RankingOptions::headline
fn fast_ranking(preds: &Predictions, options: &FastOptions) -> FastResult {
    use crate::metrics::ranking::{EmptyQueries, RankingOptions};
    let ranking = RankingOptions::default();
    let Columns::Ranking { queries, .. } = &preds.columns else {
        unreachable!("called for rankings")
    };
    let (of_row, q) = queries.index(|_| true);
    let rows = preds.rows();
    let want = match options.sample {
        None => q,
        Some(n) => ((n as f64 * q as f64 / rows as f64).round() as usize).clamp(q.min(2), q),
    };
    let mut rng = crate::rng::Stream::new(options.seed, QUERY_STREAM);
    let mut pick = vec![false; q];
    for c in crate::rng::choose_sorted(&mut rng, q as u64, want as u64) {
        pick[c as usize] = true;
    }
    let sampled: Vec<u32> = (0..rows as u32)
        .filter(|&r| pick[of_row[r as usize] as usize])
        .collect();
    let sub = preds.gather(&sampled);
    let Columns::Ranking {
        labels,
        scores,
        queries,
        ..
    } = &sub.columns
    else {
        unreachable!("a ranking's rows")
    };
    let pq = crate::full::ranking::per_query(labels, scores, queries, &ranking);
    let strata = Strata {
        names: vec!["queries".to_string()],
        kind: QUERIES,
        totals: vec![q as u64],
        sampled: vec![want as u64],
        weight: vec![q as f64],
    };
    let z = normal_quantile(0.5 + options.level / 2.0);
    let mut metrics = MetricSet::new();
    for name in ranking.headline() {
        let Some(values) = pq.column(&name) else {
            continue;
        };
        let mut sums = StratumSums::new(1);
        let counted = |q: &usize| pq.counts(*q, EmptyQueries::Zero);
        for i in (0..pq.len()).filter(counted) {
            sums.add(0, 1.0, values[i]);
        }
        for i in (0..pq.len()).filter(counted) {
            sums.add_variance(0, 1.0, values[i]);
        }
        metrics.insert(&name, sums.estimate(&strata, z, Interval::Normal));
    }
    FastResult {
        rows,
        rows_used: sampled.len(),
        strata_kind: QUERIES,
        strata: vec![Stratum {
            name: "queries".to_string(),
            rows: q as u64,
            sampled: want as u64,
        }],
        metrics,
    }
}

/// What a ranking's sample draws: whole queries (its one stratum counts
/// queries, not rows).
const QUERIES: &str = "query";

/// What the strata of a regression are.
const DECILES: &str = "label decile";

/// A sampled row: its stratum, weight, loss and (classification) whether
/// its prediction is right.
type Term = (usize, f64, f64, Option<f64>);

/// The strata of a sample: names, row counts in the data and in the
/// sample, and weight in the data (the row count without weights).
struct Strata {
    names: Vec<String>,
    kind: &'static str,
    totals: Vec<u64>,
    sampled: Vec<u64>,
    weight: Vec<f64>,
}

/// Sampled row `r`, of stratum `h`, as its term.
fn term(preds: &Predictions, r: usize, h: usize, threshold: f64) -> Term {
    let (l, c) = row_term(preds, r, threshold);
    (h, preds.weights.as_ref().map_or(1.0, |w| w.get(r)), l, c)
}

/// Row `r`'s loss and, for classification, 1 when its prediction is right.
fn row_term(preds: &Predictions, r: usize, threshold: f64) -> (f64, Option<f64>) {
    match &preds.columns {
        Columns::Binary { labels, scores } => {
            let (y, p) = (labels[r], scores.get(r));
            let hit = (p >= threshold) == (y == 1);
            (binary_log_loss(y, p), Some(hit as u8 as f64))
        }
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => {
            let k = *classes;
            let y = labels[r] as usize;
            let mut best = 0;
            let mut best_p = f64::NEG_INFINITY;
            for c in 0..k {
                let p = scores.get(r * k + c);
                if p > best_p {
                    best_p = p;
                    best = c;
                }
            }
            (
                neg_log(scores.get(r * k + y)),
                Some((best == y) as u8 as f64),
            )
        }
        Columns::Regression { labels, scores } => {
            let e = labels.get(r) - scores.get(r);
            (e * e, None)
        }
        Columns::Ranking { .. } => unreachable!("rankings are sampled by query"),
    }
}

/// The estimates from the sampled rows' terms (in row order).
fn finish(
    task: Task,
    rows: u64,
    terms: &[Term],
    strata: Strata,
    options: &FastOptions,
) -> FastResult {
    let count = strata.totals.len();
    let mut loss = StratumSums::new(count);
    let mut acc = StratumSums::new(count);
    for &(h, wr, l, c) in terms {
        loss.add(h, wr, l);
        if let Some(c) = c {
            acc.add(h, wr, c);
        }
    }
    for &(h, wr, l, c) in terms {
        loss.add_variance(h, wr, l);
        if let Some(c) = c {
            acc.add_variance(h, wr, c);
        }
    }

    let z = normal_quantile(0.5 + options.level / 2.0);
    let mut metrics = MetricSet::new();
    let loss_name = if task == Task::Regression {
        "mse"
    } else {
        "log_loss"
    };
    metrics.insert(loss_name, loss.estimate(&strata, z, Interval::Normal));
    if task != Task::Regression {
        metrics.insert("accuracy", acc.estimate(&strata, z, Interval::Wilson));
    }

    FastResult {
        rows: rows as usize,
        rows_used: terms.len(),
        strata_kind: strata.kind,
        strata: (0..count)
            .map(|h| Stratum {
                name: strata
                    .names
                    .get(h)
                    .cloned()
                    .unwrap_or_else(|| h.to_string()),
                rows: strata.totals[h],
                sampled: strata.sampled[h],
            })
            .collect(),
        metrics,
    }
}

/// The fast tier over several prediction files, read in the order given as
/// one file that holds their rows one after another: the same strata,
/// sample, estimates and standard errors as [`fast`] on that file, bit for
/// bit. Nothing is held whole: each pass reads the inputs chunk by chunk
/// (`chunk_rows` rows, see [`crate::data::chunk_rows`]) and keeps the
/// per-stratum counts and the sampled rows' terms. Classification reads the
/// inputs twice (the strata's counts, then the sample); regression four
/// times (the row count, the labels that set the deciles, the strata's
/// counts, the sample). Inputs must agree as shards do (task, classes,
/// weighting); a state file holds no rows to sample and is refused.
pub fn fast_inputs(
    paths: &[PathBuf],
    read: &ReadOptions,
    options: &FastOptions,
    chunk_rows: usize,
) -> Result<(Header, FastResult)> {
    for p in paths {
        if crate::state::file::is_state_file(p) {
            return Err(Error::usage(format!(
                "{}: the fast tier samples rows, and a state file holds none; pass the prediction files, or run `evalkit full` on the state",
                p.display()
            )));
        }
    }
    // One pass: `visit(chunk, its first row)` over every chunk in order;
    // returns the rows' description.
    let pass = |visit: &mut dyn FnMut(&Predictions, u64)| -> Result<Header> {
        let mut header: Option<Header> = None;
        let mut row = 0u64;
        for path in paths {
            crate::data::for_each_chunk(path, read, chunk_rows, &mut |preds| {
                if preds.task == Task::Ranking {
                    return Err(Error::usage(format!(
                        "{}: {}",
                        preds.path.display(),
                        crate::state::inputs::RANKING_NEEDS_ROWS
                    )));
                }
                let h = preds.header();
                match &mut header {
                    None => header = Some(h),
                    Some(first) => {
                        crate::state::file::StateFile::compatible(first, &h)?;
                        first.rows += h.rows;
                        if first.task_reason != h.task_reason {
                            first.task_reason = "agreed by every input".to_string();
                        }
                    }
                }
                visit(&preds, row);
                row += preds.rows() as u64;
                Ok(())
            })?;
        }
        let mut header = header.ok_or_else(|| Error::usage("no input given"))?;
        header.sources = paths.len() as u64;
        Ok(header)
    };

    // The strata's rows and weights (exact sums, as [`fast`] sums them):
    // for classification in the first pass; regression's strata are
    // label deciles, so its first pass counts the rows, a second probes the
    // labels that set the deciles and a third counts the strata.
    let mut totals: Vec<u64> = Vec::new();
    let mut weight: Vec<ExactSum> = Vec::new();
    let header = pass(&mut |preds, _| {
        if !matches!(preds.columns, Columns::Regression { .. }) {
            count_strata(&mut totals, &mut weight, preds, &stratum_ids(preds, None));
        }
    })?;
    let mut cuts: Option<Vec<f64>> = None;
    if header.task == Task::Regression {
        let step = crate::sample::decile_probe_step(header.rows);
        let mut probe = Vec::new();
        pass(&mut |preds, first| {
            if let Columns::Regression { labels, .. } = &preds.columns {
                let skip = (step - first % step) % step;
                probe.extend(
                    (skip as usize..labels.len())
                        .step_by(step as usize)
                        .map(|i| labels.get(i)),
                );
            }
        })?;
        let c = crate::sample::decile_cuts(probe);
        pass(&mut |preds, _| {
            count_strata(
                &mut totals,
                &mut weight,
                preds,
                &stratum_ids(preds, Some(&c)),
            );
        })?;
        cuts = Some(c);
    }
    let strata = match header.task {
        Task::Binary => 2,
        Task::Multiclass => header.class_names.len(),
        Task::Regression => 10,
        // Refused in the passes above: rankings are sampled by query.
        Task::Ranking => 1,
    };
    totals.resize(strata, 0);
    weight.resize(strata, ExactSum::new());
    let weight = stratum_weights(header.weighted, &totals, &weight);

    let plan = crate::sample::Plan::new(&totals, options.sample, options.seed);
    let mut seen = vec![0u64; strata];
    let mut terms: Vec<Term> = Vec::new();
    pass(&mut |preds, _| {
        let ids = stratum_ids(preds, cuts.as_deref());
        plan.pick(&ids, &mut seen, |r| {
            terms.push(term(preds, r, ids[r] as usize, options.threshold));
        });
    })?;
    let strata = Strata {
        names: match &cuts {
            Some(cuts) => decile_names(cuts),
            None => header.class_names.clone(),
        },
        kind: if cuts.is_some() { DECILES } else { "class" },
        totals,
        sampled: plan.quota,
        weight,
    };
    let result = finish(header.task, header.rows, &terms, strata, options);
    Ok((header, result))
}

/// Each row's stratum: its class, or with `cuts` its regression label's
/// decile.
fn stratum_ids(preds: &Predictions, cuts: Option<&[f64]>) -> Vec<u32> {
    match (&preds.columns, cuts) {
        (Columns::Binary { labels, .. }, _) => labels.iter().map(|&y| y as u32).collect(),
        (Columns::Multiclass { labels, .. }, _) => labels.clone(),
        (Columns::Regression { labels, .. }, Some(cuts)) => (0..labels.len())
            .map(|i| crate::sample::decile_of(cuts, labels.get(i)) as u32)
            .collect(),
        (Columns::Regression { .. }, None) | (Columns::Ranking { .. }, _) => Vec::new(),
    }
}

/// Adds rows of strata `ids` to the strata's row counts and (exact)
/// weights, growing them to the strata seen.
fn count_strata(
    totals: &mut Vec<u64>,
    weight: &mut Vec<ExactSum>,
    preds: &Predictions,
    ids: &[u32],
) {
    for (r, &h) in ids.iter().enumerate() {
        let h = h as usize;
        if h >= totals.len() {
            totals.resize(h + 1, 0);
            weight.resize(h + 1, ExactSum::new());
        }
        totals[h] += 1;
        if let Some(w) = &preds.weights {
            weight[h].add(w.get(r));
        }
    }
}

/// Each stratum's weight in the data: its exact weight sum, rounded once,
/// or its row count without weights.
fn stratum_weights(weighted: bool, totals: &[u64], weight: &[ExactSum]) -> Vec<f64> {
    if weighted {
        weight.iter().map(ExactSum::value).collect()
    } else {
        totals.iter().map(|&t| t as f64).collect()
    }
}

fn decile_names(cuts: &[f64]) -> Vec<String> {
    (0..10)
        .map(|h| match h {
            0 => format!("≤ {}", cuts.first().copied().unwrap_or(f64::NAN)),
            9 => format!("> {}", cuts.last().copied().unwrap_or(f64::NAN)),
            _ => format!("({}, {}]", cuts[h - 1], cuts[h]),
        })
        .collect()
}

/// Per-stratum weighted sums for a stratified mean and its variance.
struct StratumSums {
    n: Vec<u64>,
    w: Vec<f64>,
    wx: Vec<f64>,
    /// Σ w² (x − m)², filled by the second pass.
    dev: Vec<f64>,
}

impl StratumSums {
    fn new(strata: usize) -> StratumSums {
        StratumSums {
            n: vec![0; strata],
            w: vec![0.0; strata],
            wx: vec![0.0; strata],
            dev: vec![0.0; strata],
        }
    }

    fn add(&mut self, h: usize, w: f64, x: f64) {
        self.n[h] += 1;
        self.w[h] += w;
        self.wx[h] += w * x;
    }

    fn mean(&self, h: usize) -> Option<f64> {
        (self.w[h] > 0.0).then(|| self.wx[h] / self.w[h])
    }

    fn add_variance(&mut self, h: usize, w: f64, x: f64) {
        if let Some(m) = self.mean(h) {
            self.dev[h] += w * w * (x - m) * (x - m);
        }
    }

    fn estimate(&self, strata: &Strata, z: f64, interval: Interval) -> Metric {
        let stratum_weight = &strata.weight;
        // Strata with sampled weight; their file weight is the denominator.
        let used: Vec<usize> = (0..self.n.len())
            .filter(|&h| self.mean(h).is_some())
            .collect();
        let total: f64 = used.iter().map(|&h| stratum_weight[h]).sum();
        if used.is_empty() || total <= 0.0 {
            return Metric::undefined("no sampled row has a positive weight");
        }
        let mut value = 0.0;
        let mut var = 0.0;
        for &h in &used {
            let share = stratum_weight[h] / total;
            value += share * self.mean(h).unwrap_or(0.0);
            let n = self.n[h] as f64;
            if self.n[h] > 1 {
                let fpc = 1.0 - strata.sampled[h] as f64 / strata.totals[h] as f64;
                let v = n / (n - 1.0) * self.dev[h] / (self.w[h] * self.w[h]);
                var += share * share * fpc.max(0.0) * v;
            }
        }
        if strata.sampled == strata.totals {
            return Metric {
                value: Some(value),
                ci: None,
                method: "exact".to_string(),
                std_error: Some(0.0),
                reason: Some(EVERY_ROW.to_string()),
            };
        }
        let se = var.sqrt();
        let ci = match interval {
            Interval::Normal => [value - z * se, value + z * se],
            Interval::Wilson => {
                let sampled: u64 = used.iter().map(|&h| self.n[h]).sum();
                let n = if var > 0.0 {
                    value * (1.0 - value) / var
                } else {
                    sampled as f64
                };
                wilson(value, n, z)
            }
        };
        Metric {
            value: Some(value),
            ci: Some(ci),
            method: interval.name().to_string(),
            std_error: Some(se),
            reason: None,
        }
    }
}

/// The reason an estimate from every row has no interval.
pub const EVERY_ROW: &str = "every row was used: the value is exact, with no sampling error";

/// The kind of interval of an estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Interval {
    /// `m ± z·SE`.
    Normal,
    /// Wilson's score interval at the effective sample size (proportions).
    Wilson,
}

impl Interval {
    fn name(self) -> &'static str {
        match self {
            Interval::Normal => "normal",
            Interval::Wilson => "wilson",
        }
    }
}

/// The standard normal quantile function (statrs).
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// The fast tier over blocks of rows that live apart (an engine's blocks:
/// `evalkit.ray.fast`), visited in one fixed order: the same sample,
/// estimates and standard errors as [`fast`] on the blocks' rows in one
/// piece, bit for bit. Three steps, as [`fast_inputs`] over files:
/// every block's [`counts`] (regression first [`probe`]s its labels at the
/// rows `0, step, 2·step, …` of the whole, whose [`crate::sample::decile_cuts`]
/// set the strata), merged into the strata's totals; then each block
/// [`pick`]s its sampled rows from the sample's plan and the rows of each
/// stratum before it; the sampled rows, in block order, [`finish`] it.
pub mod blocks {
    use super::*;

    /// One block's rows per stratum and their weight (exact sums, so the
    /// blocks' sums add to the whole's bits in any order).
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Counts {
        /// Rows per stratum (grown to the highest stratum seen).
        pub totals: Vec<u64>,
        /// Weight per stratum (empty sums without weights).
        pub weight: Vec<ExactSum>,
    }

    impl Counts {
        /// Adds another block's counts.
        pub fn merge(&mut self, other: &Counts) {
            let n = self.totals.len().max(other.totals.len());
            self.totals.resize(n, 0);
            self.weight.resize(n, ExactSum::new());
            for (h, t) in other.totals.iter().enumerate() {
                self.totals[h] += t;
                if let Some(w) = other.weight.get(h) {
                    self.weight[h].merge(w);
                }
            }
        }
    }

    /// The number of strata of a task (`classes` for multiclass).
    pub fn strata(task: Task, classes: usize) -> Result<usize> {
        match task {
            Task::Binary => Ok(2),
            Task::Multiclass => Ok(classes),
            Task::Regression => Ok(10),
            Task::Ranking => Err(Error::usage(crate::state::inputs::RANKING_NEEDS_ROWS)),
        }
    }

    /// Each row's stratum (`cuts`: the label deciles, for regression).
    pub fn ids(preds: &Predictions, cuts: Option<&[f64]>) -> Result<Vec<u32>> {
        if matches!(preds.columns, Columns::Regression { .. }) && cuts.is_none() {
            return Err(Error::usage(
                "a regression block's strata need the label deciles of the whole",
            ));
        }
        strata(preds.task, preds.class_names.len())?;
        Ok(stratum_ids(preds, cuts))
    }

    /// A block's rows per stratum and their weight; nothing for a
    /// regression block without `cuts` (its strata wait for the deciles).
    pub fn counts(preds: &Predictions, cuts: Option<&[f64]>) -> Result<Counts> {
        let mut c = Counts::default();
        if matches!(preds.columns, Columns::Regression { .. }) && cuts.is_none() {
            return Ok(c);
        }
        count_strata(&mut c.totals, &mut c.weight, preds, &ids(preds, cuts)?);
        Ok(c)
    }

    /// A regression block's labels at the rows of the whole that set the
    /// deciles (`first`: the block's first row in the whole; `step`:
    /// [`crate::sample::decile_probe_step`] of the whole's rows).
    pub fn probe(preds: &Predictions, first: u64, step: u64) -> Vec<f64> {
        match &preds.columns {
            Columns::Regression { labels, .. } => {
                let skip = (step - first % step) % step;
                (skip as usize..labels.len())
                    .step_by(step.max(1) as usize)
                    .map(|i| labels.get(i))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The rows of a block the sample takes (ascending): `totals` are the
    /// whole's strata, `seen` each stratum's rows in the blocks before it.
    pub fn pick(
        preds: &Predictions,
        cuts: Option<&[f64]>,
        totals: &[u64],
        seen: &[u64],
        options: &FastOptions,
    ) -> Result<Vec<u32>> {
        let ids = ids(preds, cuts)?;
        if let Some(&h) = ids.iter().find(|&&h| h as usize >= totals.len()) {
            return Err(Error::usage(format!(
                "a block holds stratum {h}, beyond the {} strata of the whole",
                totals.len()
            )));
        }
        let plan = crate::sample::Plan::new(totals, options.sample, options.seed);
        let mut seen = seen.to_vec();
        seen.resize(totals.len(), 0);
        let mut rows = Vec::new();
        plan.pick(&ids, &mut seen, |r| rows.push(r as u32));
        Ok(rows)
    }

    /// The fast tier from the sampled rows of every block, in block order
    /// (`sample`), and the whole's `rows`, strata counts and `cuts`.
    pub fn finish(
        sample: &Predictions,
        rows: u64,
        whole: &Counts,
        cuts: Option<&[f64]>,
        options: &FastOptions,
    ) -> Result<FastResult> {
        let count = strata(sample.task, sample.class_names.len())?;
        let mut totals = whole.totals.clone();
        let mut weight = whole.weight.clone();
        if totals.len() > count {
            return Err(Error::usage(format!(
                "the blocks hold {} strata, the sample's task {count}",
                totals.len()
            )));
        }
        totals.resize(count, 0);
        weight.resize(count, ExactSum::new());
        let plan = crate::sample::Plan::new(&totals, options.sample, options.seed);
        let ids = ids(sample, cuts)?;
        let terms: Vec<Term> = (0..sample.rows())
            .map(|r| term(sample, r, ids[r] as usize, options.threshold))
            .collect();
        let strata = Strata {
            names: match cuts {
                Some(cuts) => decile_names(cuts),
                None => sample.class_names.clone(),
            },
            kind: if cuts.is_some() { DECILES } else { "class" },
            weight: stratum_weights(sample.weights.is_some(), &totals, &weight),
            totals,
            sampled: plan.quota,
        };
        Ok(super::finish(sample.task, rows, &terms, strata, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, FixedSizeListArray, Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field};
    use std::sync::Arc;

    /// The blocks' steps, run over `preds` split at `cuts_at`.
    fn over_blocks(preds: &Predictions, split: &[usize], options: &FastOptions) -> FastResult {
        let n = preds.rows();
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(split.iter().copied())
            .chain(std::iter::once(n))
            .collect();
        let parts: Vec<Predictions> = bounds
            .windows(2)
            .map(|w| preds.gather(&(w[0] as u32..w[1] as u32).collect::<Vec<_>>()))
            .collect();
        let cuts = matches!(preds.columns, Columns::Regression { .. }).then(|| {
            let mut probe = Vec::new();
            for (p, w) in parts.iter().zip(bounds.windows(2)) {
                probe.extend(blocks::probe(
                    p,
                    w[0] as u64,
                    crate::sample::decile_probe_step(n as u64),
                ));
            }
            crate::sample::decile_cuts(probe)
        });
        let counts: Vec<blocks::Counts> = parts
            .iter()
            .map(|p| blocks::counts(p, cuts.as_deref()).unwrap())
            .collect();
        let mut whole = blocks::Counts::default();
        counts.iter().for_each(|c| whole.merge(c));
        let strata = blocks::strata(preds.task, preds.class_names.len()).unwrap();
        whole.totals.resize(strata, 0);
        whole.weight.resize(strata, ExactSum::new());
        let mut seen = vec![0u64; strata];
        let mut picked = Vec::new();
        for ((p, c), w) in parts.iter().zip(&counts).zip(bounds.windows(2)) {
            let rows = blocks::pick(p, cuts.as_deref(), &whole.totals, &seen, options).unwrap();
            picked.extend(rows.iter().map(|&r| r + w[0] as u32));
            for (h, t) in c.totals.iter().enumerate() {
                seen[h] += t;
            }
        }
        let sample = preds.gather(&picked);
        blocks::finish(&sample, n as u64, &whole, cuts.as_deref(), options).unwrap()
    }

    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut s = crate::rng::Stream::new(seed, 0);
        move || (s.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn blocks_give_the_sample_and_numbers_of_the_whole() {
        let n = 2000;
        let mut u = rng(9);
        let labels: Vec<i64> = (0..n).map(|_| (u() < 0.3) as i64).collect();
        let scores: Vec<f64> = labels.iter().map(|&y| (u() + y as f64) / 2.0).collect();
        let weights: Vec<f64> = (0..n).map(|_| u() * 3.0).collect();
        let k: usize = 3;
        let mc_labels: Vec<i64> = (0..n).map(|_| (u() * k as f64) as i64).collect();
        let mc_scores: Vec<f64> = (0..n)
            .flat_map(|_| {
                let row: Vec<f64> = (0..k).map(|_| u() + 0.01).collect();
                let sum: f64 = row.iter().sum();
                row.into_iter().map(move |v| v / sum)
            })
            .collect();
        let reg_labels: Vec<f64> = (0..n).map(|_| u() * 10.0).collect();
        let reg_scores: Vec<f64> = reg_labels.iter().map(|&y| y + u()).collect();
        let arr = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let ints = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
        let list = FixedSizeListArray::try_new(
            Arc::new(Field::new("item", DataType::Float64, false)),
            k as i32,
            arr(mc_scores),
            None,
        )
        .unwrap();
        let cases = [
            Predictions::from_arrays(
                "b",
                ints(labels.clone()),
                vec![arr(scores.clone())],
                None,
                None,
                None,
            ),
            Predictions::from_arrays(
                "w",
                ints(labels),
                vec![arr(scores)],
                Some(arr(weights.clone())),
                None,
                None,
            ),
            Predictions::from_arrays("m", ints(mc_labels), vec![Arc::new(list)], None, None, None),
            Predictions::from_arrays(
                "r",
                arr(reg_labels.clone()),
                vec![arr(reg_scores.clone())],
                None,
                None,
                None,
            ),
            Predictions::from_arrays(
                "rw",
                arr(reg_labels),
                vec![arr(reg_scores)],
                Some(arr(weights)),
                None,
                None,
            ),
        ];
        for preds in cases {
            let preds = preds.unwrap();
            for sample in [Some(300), Some(5), None] {
                let options = FastOptions {
                    sample,
                    seed: 4,
                    ..FastOptions::default()
                };
                let whole = fast(&preds, &options);
                for split in [&[][..], &[1], &[700, 701, 1500]] {
                    assert_eq!(
                        over_blocks(&preds, split, &options),
                        whole,
                        "{:?} {split:?}",
                        preds.path
                    );
                }
            }
        }
    }
}
