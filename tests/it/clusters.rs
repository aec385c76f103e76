//! The cluster bootstrap (`--cluster COL`) and Obuchowski's clustered
//! interval: equal to straightforward references, keyed by the cluster
//! (not the row), honest in coverage, and bad input refused with exit 2.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use evalkit::clusters::Clusters;
use evalkit::data::{Columns, Floats, Predictions};
use evalkit::full::binary::{BinaryOptions, full};
use evalkit::uncertainty::bootstrap::{
    METRICS, multinomial_counts_clustered, poisson_weight_clustered,
};
use evalkit::uncertainty::intervals::percentile;
use evalkit::uncertainty::{CiMethod, IntervalOptions, Resample};
use proptest::prelude::*;

use crate::common::{Rng, evalkit, stderr, stdout, write_ipc};

fn clusters_of(ids: &[i64]) -> Clusters {
    let a: ArrayRef = Arc::new(Int64Array::from(ids.to_vec()));
    Clusters::from_array(Path::new("t"), "user", &a).unwrap()
}

fn no_intervals() -> BinaryOptions<'static> {
    BinaryOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..BinaryOptions::default()
    }
}

/// Clustered binary data: `clusters` clusters of 1 to `max_size` rows; a
/// cluster is easy or hard to score — its own signal strength `d + v`, `v`
/// ~ N(0, 1.5²) shared by its rows (a user whose behaviour the model reads
/// well or badly); labels Bernoulli(0.4) per row; scores `(d + v)·(y − ½) +
/// e`, `e` ~ N(0, 1), squashed into (0, 1) (order kept). Returns labels,
/// scores, cluster ids.
fn clustered(clusters: usize, max_size: usize, d: f64, seed: u64) -> (Vec<u8>, Vec<f64>, Vec<i64>) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let normal = |rng: &mut Rng| {
        let (u1, u2) = (rng.unit().max(1e-300), rng.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let (mut labels, mut scores, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..clusters {
        let size = 1 + rng.below(max_size);
        let strength = d + SIGNAL_SD * normal(&mut rng);
        for _ in 0..size {
            let y = (rng.unit() < 0.4) as u8;
            let x = strength * (y as f64 - 0.5) + normal(&mut rng);
            labels.push(y);
            scores.push(1.0 / (1.0 + (-x).exp()));
            ids.push(c as i64 * 7 + 3);
        }
    }
    (labels, scores, ids)
}

/// Standard deviation of the clusters' signal strengths in [`clustered`].
const SIGNAL_SD: f64 = 1.5;

/// The percentile intervals of every binary metric from the definition:
/// each replicate's per-row weights (the cluster's Poisson weight, or its
/// multinomial count), the point code on the weighted rows, percentiles.
fn reference(
    labels: &[u8],
    scores: &[f64],
    file_w: Option<&[f64]>,
    keys: &[u64],
    resample: Resample,
    b: usize,
    seed: u64,
) -> Vec<[f64; 2]> {
    crate::common::binary_reference_intervals(labels, scores, file_w, b, |r| match resample {
        Resample::Poisson => keys
            .iter()
            .map(|&k| poisson_weight_clustered(seed, r, k) as f64)
            .collect(),
        Resample::Multinomial => multinomial_counts_clustered(seed, r, keys, file_w)
            .into_iter()
            .map(|c| c as f64)
            .collect(),
        Resample::Stratified => unreachable!("clusters are not stratified"),
    })
}

#[test]
fn cluster_intervals_equal_a_resample_and_recompute_reference() {
    let (labels, raw, ids) = clustered(40, 6, 1.0, 3);
    // A coarse grid: ties across clusters.
    let scores: Vec<f64> = raw.iter().map(|s| (s * 20.0).round() / 20.0).collect();
    let n = labels.len();
    let clusters = clusters_of(&ids);
    let mut rng = Rng(11);
    let mut fw: Vec<f64> = (0..n).map(|_| 0.5 + rng.unit()).collect();
    for w in fw.iter_mut().step_by(5) {
        *w = 0.0;
    }
    for (resample, weighted) in [
        (Resample::Poisson, false),
        (Resample::Poisson, true),
        (Resample::Multinomial, false),
        (Resample::Multinomial, true),
    ] {
        let file_w = weighted.then_some(fw.as_slice());
        let b = 120;
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates: b,
                seed: 23,
                resample,
                ..IntervalOptions::default()
            },
            clusters: Some(&clusters),
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
        let want = reference(&labels, &scores, file_w, clusters.keys(), resample, b, 23);
        for (k, name) in METRICS.iter().enumerate() {
            let m = got.metrics.get(name).unwrap();
            let ci = m.ci.unwrap_or_else(|| panic!("{name}: no interval"));
            for j in 0..2 {
                let (g, w) = (ci[j], want[k][j]);
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{resample:?} weighted={weighted} {name}[{j}]: {g} vs {w}"
                );
            }
        }
        assert!(
            got.interval_notes
                .iter()
                .any(|n| n.contains("resamples whole clusters of user (40 clusters)")),
            "{:?}",
            got.interval_notes
        );
    }
}

