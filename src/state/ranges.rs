//! Binary states cut by score range — and multiclass states, class by
//! class ([`split_classes`]) —: the exact full tier when the distinct
//! scores are too many for one machine (`docs/state-format.md`, "Score
//! ranges").
//!
//! A binary state holds one histogram group per distinct score, so with
//! unrounded scores it grows with the rows. Cut the scores into ranges and
//! no process needs the whole histogram:
//!
//! 1. **Sketch** ([`Sketch`]): each part of the rows counts its scores per
//!    bucket (the sign, exponent and top 12 mantissa bits of the score);
//!    sketches merge by adding; [`Sketch::cuts`] picks range boundaries at
//!    bucket edges so each range holds about the same rows.
//! 2. **Split** ([`split`]): each part of the rows makes one state per range
//!    (the state of exactly its rows in that range). The states of one range
//!    merge as any states do, wherever the engine puts them.
//! 3. **Summarise** ([`Summary::of`]): each range's merged state gives its
//!    totals (rows, positives, negatives, exact weights, score span) and its
//!    sums (log loss, Brier, reliability bins) — a few hundred bytes.
//! 4. **Plan** ([`plan`]): from the summaries, in range order, each range's
//!    [`Context`]: what scores above it (exact prefix counts and weights)
//!    and the table's totals.
//! 5. **Partial** ([`partial`]): each range builds its part of the ranking
//!    table with those prefixes ([`super::binary::ScoreHistogram::curve_after`]: the rows
//!    of the whole table at its scores, bit for bit) and returns its terms:
//!    the exact parts of the ROC area and the precision sum, its best F1
//!    point, the confusion counts at the threshold and grid points that fall
//!    in it; a second round ([`delong_contexts`]) gives DeLong's placement
//!    sums once the AUC is known.
//! 6. **Finish** ([`finish`]): the driver adds the parts (exact sums and
//!    integers, so in any grouping the whole table's numbers) and finishes
//!    with the full tier's own formulas (`full::binary::from_parts`, which
//!    the one-state finish uses too).
//!
//! The result equals the full tier of one state of every row, bit for bit,
//! with `--bootstrap 0` (point metrics, the confusion matrix, the threshold
//! grid, reliability, DeLong's interval, Wilson/Clopper–Pearson intervals).
//! Not from ranges: bootstrap intervals, `--thresholds distinct` (a table
//! as large as the data), operating points, costs and the report, which
//! walk the whole ranking table.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::binary::BinaryState;
use super::codec::{Read, Reader, Writer};
use super::exact::ExactSum;
use super::file::{StateFile, TaskState, read_header, write_header};
use super::multiclass::MulticlassState;
use crate::data::{Columns, Floats, Header, Predictions, Task};
use crate::error::{Error, Result};
use crate::full::binary::Thresholds;
use crate::full::{FullOptions, FullResult};
use crate::metrics::curves::{Area2, Counts, Ranked, Start, Sweep, linspace01};
use crate::metrics::multiclass::OvrParts;
use crate::uncertainty::delong;

/// The low bits of a score's `f64` pattern a sketch bucket drops: it keeps
/// the sign, the exponent and 12 mantissa bits (4,096 buckets per power of
/// two; float32 scores in [10⁻⁶, 1] fall in at most about 82,000).
const BUCKET_SHIFT: u32 = 40;

/// The most ranges [`Sketch::cuts`] makes.
pub const MAX_RANGES: usize = 1 << 16;

/// The largest total (rows or weight) a summary or context may carry: more
/// than any rows' (2⁶⁴ rows of the readers' largest weight, 10⁵⁰), small
/// enough that the ranking table's products stay finite.
const MAX_TOTAL: f64 = 1e120;

const SKETCH_MAGIC: &[u8; 8] = b"EVRSKT1\0";
const SUMMARY_MAGIC: &[u8; 8] = b"EVRSUM1\0";
const CONTEXT_MAGIC: &[u8; 8] = b"EVRCTX1\0";
const PARTIAL_MAGIC: &[u8; 8] = b"EVRPRT1\0";
const CLASS_SUMS_MAGIC: &[u8; 8] = b"EVRMCS1\0";

fn bucket(score: f64) -> u32 {
    // -0.0 is 0.0; scores are probabilities, so the sign bit is 0 and the
    // bits increase with the score.
    let s = if score == 0.0 { 0.0 } else { score };
    (s.to_bits() >> BUCKET_SHIFT) as u32
}

/// The range of `score` for `cuts` (descending lower bounds of the ranges
/// but the last): range 0 holds the highest scores.
pub fn range_of(score: f64, cuts: &[f64]) -> usize {
    cuts.partition_point(|&c| score < c)
}

