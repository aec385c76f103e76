//! The replicate path equals the point path: a replicate whose weights are
//! all 1 is the data itself, so finishing it — the lane passes' sums handed
//! to the metrics' formulas — must give the point values, for every metric
//! of every task.
//!
//! Count-based metrics must agree bit for bit: their sums are integers (or
//! multiples of 1/4 below 2⁵⁰, with the dyadic file weights used here), so
//! the lanes' `f64` sums and the point path's exact sums are the same
//! numbers, and one formula finishes both. Metrics from sums of float terms
//! (log loss, Brier, ECE, average precision, MSE, RMSE, MAE, R²) agree
//! within 1e-12 relative (absolute below 1): the point path sums exactly
//! (`ExactSum`, rounded once) and the lanes sum in `f64` in row order (and
//! R²'s denominator comes from centred lane sums rather than an exact
//! expansion; average precision sums `ΔTP·P` rather than `ΔR·P`), so the
//! last bits may differ. A value undefined in the point path must be NaN
//! in every replicate, and the other way round.

use super::bootstrap::{BootstrapOptions, METRICS, Ranking, Replicates, replicates};
use super::lanes::{LANES, Resample};
use super::tasks::regression_replicates;
use super::tasks::{REGRESSION_METRICS, multiclass_metric_names, multiclass_replicates};
use crate::data::Floats;
use crate::metrics::MetricSet;
use crate::rng::Stream;
use crate::state::binary::BinaryState;
use crate::state::multiclass::MulticlassState;
use crate::state::regression::RegressionState;

/// One full batch and a partial one, so both kinds of batch are checked.
const REPLICATES: usize = LANES + 3;

fn ones() -> BootstrapOptions<'static> {
    BootstrapOptions {
        replicates: REPLICATES,
        resample: Resample::Ones,
        seed: 0,
        threshold: 0.5,
        grid: 11,
        jackknife: false,
        need: super::bootstrap::Need::ALL,
        clusters: None,
        strata: None,
    }
}

/// Every replicate of every metric of `reps` against the point value:
/// bit for bit for the names in `exact`, within 1e-12 otherwise.
fn check(case: &str, point: &MetricSet, reps: &Replicates, exact: &[&str]) {
    assert!(!reps.names.is_empty());
    for (m, name) in reps.names.iter().enumerate() {
        let want = point
            .get(name)
            .unwrap_or_else(|| panic!("{case}: no point metric {name}"))
            .value;
        assert_eq!(reps.values[m].len(), REPLICATES, "{case} {name}");
        for (r, &got) in reps.values[m].iter().enumerate() {
            let at = format!("{case}, {name}, replicate {r}: replicate {got:e}, point {want:?}");
            match want {
                None => assert!(got.is_nan(), "{at}"),
                Some(w) if exact.contains(name) => assert_eq!(got.to_bits(), w.to_bits(), "{at}"),
                Some(w) => assert!((got - w).abs() <= 1e-12 * w.abs().max(1.0), "{at}"),
            }
        }
    }
}

/// Labels with `positives` share of 1s, scores on a grid of `levels`
/// values in [0, 1] (ties), optional dyadic weights with some zeros.
fn binary_data(
    seed: u64,
    n: usize,
    positives: f64,
    levels: u64,
    weighted: bool,
) -> (Vec<u8>, Vec<f64>, Option<Vec<f64>>) {
    let mut rng = Stream::new(seed, 1);
    let mut u = move || crate::rng::unit(rng.next_u64());
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for _ in 0..n {
        let y = (u() < positives) as u8;
        let s = (0.15 + 0.5 * u() + 0.35 * y as f64).min(1.0);
        labels.push(y);
        scores.push((s * levels as f64).round() / levels as f64);
        // Multiples of 1/4 in [0, 4], a ninth of them 0.
        weights.push((u() * 17.0).floor() / 4.0 * (u() > 0.11) as u8 as f64);
    }
    (labels, scores, weighted.then_some(weights))
}

/// The binary lane pass with weights 1 against the point metrics of the
/// state of the same rows.
fn check_binary(case: &str, labels: &[u8], scores: &[f64], weights: Option<&[f64]>) {
    let point = BinaryState::from_rows(labels, scores, weights).finish(0.5);
    let w = weights.map(|w| Floats::from(w.to_vec()));
    let scores = Floats::from(scores.to_vec());
    let rk = Ranking::build(labels, &scores, w.as_ref());
    let reps = replicates(&rk, &scores, &ones(), &|_, _| {});
    assert_eq!(reps.names, METRICS);
    check(
        case,
        &point,
        &reps,
        &[
            "roc_auc",
            "accuracy",
            "precision",
            "recall",
            "specificity",
            "f1",
            "mcc",
            "best_f1",
            "best_f1_threshold",
        ],
    );
}

#[test]
fn a_binary_replicate_of_weights_one_gives_the_point_metrics() {
    // The best F1 (2/3) tied at 0.9 and at 0.7: the highest score is best.
    let (labels, scores) = ([1, 0, 0, 1], [0.9, 0.8, 0.8, 0.7]);
    check_binary("binary tied best F1", &labels, &scores, None);
    check_binary(
        "binary tied best F1, weighted",
        &labels,
        &scores,
        Some(&[0.5; 4]),
    );
    // Ties, one class only (either), nothing predicted positive at 0.5,
    // one row, many distinct scores; unweighted and weighted.
    let cases: [(&str, u64, usize, f64, u64); 7] = [
        ("ties", 1, 2000, 0.4, 20),
        ("distinct scores", 2, 1500, 0.3, 1 << 20),
        ("rare positives", 3, 800, 0.01, 50),
        ("no positives", 4, 300, 0.0, 10),
        ("no negatives", 5, 300, 1.0, 10),
        ("one row", 6, 1, 0.5, 10),
        ("scores below the threshold", 7, 400, 0.5, 10),
    ];
    for (name, seed, n, positives, levels) in cases {
        for weighted in [false, true] {
            let (labels, mut scores, weights) = binary_data(seed, n, positives, levels, weighted);
            if name == "scores below the threshold" {
                scores.iter_mut().for_each(|s| *s *= 0.45);
            }
            if weights
                .as_ref()
                .is_some_and(|w| w.iter().all(|&w| w == 0.0))
            {
                continue;
            }
            let case = format!("binary {name}, weighted {weighted}");
            check_binary(&case, &labels, &scores, weights.as_deref());
        }
    }
}

