//! `evalkit compare`: paired differences, DeLong's paired test, row matching.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use evalkit::compare::{Join, align, compare};
use evalkit::data::{Columns, Floats, ReadOptions, read_predictions};
use evalkit::full::FullOptions;
use evalkit::full::binary::{BinaryOptions, full};
use evalkit::uncertainty::IntervalOptions;
use evalkit::uncertainty::bootstrap::{METRICS, poisson_weight};
use evalkit::uncertainty::intervals::percentile;

use crate::common::{assert_close, evalkit, expected, fixture, stderr, stdout, write_ipc};

fn read(name: &str, id: bool) -> evalkit::data::Predictions {
    let options = ReadOptions {
        extra: if id {
            vec!["row_id".to_string()]
        } else {
            Vec::new()
        },
        ..ReadOptions::default()
    };
    read_predictions(&fixture(name), &options).unwrap()
}

fn options(replicates: usize) -> FullOptions {
    FullOptions {
        intervals: IntervalOptions {
            replicates,
            seed: 11,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    }
}

#[test]
fn differences_and_delong_match_the_reference() {
    let want = expected("compare_balanced_vs_baseline");
    let cand = read("binary_balanced.arrow", false);
    let base = read("binary_baseline.arrow", false);
    let (aligned, notes) = align(&cand, &base, None).unwrap();
    assert!(notes.is_empty());
    let c = compare(&cand, &aligned, Join::Position, &options(0), &|_, _| {}).unwrap();
    for m in METRICS {
        assert_close(&format!("delta {m}"), c.delta.value(m), &want["delta"][m]);
    }
    let d = c.delong.unwrap();
    assert_close(
        "delong difference",
        Some(d.difference),
        &want["delong"]["difference"],
    );
    assert_close(
        "delong variance",
        Some(d.variance),
        &want["delong"]["variance"],
    );
    assert_close("delong z", Some(d.z), &want["delong"]["z"]);
    let p = want["delong"]["p_value"].as_f64().unwrap();
    assert!((d.p_value - p).abs() <= 1e-6 * p, "{} vs {p}", d.p_value);
    // Without the bootstrap the AUC difference gets DeLong's interval.
    let auc = c.delta.get("roc_auc").unwrap();
    assert_eq!(auc.method, "delong");
    let [lo, hi] = auc.ci.unwrap();
    assert!(lo > 0.0 && lo < d.difference && d.difference < hi);
}

/// The paired interval equals the reference: resample with the same
/// weights, recompute both models' metrics, take percentiles of the
/// differences.
#[test]
fn paired_intervals_equal_a_resample_and_recompute_reference() {
    let cand = read("binary_balanced.arrow", false);
    let base = read("binary_baseline.arrow", false);
    let b = 60;
    let c = compare(&cand, &base, Join::Position, &options(b), &|_, _| {}).unwrap();
    let (Columns::Binary { labels, scores: sc }, Columns::Binary { scores: sb, .. }) =
        (&cand.columns, &base.columns)
    else {
        unreachable!()
    };
    let point = BinaryOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..BinaryOptions::default()
    };
    let mut diffs = vec![Vec::new(); METRICS.len()];
    for r in 0..b {
        let w = Floats::from(
            (0..labels.len() as u32)
                .map(|i| poisson_weight(11, r, i) as f64)
                .collect::<Vec<f64>>(),
        );
        let mc = full(labels, sc, Some(&w), &point, &|_, _| {}).metrics;
        let mb = full(labels, sb, Some(&w), &point, &|_, _| {}).metrics;
        for (k, m) in METRICS.iter().enumerate() {
            if let (Some(x), Some(y)) = (mc.value(m), mb.value(m)) {
                diffs[k].push(x - y);
            }
        }
    }
    for (k, m) in METRICS.iter().enumerate() {
        diffs[k].sort_by(f64::total_cmp);
        let want = percentile(&diffs[k], 0.95);
        let got = c.delta.get(m).unwrap().ci.unwrap();
        for j in 0..2 {
            assert!(
                (got[j] - want[j]).abs() <= 1e-12 * want[j].abs().max(1.0),
                "{m}[{j}]: {} vs {}",
                got[j],
                want[j]
            );
        }
    }
}