/// Rows per score bucket: what [`Sketch::cuts`] balances the ranges by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    buckets: BTreeMap<u32, u64>,
}

impl Sketch {
    /// The sketch of no rows.
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Counts the scores (probabilities in [0, 1], as the readers give).
    pub fn add(&mut self, scores: &Floats) {
        self.add_keys((0..scores.len()).map(|i| bucket(scores.get(i))).collect());
    }

    /// Counts class `c`'s scores of row-major `rows × classes` scores.
    pub fn add_class(&mut self, scores: &Floats, classes: usize, c: usize) {
        let rows = scores.len() / classes.max(1);
        self.add_keys(
            (0..rows)
                .map(|i| bucket(scores.get(i * classes + c)))
                .collect(),
        );
    }

    fn add_keys(&mut self, mut keys: Vec<u32>) {
        keys.sort_unstable();
        for run in keys.chunk_by(|a, b| a == b) {
            *self.buckets.entry(run[0]).or_default() += run.len() as u64;
        }
    }

    /// Adds another sketch.
    pub fn merge(&mut self, other: &Sketch) {
        for (&b, &n) in &other.buckets {
            *self.buckets.entry(b).or_default() += n;
        }
    }

    /// Rows counted.
    pub fn rows(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// Lower bounds (descending) of `ranges` score ranges of about equal
    /// rows, at bucket edges: range 0 holds scores `>= cuts[0]`, range `k`
    /// scores in `[cuts[k], cuts[k - 1])`, the last the rest. Fewer ranges
    /// when the rows sit in fewer buckets; none for one range.
    pub fn cuts(&self, ranges: usize) -> Vec<f64> {
        let ranges = ranges.clamp(1, MAX_RANGES) as u128;
        let total = self.rows() as u128;
        let mut cuts = Vec::new();
        let mut seen: u128 = 0;
        let mut next = 1u128;
        let mut it = self.buckets.iter().rev().peekable();
        while let Some((&b, &n)) = it.next() {
            seen += n as u128;
            if next < ranges && seen * ranges >= next * total && it.peek().is_some() {
                cuts.push(f64::from_bits((b as u64) << BUCKET_SHIFT));
                while next < ranges && seen * ranges >= next * total {
                    next += 1;
                }
            }
        }
        cuts
    }

    /// The sketch's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.len(self.buckets.len());
        let mut prev = 0u64;
        for (&b, &n) in &self.buckets {
            w.varint(b as u64 - prev);
            w.varint(n);
            prev = b as u64;
        }
        framed(SKETCH_MAGIC, w)
    }

    /// Reads [`Sketch::to_bytes`]; `name` names the bytes in errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Sketch> {
        unframe(name, "score sketch", SKETCH_MAGIC, bytes, |r| {
            let n = r.len("the number of buckets", r.remaining() / 2)?;
            let mut buckets = BTreeMap::new();
            let mut prev = 0u64;
            for i in 0..n {
                let d = r.varint("a bucket")?;
                let b = prev
                    .checked_add(d)
                    .filter(|&b| b <= u32::MAX as u64 && (i == 0 || d > 0))
                    .ok_or_else(|| format!("bucket {i} is out of order"))?;
                let rows = r.varint("a bucket's rows")?;
                buckets.insert(b as u32, rows);
                prev = b;
            }
            Ok(Sketch { buckets })
        })
    }
}

fn framed(magic: &[u8; 8], w: Writer) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&w.into_bytes());
    out
}

fn unframe<T>(
    name: &str,
    what: &str,
    magic: &[u8; 8],
    bytes: &[u8],
    read: impl FnOnce(&mut Reader) -> Read<T>,
) -> Result<T> {
    let bad = |m: String| Error::bad_format(Path::new(name), m);
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        return Err(bad(format!(
            "is not an evalkit {what} of this version (see docs/state-format.md, \"Score ranges\")"
        )));
    }
    let mut r = Reader::new(&bytes[magic.len()..]);
    let v = read(&mut r).map_err(|m| bad(format!("is a corrupt evalkit {what}: {m}")))?;
    r.finish()
        .map_err(|m| bad(format!("is a corrupt evalkit {what}: {m}")))?;
    Ok(v)
}

