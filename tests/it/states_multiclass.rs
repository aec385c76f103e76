//! The multiclass state: any split of the rows into shards, merged in any
//! tree, finishes to bit-identical metrics and tables, and those are the
//! full tier's; its encoding is canonical and a corrupt encoding is an
//! error, never a panic.

use evalkit::data::Floats;
use evalkit::full::multiclass::full;
use evalkit::metrics::multiclass::MulticlassFull;
use evalkit::state::codec::{Reader, Writer};
use evalkit::state::multiclass::MulticlassState;
use evalkit::uncertainty::IntervalOptions;

use crate::common::Rng;

/// Random multiclass rows.
struct Data {
    k: usize,
    labels: Vec<u32>,
    /// Row-major `rows × k`, as f64 (f32 data is widened from f32 values).
    scores: Vec<f64>,
    f32: bool,
    weights: Option<Vec<f64>>,
}

impl Data {
    fn rows(&self) -> usize {
        self.labels.len()
    }

    fn scores_of(&self, rows: &[usize]) -> Floats {
        let k = self.k;
        let v: Vec<f64> = rows
            .iter()
            .flat_map(|&i| self.scores[i * k..(i + 1) * k].iter().copied())
            .collect();
        if self.f32 {
            Floats::from(v.iter().map(|&x| x as f32).collect::<Vec<f32>>())
        } else {
            Floats::from(v)
        }
    }

    fn labels_of(&self, rows: &[usize]) -> Vec<u32> {
        rows.iter().map(|&i| self.labels[i]).collect()
    }

    fn weights_of(&self, rows: &[usize]) -> Option<Floats> {
        self.weights
            .as_ref()
            .map(|w| Floats::from(rows.iter().map(|&i| w[i]).collect::<Vec<f64>>()))
    }

    fn all(&self) -> Vec<usize> {
        (0..self.rows()).collect()
    }

    fn names(&self) -> Vec<String> {
        (0..self.k).map(|c| format!("c{c}")).collect()
    }
}

/// 3–6 classes, 1–300 rows (one row sometimes), probabilities from small
/// integers (many ties) or rounded, a class absent from the labels
/// sometimes, f32 scores sometimes, weights with zeros sometimes (never all
/// zero).
fn data(rng: &mut Rng) -> Data {
    let k = 3 + rng.below(4);
    let n = if rng.below(10) == 0 {
        1
    } else {
        1 + rng.below(300)
    };
    let absent = (rng.below(4) == 0).then(|| rng.below(k));
    let coarse = [2.0, 10.0, 1000.0, 0.0][rng.below(4)];
    let f32 = rng.below(4) == 0;
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n * k);
    for _ in 0..n {
        let mut y = rng.below(k);
        if Some(y) == absent {
            y = (y + 1) % k;
        }
        let mut a: Vec<f64> = (0..k)
            .map(|c| {
                let v = rng.unit() + if c == y { 0.8 * rng.unit() } else { 0.0 };
                if coarse > 0.0 {
                    (v * coarse).round()
                } else {
                    v
                }
            })
            .collect();
        if a.iter().all(|&v| v == 0.0) {
            a[rng.below(k)] = 1.0;
        }
        let total: f64 = a.iter().sum();
        labels.push(y as u32);
        scores.extend(a.iter().map(|v| {
            let p = v / total;
            if f32 { p as f32 as f64 } else { p }
        }));
    }
    let weights = (rng.below(2) == 0).then(|| {
        let zeros = [0, 5, 2][rng.below(3)];
        let mut w: Vec<f64> = (0..n)
            .map(|_| {
                if zeros > 0 && rng.below(zeros) == 0 {
                    0.0
                } else {
                    0.1 + 3.0 * rng.unit()
                }
            })
            .collect();
        if w.iter().all(|&x| x == 0.0) {
            w[rng.below(n)] = 1.5;
        }
        w
    });
    Data {
        k,
        labels,
        scores,
        f32,
        weights,
    }
}

/// The state of `rows` of `d`, folded in two batches (as a stream does).
fn state_of(rng: &mut Rng, d: &Data, rows: &[usize]) -> MulticlassState {
    let mut s = MulticlassState::new(d.k, d.weights.is_some());
    let cut = rng.below(rows.len() + 1);
    for part in [&rows[..cut], &rows[cut..]] {
        s.update(
            &d.labels_of(part),
            &d.scores_of(part),
            d.weights_of(part).as_ref(),
        );
    }
    s
}