/// Every row of a cluster gets its cluster's weight, and the draws are
/// keyed by the cluster's value: shuffling the rows (and renaming nothing)
/// gives the same intervals.
#[test]
fn draws_follow_the_cluster_not_the_row() {
    let (labels, scores, ids) = clustered(60, 8, 1.0, 5);
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng(7);
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let run = |labels: &[u8], scores: Vec<f64>, ids: &[i64], resample| {
        let c = clusters_of(ids);
        let options = BinaryOptions {
            intervals: IntervalOptions {
                replicates: 200,
                resample,
                method: CiMethod::Bca,
                ..IntervalOptions::default()
            },
            clusters: Some(&c),
            ..BinaryOptions::default()
        };
        full(labels, &Floats::from(scores), None, &options, &|_, _| {}).metrics
    };
    let l2: Vec<u8> = order.iter().map(|&i| labels[i]).collect();
    let i2: Vec<i64> = order.iter().map(|&i| ids[i]).collect();
    for resample in [Resample::Poisson, Resample::Multinomial] {
        let a = run(&labels, scores.clone(), &ids, resample);
        let b = run(&l2, pick(&scores), &i2, resample);
        for name in ["roc_auc", "average_precision", "log_loss", "brier"] {
            let (x, y) = (
                a.get(name).unwrap().ci.unwrap(),
                b.get(name).unwrap().ci.unwrap(),
            );
            for j in 0..2 {
                assert!(
                    (x[j] - y[j]).abs() < 1e-9,
                    "{resample:?} {name}: {x:?} vs {y:?}"
                );
            }
        }
    }
    // A cluster's rows share every replicate's weight.
    let c = clusters_of(&ids);
    for r in 0..50 {
        let w: Vec<u32> = c
            .keys()
            .iter()
            .map(|&k| poisson_weight_clustered(0, r, k))
            .collect();
        let m = multinomial_counts_clustered(0, r, c.keys(), None);
        for i in 1..n {
            if ids[i] == ids[i - 1] {
                assert_eq!(w[i], w[i - 1]);
                assert_eq!(m[i], m[i - 1]);
            }
        }
        // Multinomial: as many clusters drawn as there are.
        let drawn: u32 = (0..n)
            .filter(|&i| i == 0 || ids[i] != ids[i - 1])
            .map(|i| m[i])
            .sum();
        assert_eq!(drawn as usize, c.count());
    }
}

/// The pair kernel: 1 when the positive scores above the negative, ½ on a
/// tie.
fn psi(x: f64, y: f64) -> f64 {
    if x > y {
        1.0
    } else if x == y {
        0.5
    } else {
        0.0
    }
}