/// The states of a binary prediction file's rows per score range of `cuts`
/// ([`range_of`]); `None` for a range without rows.
pub fn split(preds: &Predictions, cuts: &[f64]) -> Result<Vec<Option<StateFile>>> {
    if preds.task != Task::Binary {
        return Err(not_binary(&preds.path, preds.task));
    }
    let crate::data::Columns::Binary { scores, .. } = &preds.columns else {
        return Err(not_binary(&preds.path, preds.task));
    };
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); cuts.len() + 1];
    for i in 0..scores.len() {
        rows[range_of(scores.get(i), cuts)].push(i as u32);
    }
    rows.into_iter()
        .map(|r| {
            if r.is_empty() {
                Ok(None)
            } else {
                super::inputs::from_predictions(&preds.gather(&r)).map(Some)
            }
        })
        .collect()
}

fn not_binary(path: &Path, task: Task) -> Error {
    Error::usage(format!(
        "{}: these score ranges are a binary table's, not {task} rows' (multiclass rows split with split_classes)",
        path.display()
    ))
}

/// What scores above a range: positive and negative rows and (weighted)
/// their exact weights.
#[derive(Debug, Clone, Default, PartialEq)]
struct Above {
    counts: [u64; 2],
    weights: [ExactSum; 2],
}

impl Above {
    fn add(&mut self, counts: [u64; 2], weights: &[ExactSum; 2]) {
        self.counts[0] += counts[0];
        self.counts[1] += counts[1];
        self.weights[0].merge(&weights[0]);
        self.weights[1].merge(&weights[1]);
    }

    /// The cumulative numbers as the ranking table holds them.
    fn start(&self, weighted: bool) -> Start {
        if weighted {
            Start {
                tp: self.weights[0].value(),
                fp: self.weights[1].value(),
            }
        } else {
            Start {
                tp: self.counts[0] as f64,
                fp: self.counts[1] as f64,
            }
        }
    }

    fn encode(&self, w: &mut Writer) {
        w.varint(self.counts[0]);
        w.varint(self.counts[1]);
        w.exact(&self.weights[0]);
        w.exact(&self.weights[1]);
    }

    fn decode(r: &mut Reader) -> Read<Above> {
        let a = Above {
            counts: [r.varint("a positive count")?, r.varint("a negative count")?],
            weights: [r.exact("a positive weight")?, r.exact("a negative weight")?],
        };
        if a.weights
            .iter()
            .any(|w| !(0.0..=MAX_TOTAL).contains(&w.value()))
        {
            return Err("a weight total is negative or too large".into());
        }
        // Counts are exact as f64 below 2⁵³, as the ranking table keeps them.
        if a.counts.iter().any(|&c| c > 1 << 53) {
            return Err("a row count is too large".into());
        }
        Ok(a)
    }
}

/// One range's totals and sums: what the driver plans and finishes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    header: Header,
    /// The range's sums (log loss, Brier, reliability); empty histogram.
    sums: BinaryState,
    /// Distinct scores.
    groups: u64,
    /// Highest and lowest score, with rows of positive weight.
    span: Option<(f64, f64)>,
    totals: Above,
}

impl Summary {
    /// The summary of one range's merged state.
    pub fn of(file: &StateFile) -> Result<Summary> {
        let TaskState::Binary(state) = &file.state else {
            return Err(not_binary(&file.header.path, file.header.task));
        };
        let h = state.histogram();
        let (counts, weights) = h.totals();
        Ok(Summary {
            header: file.header.clone(),
            sums: state.sums_only(),
            groups: h.distinct_scores() as u64,
            span: h.score_span(),
            totals: Above { counts, weights },
        })
    }

    /// The summary's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.header.weighted as u8);
        write_header(&mut w, &self.header);
        self.sums.encode_sums(&mut w);
        w.varint(self.groups);
        if let Some((hi, lo)) = self.span {
            w.f64(hi);
            w.f64(lo);
        }
        self.totals.encode(&mut w);
        framed(SUMMARY_MAGIC, w)
    }

    /// Reads [`Summary::to_bytes`]; `name` names the rows in errors and in
    /// the result.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Summary> {
        unframe(name, "range summary", SUMMARY_MAGIC, bytes, |r| {
            let weighted = r.u8("the weighting")? == 1;
            let header = read_header(r, Path::new(name), Task::Binary, weighted)?;
            let sums = BinaryState::decode_sums(r, weighted)?;
            let groups = r.varint("the distinct scores")?;
            let span = if groups > 0 {
                let (hi, lo) = (r.f64("a score")?, r.f64("a score")?);
                if !(0.0..=1.0).contains(&lo) || !(lo..=1.0).contains(&hi) {
                    return Err("the score span is not within [0, 1]".into());
                }
                Some((hi, lo))
            } else {
                None
            };
            let totals = Above::decode(r)?;
            Ok(Summary {
                header,
                sums,
                groups,
                span,
                totals,
            })
        })
    }
}

