//! Property tests against naive references: O(n²) pairwise AUC with ties
//! counted ½, the confusion matrix recounted at each threshold, average
//! precision from its definition, and the loss terms row by row.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use evalkit::data::{Columns, Floats, Predictions};
use evalkit::full::{FullOptions, FullResult, full};
use evalkit::metrics::calibration::bin_of;
use evalkit::metrics::curves::BinaryCurve;
use proptest::prelude::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

/// Rows as (label, score, weight); scores on a coarse grid so ties are common.
fn rows() -> impl Strategy<Value = Vec<(u8, f64, f64)>> {
    proptest::collection::vec((0u8..2, 0u32..=20, 0u32..4), 1..120).prop_map(|v| {
        v.into_iter()
            .map(|(y, s, w)| (y, s as f64 / 20.0, w as f64 * 0.5))
            .collect()
    })
}

fn naive_auc(rows: &[(u8, f64, f64)]) -> Option<f64> {
    let (mut num, mut wp, mut wn) = (0.0, 0.0, 0.0);
    for &(y, _, w) in rows {
        if y == 1 { wp += w } else { wn += w }
    }
    if wp == 0.0 || wn == 0.0 {
        return None;
    }
    for &(yi, si, wi) in rows.iter().filter(|r| r.0 == 1) {
        for &(_, sj, wj) in rows.iter().filter(|r| r.0 == 0) {
            let _ = yi;
            num += wi
                * wj
                * if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
        }
    }
    Some(num / (wp * wn))
}

/// (tp, fp) recounted for "score >= t".
fn naive_counts(rows: &[(u8, f64, f64)], t: f64) -> (f64, f64) {
    rows.iter()
        .filter(|r| r.1 >= t)
        .fold(
            (0.0, 0.0),
            |(tp, fp), &(y, _, w)| {
                if y == 1 { (tp + w, fp) } else { (tp, fp + w) }
            },
        )
}

fn distinct_desc(rows: &[(u8, f64, f64)]) -> Vec<f64> {
    let mut s: Vec<f64> = rows.iter().map(|r| r.1).collect();
    s.sort_by(|a, b| b.partial_cmp(a).unwrap());
    s.dedup();
    s
}

fn naive_ap(rows: &[(u8, f64, f64)]) -> Option<f64> {
    let p: f64 = rows.iter().filter(|r| r.0 == 1).map(|r| r.2).sum();
    if p == 0.0 {
        return None;
    }
    let mut ap = 0.0;
    let mut r0 = 0.0;
    for t in distinct_desc(rows) {
        let (tp, fp) = naive_counts(rows, t);
        if tp + fp == 0.0 {
            continue;
        }
        let r = tp / p;
        ap += (r - r0) * tp / (tp + fp);
        r0 = r;
    }
    Some(ap)
}

fn curve(rows: &[(u8, f64, f64)], weighted: bool) -> BinaryCurve {
    let labels: Vec<u8> = rows.iter().map(|r| r.0).collect();
    let scores = Floats::from(rows.iter().map(|r| r.1).collect::<Vec<f64>>());
    let weights = Floats::from(rows.iter().map(|r| r.2).collect::<Vec<f64>>());
    BinaryCurve::build(&labels, &scores, weighted.then_some(&weights))
}