/// Obuchowski's clustered variance by its definition: placements over all
/// M·N pairs (ties ½), summed per cluster.
fn naive_obuchowski(labels: &[u8], scores: &[f64], ids: &[i64]) -> (f64, f64) {
    let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 1).collect();
    let neg: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let mut distinct: Vec<i64> = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let k = distinct.len();
    let at = |id: i64| distinct.binary_search(&id).unwrap();
    let (mut x, mut y, mut mi, mut ni) = (vec![0.0; k], vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    let mut auc = 0.0;
    for &p in &pos {
        let v10 = neg.iter().map(|&q| psi(scores[p], scores[q])).sum::<f64>() / n;
        x[at(ids[p])] += v10;
        mi[at(ids[p])] += 1.0;
        auc += v10 / m;
    }
    for &q in &neg {
        let v01 = pos.iter().map(|&p| psi(scores[p], scores[q])).sum::<f64>() / m;
        y[at(ids[q])] += v01;
        ni[at(ids[q])] += 1.0;
    }
    let i10 = mi.iter().filter(|&&v| v > 0.0).count() as f64;
    let i01 = ni.iter().filter(|&&v| v > 0.0).count() as f64;
    let i = k as f64;
    let (mut s10, mut s01, mut s11) = (0.0, 0.0, 0.0);
    for c in 0..k {
        let (a, b) = (x[c] - mi[c] * auc, y[c] - ni[c] * auc);
        s10 += a * a;
        s01 += b * b;
        s11 += a * b;
    }
    let s10 = i10 / ((i10 - 1.0) * m) * s10;
    let s01 = i01 / ((i01 - 1.0) * n) * s01;
    let s11 = i / (i - 1.0) * s11;
    (auc, s10 / m + s01 / n + 2.0 * s11 / (m * n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn obuchowski_variance_equals_its_definition(
        rows in proptest::collection::vec((0u8..2, 0u32..=10, 0i64..12), 6..120)
    ) {
        let labels: Vec<u8> = rows.iter().map(|r| r.0).collect();
        let scores: Vec<f64> = rows.iter().map(|r| r.1 as f64 / 10.0).collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.2).collect();
        let c = clusters_of(&ids);
        let options = BinaryOptions { clusters: Some(&c), ..no_intervals() };
        let got = full(&labels, &Floats::from(scores.clone()), None, &options, &|_, _| {});
        // DeLong stands down with its reason.
        prop_assert!(got.delong.as_ref().unwrap_err().contains("clustered by user"));
        let with = |v: &[usize]| {
            let mut s: Vec<i64> = v.iter().map(|&i| ids[i]).collect();
            s.sort_unstable();
            s.dedup();
            s.len()
        };
        let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 1).collect();
        let neg: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        match got.obuchowski.unwrap() {
            // Too few clusters of a class, or a variance of 0 (every score
            // tied, say): withheld, not a NaN.
            Err(_) => prop_assert!(
                with(&pos) < 2
                    || with(&neg) < 2
                    || naive_obuchowski(&labels, &scores, &ids).1 <= 1e-12
            ),
            Ok(o) => {
                let (auc, var) = naive_obuchowski(&labels, &scores, &ids);
                prop_assert!((o.auc - auc).abs() < 1e-12);
                prop_assert!(
                    (o.std_error * o.std_error - var).abs() <= 1e-12 * var.abs().max(1e-300) + 1e-15,
                    "{} vs {}", o.std_error * o.std_error, var
                );
                // Without a bootstrap, ROC-AUC carries it.
                let m = got.metrics.get("roc_auc").unwrap();
                prop_assert_eq!(m.method.as_str(), "obuchowski");
                prop_assert_eq!(m.ci, Some(o.ci));
            }
        }
    }
}