/// Splits the rows into `shards` random parts, builds a state per part and
/// merges them in a random tree.
fn sharded(rng: &mut Rng, d: &Data, shards: usize) -> MulticlassState {
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); shards];
    for i in 0..d.rows() {
        parts[rng.below(shards)].push(i);
    }
    let mut states: Vec<MulticlassState> = parts.iter().map(|p| state_of(rng, d, p)).collect();
    while states.len() > 1 {
        let i = rng.below(states.len());
        let a = states.swap_remove(i);
        let j = rng.below(states.len());
        states[j].merge(&a).unwrap();
    }
    states.pop().unwrap()
}

/// Everything a finished state carries, as JSON (bit-exact floats).
fn as_json(f: &MulticlassFull) -> String {
    serde_json::to_string(&serde_json::json!({
        "metrics": f.metrics,
        "confusion": f.confusion,
        "per_class": f.per_class,
        "reliability": f.reliability,
        "notes": f.notes,
    }))
    .unwrap()
}

fn bytes(s: &MulticlassState) -> Vec<u8> {
    let mut w = Writer::new();
    s.encode(&mut w);
    w.into_bytes()
}

fn decode(b: &[u8], k: usize, weighted: bool) -> Result<MulticlassState, String> {
    let mut r = Reader::new(b);
    let s = MulticlassState::decode(&mut r, k, weighted)?;
    r.finish()?;
    Ok(s)
}

fn whole(d: &Data) -> MulticlassState {
    let all = d.all();
    let mut s = MulticlassState::new(d.k, d.weights.is_some());
    s.update(
        &d.labels_of(&all),
        &d.scores_of(&all),
        d.weights_of(&all).as_ref(),
    );
    s
}

#[test]
fn any_split_and_merge_tree_finishes_to_identical_results() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..120 {
        let d = data(&mut rng);
        let whole = whole(&d);
        let want = as_json(&whole.finish(&d.names()));
        let want_bytes = bytes(&whole);
        for _ in 0..3 {
            let shards = 1 + rng.below(64);
            let merged = sharded(&mut rng, &d, shards);
            assert_eq!(merged, whole, "case {case}: {shards} shards, state");
            assert_eq!(
                as_json(&merged.finish(&d.names())),
                want,
                "case {case}: {shards} shards"
            );
            assert_eq!(
                bytes(&merged),
                want_bytes,
                "case {case}: {shards} shards, bytes"
            );
        }
    }
}

#[test]
fn a_state_finishes_to_the_full_tier() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let no_intervals = IntervalOptions {
        replicates: 0,
        ..IntervalOptions::default()
    };
    let mut absent_notes = 0;
    for case in 0..120 {
        let d = data(&mut rng);
        let all = d.all();
        let want = full(
            &d.labels_of(&all),
            &d.scores_of(&all),
            d.k,
            d.weights_of(&all).as_ref(),
            &d.names(),
            &no_intervals,
            None,
            evalkit::uncertainty::bootstrap::Need::ALL,
            &|_, _| {},
        );
        let shards = 1 + rng.below(64);
        let got = sharded(&mut rng, &d, shards).finish(&d.names());
        assert_eq!(as_json(&got), as_json(&want), "case {case}");
        assert_eq!(got, want, "case {case}");
        absent_notes += want.notes.len();
        // The confusion matrix holds every row that counts.
        let total: f64 = match &d.weights {
            None => d.rows() as f64,
            Some(w) => w.iter().sum(),
        };
        let cm: f64 = got.confusion.iter().flatten().sum();
        assert!(
            (cm - total).abs() <= 1e-9 * total,
            "case {case}: {cm} vs {total}"
        );
    }
    assert!(absent_notes > 0, "no data set had an absent class");
}

/// Rows of weight 0 count nowhere: adding them changes no sum, curve or
/// weight, only the reliability bins' row counts, which classes are present
/// (as scikit-learn's averages see them) and the notes.
#[test]
fn rows_of_weight_zero_count_nowhere() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for case in 0..60 {
        let mut d = data(&mut rng);
        let n = d.rows();
        d.weights = Some((0..n).map(|_| 0.5 + rng.unit()).collect());
        let before = whole(&d).finish(&d.names());
        // Append copies of rows with weight 0, labels and scores of other
        // rows' classes present already.
        let extra = 1 + rng.below(5);
        for _ in 0..extra {
            let i = rng.below(n);
            d.labels.push(d.labels[i]);
            let row: Vec<f64> = d.scores[i * d.k..(i + 1) * d.k].to_vec();
            d.scores.extend(row);
            d.weights.as_mut().unwrap().push(0.0);
        }
        let mut after = whole(&d).finish(&d.names());
        // The reliability bins count them among their rows (as the binary
        // tier does), with no weight.
        let rows = |f: &MulticlassFull| f.reliability.iter().map(|b| b.count).sum::<u64>();
        assert_eq!(rows(&after), rows(&before) + extra as u64, "case {case}");
        for (a, b) in after.reliability.iter_mut().zip(&before.reliability) {
            assert!(a.count >= b.count, "case {case}");
            a.count = b.count;
        }
        assert_eq!(as_json(&after), as_json(&before), "case {case}");
    }
}