fn unweighted(rows: &[(u8, f64, f64)]) -> Vec<(u8, f64, f64)> {
    rows.iter().map(|&(y, s, _)| (y, s, 1.0)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn roc_auc_equals_pairwise_count(rows in rows()) {
        let u = unweighted(&rows);
        let got = curve(&rows, false).roc_auc().ok();
        let want = naive_auc(&u);
        prop_assert_eq!(got.is_some(), want.is_some());
        if let (Some(g), Some(w)) = (got, want) { prop_assert!(close(g, w), "{} vs {}", g, w); }
        // Weighted (zero weights included).
        let got = curve(&rows, true).roc_auc().ok();
        let want = naive_auc(&rows);
        prop_assert_eq!(got.is_some(), want.is_some());
        if let (Some(g), Some(w)) = (got, want) { prop_assert!(close(g, w), "{} vs {}", g, w); }
    }

    #[test]
    fn counts_equal_a_recount_at_every_threshold(rows in rows(), extra in 0u32..=21) {
        for weighted in [false, true] {
            let data = if weighted { rows.clone() } else { unweighted(&rows) };
            let c = curve(&rows, weighted);
            let mut thresholds = distinct_desc(&data);
            thresholds.push(extra as f64 / 20.0 + 0.01);
            thresholds.push(-0.0);
            for t in thresholds {
                let (tp, fp) = naive_counts(&data, t);
                let got = c.counts_at(t);
                prop_assert!(close(got.tp, tp) && close(got.fp, fp), "t={} got {:?} want {} {}", t, got, tp, fp);
                let p: f64 = data.iter().filter(|r| r.0 == 1).map(|r| r.2).sum();
                let n: f64 = data.iter().filter(|r| r.0 == 0).map(|r| r.2).sum();
                prop_assert!(close(got.fn_, p - tp) && close(got.tn, n - fp));
            }
        }
    }

    #[test]
    fn average_precision_equals_its_definition(rows in rows()) {
        for weighted in [false, true] {
            let data = if weighted { rows.clone() } else { unweighted(&rows) };
            let got = curve(&rows, weighted).average_precision().ok();
            let want = naive_ap(&data);
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) { prop_assert!(close(g, w), "{} vs {}", g, w); }
        }
    }

    #[test]
    fn best_f1_is_the_maximum_at_the_highest_threshold(rows in rows()) {
        let data = unweighted(&rows);
        let c = curve(&rows, false);
        let p = data.iter().filter(|r| r.0 == 1).count() as f64;
        match c.best_f1() {
            Err(_) => prop_assert_eq!(p, 0.0),
            Ok((best, at)) => {
                let mut want: Option<(f64, f64)> = None;
                for t in distinct_desc(&data) {
                    let (tp, fp) = naive_counts(&data, t);
                    let f1 = 2.0 * tp / (2.0 * tp + fp + (p - tp));
                    if want.is_none_or(|(b, _)| f1 > b) { want = Some((f1, t)); }
                }
                let (wb, wt) = want.unwrap();
                prop_assert!(close(best, wb));
                prop_assert_eq!(at, wt);
            }
        }
    }

    #[test]
    fn row_metrics_equal_row_by_row_sums(rows in rows()) {
        let labels: ArrayRef = Arc::new(Int64Array::from(rows.iter().map(|r| r.0 as i64).collect::<Vec<_>>()));
        let scores: ArrayRef = Arc::new(Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>()));
        let weights: ArrayRef = Arc::new(Float64Array::from(rows.iter().map(|r| r.2 + 0.25).collect::<Vec<_>>()));
        let preds = Predictions::from_arrays("prop", labels, vec![scores], Some(weights), None, None).unwrap();
        let is_binary = matches!(preds.columns, Columns::Binary { .. });
        prop_assert!(is_binary);
        let FullResult::Binary(b) = full(&preds, &FullOptions::default()).unwrap() else { unreachable!() };
        let (mut sw, mut ll, mut br) = (0.0, 0.0, 0.0);
        let mut bins = [(0.0f64, 0.0f64, 0.0f64); 15];
        for &(y, s, w) in &rows {
            let w = w + 0.25;
            let p = s.clamp(1e-15, 1.0 - 1e-15);
            sw += w;
            ll += w * if y == 1 { -p.ln() } else { -(1.0 - p).ln() };
            br += w * (y as f64 - s).powi(2);
            let k = (1..15).filter(|&e| (e as f64 / 15.0) < s).count();
            prop_assert_eq!(bin_of(s), k);
            bins[k].0 += w;
            bins[k].1 += w * s;
            bins[k].2 += w * y as f64;
        }
        let ece: f64 = bins.iter().filter(|b| b.0 > 0.0).map(|b| b.0 / sw * (b.2 / b.0 - b.1 / b.0).abs()).sum();
        prop_assert!(close(b.metrics.value("log_loss").unwrap(), ll / sw));
        prop_assert!(close(b.metrics.value("brier").unwrap(), br / sw));
        prop_assert!(close(b.metrics.value("ece").unwrap(), ece));
    }
}

