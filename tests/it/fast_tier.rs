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