/// The paired test: `Var(a − b) = Var a + Var b − 2 Cov(a, b)` from the
/// definitions, with the covariance by polarisation (`Var(a) + Var(b) −
/// Var(a − b)` has no closed form of its own, so the check is against a
/// covariance built from the naive per-cluster sums).
#[test]
fn obuchowski_paired_test_equals_its_definition() {
    let (labels, sa, ids) = clustered(30, 5, 1.0, 9);
    let mut rng = Rng(5);
    let sb: Vec<f64> = sa.iter().map(|s| (s + 0.3 * rng.unit()).min(1.0)).collect();
    let c = clusters_of(&ids);
    let y: ArrayRef = Arc::new(Int64Array::from(
        labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
    ));
    let mut cand = Predictions::from_arrays(
        "c",
        y.clone(),
        vec![Arc::new(Float64Array::from(sa.clone())) as ArrayRef],
        None,
        None,
        None,
    )
    .unwrap();
    cand.clusters = Some(c);
    let base = Predictions::from_arrays(
        "b",
        y,
        vec![Arc::new(Float64Array::from(sb.clone())) as ArrayRef],
        None,
        None,
        None,
    )
    .unwrap();
    let options = evalkit::full::FullOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..Default::default()
    };
    let r = evalkit::compare::compare(
        &cand,
        &base,
        evalkit::compare::Join::Position,
        &options,
        &|_, _| {},
    )
    .unwrap();
    assert!(r.delong.unwrap_err().contains("independent rows"));
    let t = r.obuchowski.unwrap().unwrap();
    // Naive: per-cluster placement sums of both models.
    let (auc_a, var_a) = naive_obuchowski(&labels, &sa, &ids);
    let (auc_b, var_b) = naive_obuchowski(&labels, &sb, &ids);
    // Var(a − b) by the definition of the covariance: the per-cluster
    // deviations of a − b.
    let diff_var = {
        let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 1).collect();
        let neg: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        let (m, n) = (pos.len() as f64, neg.len() as f64);
        let k = 30usize;
        let at = |id: i64| ((id - 3) / 7) as usize;
        let (mut x, mut yv, mut mi, mut ni) =
            (vec![0.0; k], vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        for &p in &pos {
            let va = neg.iter().map(|&q| psi(sa[p], sa[q])).sum::<f64>() / n;
            let vb = neg.iter().map(|&q| psi(sb[p], sb[q])).sum::<f64>() / n;
            x[at(ids[p])] += va - vb;
            mi[at(ids[p])] += 1.0;
        }
        for &q in &neg {
            let va = pos.iter().map(|&p| psi(sa[p], sa[q])).sum::<f64>() / m;
            let vb = pos.iter().map(|&p| psi(sb[p], sb[q])).sum::<f64>() / m;
            yv[at(ids[q])] += va - vb;
            ni[at(ids[q])] += 1.0;
        }
        let d = auc_a - auc_b;
        let i10 = mi.iter().filter(|&&v| v > 0.0).count() as f64;
        let i01 = ni.iter().filter(|&&v| v > 0.0).count() as f64;
        let i = k as f64;
        let (mut s10, mut s01, mut s11) = (0.0, 0.0, 0.0);
        for c in 0..k {
            let (a, b) = (x[c] - mi[c] * d, yv[c] - ni[c] * d);
            s10 += a * a;
            s01 += b * b;
            s11 += a * b;
        }
        i10 / ((i10 - 1.0) * m) * s10 / m
            + i01 / ((i01 - 1.0) * n) * s01 / n
            + 2.0 * i / (i - 1.0) * s11 / (m * n)
    };
    assert!((t.difference - (auc_a - auc_b)).abs() < 1e-12);
    assert!(
        (t.variance - diff_var).abs() < 1e-12 * diff_var,
        "{} vs {diff_var} (var a {var_a}, var b {var_b})",
        t.variance
    );
    // The delta's interval is Obuchowski's.
    assert_eq!(r.delta.get("roc_auc").unwrap().method, "obuchowski");
}

