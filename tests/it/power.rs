//! `evalkit power`: the size it gives reaches the power it promises on
//! simulated data, and bad options exit 2.

use ::evalkit::power::{PowerOptions, rows_needed};
use evalkit::data::Floats;
use evalkit::metrics::curves::BinaryCurve;
use evalkit::uncertainty::delong::{delong, normal_sf};
use evalkit::uncertainty::intervals::normal_quantile;

use crate::common::{Rng, evalkit, stderr, stdout};

/// Binormal data with ROC-AUC `auc`: negatives N(0, 1), positives N(d, 1),
/// `d = √2·Φ⁻¹(auc)`; positives with probability `prevalence`.
fn binormal(rows: usize, prevalence: f64, auc: f64, seed: u64) -> (Vec<u8>, Vec<f64>) {
    let d = 2f64.sqrt() * normal_quantile(auc);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut normal = || {
        let (u1, u2) = (rng.unit().max(1e-300), rng.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let labels: Vec<u8> = (0..rows)
        .map(|i| ((i as f64 + 0.5) / rows as f64 >= 1.0 - prevalence) as u8)
        .collect();
    // Squashed into (0, 1) as probabilities are (the order is kept).
    let scores = labels
        .iter()
        .map(|&y| 1.0 / (1.0 + (-(normal() + d * y as f64)).exp()))
        .collect();
    (labels, scores)
}

/// At the size `power` gives, the test of ROC-AUC against the bound (the
/// DeLong z-test) rejects in at least about 80% of data sets drawn at the
/// alternative (Hanley & McNeil's variance is a little conservative on
/// binormal data: 88% here), and in about 5% drawn at the null.
#[test]
fn the_size_reaches_the_power_on_simulated_data() {
    let o = PowerOptions {
        metric: "roc_auc",
        value: 0.8,
        effect: 0.04,
        prevalence: 0.3,
        power: 0.8,
        alpha: 0.05,
        paired: None,
    };
    let r = rows_needed(&o).unwrap();
    let rows = r.rows as usize;
    let z = normal_quantile(0.975);
    let rate = |auc: f64| {
        let sims = 400;
        let mut reject = 0;
        for s in 0..sims {
            let (y, x) = binormal(rows, o.prevalence, auc, s);
            let d = delong(&BinaryCurve::build(&y, &Floats::from(x), None)).unwrap();
            let stat = (d.auc - o.value) / d.variance.sqrt();
            reject += (2.0 * normal_sf(stat.abs()) < 2.0 * normal_sf(z)) as u32;
        }
        reject as f64 / sims as f64
    };
    let (power, size) = (rate(o.value + o.effect), rate(o.value));
    println!(
        "roc_auc 0.80 → 0.84 at prevalence 0.3: {rows} rows; DeLong's test rejected in {power} of 400 data sets at the alternative, {size} at the null"
    );
    assert!(
        (0.75..=0.95).contains(&power),
        "{rows} rows: rejected in {power} of data sets at the alternative"
    );
    assert!(size <= 0.08, "{rows} rows: rejected in {size} at the null");
}

#[test]
fn the_command_line_prints_the_rows_and_refuses_bad_options() {
    let out = evalkit([
        "power", "--metric", "accuracy", "--value", "0.9", "--effect", "-0.01", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // (1.96·√(0.9·0.1) + 0.8416·√(0.89·0.11))² / 0.01² rounds up to 7,248.
    assert_eq!(doc["rows"], 7248);
    assert!(doc["power_reached"].as_f64().unwrap() >= 0.8);
    for (args, needle) in [
        (vec!["--value", "0.8", "--effect", "0"], "--effect 0"),
        (vec!["--value", "1.2", "--effect", "0.01"], "--value 1.2"),
        (
            vec!["--value", "0.8", "--effect", "0.01", "--prevalence", "0"],
            "--prevalence 0",
        ),
        (
            vec!["--value", "0.8", "--effect", "0.01", "--paired", "1"],
            "--paired 1",
        ),
        (
            vec!["--metric", "f1", "--value", "0.8", "--effect", "0.01"],
            "roc_auc and accuracy",
        ),
    ] {
        let mut all = vec!["power"];
        all.extend(args);
        let out = evalkit(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(stderr(&out).contains(needle), "{all:?}: {}", stderr(&out));
    }
}