/// What a range needs of the others to give its part of the ranking
/// table: the rows above it, the table's totals, the thresholds asked
/// about, and (second round) the AUC for DeLong's sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    weighted: bool,
    above: Above,
    positives: f64,
    negatives: f64,
    queries: Vec<f64>,
    auc: Option<f64>,
}

impl Context {
    /// The context's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.weighted as u8);
        self.above.encode(&mut w);
        w.f64(self.positives);
        w.f64(self.negatives);
        w.len(self.queries.len());
        for &q in &self.queries {
            w.f64(q);
        }
        match self.auc {
            Some(a) => {
                w.u8(1);
                w.f64(a);
            }
            None => w.u8(0),
        }
        framed(CONTEXT_MAGIC, w)
    }

    /// Reads [`Context::to_bytes`].
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Context> {
        unframe(name, "range context", CONTEXT_MAGIC, bytes, |r| {
            let weighted = r.u8("the weighting")? == 1;
            let above = Above::decode(r)?;
            let positives = r.f64("the positives")?;
            let negatives = r.f64("the negatives")?;
            if ![positives, negatives]
                .iter()
                .all(|v| (0.0..=MAX_TOTAL).contains(v))
            {
                return Err("the table's totals are negative or too large".into());
            }
            let n = r.len("the thresholds", r.remaining() / 8)?;
            let queries = (0..n)
                .map(|_| r.f64("a threshold"))
                .collect::<Read<Vec<f64>>>()?;
            let auc = match r.u8("the AUC flag")? {
                0 => None,
                _ => Some(r.f64("the AUC")?),
            };
            Ok(Context {
                weighted,
                above,
                positives,
                negatives,
                queries,
                auc,
            })
        })
    }
}

/// One range's part of the ranking table's numbers ([`partial`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    area2: Area2,
    precision: ExactSum,
    best_f1: Option<(f64, f64)>,
    /// `(query index, tp, fp)` for the thresholds whose last point at or
    /// above lies in this range.
    hits: Vec<(u64, f64, f64)>,
    /// DeLong's placement sums (second round).
    delong: Option<[ExactSum; 2]>,
}

impl Partial {
    /// The part's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match &self.area2 {
            Area2::Counts(a) => {
                w.u8(0);
                w.varint(*a as u64);
                w.varint((*a >> 64) as u64);
            }
            Area2::Weighted(a) => {
                w.u8(1);
                w.exact(a);
            }
        }
        w.exact(&self.precision);
        match self.best_f1 {
            Some((f, t)) => {
                w.u8(1);
                w.f64(f);
                w.f64(t);
            }
            None => w.u8(0),
        }
        w.len(self.hits.len());
        for &(q, tp, fp) in &self.hits {
            w.varint(q);
            w.f64(tp);
            w.f64(fp);
        }
        match &self.delong {
            Some([a, b]) => {
                w.u8(1);
                w.exact(a);
                w.exact(b);
            }
            None => w.u8(0),
        }
        framed(PARTIAL_MAGIC, w)
    }

    /// Reads [`Partial::to_bytes`].
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Partial> {
        unframe(name, "range part", PARTIAL_MAGIC, bytes, |r| {
            let area2 = match r.u8("the area kind")? {
                0 => {
                    let lo = r.varint("the area")? as u128;
                    let hi = r.varint("the area")? as u128;
                    Area2::Counts(lo | hi << 64)
                }
                _ => Area2::Weighted(r.exact("the area")?),
            };
            let precision = r.exact("the precision sum")?;
            let best_f1 = match r.u8("the best F1 flag")? {
                0 => None,
                _ => Some((r.f64("the best F1")?, r.f64("its threshold")?)),
            };
            let n = r.len("the thresholds", r.remaining() / 17)?;
            let hits = (0..n)
                .map(|_| {
                    Ok((
                        r.varint("a threshold")?,
                        r.f64("a count")?,
                        r.f64("a count")?,
                    ))
                })
                .collect::<Read<Vec<_>>>()?;
            let delong = match r.u8("the DeLong flag")? {
                0 => None,
                _ => Some([r.exact("a placement sum")?, r.exact("a placement sum")?]),
            };
            Ok(Partial {
                area2,
                precision,
                best_f1,
                hits,
                delong,
            })
        })
    }
}

/// The thresholds the finish asks the ranges about: the decision
/// threshold, then the grid's.
fn queries(options: &FullOptions) -> Result<Vec<f64>> {
    match options.thresholds {
        Thresholds::Grid(n) => {
            let mut q = vec![options.threshold];
            q.extend(linspace01(n));
            Ok(q)
        }
        Thresholds::Distinct => Err(Error::usage(
            "--thresholds distinct lists every distinct score, as many as the rows here; score ranges take a grid (--thresholds N)",
        )),
    }
}

