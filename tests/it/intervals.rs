//! Bootstrap and DeLong intervals: equal to straightforward references,
//! independent of threads, and honest in coverage.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use evalkit::data::{Columns, Floats, Predictions};
use evalkit::full::binary::{BinaryOptions, full};
use evalkit::metrics::curves::BinaryCurve;
use evalkit::rng::{Stream, unit};
use evalkit::uncertainty::bootstrap::{
    METRICS, multinomial_counts, multinomial_counts_weighted, poisson_weight, stratified_counts,
};
use evalkit::uncertainty::delong::delong;
use evalkit::uncertainty::intervals::{normal_quantile, percentile};
use evalkit::uncertainty::{CiMethod, IntervalOptions, Resample};
use proptest::prelude::*;

fn no_intervals() -> BinaryOptions<'static> {
    BinaryOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..BinaryOptions::default()
    }
}

/// DeLong's variance by its definition: structural components over all
/// m·n pairs (ties ½), sample variances with m−1 and n−1.
fn naive_delong(labels: &[u8], scores: &[f64]) -> (f64, f64) {
    let pos: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|p| *p.0 == 1)
        .map(|p| *p.1)
        .collect();
    let neg: Vec<f64> = labels
        .iter()
        .zip(scores)
        .filter(|p| *p.0 == 0)
        .map(|p| *p.1)
        .collect();
    let psi = |x: f64, y: f64| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let v10: Vec<f64> = pos
        .iter()
        .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / n)
        .collect();
    let v01: Vec<f64> = neg
        .iter()
        .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / m)
        .collect();
    let auc = v10.iter().sum::<f64>() / m;
    let s10 = v10.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (m - 1.0);
    let s01 = v01.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (n - 1.0);
    (auc, s10 / m + s01 / n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn delong_variance_equals_structural_components(
        rows in proptest::collection::vec((0u8..2, 0u32..=12), 4..150)
    ) {
        let labels: Vec<u8> = rows.iter().map(|r| r.0).collect();
        let scores: Vec<f64> = rows.iter().map(|r| r.1 as f64 / 12.0).collect();
        let m = labels.iter().filter(|&&y| y == 1).count();
        let curve = BinaryCurve::build(&labels, &Floats::from(scores.clone()), None);
        match delong(&curve) {
            Err(_) => prop_assert!(m < 2 || labels.len() - m < 2),
            Ok(d) => {
                let (auc, var) = naive_delong(&labels, &scores);
                prop_assert!((d.auc - auc).abs() < 1e-12);
                prop_assert!((d.variance - var).abs() <= 1e-12 * var.max(1e-300) + 1e-15, "{} vs {}", d.variance, var);
            }
        }
    }
}

/// A small data set: 50% positives, scores on a coarse grid (ties).
fn small_data(n: usize, seed: u64) -> (Vec<u8>, Vec<f64>, Vec<f64>) {
    let mut rng = Stream::new(seed, 99);
    let labels: Vec<u8> = (0..n).map(|_| (rng.next_u64() & 1) as u8).collect();
    let scores: Vec<f64> = labels
        .iter()
        .map(|&y| ((0.3 + 0.3 * y as f64 + 0.4 * unit(rng.next_u64())) * 20.0).round() / 20.0)
        .collect();
    let weights: Vec<f64> = (0..n).map(|_| 0.5 + unit(rng.next_u64())).collect();
    (labels, scores, weights)
}

fn reference_intervals(
    labels: &[u8],
    scores: &[f64],
    file_w: Option<&[f64]>,
    resample: Resample,
    b: usize,
    seed: u64,
) -> Vec<[f64; 2]> {
    crate::common::binary_reference_intervals(labels, scores, file_w, b, |r| match resample {
        Resample::Poisson => (0..labels.len() as u32)
            .map(|i| poisson_weight(seed, r, i) as f64)
            .collect(),
        Resample::Multinomial => match file_w {
            // Draws among the rows of positive weight only.
            Some(fw) => multinomial_counts_weighted(seed, r, fw),
            None => multinomial_counts(seed, r, labels.len()),
        }
        .into_iter()
        .map(|c| c as f64)
        .collect(),
        Resample::Stratified => {
            let classes: Vec<u32> = labels.iter().map(|&y| y as u32).collect();
            stratified_counts(seed, r, &classes, file_w)
                .into_iter()
                .map(|c| c as f64)
                .collect()
        }
    })
}

