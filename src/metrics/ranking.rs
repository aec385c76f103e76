//! Ranking metrics of one query (docs/spec.md §3, "Ranking"): NDCG, average
//! precision, reciprocal rank, precision, recall and hit rate, at cutoffs
//! and over the whole list.
//!
//! A query's rows are its candidate items; each has a relevance label
//! (`≥ 0`; graded or binary) and a score. Items are ranked by score,
//! highest first. The conventions are `trec_eval`'s (`ndcg_cut`,
//! `map_cut`, `P`, `recall`, `success`, `recip_rank`, `ndcg`, `map`), with
//! one difference, ties:
//!
//! - **Relevant** means a label above 0. `R` is the query's number of
//!   relevant items.
//! - **Gain** is the label (`linear`, as `trec_eval` and scikit-learn's
//!   `ndcg_score`) or `2^label − 1` (`exponential`); the discount of rank
//!   `p` (from 1) is `1 / log2(p + 1)`. NDCG@k divides by the ideal DCG@k
//!   of the same labels.
//! - **precision@k** divides by `k` even when the list is shorter;
//!   **recall@k** and **map@k** divide by `R` (all of the query's relevant
//!   items, as `trec_eval`'s `map_cut`); **hit_rate@k** is 1 when a relevant
//!   item is in the top `k`; **mrr** is the reciprocal rank of the first
//!   relevant item over the whole list; **ndcg** and **map** are over the
//!   whole list.
//! - **Ties** in score are averaged: each metric is its expected value over
//!   every order of the tied items, equally likely (McSherry and Najork,
//!   "Computing information retrieval performance measures efficiently in
//!   the presence of tied scores", ECIR 2008; scikit-learn's `ndcg_score`
//!   does this for NDCG). The value does not depend on row order or item
//!   ids. `trec_eval` instead breaks ties by document id (descending), so
//!   the two agree when scores are distinct, and evalkit equals the mean of
//!   `trec_eval` over all orders of the ties.
//! - A query with **no relevant item** has every metric 0 (`trec_eval`'s
//!   convention, [`EmptyQueries::Zero`]) or is left out of the means
//!   ([`EmptyQueries::Drop`]).
//!
//! Within a tie group of `m` items holding `c` relevant ones and gains
//! summing to `G`, starting after `s` ranked items of which `B` are
//! relevant, the item at the group's `j`-th place (rank `p = s + j`) has
//! expected relevance `c / m`, expected gain `G / m`, and
//! `E[rel_p · (relevant in the top p)] = (B + 1)·c/m + (j − 1)·c(c − 1)/(m(m − 1))`,
//! so DCG, precision, recall and average precision are sums over ranks of
//! closed forms. The first relevant item of the first group holding one is
//! at its `j`-th place with probability `C(m − j, c − 1) / C(m, c)`
//! (reciprocal rank), and the top `k` miss a straddling group's `c`
//! relevant items when its `t = k − s` places inside all hold others:
//! probability `∏_{i<t} (m − c − i)/(m − i)` (hit rate).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The default cutoffs.
pub const DEFAULT_KS: [usize; 3] = [1, 5, 10];

/// The largest cutoff accepted.
pub const MAX_K: usize = 1_000_000;

/// How a label becomes a gain in DCG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gain {
    /// The label itself (`trec_eval`, scikit-learn's `ndcg_score`).
    #[default]
    Linear,
    /// `2^label − 1` (Burges et al.; many learning-to-rank libraries).
    Exponential,
}

impl Gain {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Gain::Linear => "linear",
            Gain::Exponential => "exponential",
        }
    }

    /// The gain of a label.
    #[inline]
    pub fn of(self, label: f64) -> f64 {
        match self {
            Gain::Linear => label,
            Gain::Exponential => (label * std::f64::consts::LN_2).exp_m1(),
        }
    }
}

impl FromStr for Gain {
    type Err = Error;
    fn from_str(s: &str) -> Result<Gain> {
        match s {
            "linear" => Ok(Gain::Linear),
            "exponential" => Ok(Gain::Exponential),
            other => Err(Error::usage(format!(
                "--gain {other}: expected linear or exponential"
            ))),
        }
    }
}

