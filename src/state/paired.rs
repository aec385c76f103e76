//! The mergeable state of a paired comparison (`evalkit.ray.compare`,
//! `evalkit.spark.compare`, `evalkit.PairedState`): two models' scores on
//! the same rows, reduced where the rows live and merged like any states
//! (docs/state-format.md, "Paired states").
//!
//! A paired state holds each model's ordinary state — the two state files
//! a run over each score column would give — and, for a binary task, the
//! **joint histogram**: every distinct (candidate score, baseline score)
//! pair with its positive and negative counts. Each model's full tier
//! finishes from its own state, bit for bit as on the rows; what pairs the
//! two (DeLong's paired test, the paired bootstrap) reads the joint
//! histogram, which keeps which candidate score went with which baseline
//! score on a row, and nothing else about the rows.
//!
//! Counts are of unweighted rows, or of whole-number weights taken as
//! frequencies (a row of weight k counts k times, as the bootstrap from a
//! state takes them); with other weights there is no joint histogram, and
//! what needs it says so.

use std::io::Read as _;
use std::path::Path;

use super::codec::{Reader, Writer};
use super::file::{StateFile, TaskState};
use super::inputs::from_predictions;
use crate::data::{Columns, Floats, Predictions};
use crate::error::{Error, Result};

/// The first bytes of a paired state.
pub const MAGIC: &[u8; 8] = b"EVPAIR\0\0";
/// The paired format version this evalkit writes and reads.
pub const VERSION: u16 = 1;

/// Whole-number weights at or above this are not counts (2⁵³).
const COUNT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Two models' states on the same rows, and the binary joint histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedState {
    /// The candidate's state.
    pub candidate: StateFile,
    /// The baseline's state (the same rows).
    pub baseline: StateFile,
    /// The joint histogram (binary), or why there is none.
    pub joint: std::result::Result<Joint, NoJoint>,
}

/// Why a paired state has no joint histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoJoint {
    /// The task is not binary (its comparison needs none).
    NotBinary,
    /// A row's weight is not a whole number below 2⁵³ (or a score's
    /// weights sum past it), so rows have no counts to draw.
    Weights,
}

impl NoJoint {
    fn code(self) -> u8 {
        match self {
            NoJoint::NotBinary => 0,
            NoJoint::Weights => 2,
        }
    }

    /// Why, in words, for the notes of what needed it.
    pub fn reason(self) -> &'static str {
        match self {
            NoJoint::NotBinary => "the task is not binary",
            NoJoint::Weights => {
                "a weight is not a whole number below 2⁵³ (nor are the weights' sums per score), so the rows have no counts to pair"
            }
        }
    }
}

/// Every distinct (candidate score, baseline score) pair of a binary
/// comparison's rows with its positive and negative counts, in canonical
/// order (candidate score descending, then baseline score descending), so
/// merging is one linear pass and the bytes are the order as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Joint {
    groups: Vec<JointGroup>,
}

/// One pair of the joint histogram: the two scores and the counts of
/// positives and negatives.
pub type JointGroup = (f64, f64, u64, u64);

/// -0.0 and 0.0 are one score (as in the score histogram).
#[inline]
fn key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

/// The canonical order: candidate score descending, then baseline score.
#[inline]
fn order(x: &JointGroup, y: &JointGroup) -> std::cmp::Ordering {
    y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1))
}