/// The seeded percentile interval equals the straightforward reference:
/// draw each replicate's weights, recompute every metric with the
/// point-metric code, take the percentiles.
#[test]
fn percentile_intervals_equal_a_resample_and_recompute_reference() {
    for (resample, weighted, zeros) in [
        (Resample::Poisson, false, false),
        (Resample::Poisson, true, false),
        (Resample::Multinomial, false, false),
        (Resample::Multinomial, true, false),
        // Rows of weight 0 are never drawn (this once panicked).
        (Resample::Multinomial, true, true),
        (Resample::Poisson, true, true),
        (Resample::Stratified, false, false),
        (Resample::Stratified, true, true),
    ] {
        let (labels, scores, mut fw) = small_data(120, 5);
        if zeros {
            for w in fw.iter_mut().step_by(4) {
                *w = 0.0;
            }
        }
        let file_w = weighted.then_some(fw.as_slice());
        let b = 200;
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates: b,
                seed: 17,
                resample,
                ..IntervalOptions::default()
            },
            ..BinaryOptions::default()
        };
        let weights = file_w.map(|w| Floats::from(w.to_vec()));
        let got = full(
            &labels,
            &Floats::from(scores.clone()),
            weights.as_ref(),
            &options,
            &|_, _| {},
        );
        let want = reference_intervals(&labels, &scores, file_w, resample, b, 17);
        for (k, name) in METRICS.iter().enumerate() {
            let m = got.metrics.get(name).unwrap();
            let ci = m.ci.unwrap_or_else(|| panic!("{name}: no interval"));
            assert_eq!(m.method, "bootstrap-percentile");
            for j in 0..2 {
                let (g, w) = (ci[j], want[k][j]);
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{resample:?} weighted={weighted} zeros={zeros} {name}[{j}]: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_intervals_other_seed_other_intervals() {
    let (labels, scores, _) = small_data(300, 1);
    let run = |seed| {
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates: 64,
                seed,
                ..IntervalOptions::default()
            },
            ..BinaryOptions::default()
        };
        full(
            &labels,
            &Floats::from(scores.clone()),
            None,
            &options,
            &|_, _| {},
        )
        .metrics
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn bca_intervals_are_shifted_percentile_intervals() {
    let (labels, scores, _) = small_data(400, 3);
    let run = |method| {
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates: 400,
                method,
                ..IntervalOptions::default()
            },
            ..BinaryOptions::default()
        };
        full(
            &labels,
            &Floats::from(scores.clone()),
            None,
            &options,
            &|_, _| {},
        )
        .metrics
    };
    let (p, b) = (run(CiMethod::Percentile), run(CiMethod::Bca));
    for name in METRICS {
        let (mp, mb) = (p.get(name).unwrap(), b.get(name).unwrap());
        let (cp, cb) = (mp.ci.unwrap(), mb.ci.unwrap());
        assert_eq!(mb.method, "bootstrap-bca", "{name}");
        // Same replicates, moved quantiles: close but (in general) not equal.
        let width = cp[1] - cp[0];
        assert!(
            (cp[0] - cb[0]).abs() <= width && (cp[1] - cb[1]).abs() <= width,
            "{name}: {cp:?} vs {cb:?}"
        );
    }
}

/// Binormal data with a known AUC: negatives ~ N(0, 1), positives ~ N(d, 1),
/// AUC = Φ(d/√2); scores squashed into (0, 1) by a logistic (order kept).
fn binormal(m: usize, n: usize, d: f64, seed: u64) -> (Vec<u8>, Vec<f64>) {
    let mut rng = Stream::new(seed, 7);
    let mut normal = move || {
        let (u1, u2) = (unit(rng.next_u64()).max(1e-300), unit(rng.next_u64()));
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut labels = Vec::with_capacity(m + n);
    let mut scores = Vec::with_capacity(m + n);
    for i in 0..m + n {
        let y = (i < m) as u8;
        let x = normal() + if y == 1 { d } else { 0.0 };
        labels.push(y);
        scores.push(1.0 / (1.0 + (-x).exp()));
    }
    (labels, scores)
}

/// Coverage of the 95% bootstrap (percentile) and DeLong intervals of ROC-AUC
/// over `datasets` simulated data sets.
fn coverage(datasets: u64, rows: usize, replicates: usize, resample: Resample) -> (f64, f64) {
    let d = 1.0;
    let truth = 1.0 - evalkit::uncertainty::delong::normal_sf(d / 2f64.sqrt());
    let (mut boot, mut dl) = (0, 0);
    for s in 0..datasets {
        let (labels, scores) = binormal(rows / 2, rows / 2, d, s);
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates,
                seed: s,
                resample,
                ..IntervalOptions::default()
            },
            ..BinaryOptions::default()
        };
        let r = full(&labels, &Floats::from(scores), None, &options, &|_, _| {});
        let [lo, hi] = r.metrics.get("roc_auc").unwrap().ci.unwrap();
        boot += (lo <= truth && truth <= hi) as u32;
        let [lo, hi] = r.delong.unwrap().ci;
        dl += (lo <= truth && truth <= hi) as u32;
    }
    (boot as f64 / datasets as f64, dl as f64 / datasets as f64)
}

