//! The ranking full tier: every query's metrics
//! ([`crate::metrics::ranking::query_metrics`]), their means over the
//! queries, and intervals from a **query-level** bootstrap: every replicate
//! resamples whole queries (a query's Poisson(1) count is keyed by its id,
//! as `--cluster` keys clusters, so two models' files draw the same
//! queries), and a replicate's metric is the count-weighted mean of the
//! queries' values.
//!
//! Each query counts once in the means, whatever its number of items. The
//! rows are grouped by query with a counting sort (queries in the order of
//! their keys), each query's items sorted by score in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::clusters::Clusters;
use crate::data::Floats;
use crate::metrics::ranking::{self, EmptyQueries, RankingOptions};
use crate::metrics::{Metric, MetricSet};
use crate::uncertainty::bootstrap::Replicates;
use crate::uncertainty::{self, CiMethod, IntervalOptions, Resample, lanes};

/// Every query's metric values.
#[derive(Debug, Clone, PartialEq)]
pub struct PerQuery {
    /// The metric names, in the order of each query's values.
    pub names: Vec<String>,
    /// Each query's key (see [`crate::clusters`]), ascending: the order of
    /// the queries here.
    pub keys: Vec<u64>,
    /// The first row of each query, to name it by its id.
    pub first_row: Vec<u32>,
    /// Each query's number of items (rows).
    pub items: Vec<u32>,
    /// Each query's number of relevant items (label above 0).
    pub relevant: Vec<u32>,
    /// `values[q * names.len() + m]`: metric `m` of query `q`.
    pub values: Vec<f64>,
}

impl PerQuery {
    /// Number of queries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no query.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The values of query `q`.
    pub fn row(&self, q: usize) -> &[f64] {
        let w = self.names.len();
        &self.values[q * w..(q + 1) * w]
    }

    /// Metric `name`'s value for every query.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let m = self.names.iter().position(|n| n == name)?;
        Some((0..self.len()).map(|q| self.row(q)[m]).collect())
    }

    /// Whether query `q` counts in the means under `empty`.
    pub fn counts(&self, q: usize, empty: EmptyQueries) -> bool {
        empty == EmptyQueries::Zero || self.relevant[q] > 0
    }
}

/// The ranking full tier's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingFull {
    /// Each metric's mean over the queries that count, with its interval.
    pub metrics: MetricSet,
    /// The cutoffs and conventions.
    pub options: RankingOptions,
    /// Every query's values.
    pub per_query: PerQuery,
    /// Queries without a relevant item.
    pub empty_queries: usize,
    /// Queries in the means.
    pub counted: usize,
    /// Notes: empty queries, the bootstrap's resampling unit.
    pub notes: Vec<String>,
}

/// Every query's metrics. `queries` holds each row's query.
pub fn per_query(
    labels: &Floats,
    scores: &Floats,
    queries: &Clusters,
    options: &RankingOptions,
) -> PerQuery {
    let (of_row, count) = queries.index(|_| true);
    let rows = of_row.len();
    // Counting sort of the rows by query.
    let mut bounds = vec![0usize; count + 1];
    for &q in &of_row {
        bounds[q as usize + 1] += 1;
    }
    for q in 0..count {
        bounds[q + 1] += bounds[q];
    }
    let mut next = bounds.clone();
    let mut keys = vec![0u64; count];
    let mut first_row = vec![u32::MAX; count];
    let mut pairs = vec![(0.0f64, 0.0f64); rows];
    crate::with_floats!(scores, s => crate::with_floats!(labels, l => {
        use crate::data::Float;
        for r in 0..rows {
            let q = of_row[r] as usize;
            if first_row[q] == u32::MAX {
                first_row[q] = r as u32;
                keys[q] = queries.keys()[r];
            }
            pairs[next[q]] = (s[r].to_f64(), l[r].to_f64());
            next[q] += 1;
        }
    }));
    let items: Vec<u32> = (0..count)
        .map(|q| (bounds[q + 1] - bounds[q]) as u32)
        .collect();
    // One mutable slice per query.
    let mut slices: Vec<&mut [(f64, f64)]> = Vec::with_capacity(count);
    let mut rest: &mut [(f64, f64)] = &mut pairs;
    for &n in &items {
        let (head, tail) = rest.split_at_mut(n as usize);
        slices.push(head);
        rest = tail;
    }
    let width = options.width();
    let mut values = vec![0.0; count * width];
    let relevant: Vec<u32> = values
        .par_chunks_mut(width)
        .zip(slices.into_par_iter())
        .map(|(out, items)| {
            // Scores are finite (checked on reading): a total order.
            items.sort_unstable_by(|a, b| {
                b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal)
            });
            ranking::query_metrics(items, options, out);
            items.iter().filter(|&&(_, l)| l > 0.0).count() as u32
        })
        .collect();
    PerQuery {
        names: options.names(),
        keys,
        first_row,
        items,
        relevant,
        values,
    }
}