/// `n` rows of `k` classes: labels drawn from the first `used` classes,
/// probability rows (stored as f32 when `f32s`) with ties, the label's
/// class favoured; optional dyadic weights with some zeros.
fn multiclass_data(
    seed: u64,
    n: usize,
    k: usize,
    used: usize,
    f32s: bool,
    weighted: bool,
) -> (Vec<u32>, Floats, Option<Floats>) {
    let mut rng = Stream::new(seed, 2);
    let mut u = move || crate::rng::unit(rng.next_u64());
    let labels: Vec<u32> = (0..n)
        .map(|_| ((u() * used as f64) as usize).min(used - 1) as u32)
        .collect();
    let mut scores = Vec::with_capacity(n * k);
    for &y in &labels {
        // Scores on a grid of eighths (ties), normalised.
        let raw: Vec<f64> = (0..k)
            .map(|c| ((u() * 8.0).floor() + if c as u32 == y { 4.0 } else { 1.0 }) / 8.0)
            .collect();
        let sum: f64 = raw.iter().sum();
        scores.extend(raw.iter().map(|x| x / sum));
    }
    let scores = if f32s {
        Floats::from(scores.iter().map(|&x| x as f32).collect::<Vec<f32>>())
    } else {
        Floats::from(scores)
    };
    let weights: Vec<f64> = (0..n)
        .map(|_| (u() * 13.0).floor() / 4.0 * (u() > 0.1) as u8 as f64)
        .collect();
    (labels, scores, weighted.then(|| Floats::from(weights)))
}

#[test]
fn a_multiclass_replicate_of_weights_one_gives_the_point_metrics() {
    // (k, classes used as labels): every class, a class never a label, one
    // label only; k up to 6 for the top-3 and top-5 accuracies.
    let cases = [(3, 3), (4, 4), (6, 6), (5, 3), (4, 1)];
    for (i, (k, used)) in cases.into_iter().enumerate() {
        for weighted in [false, true] {
            let f32s = i % 2 == 1;
            let n = 900 + 100 * i;
            let (labels, scores, weights) =
                multiclass_data(10 + i as u64, n, k, used, f32s, weighted);
            let case = format!("multiclass k={k} labels from {used} classes, weighted {weighted}");
            let names: Vec<String> = (0..k).map(|c| c.to_string()).collect();
            let point = MulticlassState::from_rows(k, &labels, &scores, weights.as_ref())
                .finish(&names)
                .metrics;
            let reps =
                multiclass_replicates(&labels, &scores, k, weights.as_ref(), &ones(), &|_, _| {});
            assert_eq!(reps.names, multiclass_metric_names(k));
            check(
                &case,
                &point,
                &reps,
                &[
                    "accuracy",
                    "top_3_accuracy",
                    "top_5_accuracy",
                    "macro_precision",
                    "macro_recall",
                    "macro_f1",
                    "micro_precision",
                    "micro_recall",
                    "micro_f1",
                    "weighted_precision",
                    "weighted_recall",
                    "weighted_f1",
                    "macro_roc_auc",
                    "weighted_roc_auc",
                ],
            );
        }
    }
}

#[test]
fn a_regression_replicate_of_weights_one_gives_the_point_metrics() {
    // Labels around 1e3 (R² from centred sums), constant labels (R²
    // undefined), one row; unweighted and weighted.
    for (name, seed, n) in [
        ("noisy", 20u64, 3000usize),
        ("constant", 21, 500),
        ("one row", 22, 1),
    ] {
        for weighted in [false, true] {
            let mut rng = Stream::new(seed, 3);
            let mut u = move || crate::rng::unit(rng.next_u64());
            let labels: Vec<f64> = (0..n)
                .map(|_| {
                    if name == "constant" {
                        7.5
                    } else {
                        1e3 + 10.0 * u()
                    }
                })
                .collect();
            let preds: Vec<f64> = labels.iter().map(|y| y + 4.0 * (u() - 0.5)).collect();
            let weights: Vec<f64> = (0..n)
                .map(|i| (u() * 13.0).floor() / 4.0 * (i == 0 || u() > 0.1) as u8 as f64)
                .collect();
            let weights = weighted.then(|| Floats::from(weights));
            if weights
                .as_ref()
                .is_some_and(|w| (0..n).all(|i| w.get(i) == 0.0))
            {
                continue;
            }
            let (labels, preds) = (Floats::from(labels), Floats::from(preds));
            let case = format!("regression {name}, weighted {weighted}");
            let mut state = RegressionState::new(weighted);
            state.update(&labels, &preds, weights.as_ref());
            let point = state.finish().metrics;
            let reps =
                regression_replicates(&labels, &preds, weights.as_ref(), &ones(), &|_, _| {});
            assert_eq!(reps.names, REGRESSION_METRICS);
            check(&case, &point, &reps, &["max_error"]);
        }
    }
}
