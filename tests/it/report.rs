//! The HTML report: its model (snapshot), one chart (snapshot), and the
//! page in headless Chromium (no console messages, no requests, not blank,
//! data escaped).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use evalkit::data::{ReadOptions, read_predictions};
use evalkit::full::FullOptions;
use evalkit::full::binary::Thresholds;
use evalkit::report::{ReportOptions, build, charts};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{evalkit, fixture, stderr, write_ipc};

/// A small binary file: 80 rows, a region column, scores from `shift`.
fn small_binary(dir: &Path, name: &str, shift: f64) -> PathBuf {
    let n = 80;
    let labels: Vec<i64> = (0..n).map(|i| ((i * 7) % 5 < 2) as i64).collect();
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            let base = if labels[i] == 1 { 0.62 } else { 0.38 };
            let noise = (((i * 37) % 17) as f64 - 8.0) / 20.0;
            ((base + shift * noise) * 100.0).round().clamp(1.0, 99.0) / 100.0
        })
        .collect();
    let region: Vec<&str> = (0..n).map(|i| ["north", "south"][i % 2]).collect();
    let path = dir.join(name);
    write_ipc(
        &path,
        vec![
            ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
            ("score", Arc::new(Float64Array::from(scores))),
            (
                "row_id",
                Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
            ),
            ("region", Arc::new(StringArray::from(region))),
        ],
        &[
            ("evalkit.task", "binary"),
            ("evalkit.classes", r#"["no","yes"]"#),
        ],
    );
    path
}

