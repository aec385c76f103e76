//! The report's gates and inference tables on files with known values: each
//! cell is checked against the `--json` verdicts and the inference
//! metadata (not only frozen), then the two tables are snapshotted.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};

use crate::common::{Rng, evalkit, stderr, stdout, write_ipc};

/// The inference statistics of the candidate: one batch of 400 rows.
const INFERENCE: &str = r#"{"provider": "CPUExecutionProvider", "device": "cpu", "batch_size": 4096, "threads": 2, "batches": 1, "rows": 400, "seconds": 0.00613, "rows_per_s": 65247.3, "model_seconds": 0.00037, "model_rows_per_s": 1081081.1, "latency_ms": {"p50": 0.37, "p95": 0.37, "p99": 0.37}, "peak_rss_bytes": 75540480}"#;

fn files(dir: &std::path::Path) -> (String, String) {
    let mut rng = Rng(7);
    let n = 400;
    let labels: Vec<i64> = (0..n).map(|_| (rng.unit() < 0.5) as i64).collect();
    let score = |rng: &mut Rng, signal: f64| -> Vec<f64> {
        labels
            .iter()
            .map(|&y| (signal * y as f64 + (1.0 - signal) * rng.unit()).clamp(0.0, 1.0))
            .collect()
    };
    // The baseline is the stronger model: a real drop to judge.
    let cand = score(&mut rng, 0.3);
    let base = score(&mut rng, 0.35);
    let write = |name: &str, s: Vec<f64>, meta: &[(&str, &str)]| {
        let path = dir.join(name);
        write_ipc(
            &path,
            vec![
                (
                    "label",
                    Arc::new(Int64Array::from(labels.clone())) as ArrayRef,
                ),
                ("score", Arc::new(Float64Array::from(s)) as ArrayRef),
            ],
            meta,
        );
        path.to_str().unwrap().to_string()
    };
    (
        write("cand.arrow", cand, &[("evalkit.inference", INFERENCE)]),
        write("base.arrow", base, &[]),
    )
}

/// The text of `<section id="ID">`, tags removed, cells separated by `|`.
fn section(html: &str, id: &str) -> (String, String) {
    let start = html.find(&format!("<section id=\"{id}\">")).unwrap();
    let end = start + html[start..].find("</section>").unwrap();
    let raw = &html[start..end + "</section>".len()];
    let mut text = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in raw.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' => {
                in_tag = false;
                if tag == "/td" || tag == "/th" {
                    text.push_str(" | ");
                } else if ["/tr", "/p", "/h2"].contains(&tag.as_str()) {
                    text.push('\n');
                }
            }
            c if in_tag => tag.push(c),
            c => text.push(c),
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    (raw.to_string(), text)
}