/// The largest relevance `--gain exponential` takes: `2^rel − 1` summed
/// over the most rows a file holds stays finite far below it.
pub const MAX_EXPONENTIAL_LABEL: f64 = 64.0;

/// Checks that the labels fit the gain: with `--gain exponential`, a
/// relevance above [`MAX_EXPONENTIAL_LABEL`] is a usage error naming the
/// row (its gain would overflow the sums).
pub fn check_gain(labels: &Floats, options: &RankingOptions) -> crate::error::Result<()> {
    if options.gain != crate::metrics::ranking::Gain::Exponential {
        return Ok(());
    }
    let row = crate::with_floats!(labels, s => s.iter().position(|v| {
        use crate::data::Float;
        v.to_f64() > MAX_EXPONENTIAL_LABEL
    }));
    match row {
        Some(r) => Err(crate::error::Error::usage(format!(
            "--gain exponential: the relevance {} of row {r} is above {MAX_EXPONENTIAL_LABEL}, where 2^rel − 1 overflows; use --gain linear, or grades from 0 to {MAX_EXPONENTIAL_LABEL}",
            labels.get(r)
        ))),
        None => Ok(()),
    }
}

/// The ranking full tier: every query's metrics, their means, and
/// query-bootstrap intervals unless `intervals.replicates` is 0.
pub fn full(
    labels: &Floats,
    scores: &Floats,
    queries: &Clusters,
    options: &RankingOptions,
    intervals: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> RankingFull {
    let pq = per_query(labels, scores, queries, options);
    finish(pq, options, intervals, progress)
}

/// The means and intervals of per-query values.
pub fn finish(
    pq: PerQuery,
    options: &RankingOptions,
    iv: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> RankingFull {
    let (counted, matrix, hashes) = counted_rows(&pq, options.empty, iv.seed);
    let empty_queries = pq.relevant.iter().filter(|&&r| r == 0).count();
    let mut notes = Vec::new();
    if empty_queries > 0 {
        notes.push(empty_note(empty_queries, pq.len(), options.empty));
    }
    let mut metrics = means(&pq.names, &matrix, counted);
    if iv.replicates > 0 && counted > 0 {
        if counted < crate::clusters::MIN_CLUSTERS {
            notes.push(
                "no bootstrap intervals: one query counts, so resampling queries cannot vary the data"
                    .to_string(),
            );
        } else {
            let reps = replicates(&pq.names, &matrix, &hashes, iv, progress);
            notes.extend(uncertainty::replicate_notes(iv));
            notes.extend(uncertainty::attach(&mut metrics, &reps, &|_| None, iv));
            notes.push(query_note(counted));
        }
    }
    RankingFull {
        metrics,
        options: *options,
        per_query: pq,
        empty_queries,
        counted,
        notes,
    }
}

/// The reason every metric is undefined when no query counts.
pub const NO_RELEVANT: &str =
    "no query has a relevant item (label above 0), and --empty-queries drop leaves them all out";

/// The note on queries without a relevant item.
pub fn empty_note(empty: usize, queries: usize, mode: EmptyQueries) -> String {
    let n = crate::format::number(empty as f64);
    let of = crate::format::number(queries as f64);
    match mode {
        EmptyQueries::Zero => format!(
            "{n} of {of} queries have no relevant item: each scores 0 in every metric, as in trec_eval (--empty-queries drop leaves them out)"
        ),
        EmptyQueries::Drop => format!(
            "{n} of {of} queries have no relevant item and are left out of the means (--empty-queries drop)"
        ),
    }
}

/// The note of the query bootstrap.
pub fn query_note(counted: usize) -> String {
    format!(
        "bootstrap over queries: each replicate resamples whole queries ({} queries)",
        crate::format::number(counted as f64)
    )
}

/// The queries that count: their number, their values (row-major) and the
/// hashes of their Poisson counts.
pub(crate) fn counted_rows(
    pq: &PerQuery,
    empty: EmptyQueries,
    seed: u64,
) -> (usize, Vec<f64>, Vec<u32>) {
    let keep: Vec<usize> = (0..pq.len()).filter(|&q| pq.counts(q, empty)).collect();
    let matrix: Vec<f64> = keep
        .iter()
        .flat_map(|&q| pq.row(q).iter().copied())
        .collect();
    let keys: Vec<u64> = keep.iter().map(|&q| pq.keys[q]).collect();
    (keep.len(), matrix, lanes::cluster_hashes(seed, &keys))
}

/// Each metric's mean over the `counted` rows of `matrix` (one per query,
/// a column per name); undefined when no query counts.
fn means(names: &[String], matrix: &[f64], counted: usize) -> MetricSet {
    let sums = column_sums(matrix, names.len());
    let mut metrics = MetricSet::new();
    for (name, sum) in names.iter().zip(sums) {
        metrics.insert(
            name,
            if counted == 0 {
                Metric::undefined(NO_RELEVANT)
            } else {
                Metric::point(sum / counted as f64)
            },
        );
    }
    metrics
}

/// Column sums of a row-major matrix of `width` columns, exact and then
/// rounded once ([`crate::state::exact`]): the means do not depend on the
/// order of the queries (their ids' type, the rows' order).
fn column_sums(matrix: &[f64], width: usize) -> Vec<f64> {
    use crate::state::exact::{Accumulator, ExactSum};
    let mut sums = vec![Accumulator::new(); width];
    for row in matrix.chunks_exact(width) {
        for (s, &v) in sums.iter_mut().zip(row) {
            s.add(v);
        }
    }
    sums.iter()
        .map(|a| {
            let mut e = ExactSum::new();
            e.add_accumulator(a);
            e.value()
        })
        .collect()
}

/// Replicates per pass over the per-query values.
const BLOCK: usize = 16;

/// One pass over the per-query values (`matrix`, rows of `width`) for a
/// block of replicates: replicate `i` adds `count(i, query)` times each
/// query's values into its row of `acc` and the count into `totals[i]`
/// (queries in order, so each replicate's sums are those of a pass of its
/// own).
#[inline(always)]
fn block_sums(
    matrix: &[f64],
    width: usize,
    acc: &mut [f64],
    totals: &mut [u64; BLOCK],
    count: impl Fn(usize, usize) -> u32,
) {
    for (j, row) in matrix.chunks_exact(width).enumerate() {
        for (i, a) in acc.chunks_exact_mut(width).enumerate() {
            let c = count(i, j);
            if c == 0 {
                continue;
            }
            totals[i] += c as u64;
            let c = c as f64;
            for (a, v) in a.iter_mut().zip(row) {
                *a += c * v;
            }
        }
    }
}

/// Replicates per metric of the count-weighted mean of the rows of
/// `matrix` (one row per query; `hashes` their Poisson hashes), with the
/// leave-one-query-out means for BCa.
pub(crate) fn replicates(
    names: &[String],
    matrix: &[f64],
    hashes: &[u32],
    iv: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Replicates {
    let width = names.len();
    let q = hashes.len();
    let b = iv.replicates;
    let multinomial = iv.resample == Resample::Multinomial;
    let done = AtomicUsize::new(0);
    // Replicates in blocks: one pass over the per-query values serves a
    // block (the values are read once per block, not once per replicate;
    // each replicate still sums its queries in order).
    let blocks = b.div_ceil(BLOCK);
    let by_replicate: Vec<Vec<f64>> = (0..blocks)
        .into_par_iter()
        .flat_map_iter(|block| {
            let first = block * BLOCK;
            let n = BLOCK.min(b - first);
            let mut acc = vec![0.0; n * width];
            let mut totals = [0u64; BLOCK];
            if multinomial {
                let mut counts = vec![vec![0u32; q]; n];
                for (i, c) in counts.iter_mut().enumerate() {
                    lanes::multinomial_cluster_counts(iv.seed, first + i, c);
                }
                block_sums(matrix, width, &mut acc, &mut totals, |i, j| counts[i][j]);
            } else {
                let keys: Vec<u32> = (first..first + n)
                    .map(|r| lanes::replicate_key(iv.seed, r))
                    .collect();
                block_sums(matrix, width, &mut acc, &mut totals, |i, j| {
                    lanes::poisson_of_hash(keys[i], first + i, hashes[j])
                });
            }
            let d = done.fetch_add(n, Ordering::Relaxed) + n;
            progress(d, b);
            (0..n)
                .map(|i| {
                    let total = totals[i] as f64;
                    acc[i * width..(i + 1) * width]
                        .iter()
                        .map(|a| if total > 0.0 { a / total } else { f64::NAN })
                        .collect::<Vec<f64>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let values: Vec<Vec<f64>> = (0..width)
        .map(|m| by_replicate.iter().map(|rep| rep[m]).collect())
        .collect();
    let jackknife = if iv.method == CiMethod::Bca && q > 1 {
        let sums = column_sums(matrix, width);
        (0..width)
            .map(|m| {
                matrix
                    .chunks_exact(width)
                    .map(|row| (sums[m] - row[m]) / (q - 1) as f64)
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let names = names.iter().map(|n| ranking::static_name(n)).collect();
    Replicates::metrics(names, values, jackknife)
}

/// Two models ranked on the same queries: each side's result (intervals
/// from the same query resamples) and `candidate − baseline` of every
/// metric, whose interval is read off the replicates of the per-query
/// differences.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingComparison {
    /// The candidate's result.
    pub candidate: RankingFull,
    /// The baseline's result.
    pub baseline: RankingFull,
    /// `candidate − baseline`, with paired intervals.
    pub delta: MetricSet,
    /// Notes on the differences' intervals.
    pub notes: Vec<String>,
}

/// Compares two models' per-query values query by query. Both must hold
/// the same queries with the same items and relevant counts (the same
/// judgements); `names` name a query of each side by its first row, for
/// the errors.
pub fn compare(
    candidate: PerQuery,
    baseline: PerQuery,
    names: [&dyn Fn(u32) -> String; 2],
    options: &RankingOptions,
    iv: &IntervalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> crate::error::Result<RankingComparison> {
    use crate::error::Error;
    // The first query one side has and the other lacks, by key order.
    let (mut i, mut j) = (0, 0);
    while i < candidate.len() || j < baseline.len() {
        match (candidate.keys.get(i), baseline.keys.get(j)) {
            (Some(a), Some(b)) if a == b => {
                let (ni, nj) = (candidate.items[i], baseline.items[j]);
                let (ri, rj) = (candidate.relevant[i], baseline.relevant[j]);
                if ni != nj || ri != rj {
                    return Err(Error::usage(format!(
                        "query {} has {ni} items ({ri} relevant) in the candidate but {nj} ({rj} relevant) in the baseline: compare rankings of the same judged items",
                        names[0](candidate.first_row[i])
                    )));
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                return Err(Error::usage(format!(
                    "query {} is in the candidate but not in the baseline: compare rankings of the same queries",
                    names[0](candidate.first_row[i])
                )));
            }
            _ => {
                return Err(Error::usage(format!(
                    "query {} is in the baseline but not in the candidate: compare rankings of the same queries",
                    names[1](baseline.first_row[j])
                )));
            }
        }
    }
    let third = |done: usize, total: usize, k: usize| progress(k * total + done, 3 * total);
    let (counted, cm, hashes) = counted_rows(&candidate, options.empty, iv.seed);
    let (_, bm, _) = counted_rows(&baseline, options.empty, iv.seed);
    let diff: Vec<f64> = cm.iter().zip(&bm).map(|(a, b)| a - b).collect();
    let metric_names = candidate.names.clone();
    let cand = finish(candidate, options, iv, &|d, t| third(d, t, 0));
    let base = finish(baseline, options, iv, &|d, t| third(d, t, 1));
    let mut delta = means(&metric_names, &diff, counted);
    let mut notes = Vec::new();
    if iv.replicates > 0 && counted >= crate::clusters::MIN_CLUSTERS {
        let reps = replicates(&metric_names, &diff, &hashes, iv, &|d, t| third(d, t, 2));
        notes.extend(uncertainty::attach(&mut delta, &reps, &|_| None, iv));
    }
    Ok(RankingComparison {
        candidate: cand,
        baseline: base,
        delta,
        notes,
    })
}