/// Checks that the summaries are of one kind of rows, their ranges in
/// descending order without overlap; returns the totals.
fn check(summaries: &[Summary]) -> Result<Above> {
    let first = summaries
        .first()
        .ok_or_else(|| Error::usage("no range summaries: there are no rows to evaluate"))?;
    let mut total = Above::default();
    let mut low: Option<f64> = None;
    for (k, s) in summaries.iter().enumerate() {
        StateFile::compatible(&first.header, &s.header)?;
        if let Some((hi, lo)) = s.span {
            if low.is_some_and(|l| hi >= l) {
                return Err(Error::usage(format!(
                    "range {k}'s scores overlap the range before it: the ranges must come highest first, each from one set of cuts"
                )));
            }
            low = Some(lo);
        }
        total.add(s.totals.counts, &s.totals.weights);
    }
    Ok(total)
}

/// Each range's [`Context`] for the first round of [`partial`], from the
/// summaries of every range (highest scores first) and the options of the
/// full tier.
pub fn plan(summaries: &[Summary], options: &FullOptions) -> Result<Vec<Context>> {
    crate::full::check_options(options)?;
    let queries = queries(options)?;
    let total = check(summaries)?;
    let weighted = summaries[0].header.weighted;
    let t = total.start(weighted);
    let mut above = Above::default();
    Ok(summaries
        .iter()
        .map(|s| {
            let c = Context {
                weighted,
                above: above.clone(),
                positives: t.tp,
                negatives: t.fp,
                queries: queries.clone(),
                auc: None,
            };
            above.add(s.totals.counts, &s.totals.weights);
            c
        })
        .collect())
}

/// The second round's contexts (DeLong's placement sums need the AUC), or
/// `None` when DeLong's interval is undefined (weighted rows, fewer than two
/// rows of a class).
pub fn delong_contexts(contexts: &[Context], partials: &[Partial]) -> Option<Vec<Context>> {
    let first = contexts.first()?;
    let (m, n) = (first.positives, first.negatives);
    delong::defined(first.weighted, m, n).ok()?;
    let auc = crate::metrics::curves::roc_auc(area(partials).value(), m, n).ok()?;
    Some(
        contexts
            .iter()
            .map(|c| Context {
                auc: Some(auc),
                ..c.clone()
            })
            .collect(),
    )
}

fn area(partials: &[Partial]) -> Area2 {
    let mut it = partials.iter();
    let mut a = it
        .next()
        .map(|p| p.area2.clone())
        .unwrap_or(Area2::Counts(0));
    for p in it {
        a.merge(&p.area2);
    }
    a
}

/// One range's part: `file` is the range's merged state, `context` its
/// entry of [`plan`] (or of [`delong_contexts`]).
pub fn partial(file: &StateFile, context: &Context) -> Result<Partial> {
    let TaskState::Binary(state) = &file.state else {
        return Err(not_binary(&file.header.path, file.header.task));
    };
    if state.weighted() != context.weighted {
        return Err(Error::usage(
            "a range's state and its context disagree on weighting",
        ));
    }
    let h = state.histogram();
    let curve = h.curve_after(context.above.counts, &context.above.weights);
    let start = context.above.start(context.weighted);
    let (p, n) = (context.positives, context.negatives);
    let misfit = || {
        Error::usage(format!(
            "{}: the range's context does not fit its state (a sum is not finite): the context is of another plan",
            file.header.path.display()
        ))
    };
    if let Some(auc) = context.auc {
        return Ok(Partial {
            area2: Area2::Counts(0),
            precision: ExactSum::new(),
            best_f1: None,
            hits: Vec::new(),
            delong: Some(delong::placement_parts(&curve, start, p, n, auc).ok_or_else(misfit)?),
        });
    }
    let parts = curve.parts(start, p, n).ok_or_else(misfit)?;
    let mut hits = Vec::new();
    if let Some((hi, lo)) = h.score_span() {
        for (i, &q) in context.queries.iter().enumerate() {
            if lo < q && q <= hi {
                let k = curve.points_at_or_above(q) - 1;
                hits.push((i as u64, curve.tps[k], curve.fps[k]));
            }
        }
    }
    Ok(Partial {
        area2: parts.area2,
        precision: parts.precision,
        best_f1: parts.best_f1,
        hits,
        delong: None,
    })
}