/// Short coverage check for `make test`: 100 data sets (the binomial
/// standard error of a 95% rate is then 2.2 points).
#[test]
fn coverage_short() {
    let (boot, dl) = coverage(100, 400, 300, Resample::Poisson);
    assert!((0.88..=1.0).contains(&boot), "bootstrap coverage {boot}");
    assert!((0.88..=1.0).contains(&dl), "DeLong coverage {dl}");
    let (strat, _) = coverage(100, 400, 300, Resample::Stratified);
    assert!((0.88..=1.0).contains(&strat), "stratified coverage {strat}");
}

/// The full coverage check (`make test-slow`): 400 data sets, B = 1000; both
/// intervals must cover the true AUC in 93–97% of them.
#[test]
#[ignore = "slow: run with `make test-slow`"]
fn coverage_full() {
    let (boot, dl) = coverage(400, 400, 1000, Resample::Poisson);
    let (strat, _) = coverage(400, 400, 1000, Resample::Stratified);
    println!(
        "coverage over 400 binormal data sets (n = 400, AUC = 0.760): bootstrap {boot:.4}, stratified bootstrap {strat:.4}, DeLong {dl:.4}"
    );
    assert!((0.93..=0.97).contains(&boot), "bootstrap coverage {boot}");
    assert!(
        (0.93..=0.97).contains(&strat),
        "stratified coverage {strat}"
    );
    assert!((0.93..=0.97).contains(&dl), "DeLong coverage {dl}");
}

#[test]
fn delong_interval_is_reported_without_the_bootstrap() {
    let (labels, scores) = binormal(200, 300, 1.0, 1);
    let r = full(
        &labels,
        &Floats::from(scores),
        None,
        &no_intervals(),
        &|_, _| {},
    );
    let auc = r.metrics.get("roc_auc").unwrap();
    assert_eq!(auc.method, "delong");
    let d = r.delong.unwrap();
    assert_eq!(auc.ci, Some(d.ci));
    let z = normal_quantile(0.975);
    assert!((d.ci[1] - d.ci[0] - 2.0 * z * d.std_error).abs() < 1e-12);
    // Weighted rows: no DeLong interval, and it says why.
    let labels_a: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 0, 1]));
    let scores_a: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.9, 0.4, 0.3]));
    let w: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 1.0, 1.0]));
    let preds =
        Predictions::from_arrays("w", labels_a, vec![scores_a], Some(w), None, None).unwrap();
    let Columns::Binary { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let r = full(
        labels,
        scores,
        preds.weights.as_ref(),
        &no_intervals(),
        &|_, _| {},
    );
    assert!(r.delong.unwrap_err().contains("unweighted"));
}