#[test]
fn matching_by_id_equals_matching_by_position() {
    let cand = read("binary_balanced.arrow", true);
    let shuffled = read("binary_baseline_shuffled.arrow", true);
    let ordered = read("binary_baseline.arrow", true);
    let (by_id, _) = align(&cand, &shuffled, Some("row_id")).unwrap();
    let (by_pos, _) = align(&cand, &ordered, None).unwrap();
    let a = compare(
        &cand,
        &by_id,
        Join::Id("row_id".into()),
        &options(48),
        &|_, _| {},
    )
    .unwrap();
    let b = compare(&cand, &by_pos, Join::Position, &options(48), &|_, _| {}).unwrap();
    assert_eq!(a.delta, b.delta);
    assert_eq!(a.delong, b.delong);
    assert_eq!(a.baseline.metrics(), b.baseline.metrics());
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = evalkit(args);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn cli_json_has_candidate_baseline_delta_and_delong() {
    let (code, out, err) = run(&[
        "compare",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        fixture("binary_baseline_shuffled.arrow").to_str().unwrap(),
        "--id",
        "row_id",
        "--bootstrap",
        "100",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["tier"], "compare");
    assert_eq!(doc["join"]["by"], "id");
    assert_eq!(doc["join"]["column"], "row_id");
    for key in ["metrics", "baseline", "delta"] {
        assert_eq!(
            doc[key].as_object().unwrap().len(),
            evalkit::metrics::binary::METRICS.len(),
            "{key}"
        );
    }
    let auc = &doc["delta"]["roc_auc"];
    let (lo, hi) = (
        auc["ci"][0].as_f64().unwrap(),
        auc["ci"][1].as_f64().unwrap(),
    );
    assert!(0.0 < lo && lo < auc["value"].as_f64().unwrap() && auc["value"].as_f64().unwrap() < hi);
    assert_eq!(auc["method"], "bootstrap-percentile");
    assert!(doc["delong"]["z"].as_f64().unwrap() > 10.0);
    assert!(doc["delong"]["p_value"].as_f64().unwrap() < 1e-20);
    // The table marks differences whose interval excludes 0.
    let (code, out, _) = run(&[
        "compare",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        fixture("binary_baseline.arrow").to_str().unwrap(),
        "--bootstrap",
        "50",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .any(|l| l.starts_with("roc_auc") && l.trim_end().ends_with('*')),
        "{out}"
    );
    assert!(out.contains("DeLong paired test of roc_auc"));
}

#[test]
fn compare_json_does_not_depend_on_the_thread_count() {
    let json = |threads: &str| {
        std::process::Command::new(crate::common::exe())
            .args([
                "compare",
                fixture("binary_balanced.arrow").to_str().unwrap(),
                fixture("binary_ties.arrow").to_str().unwrap(),
                "--json",
                "--bootstrap",
                "64",
                "--method",
                "bca",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(json("1"), json("2"));
}

/// exit 2, one error line containing every needle.
#[track_caller]
fn rejects(args: &[&str], needles: &[&str]) {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

#[test]
fn mismatched_files_are_rejected_with_a_clear_message() {
    let cand = fixture("binary_balanced.arrow");
    let cand = cand.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Labels disagree: same rows in another order, matched by position.
    rejects(
        &[
            "compare",
            cand,
            fixture("binary_baseline_shuffled.arrow").to_str().unwrap(),
        ],
        &[
            "binary_baseline_shuffled.arrow",
            "column 'label', row",
            "differs from the candidate's",
            "--id COL",
        ],
    );
    // Different lengths.
    let short = dir.path().join("short.arrow");
    write_ipc(
        &short,
        vec![
            ("label", Arc::new(Int64Array::from(vec![0, 1])) as ArrayRef),
            (
                "score",
                Arc::new(Float64Array::from(vec![0.2, 0.7])) as ArrayRef,
            ),
        ],
        &[],
    );
    rejects(
        &["compare", cand, short.to_str().unwrap()],
        &["has 2000 rows", "has 2", "--id COL"],
    );
    // The id column is missing.
    rejects(
        &[
            "compare",
            cand,
            fixture("binary_baseline.arrow").to_str().unwrap(),
            "--id",
            "uid",
        ],
        &[
            "binary_balanced.arrow",
            "column 'uid'",
            "no such column",
            "label (int64)",
        ],
    );
    // An id the baseline lacks, and duplicate ids.
    let ids = dir.path().join("ids.arrow");
    let labels: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 1]));
    let scores: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.9, 0.8]));
    write_ipc(
        &ids,
        vec![
            ("label", labels.clone()),
            ("score", scores.clone()),
            (
                "row_id",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
            ),
        ],
        &[],
    );
    let other = dir.path().join("other.arrow");
    write_ipc(
        &other,
        vec![
            ("label", labels.clone()),
            ("score", scores.clone()),
            (
                "row_id",
                Arc::new(StringArray::from(vec!["a", "b", "z"])) as ArrayRef,
            ),
        ],
        &[],
    );
    rejects(
        &[
            "compare",
            ids.to_str().unwrap(),
            other.to_str().unwrap(),
            "--id",
            "row_id",
        ],
        &["row 2", "id c is not in the baseline"],
    );
    let dup = dir.path().join("dup.arrow");
    write_ipc(
        &dup,
        vec![
            ("label", labels),
            ("score", scores),
            (
                "row_id",
                Arc::new(StringArray::from(vec!["a", "a", "c"])) as ArrayRef,
            ),
        ],
        &[],
    );
    rejects(
        &[
            "compare",
            ids.to_str().unwrap(),
            dup.to_str().unwrap(),
            "--id",
            "row_id",
        ],
        &["dup.arrow", "row 1", "id a appears twice"],
    );
    // Ids of different types.
    rejects(
        &[
            "compare",
            ids.to_str().unwrap(),
            fixture("binary_baseline.arrow").to_str().unwrap(),
            "--id",
            "row_id",
        ],
        &["integers in one file and strings in the other"],
    );
}

#[test]
fn weights_in_one_file_only_are_refused_and_u64_ids_match() {
    let dir = tempfile::tempdir().unwrap();
    let labels: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 1, 0]));
    let scores: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.9, 0.8, 0.3]));
    let ids: ArrayRef = Arc::new(arrow::array::UInt64Array::from(vec![
        u64::MAX,
        u64::MAX - 1,
        7,
        0,
    ]));
    let rev_ids: ArrayRef = Arc::new(arrow::array::UInt64Array::from(vec![
        0,
        7,
        u64::MAX - 1,
        u64::MAX,
    ]));
    let rev_labels: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 1, 0]));
    let rev_scores: ArrayRef = Arc::new(Float64Array::from(vec![0.2, 0.7, 0.6, 0.4]));
    let a = dir.path().join("a.arrow");
    let b = dir.path().join("b.arrow");
    let w = dir.path().join("w.arrow");
    write_ipc(
        &a,
        vec![
            ("label", labels.clone()),
            ("score", scores.clone()),
            ("id", ids),
        ],
        &[],
    );
    write_ipc(
        &b,
        vec![
            ("label", rev_labels),
            ("score", rev_scores),
            ("id", rev_ids),
        ],
        &[],
    );
    let weights: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 1.0, 1.0]));
    write_ipc(
        &w,
        vec![("label", labels), ("score", scores), ("weight", weights)],
        &[],
    );
    // u64 ids above i64::MAX are matched as themselves (rows 0 and 3 of b
    // are rows 3 and 0 of a).
    let (code, out, err) = run(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--id",
        "id",
        "--bootstrap",
        "0",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    // candidate AUC 1.0; baseline on a's row order: scores 0.4, 0.6, 0.7, 0.2 → AUC 1.0 too
    assert_eq!(doc["baseline"]["roc_auc"]["value"], 1.0);
    rejects(
        &["compare", w.to_str().unwrap(), a.to_str().unwrap()],
        &["w.arrow has sample weights", "a.arrow has none"],
    );
}