/// The cumulative numbers at the last point `>= q`: from the range that
/// holds it (`hit`), else the end of the last range wholly at or above `q`.
fn counts_at(q: f64, hit: Option<(f64, f64)>, summaries: &[Summary], w: bool) -> (f64, f64) {
    if let Some(h) = hit {
        return h;
    }
    let mut above = Above::default();
    for s in summaries {
        match s.span {
            Some((_, lo)) if lo >= q => above.add(s.totals.counts, &s.totals.weights),
            Some(_) => break,
            None => {}
        }
    }
    let s = above.start(w);
    (s.tp, s.fp)
}

/// The options a finish from ranges takes: the full tier's, for `task`'s
/// metrics, without the bootstrap.
fn check_finish(options: &FullOptions, task: Task) -> Result<()> {
    crate::full::check_options(options)?;
    options.metrics.check(task)?;
    if options.intervals.replicates > 0 {
        let keeps = if task == Task::Binary {
            " (ROC-AUC keeps DeLong's interval)"
        } else {
            ""
        };
        return Err(Error::usage(format!(
            "bootstrap intervals are not built from score ranges; pass bootstrap=0{keeps}, or leave ranges unset"
        )));
    }
    Ok(())
}

/// The full tier from every range's summary and parts (highest scores
/// first; `delong` from the second round when [`delong_contexts`] gave
/// one): the header of the rows and the result, equal to
/// [`crate::full::full_state`] of one state of every row with these
/// options (`--bootstrap 0`).
pub fn finish(
    name: &str,
    summaries: &[Summary],
    partials: &[Partial],
    delong_parts: Option<&[Partial]>,
    options: &FullOptions,
) -> Result<(Header, FullResult)> {
    check_finish(options, Task::Binary)?;
    let queries = queries(options)?;
    let total = check(summaries)?;
    if partials.len() != summaries.len() || delong_parts.is_some_and(|d| d.len() != summaries.len())
    {
        return Err(Error::usage(format!(
            "{} range summaries but {} parts: give one part per range",
            summaries.len(),
            partials.len()
        )));
    }
    let mut header = summaries[0].header.clone();
    header.path = name.into();
    header.rows = summaries.iter().map(|s| s.header.rows).sum();
    header.sources = 1;
    let weighted = header.weighted;
    let mut sums = BinaryState::new(weighted);
    for s in summaries {
        sums.merge_owned(s.sums.clone());
    }
    let sums = sums.sums();
    let t = total.start(weighted);
    let (p, n) = (t.tp, t.fp);
    let mut hits: Vec<Option<(f64, f64)>> = vec![None; queries.len()];
    for part in partials {
        for &(i, tp, fp) in &part.hits {
            match hits.get_mut(i as usize) {
                Some(h) if h.is_none() => *h = Some((tp, fp)),
                _ => {
                    return Err(Error::usage(format!(
                        "threshold {i} is answered by two ranges or none asked: the parts are not of one plan"
                    )));
                }
            }
        }
    }
    let at = |i: usize| {
        let (tp, fp) = counts_at(queries[i], hits[i], summaries, weighted);
        Counts::at(tp, fp, p, n)
    };
    let mut precision = ExactSum::new();
    let mut best: Option<(f64, f64)> = None;
    for part in partials {
        precision.merge(&part.precision);
        if let Some((f, t)) = part.best_f1
            && best.is_none_or(|(b, _)| f > b)
        {
            best = Some((f, t));
        }
    }
    let groups: u64 = summaries.iter().map(|s| s.groups).sum();
    let ranked = Ranked {
        area2: area(partials).value(),
        precision_sum: precision.value(),
        positives: p,
        negatives: n,
        confusion: at(0),
        best_f1: best,
        rows: groups > 0,
    };
    let sweep = Sweep::from_points((1..queries.len()).map(|i| (queries[i], at(i))));
    let delong = delong::defined(weighted, p, n).and_then(|()| {
        let auc = crate::metrics::curves::roc_auc(ranked.area2, p, n)?;
        let parts = delong_parts
            .ok_or_else(|| "DeLong's placement sums were not given (second round)".to_string())?;
        let (mut s10, mut s01) = (ExactSum::new(), ExactSum::new());
        for part in parts {
            let d = part
                .delong
                .as_ref()
                .ok_or_else(|| "a range's part holds no DeLong sums".to_string())?;
            s10.merge(&d[0]);
            s01.merge(&d[1]);
        }
        Ok(delong::DeLong {
            auc,
            variance: delong::variance(s10.value(), s01.value(), p, n),
        })
    });
    let mut out =
        crate::full::binary::from_parts(&ranked, &sums, delong, sweep, &options.of_state());
    out.distinct_scores = groups as usize;
    crate::full::binary::proportion_intervals(&mut out, weighted, &options.intervals);
    let mut result = FullResult::Binary(Box::new(out));
    if weighted && total.counts == [0, 0] {
        result.withhold_all(crate::full::EVERY_WEIGHT_ZERO);
    }
    options.metrics.retain(Task::Binary, result.metrics_mut());
    Ok((header, result))
}