/// A state built from many rows at once (parallel chunks) is the state of
/// the rows folded one batch at a time.
#[test]
fn from_rows_in_parallel_chunks_is_the_sequential_state() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let k = 5;
    let n = 40_000;
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n * k);
    for _ in 0..n {
        labels.push(rng.below(k) as u32);
        let a: Vec<f64> = (0..k).map(|_| (rng.unit() * 20.0).round() + 1.0).collect();
        let t: f64 = a.iter().sum();
        scores.extend(a.iter().map(|v| v / t));
    }
    let w: Vec<f64> = (0..n)
        .map(|i| if i % 7 == 0 { 0.0 } else { rng.unit() * 2.0 })
        .collect();
    for weights in [None, Some(Floats::from(w))] {
        let scores = Floats::from(scores.clone());
        let parallel = MulticlassState::from_rows(k, &labels, &scores, weights.as_ref());
        let mut sequential = MulticlassState::new(k, weights.is_some());
        sequential.update(&labels, &scores, weights.as_ref());
        assert_eq!(parallel, sequential);
        assert_eq!(bytes(&parallel), bytes(&sequential));
    }
}

#[test]
fn encodings_round_trip() {
    let mut rng = Rng(0x0F0F_1234_ABCD_9876);
    for case in 0..100 {
        let d = data(&mut rng);
        let shards = 1 + rng.below(8);
        let s = sharded(&mut rng, &d, shards);
        let b = bytes(&s);
        let back =
            decode(&b, d.k, d.weights.is_some()).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(back, s, "case {case}");
        assert_eq!(bytes(&back), b, "case {case}");
        assert_eq!(
            as_json(&back.finish(&d.names())),
            as_json(&s.finish(&d.names())),
            "case {case}"
        );
    }
    // The state of no rows too.
    for weighted in [false, true] {
        let s = MulticlassState::new(4, weighted);
        let back = decode(&bytes(&s), 4, weighted).unwrap();
        assert_eq!(back, s);
    }
}

/// A decoded corrupt payload is an error, or a state that finishes,
/// merges and encodes without a panic.
fn survives(b: &[u8], k: usize, weighted: bool, names: &[String]) -> bool {
    match decode(b, k, weighted) {
        Err(e) => {
            assert!(!e.is_empty());
            false
        }
        Ok(s) => {
            let _ = s.finish(names);
            let mut twice = s.clone();
            let _ = twice.merge(&s);
            let again = bytes(&s);
            assert_eq!(decode(&again, k, weighted).unwrap(), s);
            true
        }
    }
}

#[test]
fn corrupt_and_truncated_encodings_are_errors_not_panics() {
    let mut rng = Rng(0xA5A5_5A5A_0123_4567);
    let mut flips = 0;
    let mut accepted = 0;
    for case in 0..40 {
        let mut d = data(&mut rng);
        // Small data, so that every cut is tried in little time.
        d.labels.truncate(12);
        d.scores.truncate(12 * d.k);
        if let Some(w) = d.weights.as_mut() {
            w.truncate(12);
            if w.iter().all(|&x| x == 0.0) {
                w[0] = 1.0;
            }
        }
        let (k, weighted, names) = (d.k, d.weights.is_some(), d.names());
        let shards = 1 + rng.below(4);
        let s = sharded(&mut rng, &d, shards);
        let b = bytes(&s);
        for cut in 0..b.len() {
            assert!(
                decode(&b[..cut], k, weighted).is_err(),
                "case {case}: cut at {cut} of {} decoded",
                b.len()
            );
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(
            decode(&longer, k, weighted).is_err(),
            "case {case}: a trailing byte"
        );
        for _ in 0..200 {
            let mut c = b.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(c.len());
                c[i] ^= 1 << rng.below(8);
            }
            flips += 1;
            accepted += survives(&c, k, weighted, &names) as usize;
        }
        // The wrong class count or weightedness.
        survives(&b, k + 1, weighted, &names);
        survives(&b, k - 1, weighted, &names);
        survives(&b, k, !weighted, &names);
    }
    assert!(accepted < flips, "every flipped encoding was accepted");
    // A class count that would need a huge allocation is refused at once.
    assert!(decode(&[0; 64], 1 << 40, false).is_err());
    assert!(decode(&[0; 64], usize::MAX, true).is_err());
    assert!(decode(&[], 0, false).is_err());
}