/// A baseline for a multiclass or regression fixture: the candidate's
/// scores shrunk toward the uniform distribution (or the mean label).
fn shrunk(p: &evalkit::data::Predictions) -> evalkit::data::Predictions {
    let mut b = p.clone();
    b.path = std::path::PathBuf::from("baseline.arrow");
    b.columns = match &p.columns {
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => Columns::Multiclass {
            labels: labels.clone(),
            scores: Floats::from(
                (0..scores.len())
                    .map(|i| 0.7 * scores.get(i) + 0.3 / *classes as f64)
                    .collect::<Vec<f64>>(),
            ),
            classes: *classes,
        },
        Columns::Regression { labels, scores } => Columns::Regression {
            labels: labels.clone(),
            scores: Floats::from(
                (0..scores.len())
                    .map(|i| 0.8 * scores.get(i) + 0.2 * labels.get(i % 7))
                    .collect::<Vec<f64>>(),
            ),
        },
        Columns::Binary { .. } | Columns::Ranking { .. } => unreachable!(),
    };
    b
}

/// Paired intervals of multiclass and regression differences equal
/// resampling both files with the same weights and recomputing.
#[test]
fn multiclass_and_regression_paired_intervals_equal_the_reference() {
    use evalkit::full::{multiclass, regression};
    use evalkit::metrics::MetricSet;
    use evalkit::uncertainty::tasks::{REGRESSION_METRICS, multiclass_metric_names};
    let b = 50;
    for name in ["multiclass_ties.arrow", "regression.arrow"] {
        let cand = read(name, false);
        let base = shrunk(&cand);
        let (aligned, _) = align(&cand, &base, None).unwrap();
        let c = compare(&cand, &aligned, Join::Position, &options(b), &|_, _| {}).unwrap();
        assert!(c.delong.is_err());
        let point = |p: &evalkit::data::Predictions, w: Option<&Floats>| -> MetricSet {
            match &p.columns {
                Columns::Multiclass {
                    labels,
                    scores,
                    classes,
                } => multiclass::point(labels, scores, *classes, w, &p.class_names).metrics,
                Columns::Regression { labels, scores } => {
                    regression::point(labels, scores, w).metrics
                }
                Columns::Binary { .. } | Columns::Ranking { .. } => unreachable!(),
            }
        };
        let names: Vec<&str> = match &cand.columns {
            Columns::Multiclass { classes, .. } => multiclass_metric_names(*classes),
            _ => REGRESSION_METRICS.to_vec(),
        };
        // Point differences.
        let (pc, pb) = (point(&cand, None), point(&base, None));
        for n in &names {
            let want = pc.value(n).unwrap() - pb.value(n).unwrap();
            assert_eq!(c.delta.value(n), Some(want), "{name} delta {n}");
            assert_eq!(c.candidate.metrics().value(n), pc.value(n), "{name} {n}");
        }
        // Paired replicates.
        let mut diffs = vec![Vec::new(); names.len()];
        for r in 0..b {
            let w = Floats::from(
                (0..cand.rows() as u32)
                    .map(|i| poisson_weight(11, r, i) as f64)
                    .collect::<Vec<f64>>(),
            );
            let (mc, mb) = (point(&cand, Some(&w)), point(&base, Some(&w)));
            for (k, n) in names.iter().enumerate() {
                if let (Some(x), Some(y)) = (mc.value(n), mb.value(n)) {
                    diffs[k].push(x - y);
                }
            }
        }
        for (k, n) in names.iter().enumerate() {
            diffs[k].sort_by(f64::total_cmp);
            let want = percentile(&diffs[k], 0.95);
            let got = c.delta.get(n).unwrap().ci.unwrap();
            for j in 0..2 {
                assert!(
                    (got[j] - want[j]).abs() <= 1e-12 * want[j].abs().max(1.0),
                    "{name} {n}[{j}]: {} vs {}",
                    got[j],
                    want[j]
                );
            }
        }
        // Multiclass: each class's F1 difference, point and paired interval.
        if let (
            Columns::Multiclass {
                labels,
                scores,
                classes,
            },
            Columns::Multiclass { scores: sb, .. },
        ) = (&cand.columns, &base.columns)
        {
            let f1s = |s: &Floats, w: Option<&Floats>| -> Vec<Option<f64>> {
                multiclass::point(labels, s, *classes, w, &cand.class_names)
                    .per_class
                    .iter()
                    .map(|r| r.f1)
                    .collect()
            };
            let (fc, fb) = (f1s(scores, None), f1s(sb, None));
            assert_eq!(c.class_f1_delta.len(), *classes);
            let mut per = vec![Vec::new(); *classes];
            for r in 0..b {
                let w = Floats::from(
                    (0..cand.rows() as u32)
                        .map(|i| poisson_weight(11, r, i) as f64)
                        .collect::<Vec<f64>>(),
                );
                let (x, y) = (f1s(scores, Some(&w)), f1s(sb, Some(&w)));
                for k in 0..*classes {
                    if let (Some(p), Some(q)) = (x[k], y[k]) {
                        per[k].push(p - q);
                    }
                }
            }
            for k in 0..*classes {
                let d = &c.class_f1_delta[k];
                assert_eq!(d.value, Some(fc[k].unwrap() - fb[k].unwrap()), "class {k}");
                assert_eq!(per[k].len(), b, "class {k}: F1 in every replicate");
                per[k].sort_by(f64::total_cmp);
                let want = percentile(&per[k], 0.95);
                let got = d.ci.unwrap();
                for j in 0..2 {
                    assert!(
                        (got[j] - want[j]).abs() <= 1e-12,
                        "class {k} F1 delta[{j}]: {} vs {}",
                        got[j],
                        want[j]
                    );
                }
            }
        } else {
            assert!(c.class_f1_delta.is_empty());
        }
    }
}