impl Joint {
    /// The joint histogram of rows (labels 0/1; rows of weight 0 left
    /// out), or `NoJoint::Weights` when a weight is not a whole number.
    pub fn of_rows(
        labels: &[u8],
        a: &Floats,
        b: &Floats,
        weights: Option<&Floats>,
    ) -> std::result::Result<Joint, NoJoint> {
        let mut rows: Vec<JointGroup> = Vec::with_capacity(labels.len());
        for (i, &y) in labels.iter().enumerate() {
            let count = match weights {
                None => 1,
                Some(w) => {
                    let w = w.get(i);
                    if w == 0.0 {
                        continue;
                    }
                    if w.fract() != 0.0 || !(0.0..COUNT_LIMIT).contains(&w) {
                        return Err(NoJoint::Weights);
                    }
                    w as u64
                }
            };
            let (sa, sb) = (f64::from_bits(key(a.get(i))), f64::from_bits(key(b.get(i))));
            rows.push(if y == 1 {
                (sa, sb, count, 0)
            } else {
                (sa, sb, 0, count)
            });
        }
        rows.sort_unstable_by(order);
        let mut joint = Joint { groups: Vec::new() };
        joint.extend(rows).map_err(|_| NoJoint::Weights)?;
        Ok(joint)
    }

    /// Appends groups in canonical order, adding the counts of a pair
    /// equal to the last one.
    fn extend(
        &mut self,
        sorted: impl IntoIterator<Item = JointGroup>,
    ) -> std::result::Result<(), String> {
        for g in sorted {
            match self.groups.last_mut() {
                Some(last) if last.0 == g.0 && last.1 == g.1 => {
                    let add = |x: u64, y: u64| x.checked_add(y).ok_or("the joint counts pass 2⁶⁴");
                    last.2 = add(last.2, g.2)?;
                    last.3 = add(last.3, g.3)?;
                }
                _ => self.groups.push(g),
            }
        }
        Ok(())
    }

    /// Adds another joint histogram (counts past 2⁶⁴ are an error): one
    /// linear merge of the two orders.
    pub fn merge(&mut self, other: &Joint) -> std::result::Result<(), String> {
        let (mut x, mut y) = (
            self.groups.iter().peekable(),
            other.groups.iter().peekable(),
        );
        let mut merged = Vec::with_capacity(x.len() + y.len());
        loop {
            let next = match (x.peek(), y.peek()) {
                (Some(g), Some(h)) if order(g, h).is_le() => x.next(),
                (_, Some(_)) => y.next(),
                (Some(_), None) => x.next(),
                (None, None) => break,
            };
            merged.extend(next.copied());
        }
        // All or nothing: this histogram changes only when the sums fit.
        let mut out = Joint {
            groups: Vec::with_capacity(merged.len()),
        };
        out.extend(merged)?;
        *self = out;
        Ok(())
    }

    /// Distinct pairs.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The pairs in canonical order: candidate score descending, then
    /// baseline score descending.
    pub fn groups(&self) -> &[JointGroup] {
        &self.groups
    }

    fn encode(&self, w: &mut Writer) {
        w.len(self.groups.len());
        for &(a, b, p, n) in &self.groups {
            w.f64(a);
            w.f64(b);
            w.varint(p);
            w.varint(n);
        }
    }

    fn decode(r: &mut Reader) -> std::result::Result<Joint, String> {
        // Each pair takes at least 18 bytes.
        let len = r.len("the joint histogram", r.remaining() / 18)?;
        let mut groups: Vec<JointGroup> = Vec::with_capacity(len);
        for _ in 0..len {
            let a = r.f64("a joint score")?;
            let b = r.f64("a joint score")?;
            let (p, n) = (r.varint("a joint count")?, r.varint("a joint count")?);
            if !a.is_finite() || !b.is_finite() || a.to_bits() != key(a) || b.to_bits() != key(b) {
                return Err(format!(
                    "the joint histogram holds the score pair ({a}, {b}), which is not a finite, canonical score"
                ));
            }
            let g = (a, b, p, n);
            if groups.last().is_some_and(|last| order(last, &g).is_ge()) {
                return Err("the joint histogram's pairs are not in descending order".into());
            }
            if p.checked_add(n).is_none_or(|t| t == 0) {
                return Err(format!(
                    "the joint histogram's pair ({a}, {b}) counts {p} positives and {n} negatives"
                ));
            }
            groups.push(g);
        }
        Ok(Joint { groups })
    }
}