/// Coverage of the 95% cluster-bootstrap, row-bootstrap and Obuchowski
/// intervals of ROC-AUC on clustered data, and their mean widths.
struct Coverage {
    cluster: f64,
    row: f64,
    obuchowski: f64,
    cluster_width: f64,
    row_width: f64,
    /// Mean and standard deviation of `AUC − truth` over the data sets,
    /// and the mean of Obuchowski's standard error.
    bias: f64,
    sd: f64,
    mean_se: f64,
}

impl Coverage {
    /// The cluster bootstrap's and Obuchowski's coverage are in `range`.
    fn require(&self, range: std::ops::RangeInclusive<f64>) {
        assert!(
            range.contains(&self.cluster),
            "cluster coverage {}",
            self.cluster
        );
        assert!(
            range.contains(&self.obuchowski),
            "Obuchowski coverage {}",
            self.obuchowski
        );
    }
}

/// `datasets` data sets of `clusters` clusters of 1–20 rows (see
/// [`clustered`], d = 1.5). The truth each interval should cover is the
/// expected empirical AUC given the design: a positive and a negative from
/// different clusters differ by `d + (v₁ + v₂)/2 + e₁ − e₂`, so their AUC is
/// Φ(d / √(2 + σᵥ²/2)); within a cluster by `d + v + e₁ − e₂`, AUC
/// Φ(d / √(2 + σᵥ²)); mixed in each data set's share of within-cluster
/// pairs.
fn coverage(datasets: u64, clusters: usize, replicates: usize) -> Coverage {
    let d = 1.5f64;
    let phi = |x: f64| 1.0 - evalkit::uncertainty::delong::normal_sf(x);
    let v2 = SIGNAL_SD * SIGNAL_SD;
    let (between, within) = (phi(d / (2.0 + v2 / 2.0).sqrt()), phi(d / (2.0 + v2).sqrt()));
    let (mut cl, mut rw, mut ob, mut wc, mut wr) = (0, 0, 0, 0.0, 0.0);
    let (mut err, mut err2, mut se) = (0.0, 0.0, 0.0);
    for s in 0..datasets {
        let (labels, scores, ids) = clustered(clusters, 20, d, 1000 + s);
        // Share of (positive, negative) pairs within one cluster.
        let mut per: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
        for (&y, &id) in labels.iter().zip(&ids) {
            let e = per.entry(id).or_default();
            if y == 1 {
                e.0 += 1.0;
            } else {
                e.1 += 1.0;
            }
        }
        let m: f64 = per.values().map(|v| v.0).sum();
        let n: f64 = per.values().map(|v| v.1).sum();
        let f = per.values().map(|v| v.0 * v.1).sum::<f64>() / (m * n);
        let truth = (1.0 - f) * between + f * within;
        let c = clusters_of(&ids);
        let run = |clusters: Option<&Clusters>| {
            let options = BinaryOptions {
                intervals: IntervalOptions {
                    replicates,
                    seed: s,
                    ..IntervalOptions::default()
                },
                clusters,
                ..BinaryOptions::default()
            };
            full(
                &labels,
                &Floats::from(scores.clone()),
                None,
                &options,
                &|_, _| {},
            )
        };
        let covers = |ci: [f64; 2]| (ci[0] <= truth && truth <= ci[1]) as u32;
        let a = run(Some(&c));
        let ca = a.metrics.get("roc_auc").unwrap().ci.unwrap();
        cl += covers(ca);
        wc += ca[1] - ca[0];
        let o = a.obuchowski.unwrap().unwrap();
        ob += covers(o.ci);
        se += o.std_error;
        let e = o.auc - truth;
        err += e;
        err2 += e * e;
        let b = run(None);
        let cb = b.metrics.get("roc_auc").unwrap().ci.unwrap();
        rw += covers(cb);
        wr += cb[1] - cb[0];
    }
    let k = datasets as f64;
    Coverage {
        cluster: cl as f64 / k,
        row: rw as f64 / k,
        obuchowski: ob as f64 / k,
        cluster_width: wc / k,
        row_width: wr / k,
        bias: err / k,
        sd: (err2 / k - (err / k).powi(2)).sqrt(),
        mean_se: se / k,
    }
}

