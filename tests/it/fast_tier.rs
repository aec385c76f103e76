//! The fast tier: seeded stratified samples and honest standard errors.

use evalkit::data::{ReadOptions, read_predictions};
use evalkit::fast::{FastOptions, fast};
use evalkit::full::{FullOptions, full};

use crate::common::fixture;

#[test]
fn same_seed_same_result_other_seed_other_sample() {
    let preds =
        read_predictions(&fixture("binary_balanced.arrow"), &ReadOptions::default()).unwrap();
    let opts = |seed| FastOptions {
        sample: Some(200),
        seed,
        ..FastOptions::default()
    };
    assert_eq!(fast(&preds, &opts(1)), fast(&preds, &opts(1)));
    assert_ne!(
        fast(&preds, &opts(1)).metrics,
        fast(&preds, &opts(2)).metrics
    );
    let r = fast(&preds, &opts(1));
    assert_eq!(r.rows_used, 200);
    assert_eq!(
        r.strata.iter().map(|s| s.sampled).collect::<Vec<_>>(),
        [100, 100]
    );
}

#[test]
fn every_present_class_is_sampled() {
    let preds = read_predictions(&fixture("binary_rare.arrow"), &ReadOptions::default()).unwrap();
    let r = fast(
        &preds,
        &FastOptions {
            sample: Some(20),
            ..FastOptions::default()
        },
    );
    assert_eq!(r.strata[1].rows, 100);
    assert_eq!(r.strata[1].sampled, 1, "the 0.5% class still gets a row");
    assert_eq!(r.rows_used, 20);
}

/// Over many seeds, the 95% normal intervals of the stratified estimates
/// cover the full-file value about 95% of the time: the standard error
/// (with its finite-population correction) is neither too small nor too big.
#[test]
fn intervals_cover_the_full_file_value() {
    for (name, sample) in [
        ("binary_balanced.arrow", 300),
        ("multiclass_digits.arrow", 200),
    ] {
        let preds = read_predictions(&fixture(name), &ReadOptions::default()).unwrap();
        let truth = fast(
            &preds,
            &FastOptions {
                sample: None,
                ..FastOptions::default()
            },
        );
        for metric in ["accuracy", "log_loss"] {
            let want = truth.metrics.value(metric).unwrap();
            let seeds = 400;
            let covered = (0..seeds)
                .filter(|&seed| {
                    let r = fast(
                        &preds,
                        &FastOptions {
                            sample: Some(sample),
                            seed,
                            ..FastOptions::default()
                        },
                    );
                    let [lo, hi] = r.metrics.get(metric).unwrap().ci.unwrap();
                    lo <= want && want <= hi
                })
                .count();
            let rate = covered as f64 / seeds as f64;
            assert!(
                (0.91..=0.985).contains(&rate),
                "{name} {metric}: coverage {rate}"
            );
        }
    }
}

#[test]
fn fast_and_full_agree_on_every_row() {
    let preds =
        read_predictions(&fixture("binary_weighted.arrow"), &ReadOptions::default()).unwrap();
    let f = fast(
        &preds,
        &FastOptions {
            sample: None,
            ..FastOptions::default()
        },
    );
    let full = full(&preds, &FullOptions::default()).unwrap();
    for m in ["log_loss", "accuracy"] {
        let (a, b) = (
            f.metrics.value(m).unwrap(),
            full.metrics().value(m).unwrap(),
        );
        assert!((a - b).abs() < 1e-12, "{m}: {a} vs {b}");
    }
}

#[test]
fn every_row_is_exact_and_a_perfect_sample_keeps_an_interval() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array};

    use crate::common::{evalkit, stdout, write_ipc};

    // Every row: exact values, no zero-width interval.
    let path = fixture("binary_balanced.arrow");
    let preds = read_predictions(&path, &ReadOptions::default()).unwrap();
    let every = fast(
        &preds,
        &FastOptions {
            sample: None,
            ..FastOptions::default()
        },
    );
    for (name, m) in every.metrics.iter() {
        assert!(m.value.is_some() && m.ci.is_none(), "{name}: {m:?}");
        assert_eq!(
            (m.method.as_str(), m.std_error),
            ("exact", Some(0.0)),
            "{name}"
        );
        assert!(m.reason.as_deref().unwrap().contains("exact"), "{name}");
    }
    let out = evalkit(["fast", path.to_str().unwrap(), "--sample", "all"]);
    let text = stdout(&out);
    assert!(
        text.contains("every row: exact values, no sampling error"),
        "{text}"
    );
    assert!(!text.contains('['), "no interval column: {text}");
    assert!(!crate::common::stderr(&out).contains("undefined"));
    let out = evalkit(["fast", path.to_str().unwrap(), "--sample", "all", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["metrics"]["accuracy"]["ci"], serde_json::Value::Null);
    assert_eq!(doc["metrics"]["accuracy"]["method"], "exact");
    assert_eq!(doc["warnings"], serde_json::json!([]));

    // A sample whose rows are all right: accuracy 1 with Wilson's interval
    // on the 100 sampled rows (lower end 0.9630), not "1 [1, 1]".
    let dir = tempfile::tempdir().unwrap();
    let perfect = dir.path().join("perfect.arrow");
    let labels: Vec<i64> = (0..300).map(|i| (i % 3 == 0) as i64).collect();
    let scores: Vec<f64> = labels.iter().map(|&y| 0.1 + 0.8 * y as f64).collect();
    write_ipc(
        &perfect,
        vec![
            ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
            ("score", Arc::new(Float64Array::from(scores)) as ArrayRef),
        ],
        &[],
    );
    let preds = read_predictions(&perfect, &ReadOptions::default()).unwrap();
    let r = fast(
        &preds,
        &FastOptions {
            sample: Some(100),
            ..FastOptions::default()
        },
    );
    let acc = r.metrics.get("accuracy").unwrap();
    assert_eq!((acc.value, acc.std_error), (Some(1.0), Some(0.0)));
    assert_eq!(acc.method, "wilson");
    let [lo, hi] = acc.ci.unwrap();
    assert_eq!(hi, 1.0);
    assert!((lo - 0.963_006_502).abs() < 1e-9, "{lo}");
}