/// What a query without a relevant item counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmptyQueries {
    /// Every metric 0, and the query counts in the means (`trec_eval`).
    #[default]
    Zero,
    /// Left out of the means (and of the bootstrap).
    Drop,
}

impl EmptyQueries {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EmptyQueries::Zero => "zero",
            EmptyQueries::Drop => "drop",
        }
    }
}

impl FromStr for EmptyQueries {
    type Err = Error;
    fn from_str(s: &str) -> Result<EmptyQueries> {
        match s {
            "zero" => Ok(EmptyQueries::Zero),
            "drop" => Ok(EmptyQueries::Drop),
            other => Err(Error::usage(format!(
                "--empty-queries {other}: expected zero or drop"
            ))),
        }
    }
}

/// The most cutoffs one run takes.
pub const MAX_CUTOFFS: usize = 16;

/// Cutoffs `k`: ascending, distinct, each in `1..=MAX_K`, at most
/// [`MAX_CUTOFFS`] (a fixed array, so that options stay `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    len: usize,
    ks: [usize; MAX_CUTOFFS],
}

impl std::ops::Deref for Cutoffs {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.ks[..self.len]
    }
}

/// Options of the ranking metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankingOptions {
    /// The cutoffs.
    pub ks: Cutoffs,
    /// How labels become gains.
    pub gain: Gain,
    /// What a query without a relevant item counts as.
    pub empty: EmptyQueries,
}

impl Default for RankingOptions {
    fn default() -> Self {
        let mut ks = [0; MAX_CUTOFFS];
        ks[..DEFAULT_KS.len()].copy_from_slice(&DEFAULT_KS);
        RankingOptions {
            ks: Cutoffs {
                len: DEFAULT_KS.len(),
                ks,
            },
            gain: Gain::default(),
            empty: EmptyQueries::default(),
        }
    }
}

impl RankingOptions {
    /// The options with `ks` checked, sorted and deduplicated: a cutoff of
    /// 0 or above [`MAX_K`], or no cutoff at all, is a usage error.
    pub fn new(ks: &[usize], gain: Gain, empty: EmptyQueries) -> Result<RankingOptions> {
        if ks.is_empty() {
            return Err(Error::usage("--k needs at least one cutoff"));
        }
        if let Some(&k) = ks.iter().find(|&&k| k == 0 || k > MAX_K) {
            return Err(Error::usage(format!(
                "--k {k}: a cutoff counts the top k items, from 1 to {MAX_K}"
            )));
        }
        let mut sorted = ks.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() > MAX_CUTOFFS {
            return Err(Error::usage(format!(
                "--k: {} cutoffs; at most {MAX_CUTOFFS}",
                sorted.len()
            )));
        }
        let mut ks = [0; MAX_CUTOFFS];
        ks[..sorted.len()].copy_from_slice(&sorted);
        Ok(RankingOptions {
            ks: Cutoffs {
                len: sorted.len(),
                ks,
            },
            gain,
            empty,
        })
    }

    /// The metric names, in the order of [`query_metrics`]' output: each
    /// family at every cutoff, then `mrr`, `ndcg` and `map`.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(FAMILIES.len() * self.ks.len() + 3);
        for family in FAMILIES {
            for k in self.ks.iter() {
                names.push(format!("{family}@{k}"));
            }
        }
        names.extend(WHOLE_LIST.iter().map(|s| s.to_string()));
        names
    }

    /// Values per query: `5 × ks + 3`.
    pub fn width(&self) -> usize {
        FAMILIES.len() * self.ks.len() + WHOLE_LIST.len()
    }

    /// The headline metrics: NDCG, MAP and recall at the largest cutoff,
    /// and MRR.
    pub fn headline(&self) -> Vec<String> {
        let k = self.ks.last().copied().unwrap_or(10);
        vec![
            format!("ndcg@{k}"),
            format!("map@{k}"),
            "mrr".to_string(),
            format!("recall@{k}"),
        ]
    }
}

impl fmt::Display for RankingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ks: Vec<String> = self.ks.iter().map(usize::to_string).collect();
        write!(
            f,
            "k = {}, {} gain, queries without a relevant item {}",
            ks.join(", "),
            self.gain.as_str(),
            match self.empty {
                EmptyQueries::Zero => "scored 0",
                EmptyQueries::Drop => "left out",
            }
        )
    }
}