/// Multiclass and regression intervals equal the resample-and-recompute
/// reference too (the point code run with each replicate's weights).
#[test]
fn multiclass_and_regression_intervals_equal_the_reference() {
    use evalkit::full::multiclass;
    use evalkit::full::regression;
    use evalkit::uncertainty::tasks::{REGRESSION_METRICS, multiclass_metric_names};
    let b = 80;
    let iv = IntervalOptions {
        replicates: b,
        seed: 5,
        ..IntervalOptions::default()
    };
    let off = IntervalOptions {
        replicates: 0,
        ..IntervalOptions::default()
    };
    let poisson = |rows: usize| {
        move |r: usize| {
            (0..rows as u32)
                .map(|i| poisson_weight(5, r, i) as f64)
                .collect::<Vec<f64>>()
        }
    };
    let reference = |point: &dyn Fn(&Floats) -> evalkit::metrics::MetricSet,
                     names: &[&str],
                     counts: &dyn Fn(usize) -> Vec<f64>| {
        let mut per = vec![Vec::new(); names.len()];
        for r in 0..b {
            let w = Floats::from(counts(r));
            let m = point(&w);
            for (k, n) in names.iter().enumerate() {
                if let Some(v) = m.value(n) {
                    per[k].push(v);
                }
            }
        }
        per.into_iter()
            .map(|mut v| {
                v.sort_by(f64::total_cmp);
                percentile(&v, 0.95)
            })
            .collect::<Vec<_>>()
    };
    let check = |got: &evalkit::metrics::MetricSet, want: &[[f64; 2]], names: &[&str]| {
        for (k, n) in names.iter().enumerate() {
            let ci = got
                .get(n)
                .unwrap()
                .ci
                .unwrap_or_else(|| panic!("{n}: no interval"));
            for j in 0..2 {
                assert!(
                    (ci[j] - want[k][j]).abs() <= 1e-12 * want[k][j].abs().max(1.0),
                    "{n}[{j}]: {} vs {}",
                    ci[j],
                    want[k][j]
                );
            }
        }
    };

    // Multiclass: 300 rows, 6 classes with ties.
    let preds = evalkit::data::read_predictions(
        &crate::common::fixture("multiclass_ties.arrow"),
        &Default::default(),
    )
    .unwrap();
    let Columns::Multiclass {
        labels,
        scores,
        classes,
    } = &preds.columns
    else {
        unreachable!()
    };
    let names = multiclass_metric_names(*classes);
    let run_full = |w: Option<&Floats>, iv: &IntervalOptions| {
        multiclass::full(
            labels,
            scores,
            *classes,
            w,
            &preds.class_names,
            iv,
            None,
            evalkit::uncertainty::bootstrap::Need::ALL,
            &|_, _| {},
        )
    };
    let run = |w: Option<&Floats>, iv: &IntervalOptions| run_full(w, iv).metrics;
    let got = run(None, &iv);
    let want = reference(&|w| run(Some(w), &off), &names, &poisson(labels.len()));
    check(&got, &want, &names);
    // Each class's F1 interval: the percentile interval of the class's F1
    // on each replicate's weighted rows.
    let got = run_full(None, &iv).per_class;
    let counts = poisson(labels.len());
    let per_replicate: Vec<Vec<evalkit::metrics::multiclass::ClassRow>> = (0..b)
        .map(|r| run_full(Some(&Floats::from(counts(r))), &off).per_class)
        .collect();
    for (c, row) in got.iter().enumerate() {
        let mut v: Vec<f64> = per_replicate.iter().filter_map(|p| p[c].f1).collect();
        assert_eq!(v.len(), b, "class {c}: F1 defined in every replicate");
        v.sort_by(f64::total_cmp);
        let want = percentile(&v, 0.95);
        let ci = row
            .f1_ci
            .unwrap_or_else(|| panic!("class {c}: no F1 interval"));
        for j in 0..2 {
            assert!(
                (ci[j] - want[j]).abs() <= 1e-12,
                "class {c} F1[{j}]: {} vs {}",
                ci[j],
                want[j]
            );
        }
    }

    // Each class's one-vs-rest ROC-AUC and average precision interval: the
    // percentile interval of the class's value on each replicate's weighted
    // rows (the sorted one-vs-rest pass against the unsorted point path).
    type Pick = fn(&evalkit::metrics::multiclass::ClassRow) -> (Option<f64>, Option<[f64; 2]>);
    let picks: [(&str, Pick); 2] = [
        ("roc_auc", |r| (r.roc_auc, r.roc_auc_ci)),
        ("average_precision", |r| {
            (r.average_precision, r.average_precision_ci)
        }),
    ];
    for (c, row) in got.iter().enumerate() {
        for (name, pick) in picks {
            let mut v: Vec<f64> = per_replicate.iter().filter_map(|p| pick(&p[c]).0).collect();
            assert_eq!(v.len(), b, "class {c}: {name} defined in every replicate");
            v.sort_by(f64::total_cmp);
            let want = percentile(&v, 0.95);
            let ci = pick(row)
                .1
                .unwrap_or_else(|| panic!("class {c}: no {name} interval"));
            for j in 0..2 {
                assert!(
                    (ci[j] - want[j]).abs() <= 1e-12,
                    "class {c} {name}[{j}]: {} vs {}",
                    ci[j],
                    want[j]
                );
            }
        }
    }

    // Stratified replicates keep each class's count, in the row pass and
    // in every one-vs-rest pass.
    let strat = IntervalOptions {
        resample: Resample::Stratified,
        ..iv
    };
    let got = run(None, &strat);
    let want = reference(&|w| run(Some(w), &off), &names, &|r| {
        let c = stratified_counts(5, r, labels, None);
        let mut per_class = vec![0u32; *classes];
        for (&y, &n) in labels.iter().zip(&c) {
            per_class[y as usize] += n;
        }
        let mut truth = vec![0u32; *classes];
        for &y in labels.iter() {
            truth[y as usize] += 1;
        }
        assert_eq!(per_class, truth, "replicate {r} keeps the class counts");
        c.into_iter().map(|n| n as f64).collect()
    });
    check(&got, &want, &names);

    // Regression.
    let preds = evalkit::data::read_predictions(
        &crate::common::fixture("regression.arrow"),
        &Default::default(),
    )
    .unwrap();
    let Columns::Regression { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let got = regression::full(labels, scores, None, &iv, None, &|_, _| {}).metrics;
    let want = reference(
        &|w| regression::full(labels, scores, Some(w), &off, None, &|_, _| {}).metrics,
        &REGRESSION_METRICS,
        &poisson(labels.len()),
    );
    check(&got, &want, &REGRESSION_METRICS);
}

/// One golden `proportion_confint` case: `k` of `n` at `level`,
/// statsmodels' ends, and the exact ends where statsmodels misses (see
/// fixtures/generate_statsmodels.py).
struct Confint {
    k: f64,
    n: f64,
    level: f64,
    statsmodels: [f64; 2],
    exact: Option<[f64; 2]>,
}

/// The golden cases of one `proportion_confint` method.
fn confint_cases(method: &str) -> Vec<Confint> {
    let doc = crate::common::expected("proportion_confint");
    let f = |c: &serde_json::Value, key: &str| c[key].as_f64().unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == method)
        .map(|c| Confint {
            k: f(c, "k"),
            n: f(c, "n"),
            level: f(c, "level"),
            statsmodels: [f(c, "lo"), f(c, "hi")],
            exact: c["exact"]
                .as_array()
                .map(|e| [e[0].as_f64().unwrap(), e[1].as_f64().unwrap()]),
        })
        .collect()
}