#[test]
fn states_of_different_shapes_do_not_merge() {
    let mut rng = Rng(0x7777_1111_2222_3333);
    let d = data(&mut rng);
    let s = whole(&d);
    let before = bytes(&s);
    let mut a = s.clone();
    let err = a
        .merge(&MulticlassState::new(d.k + 1, d.weights.is_some()))
        .unwrap_err();
    assert!(err.contains("classes"), "{err}");
    let err = a
        .merge(&MulticlassState::new(d.k, d.weights.is_none()))
        .unwrap_err();
    assert!(err.contains("weighted"), "{err}");
    assert_eq!(
        bytes(&a),
        before,
        "a refused merge leaves the state as it was"
    );
}

/// One unweighted row (label 0, scores 0.5, 0.3, 0.2) written field by
/// field, with `edit` applied to the fields first.
fn one_row_payload(edit: impl Fn(&mut Fields)) -> Vec<u8> {
    use evalkit::state::exact::ExactSum;
    let row = [0.5, 0.3, 0.2];
    let mut f = Fields {
        cells: [1, 0, 0, 0, 0, 0, 0, 0, 0],
        top: [1, 1],
        log_loss: -(0.5f64.ln()),
        // As the row pass sums it: (0.5 − 1)², then 0.3², then 0.2².
        brier: 0.25 + 0.3 * 0.3 + 0.2 * 0.2,
        bin: (7, 1, 1, 0.5),
        positive: [true, false, false],
    };
    edit(&mut f);
    let exact = |w: &mut Writer, v: f64| {
        let mut s = ExactSum::new();
        s.add(v);
        w.exact(&s);
    };
    let mut w = Writer::new();
    for c in f.cells {
        w.varint(c);
    }
    w.varint(f.top[0]);
    w.varint(f.top[1]);
    exact(&mut w, f.log_loss);
    exact(&mut w, f.brier);
    for b in 0..15 {
        let (rows, hits, p) = if b == f.bin.0 {
            (f.bin.1, f.bin.2, f.bin.3)
        } else {
            (0, 0, 0.0)
        };
        w.varint(rows);
        w.varint(hits);
        exact(&mut w, p);
    }
    for (&p, &positive) in row.iter().zip(&f.positive) {
        let mut h = evalkit::state::binary::ScoreHistogram::new(false);
        h.update(&mut [(p, positive, 1.0)]);
        h.encode(&mut w);
    }
    w.into_bytes()
}

struct Fields {
    cells: [u64; 9],
    top: [u64; 2],
    log_loss: f64,
    brier: f64,
    /// (bin, rows, hits, Σp)
    bin: (usize, u64, u64, f64),
    positive: [bool; 3],
}

/// The layout is the one the module docs give, and every invariant that
/// ties the tables together is checked on decoding.
#[test]
fn decoding_checks_that_the_tables_agree() {
    let mut s = MulticlassState::new(3, false);
    s.update(&[0], &Floats::from(vec![0.5, 0.3, 0.2]), None);
    let good = one_row_payload(|_| {});
    assert_eq!(good, bytes(&s), "the field-by-field encoding");
    assert_eq!(decode(&good, 3, false).unwrap(), s);

    type Edit = fn(&mut Fields);
    let bad: [(&str, Edit); 9] = [
        ("a row moved to another cell", |f| {
            f.cells[0] = 0;
            f.cells[4] = 1;
        }),
        ("a second row in the confusion matrix only", |f| {
            f.cells[1] = 1
        }),
        ("no top-3 hit with 3 classes", |f| f.top[0] = 0),
        ("more top-3 than top-5 hits", |f| f.top = [1, 0]),
        ("the bin misses the correct prediction", |f| f.bin.2 = 0),
        ("the bin holds two rows", |f| f.bin.1 = 2),
        ("Σp above the bin's rows", |f| f.bin.3 = 1.5),
        ("a negative log loss", |f| f.log_loss = -1.0),
        ("class 1's histogram calls the row positive", |f| {
            f.positive[1] = true
        }),
    ];
    for (what, edit) in bad {
        let b = one_row_payload(edit);
        assert!(decode(&b, 3, false).is_err(), "{what}: decoded");
    }
    // No rows, but a log-loss sum.
    let mut w = Writer::new();
    MulticlassState::new(3, false).encode(&mut w);
    let mut empty = w.into_bytes();
    let at = 11; // 9 cells and 2 top-k tallies, then the log-loss sum
    assert_eq!(empty[at], 0);
    empty.splice(at..=at, [1u8].into_iter().chain(0.25f64.to_le_bytes()));
    assert!(decode(&empty, 3, false).is_err(), "a log loss without rows");
}