/// The metric families measured at each cutoff, in output order.
pub const FAMILIES: [&str; 5] = ["ndcg", "map", "precision", "recall", "hit_rate"];

/// The whole-list metrics, after the cutoff families.
pub const WHOLE_LIST: [&str; 3] = ["mrr", "ndcg", "map"];

/// The family and cutoff of a ranking metric name (`"ndcg@10"` →
/// `("ndcg", Some(10))`, `"mrr"` → `("mrr", None)`), or `None` when the
/// name is not a ranking metric.
pub fn parse_name(name: &str) -> Option<(&'static str, Option<usize>)> {
    match name.split_once('@') {
        Some((family, k)) => {
            let k: usize = k.parse().ok()?;
            let family = FAMILIES.iter().find(|f| **f == family)?;
            (k >= 1).then_some((family, Some(k)))
        }
        None => WHOLE_LIST.iter().find(|f| **f == name).map(|f| (*f, None)),
    }
}

/// `name` as a `&'static str` (the replicate tables name metrics
/// statically): each distinct name is stored once for the process's life,
/// so the cost is bounded by the distinct cutoffs ever asked for.
pub(crate) fn static_name(name: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// One query's items, ranked: `(score, label)` pairs sorted by score,
/// highest first (ties adjacent, in any order).
///
/// Returns whether the query has a relevant item; writes
/// [`RankingOptions::width`] values into `out` in the order of
/// [`RankingOptions::names`] (all 0 when there is no relevant item).
pub fn query_metrics(ranked: &[(f64, f64)], options: &RankingOptions, out: &mut [f64]) -> bool {
    let nk = options.ks.len();
    debug_assert_eq!(out.len(), options.width());
    out.fill(0.0);
    let relevant = ranked.iter().filter(|&&(_, l)| l > 0.0).count();
    if relevant == 0 {
        return false;
    }
    let gain = options.gain;
    let r = relevant as f64;
    let n = ranked.len();

    // The ideal DCG at every cutoff, and over the whole list.
    let mut ideal: Vec<f64> = ranked
        .iter()
        .map(|&(_, l)| gain.of(l))
        .filter(|&g| g > 0.0)
        .collect();
    ideal.sort_unstable_by(|a, b| b.total_cmp(a));
    let ideal_at = |k: usize| -> f64 {
        ideal
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, g)| g * discount(i + 1))
            .sum()
    };

    // Prefix sums over ranks, recorded at each cutoff.
    let mut dcg = 0.0;
    let mut hits = 0.0; // expected relevant items so far
    let mut ap = 0.0; // Σ E[rel_p · precision@p]
    let mut at_k = vec![[0.0f64; 3]; nk]; // (dcg, hits, ap) at each cutoff
    let mut next_k = 0;
    let mut reciprocal = 0.0;
    let mut found_first = false;
    let mut before = 0usize; // relevant items in earlier groups
    let mut hit_rate = vec![0.0f64; nk];
    let mut start = 0;
    while start < n {
        let score = ranked[start].0;
        let mut end = start + 1;
        while end < n && ranked[end].0 == score {
            end += 1;
        }
        let group = &ranked[start..end];
        let m = group.len();
        let c = group.iter().filter(|&&(_, l)| l > 0.0).count();
        let g_sum: f64 = group.iter().map(|&(_, l)| gain.of(l)).sum();
        let (mf, cf, b) = (m as f64, c as f64, before as f64);
        let share = cf / mf;
        let pair = if m > 1 {
            cf * (cf - 1.0) / (mf * (mf - 1.0))
        } else {
            0.0
        };
        // Hit rate at the cutoffs that end inside or at the end of this
        // group, when no earlier group holds a relevant item.
        for (i, &k) in options.ks.iter().enumerate() {
            if k <= start || (k > end && end < n) {
                continue;
            }
            hit_rate[i] = if before > 0 {
                1.0
            } else {
                let t = k.min(end) - start;
                1.0 - miss_all(m, c, t)
            };
        }
        if !found_first && c > 0 {
            reciprocal = expected_reciprocal_rank(start, m, c);
            found_first = true;
        }
        for j in 1..=m {
            let p = start + j;
            dcg += g_sum / mf * discount(p);
            hits += share;
            ap += ((b + 1.0) * share + (j - 1) as f64 * pair) / p as f64;
            while next_k < nk && options.ks[next_k] == p {
                at_k[next_k] = [dcg, hits, ap];
                next_k += 1;
            }
        }
        before += c;
        start = end;
    }
    // Cutoffs past the list: the whole list's sums.
    for slot in &mut at_k[next_k..] {
        *slot = [dcg, hits, ap];
    }
    for (i, &k) in options.ks.iter().enumerate() {
        let [d, h, a] = at_k[i];
        out[i] = d / ideal_at(k);
        out[nk + i] = a / r;
        out[2 * nk + i] = h / k as f64;
        out[3 * nk + i] = h / r;
        out[4 * nk + i] = hit_rate[i];
    }
    out[5 * nk] = reciprocal;
    out[5 * nk + 1] = dcg / ideal_at(n);
    out[5 * nk + 2] = ap / r;
    true
}