/// Wilson's score interval equals statsmodels' `proportion_confint(method=
/// "wilson")` (golden file from fixtures/generate_statsmodels.py), n from 1
/// to 10⁶, k = 0 and k = n included.
#[test]
fn wilson_equals_statsmodels() {
    let cases = confint_cases("wilson");
    assert!(cases.len() > 300);
    for Confint {
        k,
        n,
        level,
        statsmodels,
        ..
    } in cases
    {
        let got =
            evalkit::uncertainty::intervals::wilson(k / n, n, normal_quantile(0.5 + level / 2.0));
        for (g, w) in got.iter().zip(statsmodels) {
            assert!(
                (g - w).abs() < 1e-12,
                "k={k} n={n} level={level}: {got:?} vs {statsmodels:?}"
            );
        }
    }
}

/// Clopper–Pearson's interval equals statsmodels' `proportion_confint(
/// method="beta")` to 1e-12, n from 1 to 10⁶, k = 0 and k = n included,
/// levels 0.5 to 0.999; n = 0 has no interval. On the few cases where
/// statsmodels' ends miss the root (scipy's `beta.isf` stops short: its own
/// `betainc` at that end is off by 1e-9), evalkit's equal the root mpmath
/// finds to 40 digits, to 1e-15.
#[test]
fn clopper_pearson_equals_statsmodels() {
    use evalkit::uncertainty::binomial::clopper_pearson;
    let cases = confint_cases("beta");
    assert!(cases.len() > 300);
    let misses = cases.iter().filter(|c| c.exact.is_some()).count();
    assert!(misses * 50 < cases.len(), "{misses} statsmodels misses");
    for c in cases {
        let got = clopper_pearson(c.k, c.n, c.level).unwrap();
        let (want, tolerance) = match c.exact {
            Some(exact) => (exact, 1e-15),
            None => (c.statsmodels, 1e-12),
        };
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < tolerance,
                "k={} n={} level={}: {got:?} vs {want:?}",
                c.k,
                c.n,
                c.level
            );
        }
    }
    assert_eq!(clopper_pearson(0.0, 0.0, 0.95), None);
}