#[test]
fn gates_and_inference_tables_show_the_judged_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (cand, base) = files(dir.path());
    let report = dir.path().join("report.html");
    let suite = dir.path().join("s.toml");
    std::fs::write(
        &suite,
        format!(
            r#"name = "tables"
[predictions]
path = "{cand}"
[baseline]
predictions = "{base}"
[full]
bootstrap = 300
seed = 3
[report]
path = "{}"
[[gate]]
metric = "roc_auc"
min_lower_ci = 0.75
[[gate]]
metric = "roc_auc"
max_drop = 0.02
[[gate]]
latency_p99_ms = 0.1
[[gate]]
peak_rss_mb = 100
"#,
            report.display()
        ),
    )
    .unwrap();
    let out = evalkit(["run", suite.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The CLI's table: the value with its unit, then what was judged.
    let plain = evalkit(["run", suite.to_str().unwrap()]);
    let text = stdout(&plain);
    assert!(text.contains("| value") || text.contains("value"), "{text}");
    assert!(
        text.contains("72.0 MiB") && text.contains("peak memory 72.0 MiB ≤ 100 MiB"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let html = std::fs::read_to_string(&report).unwrap();
    let (_, gates) = section(&html, "gates");
    let (_, inference) = section(&html, "inference");
    let rows: Vec<&str> = gates
        .lines()
        .filter(|l| l.contains(" | candidate | "))
        .collect();
    assert_eq!(rows.len(), 4, "{gates}");
    let g = &doc["gates"];
    let f = |v: &serde_json::Value| evalkit::format::number(v.as_f64().unwrap());
    let interval = |v: &serde_json::Value| {
        format!(
            "{} [{}, {}]",
            f(&v["value"]),
            f(&v["ci"][0]),
            f(&v["ci"][1])
        )
    };

    // min_lower_ci: the point AUC with its interval; the lower bound judged.
    let auc = &doc["metrics"]["roc_auc"];
    assert_eq!(g[0]["value"], auc["value"]);
    assert_eq!(g[0]["judged_on"], "lower bound");
    assert_eq!(g[0]["measured"], auc["ci"][0]);
    assert!(g[0]["measured"].as_f64() < g[0]["value"].as_f64());
    assert!(
        rows[0].contains(&format!(" | {} | ", interval(auc))),
        "{}",
        rows[0]
    );
    // The minimum detectable effect: (z₀.₉₇₅ + z₀.₈)·(hi − lo)/(2 z₀.₉₇₅).
    let width = auc["ci"][1].as_f64().unwrap() - auc["ci"][0].as_f64().unwrap();
    let mde = (1.959_963_985 + 0.841_621_234) * width / (2.0 * 1.959_963_985);
    assert!((g[0]["mde"].as_f64().unwrap() - mde).abs() < 1e-9);
    assert!(
        rows[0].contains(&format!(
            "lower bound {} ≥ 0.75; detects a difference of {} at 80% power | pass",
            f(&auc["ci"][0]),
            f(&g[0]["mde"])
        )),
        "{}",
        rows[0]
    );

    // max_drop: the paired difference with its interval; the worst-case drop
    // (minus the interval's lower end, for a higher-is-better metric) judged.
    let d = &doc["delta"]["roc_auc"];
    assert_eq!(g[1]["value"], d["value"]);
    assert_eq!(g[1]["judged_on"], "worst-case drop");
    assert_eq!(g[1]["measured"].as_f64(), d["ci"][0].as_f64().map(|lo| -lo));
    assert!(
        rows[1].contains(&format!(" | {} | ", interval(d))),
        "{}",
        rows[1]
    );
    // Its interval, as drops, straddles the bound: inconclusive, counted
    // as a failure (the default).
    let (worst, best) = (-d["ci"][0].as_f64().unwrap(), -d["ci"][1].as_f64().unwrap());
    assert!(
        best <= 0.02 && 0.02 < worst,
        "the fixture's drops: {best}, {worst}"
    );
    assert_eq!(
        (g[1]["verdict"].as_str(), g[1]["passed"].as_bool()),
        (Some("inconclusive"), Some(false))
    );
    let n = evalkit::format::number;
    assert!(
        rows[1].contains(&format!(
            "worst-case drop {} > 0.02 ≥ best-case drop {}: the interval straddles the bound; detects a drop of {} at 80% power | INCONCLUSIVE (counted as fail)",
            n(worst),
            n(best),
            f(&g[1]["mde"])
        )),
        "{}",
        rows[1]
    );

    // Inference gates, by hand: 0.37 ms p99 against 0.1; 75,540,480 bytes
    // = 72.04 MiB against 100.
    assert_eq!(g[2]["measured"], 0.37);
    assert!(
        rows[2].contains("| 0.3700 ms | batch latency p99 0.3700 ms > 0.1 ms | FAIL"),
        "{}",
        rows[2]
    );
    assert!(
        rows[3].contains("| 72.0 MiB | peak memory 72.0 MiB ≤ 100 MiB | pass"),
        "{}",
        rows[3]
    );
    assert!(
        !gates.contains("MB ") && !inference.contains(" MB"),
        "one unit: MiB"
    );

    // The inference table, by hand from INFERENCE.
    let cells: Vec<&str> = inference
        .lines()
        .find(|l| l.contains("CPUExecutionProvider"))
        .unwrap()
        .split(" | ")
        .map(str::trim)
        .collect();
    assert_eq!(
        cells[..9],
        [
            "candidate",
            "CPUExecutionProvider",
            "cpu",
            "4096",
            "2",
            "65,247",
            "1,081,081",
            "0.3700 ms (1 batch)",
            "72.0 MiB"
        ],
        "{inference}"
    );
    assert!(inference.contains("Rows/s, whole pass:") && inference.contains("Rows/s, model:"));
    // The baseline has no statistics, and says so.
    assert!(inference.contains("not from evalkit infer"), "{inference}");
    // No exponent next to decimals anywhere on the page's tables.
    for t in [&gates, &inference] {
        assert!(!t.contains("e-"), "{t}");
    }
    insta::assert_snapshot!("gates_table", gates);
    insta::assert_snapshot!("inference_table", inference);
}