impl PairedState {
    /// The paired state of two models' predictions on the same rows, in
    /// the same order (the labels must agree row by row; the candidate's
    /// weights are the rows' weights).
    pub fn from_predictions(candidate: &Predictions, baseline: &Predictions) -> Result<Self> {
        if candidate.rows() != baseline.rows() {
            return Err(Error::usage(format!(
                "the candidate has {} rows and the baseline {}: a paired state needs both models' scores on the same rows",
                candidate.rows(),
                baseline.rows()
            )));
        }
        let joint = match (&candidate.columns, &baseline.columns) {
            (
                Columns::Binary { labels, scores: a },
                Columns::Binary {
                    labels: lb,
                    scores: b,
                },
            ) => {
                if let Some(row) = labels.iter().zip(lb.iter()).position(|(x, y)| x != y) {
                    return Err(Error::usage(format!(
                        "row {row}: the candidate's label is {} and the baseline's {}: a paired state needs the same rows",
                        labels[row], lb[row]
                    )));
                }
                Joint::of_rows(labels, a, b, candidate.weights.as_ref())
            }
            _ => Err(NoJoint::NotBinary),
        };
        Ok(PairedState {
            candidate: from_predictions(candidate)?,
            baseline: from_predictions(baseline)?,
            joint,
        })
    }

    /// Merges `other` (the same task, classes, weighting and score kinds)
    /// into this one.
    pub fn merge(&mut self, other: PairedState) -> Result<()> {
        let PairedState {
            candidate,
            baseline,
            joint,
        } = other;
        // Everything that can refuse is checked before anything changes.
        StateFile::compatible(&self.candidate.header, &candidate.header)?;
        StateFile::compatible(&self.baseline.header, &baseline.header)?;
        let joint = match (&self.joint, joint) {
            (Ok(a), Ok(b)) => {
                let mut a = a.clone();
                a.merge(&b)
                    .map_err(|m| Error::bad_format(&self.candidate.header.path, m))?;
                Ok(a)
            }
            (Err(NoJoint::NotBinary), _) | (_, Err(NoJoint::NotBinary)) => Err(NoJoint::NotBinary),
            _ => Err(NoJoint::Weights),
        };
        self.candidate.merge(candidate)?;
        self.baseline.merge(baseline)?;
        self.joint = joint;
        Ok(())
    }