/// Short check for `make test`: on correlated clusters the row bootstrap's
/// intervals are visibly narrower than the cluster bootstrap's, and the
/// cluster bootstrap covers the truth about as often as it should.
#[test]
fn cluster_coverage_short() {
    let c = coverage(40, 120, 200);
    assert!(
        c.cluster_width > 1.2 * c.row_width,
        "cluster width {} vs row width {}",
        c.cluster_width,
        c.row_width
    );
    c.require(0.85..=1.0);
}

/// The full coverage check (`make test-slow`): 400 data sets of 300
/// clusters, B = 1000; the cluster bootstrap and Obuchowski's interval must
/// cover the truth in 93–97% of them; the row bootstrap's rate is reported.
#[test]
#[ignore = "slow: run with `make test-slow`"]
fn cluster_coverage_full() {
    let c = coverage(400, 300, 1000);
    println!(
        "clustered coverage over 400 data sets (300 clusters of 1-20 rows): cluster bootstrap {:.4} (mean width {:.4}), Obuchowski {:.4}, row bootstrap {:.4} (mean width {:.4}); AUC − truth: mean {:.5}, sd {:.5}; Obuchowski's mean SE {:.5}",
        c.cluster, c.cluster_width, c.obuchowski, c.row, c.row_width, c.bias, c.sd, c.mean_se
    );
    c.require(0.93..=0.97);
}

