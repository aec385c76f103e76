//! `evalkit profile` and `[serving]` gates: the load generator stops by
//! itself, percentiles are the recorded requests' own, every bad input is
//! exit 2 naming what is wrong, and gates pass, fail and are inconclusive.
//! These tests need the ONNX Runtime library (as `tests/it/infer.rs`).

use serde_json::Value;

use crate::common::{evalkit, fixture, stderr, stdout};

fn lr() -> String {
    fixture("models/breast_cancer_lr.onnx")
        .display()
        .to_string()
}

fn cancer() -> String {
    fixture("data/breast_cancer.parquet").display().to_string()
}

fn profile_json(args: &[&str]) -> Value {
    let o = evalkit(["profile"].iter().chain(args));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Nearest-rank percentile of sorted values.
fn naive(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

#[test]
fn percentiles_are_the_recorded_requests_and_runs_stop_by_count() {
    let (m, d) = (lr(), cancer());
    let doc = profile_json(&[
        &m,
        &d,
        "--ignore",
        "row_id,label",
        "--batch-sizes",
        "1,8,300",
        "--concurrency",
        "1,2",
        "--duration",
        "60",
        "--max-requests",
        "400",
        "--latencies",
        "--json",
    ]);
    assert_eq!(doc["tier"], "profile");
    for key in [
        "provider",
        "cpu",
        "onnxruntime_version",
        "onnxruntime_library",
    ] {
        assert!(doc["environment"][key].is_string(), "{key}");
    }
    assert_eq!(doc["data"]["features"], 30);
    let model = &doc["models"][0];
    assert_eq!(model["input"], "input 'input' of shape [N, 30]");
    assert!(f(&model["footprint"]["model_bytes"]) > 0.0);
    assert!(f(&model["footprint"]["init_ms"]) > 0.0);
    let runs: Vec<&Value> = model["latency"]
        .as_array()
        .unwrap()
        .iter()
        .chain(model["throughput"].as_array().unwrap())
        .collect();
    assert_eq!(runs.len(), 5);
    for run in runs {
        let mut lat: Vec<f64> = run["latencies_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        // The run stopped at its request count, long before 60 s; with two
        // clients too (the count is over all clients).
        assert_eq!(lat.len(), 400);
        assert_eq!(run["latency_ms"]["requests"], 400);
        assert!(f(&run["seconds"]) < 60.0);
        lat.sort_by(f64::total_cmp);
        for p in [50.0, 95.0, 99.0] {
            let q = &run["latency_ms"][format!("p{p}")];
            assert_eq!(f(&q["value"]), naive(&lat, p), "p{p}");
            // The interval's ends are recorded requests around the value.
            let lo = f(&q["lower"]);
            assert!(lat.contains(&lo) && lo <= f(&q["value"]));
            if let Some(hi) = q["upper"].as_f64() {
                assert!(lat.contains(&hi) && hi >= f(&q["value"]));
            }
        }
        // 400 requests bound a p99 from above at 95% (368 needed).
        assert!(run["latency_ms"]["p99"]["upper"].is_number());
        assert_eq!(f(&run["latency_ms"]["max"]), *lat.last().unwrap());
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        assert!((f(&run["latency_ms"]["mean"]) - mean).abs() < 1e-9 * mean.max(1.0));
    }
    // The whole dataset (285 rows) is the request pool; a request of 300
    // rows repeats rows rather than failing.
    assert_eq!(model["latency"][2]["batch_size"], 300);
    let t = &model["throughput"][1];
    let qps = f(&t["qps"]);
    assert!((qps - 400.0 / f(&t["seconds"])).abs() < 1e-6 * qps);
    let ci = t["qps_ci"].as_array().unwrap();
    assert!(f(&ci[0]) <= qps && qps <= f(&ci[1]));
}

#[test]
fn runs_stop_by_duration() {
    let (m, d) = (lr(), cancer());
    let doc = profile_json(&[
        &m,
        &d,
        "--ignore",
        "row_id,label",
        "--batch-sizes",
        "1",
        "--concurrency",
        "2",
        "--duration",
        "0.2",
        "--json",
    ]);
    for run in [
        &doc["models"][0]["latency"][0],
        &doc["models"][0]["throughput"][0],
    ] {
        let n = run["latency_ms"]["requests"].as_u64().unwrap();
        // Stopped by the clock: fewer than --max-requests (100000 by
        // default). `seconds` is when the last request finished: the
        // client saw 0.2 s pass only after it, so it ends at most one
        // request short of 0.2 s (0.19999 s was seen), and not long after.
        assert!(n > 0 && n < 100_000, "{n}");
        let s = f(&run["seconds"]);
        let slowest = f(&run["latency_ms"]["max"]) / 1000.0;
        assert!(
            s + slowest >= 0.2 && s < 5.0,
            "{s} (slowest request {slowest} s)"
        );
        assert!(run.get("latencies_ms").is_none());
    }
}

#[test]
fn bad_input_is_exit_2_naming_it() {
    let (m, d) = (lr(), cancer());
    let fixed = fixture("models/breast_cancer_lr_batch32.onnx")
        .display()
        .to_string();
    let ig = ["--ignore", "row_id,label"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![&m, &d, "--batch-sizes", "0"],
            "batch size must be at least 1",
        ),
        (
            vec![&m, &d, "--concurrency", "1,0"],
            "concurrency level must be at least 1",
        ),
        (vec![&m, &d, "--duration", "0"], "--duration 0"),
        (vec![&m, &d, "--max-requests", "0"], "--max-requests"),
        (vec![&m, &d, "--ci", "1.5"], "--ci 1.5"),
        // A model whose batch dimension is fixed cannot serve one row.
        (
            vec![&fixed, &d, "--batch-sizes", "1"],
            "takes input 'input' of shape [32, 30]: a fixed batch of 32 rows, so it cannot serve requests of 1 rows",
        ),
        (vec![&m, &d], "expects 30 features but"),
        (vec!["no_such.onnx", &d], "no_such.onnx"),
        (vec![&m, &d, "--where", "label > 5"], "has no rows"),
        // CUDA on a machine without it (as the infer tests): exit 2, never
        // a silent CPU profile.
        (
            vec![&m, &d, "--device", "cuda"],
            "CUDA execution provider cannot be used",
        ),
    ];
    for (args, says) in cases {
        let mut all = args.clone();
        if !args.contains(&"--ignore") && !says.contains("expects 30 features") {
            all.extend(ig);
        }
        let o = evalkit(["profile"].iter().chain(&all));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // The fixed-batch model profiles at its own batch size.
    let doc = profile_json(&[
        &fixed,
        &d,
        "--ignore",
        "row_id,label",
        "--batch-sizes",
        "32",
        "--concurrency-batch",
        "32",
        "--concurrency",
        "1",
        "--duration",
        "0.05",
        "--json",
    ]);
    assert_eq!(doc["models"][0]["latency"][0]["batch_size"], 32);
}

/// ROC-AUC of `candidate` − `reference` on the breast-cancer rows, from
/// `evalkit infer` and `evalkit compare`.
fn compare_auc(
    dir: &std::path::Path,
    cache: &std::path::Path,
    reference: &str,
    candidate: &str,
) -> f64 {
    let mut files = Vec::new();
    for (model, name) in [(reference, "ref.arrow"), (candidate, "cand.arrow")] {
        let out = dir.join(name);
        let o = evalkit([
            "infer",
            model,
            &cancer(),
            "-o",
            out.to_str().unwrap(),
            "--label",
            "label",
            "--keep",
            "row_id",
            "--cache-dir",
            cache.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        files.push(out);
    }
    let o = evalkit([
        "compare",
        files[1].to_str().unwrap(),
        files[0].to_str().unwrap(),
        "--bootstrap",
        "0",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    f(&doc["delta"]["roc_auc"]["value"])
}

#[test]
fn side_by_side_with_labels_adds_the_quality_difference_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("profile.html");
    let cache = dir.path().join("cache");
    let (m, d) = (lr(), cancer());
    let gbm = fixture("models/breast_cancer_gbm.onnx")
        .display()
        .to_string();
    let doc = profile_json(&[
        &m,
        &gbm,
        &d,
        "--label",
        "label",
        "--ignore",
        "row_id",
        "--batch-sizes",
        "1",
        "--concurrency",
        "1",
        "--duration",
        "0.05",
        "--bootstrap",
        "200",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--report",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(doc["models"].as_array().unwrap().len(), 2);
    let q = &doc["quality"];
    assert_eq!(q["reference"], "breast_cancer_lr");
    assert_eq!(q["rows"], 285);
    let gb = &q["models"][0];
    assert_eq!(gb["model"], "breast_cancer_gbm");
    let auc = gb["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "roc_auc")
        .unwrap();
    // The same difference `evalkit compare` gives on the two models'
    // predictions.
    let want = compare_auc(dir.path(), &cache, &m, &gbm);
    assert!((f(&auc["delta"]) - want).abs() < 1e-12, "{auc} vs {want}");
    assert!((f(&auc["value"]) - f(&auc["reference"]) - f(&auc["delta"])).abs() < 1e-12);
    let html = std::fs::read_to_string(&page).unwrap();
    for part in [
        "id=\"serving\"",
        "Latency per request",
        "Throughput",
        "Quality against breast_cancer_lr",
        "<svg",
    ] {
        assert!(html.contains(part), "{part}");
    }
}

/// A float16 model beside its float32 original: each is fed its own input
/// type (a pool of float16 rows for the one, f32 rows for the other), and
/// the quality table compares their predictions.
#[test]
fn a_float16_model_is_profiled_beside_its_float32_original() {
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (lr(), cancer());
    let half = fixture("models/breast_cancer_lr_f16.onnx")
        .display()
        .to_string();
    let doc = profile_json(&[
        &m,
        &half,
        &d,
        "--label",
        "label",
        "--ignore",
        "row_id",
        "--batch-sizes",
        "1,64",
        "--concurrency",
        "1",
        "--max-requests",
        "20",
        "--bootstrap",
        "0",
        "--cache-dir",
        dir.path().join("cache").to_str().unwrap(),
        "--json",
    ]);
    let models = doc["models"].as_array().unwrap();
    assert_eq!(models.len(), 2, "{doc}");
    for model in models {
        let latency = model["latency"].as_array().unwrap();
        assert_eq!(latency.len(), 2, "{model}");
        for run in latency {
            assert!(f(&run["rows_per_s"]) > 0.0, "{run}");
        }
    }
    let q = &doc["quality"];
    assert_eq!(q["reference"], "breast_cancer_lr");
    let auc = q["models"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "roc_auc")
        .unwrap();
    assert_eq!(q["models"][0]["model"], "breast_cancer_lr_f16");
    // Rounding the features to float16 moves the AUC by little.
    assert!(f(&auc["delta"]).abs() < 0.01, "{auc}");
}

#[test]
fn serving_gates_pass_fail_and_are_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("serving.toml");
    let report = dir.path().join("r.html");
    std::fs::write(
        &suite,
        format!(
            r#"name = "serving"

[data]
path = "{d}"
label = "label"
keep = ["row_id"]

[model]
path = "{m}"

[serving]
batch_sizes = [1]
concurrency = [1]
duration = 30
max_requests = 150

[[gate]]
metric = "latency_p50_ms_at_batch_1"
max = 1000

[[gate]]
metric = "latency_p50_ms_at_batch_1"
max = 0.000001

[[gate]]
metric = "latency_p99_ms_at_batch_1"
max = 1000

[[gate]]
metric = "latency_p99_ms_at_batch_1"
max = 1000
on = "value"

[[gate]]
metric = "qps_at_concurrency_1"
min = 1e12

[[gate]]
metric = "init_ms"
max = 1e9

[[gate]]
metric = "latency_p50_ms_at_batch_4"
max = 1000
"#,
            d = cancer(),
            m = lr()
        ),
    )
    .unwrap();
    let o = evalkit([
        "run",
        suite.to_str().unwrap(),
        "--json",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let verdicts: Vec<&str> = doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "pass",
            "fail",
            // 150 requests cannot bound a p99 from above at 95%.
            "inconclusive",
            "pass",
            "fail",
            "pass",
            // The batch size a gate names is profiled too.
            "pass"
        ]
    );
    let g = &doc["gates"];
    assert!(g[0]["detail"].as_str().unwrap().starts_with("upper bound"));
    assert!(g[0]["detail"].as_str().unwrap().contains("(150 requests)"));
    assert!(
        g[2]["detail"]
            .as_str()
            .unwrap()
            .contains("too few requests (150 requests)")
    );
    assert_eq!(g[1]["unit"], "ms");
    assert_eq!(g[4]["judged_on"], "lower bound");
    // The report carries the serving section and the verdicts.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("id=\"serving\"") && html.contains("latency_p99_ms_at_batch_1"));

    // Wrong uses of a serving statistic are errors naming the line.
    for (extra, says) in [
        ("max_drop = 0.1", "takes min or max"),
        ("max = 1\ntier = \"fast\"", "takes no tier"),
    ] {
        std::fs::write(
            &suite,
            format!(
                "name = \"x\"\n[data]\npath = \"{}\"\n[model]\npath = \"{}\"\n[[gate]]\nmetric = \"init_ms\"\n{extra}\n",
                cancer(),
                lr()
            ),
        )
        .unwrap();
        let o = evalkit(["run", suite.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(stderr(&o).contains("serving.toml:7:"), "{}", stderr(&o));
    }
}