/// `--method wilson` and `clopper-pearson`: accuracy, precision, recall and
/// specificity carry that interval from the confusion counts (with or
/// without the bootstrap); the other metrics the percentile bootstrap's;
/// weights keep the bootstrap's with a note.
#[test]
fn count_methods_put_their_interval_on_the_proportions() {
    let (labels, scores, weights) = small_data(150, 8);
    let z = normal_quantile(0.975);
    for (method, name) in [
        (CiMethod::Wilson, "wilson"),
        (CiMethod::ClopperPearson, "clopper-pearson"),
    ] {
        for replicates in [0, 200] {
            let options = BinaryOptions {
                intervals: IntervalOptions {
                    replicates,
                    method,
                    ..IntervalOptions::default()
                },
                ..BinaryOptions::default()
            };
            let r = full(
                &labels,
                &Floats::from(scores.clone()),
                None,
                &options,
                &|_, _| {},
            );
            let c = r.confusion;
            for (metric, k, n) in [
                ("accuracy", c.tp + c.tn, c.tp + c.fp + c.fn_ + c.tn),
                ("precision", c.tp, c.tp + c.fp),
                ("recall", c.tp, c.tp + c.fn_),
                ("specificity", c.tn, c.tn + c.fp),
            ] {
                let m = r.metrics.get(metric).unwrap();
                assert_eq!(m.method, name, "{metric}");
                let want = match method {
                    CiMethod::Wilson => evalkit::uncertainty::intervals::wilson(k / n, n, z),
                    _ => evalkit::uncertainty::binomial::clopper_pearson(k, n, 0.95).unwrap(),
                };
                assert_eq!(m.ci, Some(want), "{name} {metric}");
            }
            let ll = r.metrics.get("log_loss").unwrap();
            if replicates > 0 {
                assert_eq!(ll.method, "bootstrap-percentile");
            } else {
                assert!(ll.ci.is_none());
            }
            let w = Floats::from(weights.clone());
            let r = full(
                &labels,
                &Floats::from(scores.clone()),
                Some(&w),
                &options,
                &|_, _| {},
            );
            assert_ne!(r.metrics.get("accuracy").unwrap().method, name);
            assert!(
                r.interval_notes
                    .iter()
                    .any(|n| n.contains("counts of rows"))
            );
        }
    }
}

/// The reliability diagram's bin intervals: Clopper–Pearson's on an
/// unweighted bin under `--method clopper-pearson`, Wilson's on a weighted
/// bin and under every other method; none for an empty bin.
#[test]
fn reliability_bins_take_the_count_interval() {
    use evalkit::metrics::calibration::Bin;
    use evalkit::report::charts::bin_interval;
    let bin = |count: u64, weight: f64, observed: Option<f64>| Bin {
        lower: 0.0,
        upper: 1.0 / 15.0,
        count,
        weight,
        mean_predicted: observed.map(|_| 0.05),
        observed,
    };
    let z = normal_quantile(0.95);
    let unweighted = bin(7, 7.0, Some(0.0));
    assert_eq!(
        bin_interval(&unweighted, 0.9, CiMethod::ClopperPearson),
        evalkit::uncertainty::binomial::clopper_pearson(0.0, 7.0, 0.9)
    );
    // With no positive in the bin the interval still has width.
    let [lo, hi] = bin_interval(&unweighted, 0.9, CiMethod::ClopperPearson).unwrap();
    assert!(lo == 0.0 && hi > 0.3, "{lo} {hi}");
    assert_eq!(
        bin_interval(&unweighted, 0.9, CiMethod::Percentile),
        Some(evalkit::uncertainty::intervals::wilson(0.0, 7.0, z))
    );
    let weighted = bin(7, 3.5, Some(2.0 / 7.0));
    assert_eq!(
        bin_interval(&weighted, 0.9, CiMethod::ClopperPearson),
        Some(evalkit::uncertainty::intervals::wilson(2.0 / 7.0, 7.0, z))
    );
    assert_eq!(
        bin_interval(&bin(0, 0.0, None), 0.9, CiMethod::ClopperPearson),
        None
    );
}