/// Multiclass rows: (label, probabilities, weight) with k = 4 classes and
/// probabilities on a coarse grid (ties in the top-k ranking are common).
fn multiclass_rows() -> impl Strategy<Value = Vec<(u32, [f64; 4], f64)>> {
    proptest::collection::vec(
        (0u32..4, proptest::array::uniform4(0u32..4), 1u32..4),
        2..80,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(y, c, w)| {
                let total: u32 = c.iter().sum::<u32>() + 1;
                // +1 on class 0 so the row never sums to 0.
                let p = [
                    (c[0] + 1) as f64 / total as f64,
                    c[1] as f64 / total as f64,
                    c[2] as f64 / total as f64,
                    c[3] as f64 / total as f64,
                ];
                (y, p, w as f64)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn multiclass_metrics_equal_naive_loops(rows in multiclass_rows()) {
        use arrow::array::{FixedSizeListArray, Float64Array};
        use arrow::datatypes::{DataType, Field};
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.1).collect();
        let field = Arc::new(Field::new("item", DataType::Float64, false));
        let scores: ArrayRef = Arc::new(FixedSizeListArray::new(field, 4, Arc::new(Float64Array::from(flat)), None));
        let labels: ArrayRef = Arc::new(Int64Array::from(rows.iter().map(|r| r.0 as i64).collect::<Vec<_>>()));
        let weights: ArrayRef = Arc::new(Float64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>()));
        let preds = Predictions::from_arrays("prop", labels, vec![scores], Some(weights), None, None).unwrap();
        let FullResult::Multiclass(m) = full(&preds, &FullOptions::default()).unwrap() else { unreachable!() };

        let sw: f64 = rows.iter().map(|r| r.2).sum();
        let argmax = |p: &[f64; 4]| (0..4).fold(0, |b, c| if p[c] > p[b] { c } else { b });
        let acc: f64 = rows.iter().filter(|r| argmax(&r.1) == r.0 as usize).map(|r| r.2).sum::<f64>() / sw;
        // top-3: fewer than 3 classes rank ahead (higher score, or equal with a higher index).
        let top3: f64 = rows.iter().filter(|r| {
            let y = r.0 as usize;
            (0..4).filter(|&c| r.1[c] > r.1[y] || (r.1[c] == r.1[y] && c > y)).count() < 3
        }).map(|r| r.2).sum::<f64>() / sw;
        let ll: f64 = rows.iter().map(|r| r.2 * -r.1[r.0 as usize].clamp(1e-15, 1.0 - 1e-15).ln()).sum::<f64>() / sw;
        let brier: f64 = rows.iter().map(|r| r.2 * (0..4).map(|c| (r.1[c] - if c == r.0 as usize { 1.0 } else { 0.0 }).powi(2)).sum::<f64>()).sum::<f64>() / sw;
        prop_assert!(close(m.metrics.value("accuracy").unwrap(), acc));
        prop_assert!(close(m.metrics.value("top_3_accuracy").unwrap(), top3));
        prop_assert!(close(m.metrics.value("log_loss").unwrap(), ll));
        prop_assert!(close(m.metrics.value("brier").unwrap(), brier));

        // Macro F1 over the classes seen as labels or predictions.
        let seen: Vec<usize> = (0..4).filter(|&c| rows.iter().any(|r| r.0 as usize == c || argmax(&r.1) == c)).collect();
        let f1s: Vec<f64> = seen.iter().map(|&c| {
            let tp: f64 = rows.iter().filter(|r| r.0 as usize == c && argmax(&r.1) == c).map(|r| r.2).sum();
            let fp: f64 = rows.iter().filter(|r| r.0 as usize != c && argmax(&r.1) == c).map(|r| r.2).sum();
            let fneg: f64 = rows.iter().filter(|r| r.0 as usize == c && argmax(&r.1) != c).map(|r| r.2).sum();
            if 2.0 * tp + fp + fneg > 0.0 { 2.0 * tp / (2.0 * tp + fp + fneg) } else { 0.0 }
        }).collect();
        prop_assert!(close(m.metrics.value("macro_f1").unwrap(), f1s.iter().sum::<f64>() / f1s.len() as f64));

        // One-vs-rest AUC of each class against the pairwise count.
        for c in 0..4 {
            let bin: Vec<(u8, f64, f64)> = rows.iter().map(|r| ((r.0 as usize == c) as u8, r.1[c], r.2)).collect();
            let want = naive_auc(&bin);
            let got = m.per_class[c].roc_auc;
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) { prop_assert!(close(g, w), "class {}: {} vs {}", c, g, w); }
        }
    }

    #[test]
    fn regression_metrics_equal_naive_loops(rows in proptest::collection::vec((-50i32..50, -50i32..50, 0u32..3), 2..60)) {
        let y: Vec<f64> = rows.iter().map(|r| r.0 as f64 / 4.0).collect();
        let p: Vec<f64> = rows.iter().map(|r| r.1 as f64 / 4.0).collect();
        let w: Vec<f64> = rows.iter().map(|r| r.2 as f64 + 0.5).collect();
        let labels: ArrayRef = Arc::new(Float64Array::from(y.clone()));
        let scores: ArrayRef = Arc::new(Float64Array::from(p.clone()));
        let weights: ArrayRef = Arc::new(Float64Array::from(w.clone()));
        let preds = Predictions::from_arrays("prop", labels, vec![scores], Some(weights), None, None).unwrap();
        let FullResult::Regression(g) = full(&preds, &FullOptions::default()).unwrap() else { unreachable!() };
        let sw: f64 = w.iter().sum();
        let mse: f64 = (0..y.len()).map(|i| w[i] * (y[i] - p[i]).powi(2)).sum::<f64>() / sw;
        let mae: f64 = (0..y.len()).map(|i| w[i] * (y[i] - p[i]).abs()).sum::<f64>() / sw;
        let mean: f64 = (0..y.len()).map(|i| w[i] * y[i]).sum::<f64>() / sw;
        let tot: f64 = (0..y.len()).map(|i| w[i] * (y[i] - mean).powi(2)).sum();
        let max = (0..y.len()).map(|i| (y[i] - p[i]).abs()).fold(0.0, f64::max);
        prop_assert!(close(g.metrics.value("mse").unwrap(), mse));
        prop_assert!(close(g.metrics.value("mae").unwrap(), mae));
        prop_assert!(close(g.metrics.value("max_error").unwrap(), max));
        match g.metrics.value("r2") {
            Some(r2) => prop_assert!((r2 - (1.0 - mse * sw / tot)).abs() < 1e-9 * (1.0 + r2.abs())),
            None => prop_assert_eq!(tot, 0.0),
        }
    }
}