// --- Multiclass: each class's one-vs-rest table cut by score ranges --------

/// The sketches of a prediction file's scores for [`Sketch::cuts`]: one for
/// binary rows, one per class (of its one-vs-rest scores) for multiclass
/// rows.
pub fn sketches(preds: &Predictions) -> Result<Vec<Sketch>> {
    match &preds.columns {
        Columns::Binary { scores, .. } => {
            let mut s = Sketch::new();
            s.add(scores);
            Ok(vec![s])
        }
        Columns::Multiclass {
            scores, classes, ..
        } => Ok((0..*classes)
            .into_par_iter()
            .map(|c| {
                let mut s = Sketch::new();
                s.add_class(scores, *classes, c);
                s
            })
            .collect()),
        _ => Err(not_ranged(&preds.path, preds.task)),
    }
}

fn not_ranged(path: &Path, task: Task) -> Error {
    Error::usage(format!(
        "{}: score ranges are built for binary and multiclass predictions, not {task}; pass ranges=None",
        path.display()
    ))
}

/// A multiclass table's sums beside its classes' score ranges: the
/// confusion matrix, the top-k hits, the log-loss and Brier sums and the
/// reliability bins of every row — a multiclass state without its
/// one-vs-rest histograms, which the ranges hold.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSums {
    header: Header,
    state: MulticlassState,
}

impl ClassSums {
    /// Adds the sums of other rows (their state is consumed). Sums of other
    /// classes, weighting or score kinds do not merge: the error names both.
    pub fn merge(&mut self, other: ClassSums) -> Result<()> {
        StateFile::compatible(&self.header, &other.header)?;
        self.state.merge(&other.state).map_err(|m| {
            Error::bad_format(
                &other.header.path,
                format!("cannot be merged with {}: {m}", self.header.path.display()),
            )
        })?;
        self.header.rows += other.header.rows;
        self.header.sources += other.header.sources;
        if self.header.task_reason != other.header.task_reason {
            self.header.task_reason = "agreed by every input".to_string();
        }
        Ok(())
    }

    /// The sums' bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.header.weighted as u8);
        write_header(&mut w, &self.header);
        self.state.encode_sums(&mut w);
        framed(CLASS_SUMS_MAGIC, w)
    }

    /// Reads [`ClassSums::to_bytes`]; `name` names the rows in errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<ClassSums> {
        unframe(
            name,
            "multiclass range sums",
            CLASS_SUMS_MAGIC,
            bytes,
            |r| {
                let weighted = r.u8("the weighting")? == 1;
                let header = read_header(r, Path::new(name), Task::Multiclass, weighted)?;
                let state = MulticlassState::decode_sums(r, header.class_names.len(), weighted)?;
                Ok(ClassSums { header, state })
            },
        )
    }
}