/// The discount of rank `p` (from 1).
#[inline]
fn discount(p: usize) -> f64 {
    1.0 / ((p + 1) as f64).log2()
}

/// The probability that `t` places drawn from a group of `m` items, `c`
/// of them relevant, hold no relevant item: `∏_{i<t} (m − c − i)/(m − i)`.
fn miss_all(m: usize, c: usize, t: usize) -> f64 {
    if t > m - c {
        return 0.0;
    }
    (0..t)
        .map(|i| (m - c - i) as f64 / (m - i) as f64)
        .product()
}

/// The expected reciprocal rank of the first relevant item of a group of
/// `m` items, `c ≥ 1` of them relevant, after `s` ranked items: the first
/// relevant one is at the group's `j`-th place with probability
/// `C(m − j, c − 1) / C(m, c)`.
fn expected_reciprocal_rank(s: usize, m: usize, c: usize) -> f64 {
    let mut p = c as f64 / m as f64; // j = 1
    let mut sum = 0.0;
    for j in 1..=(m - c + 1) {
        sum += p / (s + j) as f64;
        // P(j + 1) / P(j) = (m − j − c + 1) / (m − j)
        if j < m {
            p *= (m + 1 - j - c) as f64 / (m - j) as f64;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every order of the tied items, each metric computed on distinct
    /// ranks, averaged: the definition the closed forms must equal.
    fn brute_force(items: &[(f64, f64)], options: &RankingOptions) -> Vec<f64> {
        let mut ranked = items.to_vec();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut total = vec![0.0; options.width()];
        let mut orders = 0usize;
        let mut perm: Vec<usize> = (0..ranked.len()).collect();
        // Heap's algorithm over all permutations; keep those that respect
        // the score order.
        fn permute(
            k: usize,
            perm: &mut Vec<usize>,
            ranked: &[(f64, f64)],
            options: &RankingOptions,
            total: &mut [f64],
            orders: &mut usize,
        ) {
            if k == 1 {
                if perm.windows(2).all(|w| ranked[w[0]].0 >= ranked[w[1]].0) {
                    // Distinct ranks: strictly decreasing fake scores.
                    let distinct: Vec<(f64, f64)> = perm
                        .iter()
                        .enumerate()
                        .map(|(i, &r)| (-(i as f64), ranked[r].1))
                        .collect();
                    let mut out = vec![0.0; options.width()];
                    query_metrics(&distinct, options, &mut out);
                    for (t, v) in total.iter_mut().zip(out) {
                        *t += v;
                    }
                    *orders += 1;
                }
                return;
            }
            for i in 0..k {
                permute(k - 1, perm, ranked, options, total, orders);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                perm.swap(j, k - 1);
            }
        }
        let n = perm.len();
        permute(n, &mut perm, &ranked, options, &mut total, &mut orders);
        total.iter().map(|t| t / orders as f64).collect()
    }

    /// Plain definitions on distinct scores.
    fn by_definition(labels: &[f64], options: &RankingOptions) -> Vec<f64> {
        let gain = |l: f64| options.gain.of(l);
        let r = labels.iter().filter(|&&l| l > 0.0).count() as f64;
        let mut ideal: Vec<f64> = labels.to_vec();
        ideal.sort_by(|a, b| b.total_cmp(a));
        let dcg = |ls: &[f64], k: usize| -> f64 {
            ls.iter()
                .take(k)
                .enumerate()
                .map(|(i, &l)| gain(l) / ((i + 2) as f64).log2())
                .sum()
        };
        let rel_top = |k: usize| labels.iter().take(k).filter(|&&l| l > 0.0).count() as f64;
        let ap = |k: usize| -> f64 {
            let mut s = 0.0;
            for (i, &l) in labels.iter().take(k).enumerate() {
                if l > 0.0 {
                    s += rel_top(i + 1) / (i + 1) as f64;
                }
            }
            s / r
        };
        let mut out = Vec::new();
        for &k in options.ks.iter() {
            out.push(dcg(labels, k) / dcg(&ideal, k));
        }
        for &k in options.ks.iter() {
            out.push(ap(k));
        }
        for &k in options.ks.iter() {
            out.push(rel_top(k) / k as f64);
        }
        for &k in options.ks.iter() {
            out.push(rel_top(k) / r);
        }
        for &k in options.ks.iter() {
            out.push(if rel_top(k) > 0.0 { 1.0 } else { 0.0 });
        }
        let first = labels.iter().position(|&l| l > 0.0).unwrap();
        out.push(1.0 / (first + 1) as f64);
        out.push(dcg(labels, labels.len()) / dcg(&ideal, labels.len()));
        out.push(ap(labels.len()));
        out
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-12, "value {i}: {x} vs {y}\n{a:?}\n{b:?}");
        }
    }

    #[test]
    fn distinct_scores_follow_the_definitions() {
        let options =
            RankingOptions::new(&[1, 2, 3, 5, 10], Gain::Linear, EmptyQueries::Zero).unwrap();
        let labels = [0.0, 2.0, 0.0, 1.0, 3.0, 0.0, 0.0];
        let ranked: Vec<(f64, f64)> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| (1.0 - i as f64 / 10.0, l))
            .collect();
        let mut out = vec![0.0; options.width()];
        assert!(query_metrics(&ranked, &options, &mut out));
        close(&out, &by_definition(&labels, &options));
        let exp = RankingOptions {
            gain: Gain::Exponential,
            ..options
        };
        let mut out = vec![0.0; exp.width()];
        query_metrics(&ranked, &exp, &mut out);
        close(&out, &by_definition(&labels, &exp));
    }

    #[test]
    fn ties_are_the_mean_over_every_order() {
        let options =
            RankingOptions::new(&[1, 2, 3, 4, 6, 9], Gain::Exponential, EmptyQueries::Zero)
                .unwrap();
        let mut state = 7u64;
        for _ in 0..200 {
            let n = 1 + (crate::rng::mix64(state) % 7) as usize;
            let items: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    state = crate::rng::mix64(state);
                    (
                        (state % 3) as f64,
                        ((state >> 8) % 4) as f64 * ((state >> 16) % 2) as f64,
                    )
                })
                .collect();
            if items.iter().all(|&(_, l)| l == 0.0) {
                continue;
            }
            let mut ranked = items.clone();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut out = vec![0.0; options.width()];
            query_metrics(&ranked, &options, &mut out);
            close(&out, &brute_force(&items, &options));
        }
    }

    #[test]
    fn a_query_without_a_relevant_item_is_all_zero() {
        let options = RankingOptions::default();
        let mut out = vec![1.0; options.width()];
        assert!(!query_metrics(
            &[(0.5, 0.0), (0.2, 0.0)],
            &options,
            &mut out
        ));
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn cutoffs_are_checked_and_sorted() {
        assert!(RankingOptions::new(&[0], Gain::Linear, EmptyQueries::Zero).is_err());
        assert!(RankingOptions::new(&[], Gain::Linear, EmptyQueries::Zero).is_err());
        let o = RankingOptions::new(&[10, 1, 5, 5], Gain::Linear, EmptyQueries::Zero).unwrap();
        assert_eq!(*o.ks, [1, 5, 10]);
        assert_eq!(o.names()[0], "ndcg@1");
        assert_eq!(o.names().len(), o.width());
        assert_eq!(parse_name("hit_rate@5"), Some(("hit_rate", Some(5))));
        assert_eq!(parse_name("mrr"), Some(("mrr", None)));
        assert_eq!(parse_name("recall@precision>=0.9"), None);
        assert_eq!(parse_name("ndcg@0"), None);
    }
}