    /// The paired state's bytes: magic, version, then each model's state
    /// file and the joint histogram (one zstd frame).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for side in [&self.candidate, &self.baseline] {
            // The side's name (a file, a column), then its state file.
            let name = side.header.path.to_string_lossy();
            out.extend_from_slice(&(name.len() as u64).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            let b = side.to_bytes()?;
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(&b);
        }
        match &self.joint {
            Err(why) => out.push(why.code()),
            Ok(joint) => {
                out.push(1);
                let mut w = Writer::new();
                joint.encode(&mut w);
                let payload = w.into_bytes();
                out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
                let compressed = zstd::bulk::compress(&payload, 3)
                    .map_err(|e| Error::Usage(format!("cannot compress a joint histogram: {e}")))?;
                out.extend_from_slice(&compressed);
            }
        }
        Ok(out)
    }

    /// Reads a paired state's bytes; `path` names them in errors. The joint
    /// histogram is checked against both models' states (its counts per
    /// candidate score are the candidate's, per baseline score the
    /// baseline's), so a joint histogram from other rows is an error, not a
    /// wrong test.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<PairedState> {
        let bad = |m: String| Error::bad_format(path, m);
        if bytes.len() < 10 || &bytes[..8] != MAGIC {
            return Err(bad(
                "is not an evalkit paired state (no EVPAIR magic)".into()
            ));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(bad(format!(
                "is a paired state of format version {version}; this evalkit reads version {VERSION}"
            )));
        }
        let mut rest = &bytes[10..];
        let mut side = |what: &str| -> Result<StateFile> {
            let cut = || bad(format!("is cut short in the {what}'s state"));
            let mut take = || -> Result<&[u8]> {
                let len = rest.get(..8).ok_or_else(cut)?;
                let len = u64::from_le_bytes(len.try_into().unwrap_or([0; 8]));
                let len = usize::try_from(len).ok().filter(|&l| l <= rest.len() - 8);
                let len = len.ok_or_else(cut)?;
                let (bytes, after) = rest[8..].split_at(len);
                rest = after;
                Ok(bytes)
            };
            let name = String::from_utf8(take()?.to_vec())
                .map_err(|_| bad(format!("names its {what} in bytes that are not UTF-8")))?;
            let named = format!("{} ({what} '{name}')", path.display());
            let mut file = StateFile::from_bytes(Path::new(&named), take()?)?;
            file.header.path = name.into();
            Ok(file)
        };
        let candidate = side("candidate")?;
        let baseline = side("baseline")?;
        let (&flag, rest) = rest
            .split_first()
            .ok_or_else(|| bad("is cut short before its joint histogram".into()))?;
        let joint = match flag {
            0 | 2 if !rest.is_empty() => {
                return Err(bad(format!("has {} bytes after its end", rest.len())));
            }
            0 => Err(NoJoint::NotBinary),
            2 => Err(NoJoint::Weights),
            1 => {
                let len = rest
                    .get(..8)
                    .map(|l| u64::from_le_bytes(l.try_into().unwrap_or([0; 8])))
                    .ok_or_else(|| bad("is cut short in its joint histogram".into()))?;
                // Streamed, at most one byte past the stated length: a
                // corrupt length cannot make it allocate what is not there.
                let mut payload = Vec::new();
                zstd::stream::read::Decoder::new(&rest[8..])
                    .and_then(|d| d.take(len.saturating_add(1)).read_to_end(&mut payload))
                    .map_err(|e| bad(format!("its joint histogram does not decompress: {e}")))?;
                if payload.len() as u64 != len {
                    return Err(bad("its joint histogram has the wrong length".into()));
                }
                let mut r = Reader::new(&payload);
                let joint = Joint::decode(&mut r).map_err(&bad)?;
                r.finish().map_err(&bad)?;
                Ok(joint)
            }
            f => {
                return Err(bad(format!(
                    "names joint histogram kind {f}, which this evalkit does not know"
                )));
            }
        };
        let state = PairedState {
            candidate,
            baseline,
            joint,
        };
        state.same_rows().map_err(bad)?;
        Ok(state)
    }

    /// The two models' states describe the same rows (task, weighting,
    /// row count) and the joint histogram is there when it should be.
    fn same_rows(&self) -> std::result::Result<(), String> {
        let (c, b) = (&self.candidate.header, &self.baseline.header);
        if c.task != b.task || c.weighted != b.weighted || c.rows != b.rows {
            return Err(format!(
                "holds a candidate of {} {} rows and a baseline of {} {} rows: not the same rows",
                c.rows, c.task, b.rows, b.task
            ));
        }
        if c.class_names != b.class_names {
            return Err(format!(
                "holds a candidate of classes [{}] and a baseline of classes [{}]: not the same rows",
                c.class_names.join(", "),
                b.class_names.join(", ")
            ));
        }
        match (&self.candidate.state, &self.joint) {
            (TaskState::Binary(_), Ok(_)) => Ok(()),
            (TaskState::Binary(_), Err(NoJoint::Weights)) if c.weighted => Ok(()),
            (TaskState::Binary(_), _) => Err("a binary paired state has no joint histogram".into()),
            (_, Err(NoJoint::NotBinary)) => Ok(()),
            _ => Err(format!("holds a joint histogram for a {} task", c.task)),
        }
    }

    /// Checks the paired state whole, as its finish needs it: the same
    /// rows, and a joint histogram whose counts summed by candidate score
    /// are the candidate's histogram and summed by baseline score the
    /// baseline's — so a joint histogram of other rows is an error, never
    /// a test. Returns, with a joint histogram, each pair's group in the
    /// candidate's and in the baseline's histogram (their distinct scores,
    /// descending: the ranking tables' points).
    pub fn check(&self) -> std::result::Result<Option<PairGroups>, String> {
        self.same_rows()?;
        let (TaskState::Binary(sc), TaskState::Binary(sb)) =
            (&self.candidate.state, &self.baseline.state)
        else {
            return Ok(None);
        };
        let Ok(joint) = &self.joint else {
            return Ok(None);
        };
        let groups = joint.groups();
        // The pairs by baseline score (stable: ties keep the pairs' order).
        let mut by_b: Vec<(f64, u32)> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.1, i as u32))
            .collect();
        by_b.sort_by(|x, y| y.0.total_cmp(&x.0));
        let a_order: Vec<u32> = (0..groups.len() as u32).collect();
        let b_order: Vec<u32> = by_b.into_iter().map(|(_, i)| i).collect();
        let mut out: PairGroups = [vec![0; groups.len()], vec![0; groups.len()]];
        for (side, (what, state, order, pick)) in [
            (
                "candidate",
                sc,
                &a_order,
                (|g: &JointGroup| g.0) as fn(&JointGroup) -> f64,
            ),
            ("baseline", sb, &b_order, |g: &JointGroup| g.1),
        ]
        .into_iter()
        .enumerate()
        {
            // The joint counts summed per score, walking the pairs in that
            // side's score order; each pair's group is the sum it joins.
            let mut marginal: Vec<(f64, u64, u64)> = Vec::new();
            for &i in order.iter() {
                let g = &groups[i as usize];
                let score = pick(g);
                match marginal.last_mut() {
                    Some(last) if last.0 == score => {
                        last.1 = last.1.saturating_add(g.2);
                        last.2 = last.2.saturating_add(g.3);
                    }
                    _ => marginal.push((score, g.2, g.3)),
                }
                out[side][i as usize] = (marginal.len() - 1) as u32;
            }
            let Some(frequencies) = state.histogram().frequency_groups() else {
                // Weights whose sums per score pass 2⁵³ are not counts: no
                // pairing, as for fractional weights (what needs it says
                // why).
                if state.weighted() {
                    return Ok(None);
                }
                return Err(format!("holds a {what} state without counts"));
            };
            if frequencies[..] != marginal[..] {
                return Err(format!(
                    "holds a joint histogram whose counts by {what} score are not the {what}'s: the two do not describe the same rows"
                ));
            }
        }
        Ok(Some(out))
    }
}