/// A multiclass prediction file's rows for score ranges: their sums
/// ([`ClassSums`], every row) and, per class `c`, the one-vs-rest binary
/// state (label: the row's label is `c`; score: its probability of `c`) of
/// its rows of positive weight in each score range of `cuts[c]`
/// ([`range_of`]; `None` for a range without rows). The states of one
/// class's range merge, summarise and give parts as a binary range's do.
pub fn split_classes(
    preds: &Predictions,
    cuts: &[Vec<f64>],
) -> Result<(ClassSums, Vec<Vec<Option<StateFile>>>)> {
    let Columns::Multiclass {
        labels,
        scores,
        classes,
    } = &preds.columns
    else {
        return Err(Error::usage(format!(
            "{}: the rows are {}, not multiclass: split them with one set of cuts",
            preds.path.display(),
            preds.task
        )));
    };
    let k = *classes;
    if cuts.len() != k {
        return Err(Error::usage(format!(
            "{}: cuts for {} classes, but the rows have {k}: the cuts are of other rows",
            preds.path.display(),
            cuts.len()
        )));
    }
    let weights = preds.weights.as_ref();
    let weighted = weights.is_some();
    let (state, kept) = MulticlassState::sums_of_rows(k, labels, scores, weights);
    let header = preds.header();
    let per_class = (0..k)
        .into_par_iter()
        .map(|c| {
            let rows = MulticlassState::ovr_rows(k, c, labels, scores, &kept, weighted);
            let cut = &cuts[c];
            let name = header
                .class_names
                .get(c)
                .cloned()
                .unwrap_or_else(|| c.to_string());
            let ovr = Header {
                task: Task::Binary,
                class_names: vec![format!("not {name}"), name],
                ..header.clone()
            };
            // The rows are highest first, so range r ([`range_of`]) is the
            // run of the rows left with scores >= cut[r] (the last: the rest).
            let mut rest = &rows[..];
            (0..=cut.len())
                .map(|r| {
                    let n = cut
                        .get(r)
                        .map_or(rest.len(), |&c| rest.partition_point(|x| x.0 >= c));
                    let (run, tail) = rest.split_at(n);
                    rest = tail;
                    (!run.is_empty()).then(|| {
                        let y: Vec<u8> = run.iter().map(|r| r.1 as u8).collect();
                        let s: Vec<f64> = run.iter().map(|r| r.0).collect();
                        let w: Vec<f64> = run.iter().map(|r| r.2).collect();
                        StateFile {
                            header: Header {
                                rows: run.len() as u64,
                                ..ovr.clone()
                            },
                            state: TaskState::Binary(BinaryState::from_rows(
                                &y,
                                &s,
                                weighted.then_some(&w[..]),
                            )),
                        }
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Ok((ClassSums { header, state }, per_class))
}

/// The multiclass full tier from the rows' sums and, per class, its
/// ranges' summaries and parts (from [`plan`] and [`partial`], highest
/// scores first; a class whose rows all have weight 0 has none): the
/// header of the rows and the result, equal to [`crate::full::full_state`]
/// of one state of every row with these options (`--bootstrap 0`).
pub fn finish_multiclass(
    name: &str,
    sums: &ClassSums,
    classes: &[(Vec<Summary>, Vec<Partial>)],
    options: &FullOptions,
) -> Result<(Header, FullResult)> {
    check_finish(options, Task::Multiclass)?;
    let state = &sums.state;
    let k = state.classes();
    if classes.len() != k {
        return Err(Error::usage(format!(
            "the ranges of {} classes, but the rows have {k}: give each class's ranges",
            classes.len()
        )));
    }
    let weighted = sums.header.weighted;
    let ovr = classes
        .iter()
        .enumerate()
        .map(|(c, (summaries, partials))| -> Result<OvrParts> {
            let name = sums
                .header
                .class_names
                .get(c)
                .map_or_else(|| c.to_string(), |n| format!("{n:?}"));
            let misfit = |what: &str| {
                Error::usage(format!(
                    "class {name}'s score ranges {what}: the ranges are not of these rows"
                ))
            };
            if partials.len() != summaries.len() {
                return Err(misfit("give a part for each summary"));
            }
            if summaries.is_empty() {
                // Every row has weight 0: the empty table's numbers.
                if state.rows() != 0 {
                    return Err(misfit("are missing"));
                }
                return Ok(OvrParts {
                    area2: 0.0,
                    precision_sum: 0.0,
                    positives: 0.0,
                    negatives: 0.0,
                });
            }
            let total = check(summaries)?;
            let first = &summaries[0].header;
            if first.weighted != weighted || first.score_kind != sums.header.score_kind {
                return Err(misfit("disagree with the sums on weighting or score kind"));
            }
            if first.class_names.get(1) != sums.header.class_names.get(c) {
                return Err(misfit("are another class's"));
            }
            let weights_differ = weighted && {
                let (label, all) = state.label_weight(c);
                total.weights[0].value() != label.value() || {
                    let mut both = total.weights[0].clone();
                    both.merge(&total.weights[1]);
                    both.value() != all.value()
                }
            };
            if total.counts[0] != state.label_rows(c)
                || total.counts[0] + total.counts[1] != state.rows()
                || weights_differ
            {
                return Err(misfit("hold other rows than the sums"));
            }
            let mut precision = ExactSum::new();
            for p in partials {
                precision.merge(&p.precision);
            }
            let t = total.start(weighted);
            Ok(OvrParts {
                area2: area(partials).value(),
                precision_sum: precision.value(),
                positives: t.tp,
                negatives: t.fp,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut header = sums.header.clone();
    header.path = name.into();
    header.sources = 1;
    let mut result = FullResult::Multiclass(state.finish_with(&header.class_names, ovr));
    if weighted && state.rows() == 0 {
        result.withhold_all(crate::full::EVERY_WEIGHT_ZERO);
    }
    options
        .metrics
        .retain(Task::Multiclass, result.metrics_mut());
    Ok((header, result))
}