/// Multiclass and regression resample clusters too: their intervals
/// equal the point code run on each replicate's cluster weights.
#[test]
fn multiclass_and_regression_resample_clusters() {
    use evalkit::full::regression;
    use evalkit::uncertainty::tasks::REGRESSION_METRICS;
    let preds = evalkit::data::read_predictions(
        &crate::common::fixture("regression.arrow"),
        &Default::default(),
    )
    .unwrap();
    let Columns::Regression { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let n = labels.len();
    let ids: Vec<i64> = (0..n as i64).map(|i| i / 4).collect();
    let c = clusters_of(&ids);
    let b = 60;
    let iv = IntervalOptions {
        replicates: b,
        seed: 4,
        ..IntervalOptions::default()
    };
    let off = IntervalOptions {
        replicates: 0,
        ..IntervalOptions::default()
    };
    let got = regression::full(labels, scores, None, &iv, Some(&c), &|_, _| {});
    let mut per = vec![Vec::new(); REGRESSION_METRICS.len()];
    for r in 0..b {
        let w: Vec<f64> = c
            .keys()
            .iter()
            .map(|&k| poisson_weight_clustered(4, r, k) as f64)
            .collect();
        let m = regression::full(
            labels,
            scores,
            Some(&Floats::from(w)),
            &off,
            None,
            &|_, _| {},
        )
        .metrics;
        for (k, name) in REGRESSION_METRICS.iter().enumerate() {
            if let Some(v) = m.value(name) {
                per[k].push(v);
            }
        }
    }
    for (k, name) in REGRESSION_METRICS.iter().enumerate() {
        per[k].sort_by(f64::total_cmp);
        let want = percentile(&per[k], 0.95);
        let ci = got.metrics.get(name).unwrap().ci.unwrap();
        for j in 0..2 {
            assert!(
                (ci[j] - want[j]).abs() <= 1e-9 * want[j].abs().max(1.0),
                "{name}[{j}]: {} vs {}",
                ci[j],
                want[j]
            );
        }
    }
    assert!(got.notes.iter().any(|n| n.contains("whole clusters")));
}

fn write_clustered(dir: &Path) -> std::path::PathBuf {
    let (labels, scores, ids) = clustered(50, 6, 1.0, 2);
    let n = labels.len();
    let p = dir.join("clustered.arrow");
    let names: Vec<String> = ids.iter().map(|i| format!("user-{i}")).collect();
    let nan: Vec<f64> = (0..n)
        .map(|i| if i == 5 { f64::NAN } else { i as f64 })
        .collect();
    let nulls: Vec<Option<i64>> = (0..n).map(|i| (i != 7).then_some(i as i64)).collect();
    write_ipc(
        &p,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(
                    labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("score", Arc::new(Float64Array::from(scores)) as ArrayRef),
            ("user", Arc::new(StringArray::from(names)) as ArrayRef),
            ("user_id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("bad_float", Arc::new(Float64Array::from(nan)) as ArrayRef),
            ("with_nulls", Arc::new(Int64Array::from(nulls)) as ArrayRef),
            ("one", Arc::new(Int64Array::from(vec![1i64; n])) as ArrayRef),
        ],
        &[],
    );
    p
}

#[test]
fn the_command_line_resamples_clusters_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_clustered(dir.path());
    let f = p.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = evalkit(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let doc = run(&[
        "full",
        f,
        "--cluster",
        "user",
        "--bootstrap",
        "200",
        "--json",
    ]);
    assert_eq!(doc["clusters"]["column"], "user");
    assert_eq!(doc["clusters"]["count"], 50);
    assert!(
        doc["delong"]["reason"]
            .as_str()
            .unwrap()
            .contains("independent rows")
    );
    assert!(doc["obuchowski"]["std_error"].as_f64().unwrap() > 0.0);
    // Strings and integers naming the same clusters: the same clusters,
    // other keys, so other draws, but Obuchowski's interval is identical.
    let ints = run(&[
        "full",
        f,
        "--cluster",
        "user_id",
        "--bootstrap",
        "200",
        "--json",
    ]);
    let se = |d: &serde_json::Value| d["obuchowski"]["std_error"].as_f64().unwrap();
    assert!((se(&doc) - se(&ints)).abs() < 1e-12 * se(&doc));
    // Without a bootstrap ROC-AUC carries Obuchowski's interval.
    let point = run(&["full", f, "--cluster", "user", "--bootstrap", "0", "--json"]);
    assert_eq!(point["metrics"]["roc_auc"]["method"], "obuchowski");
    assert_eq!(point["metrics"]["roc_auc"]["ci"], doc["obuchowski"]["ci"]);
    // Without --cluster: rows, DeLong, and `clusters: null`.
    let rows = run(&["full", f, "--bootstrap", "200", "--json"]);
    assert!(rows["clusters"].is_null());
    assert!(rows["obuchowski"].is_null());
    assert_ne!(
        rows["metrics"]["roc_auc"]["ci"],
        doc["metrics"]["roc_auc"]["ci"]
    );
    // compare: Obuchowski's paired test.
    let c = run(&[
        "compare",
        f,
        f,
        "--cluster",
        "user",
        "--bootstrap",
        "50",
        "--json",
    ]);
    assert!(
        c["delong"]["reason"]
            .as_str()
            .unwrap()
            .contains("independent rows")
    );
    assert!(
        c["obuchowski"]["reason"]
            .as_str()
            .unwrap()
            .contains("identically")
    );
    assert_eq!(c["clusters"]["count"], 50);
    // What was resampled is said once, not per model.
    let said = c["warnings"].to_string().matches("whole clusters").count();
    assert_eq!(said, 1, "{}", c["warnings"]);
    // The table says which interval it shows.
    let out = evalkit(["full", f, "--cluster", "user", "--bootstrap", "0"]);
    assert!(
        stdout(&out).contains("Obuchowski (clustered): roc_auc"),
        "{}",
        stdout(&out)
    );
    // One cluster: no bootstrap intervals, and why.
    let one = run(&[
        "full",
        f,
        "--cluster",
        "one",
        "--bootstrap",
        "100",
        "--json",
    ]);
    assert!(one["metrics"]["roc_auc"]["ci"].is_null());
    let warnings = one["warnings"].to_string();
    assert!(warnings.contains("one cluster of one"), "{warnings}");
}

#[test]
fn bad_cluster_columns_exit_2_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_clustered(dir.path());
    let f = p.to_str().unwrap();
    for (args, needles) in [
        (
            vec!["--cluster", "nope"],
            vec!["nope", "no such cluster column"],
        ),
        (
            vec!["--cluster", "label"],
            vec!["label", "is the label column"],
        ),
        (
            vec!["--cluster", "score"],
            vec!["score", "is the score column"],
        ),
        (
            vec!["--cluster", "bad_float"],
            vec!["bad_float", "row 5", "NaN"],
        ),
        (
            vec!["--cluster", "with_nulls"],
            vec!["with_nulls", "row 7", "null"],
        ),
    ] {
        for cmd in ["full", "compare"] {
            let mut all = vec![cmd, f];
            if cmd == "compare" {
                all.push(f);
            }
            all.extend(&args);
            let out = evalkit(&all);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            for n in &needles {
                assert!(err.contains(n), "{all:?}: expected {n:?} in {err}");
            }
        }
    }
    // A state file keeps no rows to cluster.
    let state = dir.path().join("s.evstate");
    let out = evalkit(["state", f, "-o", state.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = evalkit(["full", state.to_str().unwrap(), "--cluster", "user"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--cluster needs the rows of one prediction file"));
}

/// A suite's `[full] cluster` judges its gates on the clustered intervals,
/// and is refused (with its line) on a state file.
#[test]
fn suites_take_a_cluster_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_clustered(dir.path());
    let f = p.to_str().unwrap();
    let out = evalkit([
        "full",
        f,
        "--cluster",
        "user",
        "--bootstrap",
        "300",
        "--json",
    ]);
    let want: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"clustered\"\n[predictions]\npath = \"{f}\"\n[full]\nbootstrap = 300\ncluster = \"user\"\n[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = 0.5\n"
        ),
    )
    .unwrap();
    let out = evalkit(["run", suite.to_str().unwrap(), "--json"]);
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["metrics"]["roc_auc"]["ci"],
        want["metrics"]["roc_auc"]["ci"],
        "{}",
        stderr(&out)
    );
    let state = dir.path().join("s.evstate");
    assert!(
        evalkit(["state", f, "-o", state.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::write(
        &suite,
        format!(
            "name = \"clustered\"\n[predictions]\npath = \"{}\"\n[full]\ncluster = \"user\"\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\n",
            state.display()
        ),
    )
    .unwrap();
    let out = evalkit(["run", suite.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("s.toml:5: [full] cluster needs the rows"),
        "{}",
        stderr(&out)
    );
}

/// `--stratify` (`--resample stratified`) keeps each class's count; it
/// needs classes and is refused with clusters, each with exit 2.
#[test]
fn stratified_resampling_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_clustered(dir.path());
    let f = p.to_str().unwrap();
    let out = evalkit(["full", f, "--stratify", "--bootstrap", "100", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["bootstrap"]["resample"], "stratified");
    let same = evalkit([
        "full",
        f,
        "--resample",
        "stratified",
        "--bootstrap",
        "100",
        "--json",
    ]);
    assert_eq!(stdout(&same), stdout(&out));
    let regression = crate::common::fixture("regression.arrow");
    for (args, needle) in [
        (
            vec!["full", regression.to_str().unwrap(), "--stratify"],
            "regression has no classes",
        ),
        (
            vec!["full", f, "--stratify", "--cluster", "user"],
            "choose one",
        ),
        (
            vec!["compare", f, f, "--stratify", "--cluster", "user"],
            "choose one",
        ),
        (
            vec!["full", f, "--stratify", "--resample", "poisson"],
            "cannot be used with",
        ),
    ] {
        let out = evalkit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}