/// Each pair of a joint histogram: its group in the candidate's histogram
/// (`[0]`) and in the baseline's (`[1]`).
pub type PairGroups = [Vec<u32>; 2];

#[cfg(test)]
mod tests {
    use super::*;

    fn preds(labels: &[u8], scores: &[f64], weights: Option<&[f64]>) -> Predictions {
        use arrow::array::{Float64Array, Int64Array};
        use std::sync::Arc;
        let y: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        Predictions::from_arrays(
            "t",
            Arc::new(Int64Array::from(y)),
            vec![Arc::new(Float64Array::from(scores.to_vec()))],
            weights.map(|w| Arc::new(Float64Array::from(w.to_vec())) as _),
            Some(crate::data::Task::Binary),
            None,
        )
        .unwrap()
    }

    #[test]
    fn joint_counts_pairs_and_merges_in_any_split() {
        let y = [1u8, 0, 1, 0, 1, 1];
        let a = [0.9, 0.9, 0.2, -0.0, 0.9, 0.0];
        let b = [0.5, 0.5, 0.5, 0.1, 0.4, 0.1];
        let whole =
            PairedState::from_predictions(&preds(&y, &a, None), &preds(&y, &b, None)).unwrap();
        let j = whole.joint.as_ref().unwrap();
        assert_eq!(
            j.groups().to_vec(),
            vec![
                (0.9, 0.5, 1, 1),
                (0.9, 0.4, 1, 0),
                (0.2, 0.5, 1, 0),
                (0.0, 0.1, 1, 1)
            ]
        );
        let mut left = PairedState::from_predictions(
            &preds(&y[..2], &a[..2], None),
            &preds(&y[..2], &b[..2], None),
        )
        .unwrap();
        let right = PairedState::from_predictions(
            &preds(&y[2..], &a[2..], None),
            &preds(&y[2..], &b[2..], None),
        )
        .unwrap();
        left.merge(right).unwrap();
        let bytes = left.to_bytes().unwrap();
        assert_eq!(bytes, whole.to_bytes().unwrap());
        assert_eq!(
            PairedState::from_bytes(Path::new("p"), &bytes).unwrap(),
            whole
        );
    }