fn read(path: &Path, extra: &[&str]) -> evalkit::data::Predictions {
    read_predictions(
        path,
        &ReadOptions {
            extra: extra.iter().map(|s| s.to_string()).collect(),
            ..ReadOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn report_model_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let cand = read(&small_binary(dir.path(), "cand.arrow", 0.8), &["region"]);
    let base = read(&small_binary(dir.path(), "base.arrow", 1.6), &["region"]);
    let options = ReportOptions {
        full: FullOptions {
            thresholds: Thresholds::Grid(11),
            intervals: IntervalOptions {
                replicates: 40,
                seed: 2,
                ..IntervalOptions::default()
            },
            ..FullOptions::default()
        },
        slices: vec![vec!["region".to_string()]],
        ..ReportOptions::default()
    };
    let report = build(&[cand], Some(&base), &options, &|_, _| {}).unwrap();
    // No curve is longer than the cap; the baseline is there with deltas.
    let c = &report.candidates[0];
    assert!(c.delta.is_some() && report.baseline.is_some());
    assert!(c.curves.roc.as_ref().unwrap().x.len() <= evalkit::report::MAX_POINTS);
    assert_eq!(c.slices.len(), 2);
    insta::with_settings!({filters => vec![
        (r#""created": "[^"]+""#, r#""created": "[time]""#),
        (r#""evalkit_version": "[^"]+""#, r#""evalkit_version": "[version]""#),
        (r#""file": "[^"]+/([a-z]+\.arrow)""#, r#""file": "[dir]/$1""#),
        (r#""file_bytes": \d+"#, r#""file_bytes": "[bytes]""#),
    ]}, {
        insta::assert_json_snapshot!("report_model", report);
    });
}

#[test]
fn histogram_svg_snapshot() {
    let hists = vec![
        evalkit::report::Histogram {
            label: "actual 0".to_string(),
            edges: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            counts: vec![6.0, 3.0, 1.0, 0.0],
        },
        evalkit::report::Histogram {
            label: "actual 1 & <more>".to_string(),
            edges: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            counts: vec![0.0, 1.0, 4.0, 5.0],
        },
    ];
    let svg = charts::histograms("model", "score", "score", "rows", &hists).unwrap();
    assert!(svg.contains("actual 1 &amp; &lt;more&gt;"));
    insta::assert_snapshot!("histogram_svg", svg);
}

/// Headless Chromium, when installed (`make test` installs it and sets
/// EVALKIT_REQUIRE_BROWSER=1, so there it never skips).
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EVALKIT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = std::process::Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    assert!(
        std::env::var_os("EVALKIT_REQUIRE_BROWSER").is_none(),
        "EVALKIT_REQUIRE_BROWSER is set but no chromium was found"
    );
    eprintln!("report browser tests skipped: no chromium on PATH (make test installs it)");
    None
}

/// Runs headless Chromium on `page`: returns (DOM, console lines) and
/// writes a screenshot to `png`.
fn open_in_chromium(browser: &Path, page: &Path, png: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let user = format!("--user-data-dir={}", profile.path().display());
    let dom = std::process::Command::new(browser)
        .args(common)
        .arg(&user)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = std::process::Command::new(browser)
        .args(common)
        .arg(&user)
        .arg("--window-size=1280,2400")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let console = [&dom.stderr, &shot.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .filter(|l| l.contains("CONSOLE"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    (String::from_utf8_lossy(&dom.stdout).to_string(), console)
}

/// Distinct colours and the share of non-white pixels of a PNG.
fn png_stats(path: &Path) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    let total = px.len() / channels;
    for p in px.chunks(channels) {
        colours.insert(p[..3.min(channels)].to_vec());
        if p[..3.min(channels)].iter().any(|&v| v < 235) {
            ink += 1;
        }
    }
    (colours.len(), ink as f64 / total as f64)
}

/// Static checks: nothing in the page can make a request.
fn assert_self_contained(html: &str) {
    for bad in [
        "src=\"", "url(", "@import", "<script", "<link", "<iframe", "<object", "<img",
    ] {
        assert!(!html.contains(bad), "the page contains {bad}");
    }
    for (i, _) in html.match_indices("href=\"") {
        assert!(html[i + 6..].starts_with('#'), "external href at {i}");
    }
    assert!(html.contains("Content-Security-Policy"));
}

fn run_report(args: &[&str]) {
    let out = evalkit(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
}

#[test]
fn reports_open_cleanly_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    run_report(&[
        "report",
        fixture("binary_sliced.arrow").to_str().unwrap(),
        "--baseline",
        fixture("binary_baseline.arrow").to_str().unwrap(),
        "--slice",
        "region",
        "--bootstrap",
        "100",
        "-o",
        &d("binary.html"),
    ]);
    run_report(&[
        "report",
        fixture("multiclass_digits.arrow").to_str().unwrap(),
        "--bootstrap",
        "50",
        "-o",
        &d("multiclass.html"),
    ]);
    run_report(&[
        "report",
        fixture("regression.arrow").to_str().unwrap(),
        "--bootstrap",
        "50",
        "-o",
        &d("regression.html"),
    ]);
    run_report(&[
        "report",
        fixture("ranking.arrow").to_str().unwrap(),
        "--baseline",
        fixture("ranking_baseline.arrow").to_str().unwrap(),
        "--bootstrap",
        "50",
        "-o",
        &d("ranking.html"),
    ]);
    // The serving profile's page (two models side by side).
    run_report(&[
        "profile",
        fixture("models/breast_cancer_lr.onnx").to_str().unwrap(),
        fixture("models/breast_cancer_gbm.onnx").to_str().unwrap(),
        fixture("data/breast_cancer.parquet").to_str().unwrap(),
        "--ignore",
        "row_id,label",
        "--batch-sizes",
        "1,8",
        "--concurrency",
        "1,2",
        "--duration",
        "0.05",
        "--report",
        &d("serving.html"),
    ]);
    for page in [
        "binary.html",
        "multiclass.html",
        "regression.html",
        "ranking.html",
        "serving.html",
    ] {
        let html = std::fs::read_to_string(d(page)).unwrap();
        assert_self_contained(&html);
        assert!(html.contains("<svg"), "{page} has no chart");
    }
    let binary = std::fs::read_to_string(d("binary.html")).unwrap();
    for needle in [
        "ROC curve",
        "Precision–recall",
        "Reliability",
        "Slices by region",
        "Δ vs binary_baseline",
        "Confusion matrix",
        "roc_auc by slice",
    ] {
        assert!(binary.contains(needle), "binary report lacks {needle}");
    }
    let multiclass = std::fs::read_to_string(d("multiclass.html")).unwrap();
    for needle in [
        "Confusion matrix · multiclass_digits",
        "rows: actual · columns: predicted",
        "Most confused · multiclass_digits",
        "multiclass_digits: F1 per class",
        "multiclass_digits: one-vs-rest ROC, weakest classes",
    ] {
        assert!(
            multiclass.contains(needle),
            "multiclass report lacks {needle}"
        );
    }
    let regression = std::fs::read_to_string(d("regression.html")).unwrap();
    for needle in [
        "regression: actual vs predicted",
        "regression: residual vs predicted",
        "Calibration by decile of the prediction",
    ] {
        assert!(
            regression.contains(needle),
            "regression report lacks {needle}"
        );
    }
    let ranking = std::fs::read_to_string(d("ranking.html")).unwrap();
    for needle in [
        "ranking: ndcg@10 per query, as shares of each group's queries",
        "ndcg@10",
        "mrr",
        "Δ vs ranking_baseline",
    ] {
        assert!(ranking.contains(needle), "ranking report lacks {needle}");
    }
    let serving = std::fs::read_to_string(d("serving.html")).unwrap();
    for needle in [
        "Latency per request",
        "Throughput",
        "Latency under load",
        "breast_cancer_gbm",
        "ONNX Runtime",
    ] {
        assert!(serving.contains(needle), "serving page lacks {needle}");
    }
    let Some(browser) = chromium() else { return };
    for page in [
        "binary.html",
        "multiclass.html",
        "regression.html",
        "ranking.html",
        "serving.html",
    ] {
        let png = dir.path().join(format!("{page}.png"));
        let (dom, console) = open_in_chromium(&browser, Path::new(&d(page)), &png);
        assert!(console.is_empty(), "{page}: console messages {console:?}");
        assert!(dom.contains("<h1>"), "{page}: no DOM");
        let (colours, ink) = png_stats(&png);
        assert!(
            colours > 50 && ink > 0.02,
            "{page}: blank screenshot ({colours} colours, {ink:.3} ink)"
        );
    }
}

#[test]
fn data_strings_are_escaped_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "<script>alert(1)</script>";
    let n = 60usize;
    let path = dir.path().join("evil.arrow");
    let classes = serde_json::to_string(&[evil, "b"]).unwrap();
    write_ipc(
        &path,
        vec![
            (
                "label",
                Arc::new(Int64Array::from(
                    (0..n as i64)
                        .map(|i| (i * 3 % 7 < 3) as i64)
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "score",
                Arc::new(Float64Array::from(
                    (0..n)
                        .map(|i| (i * 13 % 97) as f64 / 100.0)
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                evil,
                Arc::new(StringArray::from(
                    (0..n)
                        .map(|i| {
                            if i % 2 == 0 {
                                "<img src=x onerror=alert(2)>"
                            } else {
                                "ok"
                            }
                        })
                        .collect::<Vec<_>>(),
                )),
            ),
        ],
        &[("evalkit.task", "binary"), ("evalkit.classes", &classes)],
    );
    let page = dir.path().join("evil.html");
    run_report(&[
        "report",
        path.to_str().unwrap(),
        "--slice",
        evil,
        "--names",
        "<b>bold</b>",
        "--bootstrap",
        "20",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains("<b>bold</b>"));
    let Some(browser) = chromium() else { return };
    let png = dir.path().join("evil.png");
    let (dom, console) = open_in_chromium(&browser, &page, &png);
    assert!(console.is_empty(), "console messages {console:?}");
    // The text is shown as text; no element came from the data.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!dom.contains("<script") && !dom.contains("<img"));
}

#[test]
fn report_size_is_bounded_by_the_point_cap() {
    // 5 candidates of 20,000 rows with 20,000 distinct scores each: the
    // curves are capped at 1000 points, so the page stays small whatever
    // the row count (the 10^6-row case is measured by benches/peer_report.py).
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000usize;
    let mut files = Vec::new();
    for m in 0..5 {
        let path = dir.path().join(format!("m{m}.arrow"));
        let labels: Vec<i64> = (0..n).map(|i| ((i * 7919) % 10 < 3) as i64).collect();
        let scores: Vec<f64> = (0..n)
            .map(|i| {
                let u = ((i * 104_729 + m * 31) % n) as f64 / n as f64;
                (0.5 * u + 0.45 * labels[i] as f64 + 0.001 * m as f64).min(0.999_999)
            })
            .collect();
        write_ipc(
            &path,
            vec![
                ("label", Arc::new(Int64Array::from(labels)) as ArrayRef),
                ("score", Arc::new(Float64Array::from(scores))),
            ],
            &[("evalkit.task", "binary")],
        );
        files.push(path.to_str().unwrap().to_string());
    }
    let page = dir.path().join("five.html");
    let mut args = vec!["report".to_string()];
    args.extend(files.iter().cloned());
    args.extend(["--bootstrap", "30", "-o", page.to_str().unwrap()].map(String::from));
    let out = evalkit(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bytes = std::fs::metadata(&page).unwrap().len();
    assert!(bytes < 2_000_000, "{bytes} bytes");
}

#[test]
fn bad_report_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = evalkit([
        "report",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "--baseline",
        fixture("regression.arrow").to_str().unwrap(),
        "-o",
        dir.path().join("x.html").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("regression"));
    let out = evalkit([
        "report",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "-o",
        dir.path().join("no/such/dir/x.html").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"));
    let out = evalkit([
        "report",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "--names",
        "a,b",
        "-o",
        dir.path().join("x.html").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--names"));
    assert!(!dir.path().join("x.html").exists());
}

/// The report of one model with default options.
fn one_model(preds: &evalkit::data::Predictions) -> evalkit::report::Report {
    build(
        std::slice::from_ref(preds),
        None,
        &ReportOptions::default(),
        &|_, _| {},
    )
    .unwrap()
}

/// The regression views hold every row once (binned, or counted outside
/// the drawn range), ten deciles of equal size whose means are the rows'
/// means, and the multiclass page lists the most confused pair first.
#[test]
fn task_views_hold_the_rows() {
    let preds = read(&fixture("regression.arrow"), &[]);
    let report = one_model(&preds);
    let c = &report.candidates[0].curves;
    for d in [&c.actual_vs_predicted, &c.residual_vs_predicted] {
        let d = d.as_ref().unwrap();
        let inside: f64 = d.counts.iter().flatten().sum();
        assert_eq!(inside + d.outside, preds.rows() as f64);
        assert!(d.outside < 0.05 * preds.rows() as f64);
    }
    assert_eq!(c.deciles.len(), 10);
    assert!(c.deciles.iter().all(|d| d.rows == preds.rows() / 10));
    let evalkit::data::Columns::Regression { labels, scores } = &preds.columns else {
        unreachable!()
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let all = mean(labels.to_f64_vec());
    let of_deciles = mean(c.deciles.iter().map(|d| d.mean_actual).collect());
    assert!((all - of_deciles).abs() < 1e-9 * all.abs().max(1.0));
    let p = mean(scores.to_f64_vec());
    let of_deciles = mean(c.deciles.iter().map(|d| d.mean_predicted).collect());
    assert!((p - of_deciles).abs() < 1e-9 * p.abs().max(1.0));
    // Deciles in order of the prediction, each interval around its mean.
    for w in c.deciles.windows(2) {
        assert!(w[0].mean_predicted <= w[1].mean_predicted);
    }
    for d in &c.deciles {
        let [lo, hi] = d.ci.unwrap();
        assert!(lo < d.mean_actual && d.mean_actual < hi);
    }
    // Multiclass: the most confused pair is the largest off-diagonal cell.
    let preds = read(&fixture("multiclass_digits.arrow"), &[]);
    let report = one_model(&preds);
    let m = &report.candidates[0].confusion.matrix;
    let (mut best, mut at) = (0.0, (0, 0));
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if i != j && v > best {
                (best, at) = (v, (i, j));
            }
        }
    }
    // The one-vs-rest curves: the weakest classes, their AUCs, average
    // precisions and intervals the per-class table's, each curve inside
    // its band's x range, the PR chance level the class's share of rows.
    let cand = &report.candidates[0];
    let curves = &cand.curves.class_curves;
    assert_eq!(curves.len(), evalkit::report::views::CLASS_CURVES);
    for w in curves.windows(2) {
        assert!(w[0].auc <= w[1].auc);
    }
    let total: f64 = cand.per_class.iter().map(|r| r.support).sum();
    for c in curves {
        let i = cand.classes.iter().position(|n| *n == c.class).unwrap();
        let row = &cand.per_class[i];
        let want = row.roc_auc.unwrap();
        assert!(
            (c.auc - want).abs() < 1e-12,
            "{}: {} vs {want}",
            c.class,
            c.auc
        );
        assert_eq!(c.average_precision, row.average_precision);
        assert_eq!(
            (c.auc_ci, c.average_precision_ci),
            (row.roc_auc_ci, row.average_precision_ci)
        );
        let [lo, hi] = c
            .auc_ci
            .expect("the default bootstrap gives an AUC interval");
        assert!(
            lo <= c.auc && c.auc <= hi,
            "{}: {lo} {} {hi}",
            c.class,
            c.auc
        );
        assert_eq!(c.prevalence, row.support / total);
        for (curve, start, end) in [
            (&c.roc, (0.0, 0.0), (1.0, 1.0)),
            (&c.pr, (0.0, 1.0), (1.0, f64::NAN)),
        ] {
            assert!(curve.x.len() <= evalkit::report::MAX_POINTS / 4);
            assert_eq!((curve.x[0], curve.y[0]), start);
            assert_eq!(*curve.x.last().unwrap(), end.0);
            if end.1.is_finite() {
                assert_eq!(*curve.y.last().unwrap(), end.1);
            }
        }
        // The PR curve ends at recall 1 with precision the share of rows.
        assert!((c.pr.y.last().unwrap() - c.prevalence).abs() < 1e-12);
        // The class's own band: it holds the class's ROC curve (up to the
        // down-sampling) at nearly every point.
        let b = c.roc_band.as_ref().unwrap();
        let tpr_at = |x: f64| {
            let k = c.roc.x.partition_point(|&v| v <= x).max(1) - 1;
            c.roc.y[k]
        };
        let inside =
            b.x.iter()
                .zip(b.lo.iter().zip(&b.hi))
                .filter(|&(&x, (&l, &h))| tpr_at(x) >= l - 0.02 && tpr_at(x) <= h + 0.02)
                .count();
        assert!(
            inside * 10 >= b.x.len() * 9,
            "{}: {inside} of {}",
            c.class,
            b.x.len()
        );
        for band in [&c.roc_band, &c.pr_band] {
            let b = band.as_ref().expect("the default bootstrap gives bands");
            assert!(b.x.len() > 50 && b.x.len() <= 100, "{}", b.x.len());
            assert!(
                b.lo.iter()
                    .zip(&b.hi)
                    .all(|(l, h)| l <= h && *l >= 0.0 && *h <= 1.0)
            );
        }
    }
    // Without the bootstrap: curves, no bands or intervals.
    let plain = build(
        std::slice::from_ref(&preds),
        None,
        &ReportOptions {
            full: evalkit::full::FullOptions {
                intervals: evalkit::uncertainty::IntervalOptions {
                    replicates: 0,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..ReportOptions::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let plain = &plain.candidates[0].curves.class_curves;
    assert_eq!(plain.len(), curves.len());
    assert!(
        plain
            .iter()
            .all(|c| c.roc_band.is_none() && c.pr_band.is_none() && c.auc_ci.is_none())
    );
    let html = evalkit::report::html::render(&report);
    let table = &html[html.find("Most confused").unwrap()..];
    let first = format!("<tr><td>{}</td><td>{}</td><td>{}</td>", at.0, at.1, best);
    assert!(
        table.contains(&first),
        "{first} not first in {}",
        &table[..400]
    );
}

/// The regression page does not grow with the rows: its charts are binned.
#[test]
fn regression_report_size_does_not_grow_with_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for n in [5_000usize, 200_000] {
        let mut rng = crate::common::Rng(7);
        let x: Vec<f64> = (0..n).map(|_| 100.0 * rng.normal()).collect();
        let y: Vec<f64> = x.iter().map(|v| v + 10.0 * rng.normal()).collect();
        let path = dir.path().join(format!("r{n}.arrow"));
        write_ipc(
            &path,
            vec![
                ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
                ("score", Arc::new(Float64Array::from(x))),
            ],
            &[("evalkit.task", "regression")],
        );
        let page = dir.path().join(format!("r{n}.html"));
        run_report(&[
            "report",
            path.to_str().unwrap(),
            "--bootstrap",
            "0",
            "-o",
            page.to_str().unwrap(),
        ]);
        sizes.push(std::fs::metadata(&page).unwrap().len() as f64);
    }
    assert!(sizes[1] < 400_000.0, "{sizes:?}");
    assert!(sizes[1] < 1.3 * sizes[0], "{sizes:?}");
}

/// With a multiclass baseline, the per-class table gains each class's F1
/// difference with its paired interval, coloured like the summary's.
#[test]
fn multiclass_report_with_a_baseline_shows_per_class_differences() {
    let cand = read(&fixture("multiclass_ties.arrow"), &[]);
    let mut base = cand.clone();
    if let evalkit::data::Columns::Multiclass {
        scores, classes, ..
    } = &mut base.columns
    {
        let k = *classes as f64;
        let s = scores.to_f64_vec();
        *scores =
            evalkit::data::Floats::from(s.iter().map(|v| 0.5 * v + 0.5 / k).collect::<Vec<f64>>());
    }
    let options = ReportOptions {
        full: FullOptions {
            intervals: IntervalOptions {
                replicates: 60,
                ..IntervalOptions::default()
            },
            ..FullOptions::default()
        },
        ..ReportOptions::default()
    };
    let report = versus_with(&cand, &base, &options);
    let c = &report.candidates[0];
    assert_eq!(c.class_f1_delta.len(), c.per_class.len());
    assert!(c.class_f1_delta.iter().all(|d| d.ci.is_some()));
    assert!(c.per_class.iter().all(|r| r.f1_ci.is_some()));
    let html = evalkit::report::html::render(&report);
    assert!(html.contains("<th>Δ F1 vs baseline</th>"));
}

/// The report of `cand` against `base` with the default options.
fn versus(
    cand: &evalkit::data::Predictions,
    base: &evalkit::data::Predictions,
) -> evalkit::report::Report {
    versus_with(cand, base, &ReportOptions::default())
}

/// The report of `cand` against `base`.
fn versus_with(
    cand: &evalkit::data::Predictions,
    base: &evalkit::data::Predictions,
    options: &ReportOptions,
) -> evalkit::report::Report {
    build(std::slice::from_ref(cand), Some(base), options, &|_, _| {}).unwrap()
}

/// With a regression baseline, both models' absolute-error percentiles are
/// there (101, rising, the median at the rows' median error) and the page
/// overlays them.
#[test]
fn regression_errors_of_both_models_are_overlaid() {
    let cand = read(&fixture("regression.arrow"), &[]);
    let mut base = cand.clone();
    if let evalkit::data::Columns::Regression { labels, scores } = &mut base.columns {
        let (y, p) = (labels.to_f64_vec(), scores.to_f64_vec());
        *scores = evalkit::data::Floats::from(
            p.iter()
                .zip(&y)
                .map(|(p, y)| 0.5 * p + 0.5 * y + 20.0)
                .collect::<Vec<f64>>(),
        );
    }
    let report = versus(&cand, &base);
    for (c, p) in [
        (&report.candidates[0], &cand),
        (report.baseline.as_ref().unwrap(), &base),
    ] {
        let q = &c.curves.abs_error;
        assert_eq!(q.len(), 101);
        assert!(q.windows(2).all(|w| w[0] <= w[1]));
        let evalkit::data::Columns::Regression { labels, scores } = &p.columns else {
            unreachable!()
        };
        let mut e: Vec<f64> = labels
            .to_f64_vec()
            .iter()
            .zip(scores.to_f64_vec())
            .map(|(y, s)| (y - s).abs())
            .collect();
        e.sort_by(f64::total_cmp);
        // 2000 rows: the 50th percentile is the 1000th smallest error.
        assert_eq!(q[50], e[999]);
        assert_eq!(q[100], e[1999]);
    }
    let html = evalkit::report::html::render(&report);
    assert!(html.contains("Absolute error, every model"));
}

/// With a regression baseline, each decile of the actual value carries
/// both models' mean absolute errors and the normal interval of their
/// paired difference, as recomputed here from the rows; the deciles'
/// differences average (by rows) to the whole data's MAE difference.
#[test]
fn regression_decile_deltas_are_paired_differences() {
    let cand = read(&fixture("regression.arrow"), &[]);
    let mut base = cand.clone();
    let evalkit::data::Columns::Regression { labels, scores } = &cand.columns else {
        unreachable!()
    };
    let (y, p) = (labels.to_f64_vec(), scores.to_f64_vec());
    // A baseline worse on high actual values, better on low ones.
    let b: Vec<f64> = p
        .iter()
        .zip(&y)
        .map(|(p, y)| {
            if *y < 0.0 {
                *y + 0.1 * (p - y)
            } else {
                p + 0.3 * y.abs() + 5.0
            }
        })
        .collect();
    if let evalkit::data::Columns::Regression { scores, .. } = &mut base.columns {
        *scores = evalkit::data::Floats::from(b.clone());
    }
    let report = versus(&cand, &base);
    let c = &report.candidates[0];
    let got = &c.decile_delta;
    assert_eq!(got.len(), 10);
    assert!(report.baseline.as_ref().unwrap().decile_delta.is_empty());
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &c| y[a].total_cmp(&y[c]).then(a.cmp(&c)));
    let z = 1.959_963_984_540_054;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let mut weighted = 0.0;
    for (d, g) in got.iter().enumerate() {
        let rows = &order[d * n / 10..(d + 1) * n / 10];
        let m = rows.len() as f64;
        let diff: Vec<f64> = rows
            .iter()
            .map(|&r| (y[r] - p[r]).abs() - (y[r] - b[r]).abs())
            .collect();
        let mean = diff.iter().sum::<f64>() / m;
        let sd = (diff.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
        let mae_c = rows.iter().map(|&r| (y[r] - p[r]).abs()).sum::<f64>() / m;
        let mae_b = rows.iter().map(|&r| (y[r] - b[r]).abs()).sum::<f64>() / m;
        assert_eq!(g.rows, rows.len());
        assert_eq!(g.actual, [y[rows[0]], y[rows[rows.len() - 1]]]);
        assert!(close(g.candidate_mae, mae_c) && close(g.baseline_mae, mae_b));
        assert!(close(g.delta, mean), "decile {d}: {} vs {mean}", g.delta);
        let [lo, hi] = g.ci.unwrap();
        assert!(close(lo, mean - z * sd / m.sqrt()) && close(hi, mean + z * sd / m.sqrt()));
        weighted += g.delta * m;
    }
    let whole = c.delta.as_ref().unwrap().value("mae").unwrap();
    assert!(close(weighted / n as f64, whole), "{weighted} vs {whole}");
    // The baseline is better on the lowest decile (the candidate worse:
    // red, flagged in the chart) and worse on the highest (green).
    assert!(got[0].ci.unwrap()[0] > 0.0 && got[9].ci.unwrap()[1] < 0.0);
    let html = evalkit::report::html::render(&report);
    let table = &html[html
        .find("Absolute error by decile of the actual value")
        .unwrap()..];
    let rows: Vec<&str> = table.split("<tr>").skip(2).take(10).collect();
    assert!(rows[0].contains("class=\"worse\""), "{}", rows[0]);
    assert!(rows[9].contains("class=\"better\""), "{}", rows[9]);
    assert!(html.contains("Δ MAE vs baseline by decile"));
}

/// With operating points and costs, each binary model's are those of the
/// full tier on its rows (the baseline's on its own), every binary page
/// has the decision curve, and the page shows the tables and charts.
#[test]
fn operating_points_and_costs_are_the_full_tiers() {
    let cand = read(&fixture("binary_balanced.arrow"), &[]);
    let base = read(&fixture("binary_baseline.arrow"), &[]);
    let specs: Vec<evalkit::operating::Spec> = ["precision>=0.9", "fpr<=0.05,maximize=f1"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let costs: evalkit::costs::Costs = "fp=1,fn=5".parse().unwrap();
    let options = ReportOptions {
        full: FullOptions {
            intervals: IntervalOptions {
                replicates: 100,
                ..IntervalOptions::default()
            },
            ..FullOptions::default()
        },
        operating_points: specs.clone(),
        cost: Some(costs.clone()),
        ..ReportOptions::default()
    };
    let report = versus_with(&cand, &base, &options);
    for (entry, preds) in [
        (&report.candidates[0], &cand),
        (report.baseline.as_ref().unwrap(), &base),
    ] {
        let result = evalkit::full::full(preds, &options.full).unwrap();
        let want = evalkit::operating::for_result(
            &result,
            Some(preds),
            &specs,
            true,
            &options.full.intervals,
        );
        assert_eq!(entry.operating_points, want);
        let evalkit::full::FullResult::Binary(b) = &result else {
            unreachable!()
        };
        let cost = evalkit::costs::analyse(&costs, &b.curve, Some(preds), 0.5).unwrap();
        assert_eq!(entry.cost.as_ref(), Some(&cost));
        assert_eq!(
            entry.curves.decision.as_ref(),
            Some(&evalkit::costs::decision_curve(&b.curve))
        );
    }
    let first = &report.candidates[0].operating_points[0];
    assert!(first.threshold.is_some() && first.expected.is_some());
    let html = evalkit::report::html::render(&report);
    for text in [
        "Operating points · binary_balanced",
        "Costs · binary_baseline",
        "Decision curve",
        "Expected cost vs threshold",
        "precision&gt;=0.9",
    ] {
        assert!(html.contains(text), "{text}");
    }
}