    #[test]
    fn weights_count_when_whole_and_refuse_otherwise() {
        let y = [1u8, 0, 1];
        let (a, b) = ([0.9, 0.1, 0.9], [0.3, 0.2, 0.3]);
        let p = PairedState::from_predictions(
            &preds(&y, &a, Some(&[2.0, 0.0, 3.0])),
            &preds(&y, &b, Some(&[2.0, 0.0, 3.0])),
        )
        .unwrap();
        assert_eq!(p.joint.as_ref().unwrap().groups(), &[(0.9, 0.3, 5, 0)]);
        let q = PairedState::from_predictions(
            &preds(&y, &a, Some(&[0.5, 1.0, 3.0])),
            &preds(&y, &b, Some(&[0.5, 1.0, 3.0])),
        )
        .unwrap();
        assert_eq!(q.joint, Err(NoJoint::Weights));
        let mut bytes = q.to_bytes().unwrap();
        assert_eq!(PairedState::from_bytes(Path::new("q"), &bytes).unwrap(), q);
        // Nothing may follow the end (equal states, equal bytes).
        bytes.push(0);
        assert!(PairedState::from_bytes(Path::new("q"), &bytes).is_err());
    }

    #[test]
    fn labels_must_agree_and_corrupt_bytes_are_errors() {
        let e = PairedState::from_predictions(
            &preds(&[1, 0], &[0.1, 0.2], None),
            &preds(&[1, 1], &[0.1, 0.2], None),
        )
        .unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
        let p = PairedState::from_predictions(
            &preds(&[1, 0, 1], &[0.1, 0.2, 0.3], None),
            &preds(&[1, 0, 1], &[0.3, 0.2, 0.3], None),
        )
        .unwrap();
        let bytes = p.to_bytes().unwrap();
        for cut in 0..bytes.len() {
            assert!(PairedState::from_bytes(Path::new("p"), &bytes[..cut]).is_err());
        }
        let mut seen_ok = 0;
        for i in 0..bytes.len() {
            for bit in [1u8, 0x40, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                if let Ok(q) = PairedState::from_bytes(Path::new("p"), &b) {
                    // What reads is checked whole before a finish uses it.
                    let _ = q.check();
                    seen_ok += 1;
                }
            }
        }
        assert!(seen_ok < bytes.len(), "most corruptions are caught");
        // A joint histogram from other rows: refused by the marginal check.
        let mut other = p.clone();
        other.joint = Ok(Joint::of_rows(
            &[1, 0, 1],
            &Floats::from(vec![0.1, 0.2, 0.3]),
            &Floats::from(vec![0.2, 0.2, 0.3]),
            None,
        )
        .unwrap());
        let read = PairedState::from_bytes(Path::new("p"), &other.to_bytes().unwrap()).unwrap();
        let e = read.check().unwrap_err();
        assert!(e.contains("baseline score"), "{e}");
    }
}
