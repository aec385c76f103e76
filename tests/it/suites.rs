//! Suites and gates: every suite in suites/ runs with its expected exit
//! code; each gate kind passes and fails; bad suite files are refused with
//! the line; a second run is served from the inference cache.

use std::path::{Path, PathBuf};

use crate::common::{evalkit, fixture, stderr, stdout};

fn suites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("suites")
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = evalkit(args);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn every_suite_runs_with_its_expected_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut files: Vec<PathBuf> = std::fs::read_dir(suites_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let report = tmp.path().join(format!("{name}.html"));
        let (code, out, err) = run(&[
            "run",
            f.to_str().unwrap(),
            "--json",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        let want = if name.ends_with("-fails.toml") { 1 } else { 0 };
        assert_eq!(code, Some(want), "{name}: {err}\n{out}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["passed"], want == 0, "{name}");
        let gates = doc["gates"].as_array().unwrap();
        assert!(!gates.is_empty());
        if want == 1 {
            assert!(gates.iter().any(|g| g["passed"] == false));
            assert!(gates.iter().any(|g| g["passed"] == true));
        }
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(
            html.contains("id=\"gates\""),
            "{name}: report without gates"
        );
    }
}

#[test]
fn a_second_run_is_served_from_the_cache_with_identical_json() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let suite = suites_dir().join("breast_cancer.toml");
    let report = tmp.path().join("r.html");
    let args = [
        "run",
        suite.to_str().unwrap(),
        "--json",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let (c1, out1, err1) = run(&args);
    let (c2, out2, err2) = run(&args);
    assert_eq!((c1, c2), (Some(0), Some(0)), "{err1}\n{err2}");
    assert!(err1.contains("inference ran"), "{err1}");
    assert!(!err2.contains("inference ran"), "{err2}");
    assert!(err2.contains("cache hit"), "{err2}");
    // Everything but the serving gates, which measure this run's timings.
    let steady = |out: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(out).unwrap();
        let gates = doc["gates"].as_array_mut().unwrap();
        let before = gates.len();
        gates.retain(|g| {
            let gate = g["gate"].as_str().unwrap();
            evalkit::profile::ServingMetric::parse(gate.split(' ').next().unwrap()).is_none()
        });
        assert_eq!(before - gates.len(), 3, "the suite's three serving gates");
        doc
    };
    assert_eq!(steady(&out1), steady(&out2));
}

/// Writes a suite into `dir` and runs it; returns (exit code, JSON or
/// stderr).
fn suite(dir: &Path, name: &str, body: &str) -> (Option<i32>, String, String) {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    run(&["run", path.to_str().unwrap(), "--json"])
}

fn verdicts(json: &str) -> Vec<bool> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["passed"].as_bool().unwrap())
        .collect()
}

#[test]
fn each_gate_kind_passes_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let f = |n: &str| fixture(n).to_str().unwrap().to_string();
    // Point values and interval bounds on one file (AUC 0.885 [0.870, 0.899]).
    let body = format!(
        r#"name = "bounds"
[predictions]
path = "{}"
[full]
bootstrap = 200
[[gate]]
metric = "roc_auc"
min = 0.88
[[gate]]
metric = "roc_auc"
min = 0.89
[[gate]]
metric = "log_loss"
max = 0.5
[[gate]]
metric = "log_loss"
max = 0.4
[[gate]]
metric = "roc_auc"
min_lower_ci = 0.85
[[gate]]
metric = "roc_auc"
min_lower_ci = 0.88
[[gate]]
metric = "brier"
max_upper_ci = 0.16
[[gate]]
metric = "brier"
max_upper_ci = 0.13
[[gate]]
metric = "accuracy"
tier = "fast"
min = 0.7
[[gate]]
metric = "accuracy"
tier = "fast"
min = 0.95
"#,
        f("binary_balanced.arrow")
    );
    let (code, out, err) = suite(tmp.path(), "bounds.toml", &body);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        verdicts(&out),
        [
            true, false, true, false, true, false, true, false, true, false
        ]
    );

    // max_drop against a baseline: a real drop (a weaker model) fails; a
    // drop inside the noise (the same scores rounded to 2 decimals) passes
    // on the interval but fails on the value with a tight bound.
    let drop = |cand: &str, on_value: bool| {
        format!(
            r#"name = "drop"
[predictions]
path = "{}"
[baseline]
predictions = "{}"
[full]
bootstrap = 300
[[gate]]
metric = "roc_auc"
max_drop = 0.005
{}
"#,
            f(cand),
            f("binary_balanced.arrow"),
            if on_value { "on = \"value\"" } else { "" }
        )
    };
    let (code, out, err) = suite(
        tmp.path(),
        "real.toml",
        &drop("binary_baseline.arrow", false),
    );
    assert_eq!((code, verdicts(&out)), (Some(1), vec![false]), "{err}");
    let (code, out, err) = suite(tmp.path(), "noise.toml", &drop("binary_ties.arrow", false));
    assert_eq!((code, verdicts(&out)), (Some(0), vec![true]), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = doc["delta"]["roc_auc"]["value"].as_f64().unwrap();
    assert!(d < 0.0 && d > -0.005, "{d}");

    // The low-FPR metrics a suite asks for can be gated.
    let body = format!(
        "name = \"low fpr\"\n[predictions]\npath = \"{}\"\n[full]\nbootstrap = 200\nmax_fpr = 0.1\ntpr_at_fpr = [0.05]\n[[gate]]\nmetric = \"partial_roc_auc\"\nmin_lower_ci = 0.7\n[[gate]]\nmetric = \"tpr_at_fpr_0.05\"\nmin = 0.9\n",
        f("binary_balanced.arrow")
    );
    let (code, out, err) = suite(tmp.path(), "low.toml", &body);
    assert_eq!(
        (code, verdicts(&out)),
        (Some(1), vec![true, false]),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pauc = &doc["metrics"]["partial_roc_auc"];
    assert!((pauc["value"].as_f64().unwrap() - 0.7740429319376687).abs() < 1e-9);
    assert!(pauc["ci"].is_array());

    // Gates at an operating point judge its rates there; a point without a
    // threshold fails with its reason.
    let body = format!(
        "name = \"op\"\n[predictions]\npath = \"{}\"\n[full]\nbootstrap = 200\n[[gate]]\nmetric = \"recall\"\noperating_point = \"precision>=0.9\"\nmin = 0.5\n[[gate]]\nmetric = \"recall\"\noperating_point = \"precision>=0.9\"\nmin_lower_ci = 0.7\n[[gate]]\nmetric = \"recall\"\noperating_point = \"specificity>=0.999\"\nmin = 0.1\n",
        f("binary_balanced.arrow")
    );
    let (code, out, err) = suite(tmp.path(), "op.toml", &body);
    assert_eq!(
        (code, verdicts(&out)),
        (Some(1), vec![true, false, false]),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let recall = &doc["metrics"]["recall@precision>=0.9"];
    assert!(
        (recall["value"].as_f64().unwrap() - 0.609391).abs() < 1e-6,
        "{recall}"
    );
    assert!(recall["ci"].is_array());
    assert!(
        doc["gates"][0]["gate"]
            .as_str()
            .unwrap()
            .contains("recall at precision>=0.9")
    );
    assert!(
        doc["gates"][2]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be certified")
    );
    // The same gates judged by a report.
    let page = tmp.path().join("op.html");
    let path = tmp.path().join("op.toml");
    let (code, _, err) = run(&[
        "report",
        &f("binary_balanced.arrow"),
        "--bootstrap",
        "200",
        "--suite",
        path.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("recall at precision&gt;=0.9"));
    assert!(html.contains("Operating points · binary_balanced"));

    // A metric that is undefined fails with the reason.
    let body = format!(
        "name = \"one class\"\n[predictions]\npath = \"{}\"\n[full]\nbootstrap = 0\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\n",
        f("binary_one_class.arrow")
    );
    let (code, out, _) = suite(tmp.path(), "undef.toml", &body);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        doc["gates"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("undefined")
    );

    // Inference constraints: a file without inference statistics fails
    // them; the infer output of a model passes a loose bound and fails an
    // impossible one.
    let body = format!(
        "name = \"no stats\"\n[predictions]\npath = \"{}\"\n[[gate]]\nlatency_p99_ms = 1000\n",
        f("binary_balanced.arrow")
    );
    let (code, out, _) = suite(tmp.path(), "nostats.toml", &body);
    assert_eq!(code, Some(1));
    assert!(out.contains("no inference statistics"));
    let root = env!("CARGO_MANIFEST_DIR");
    let body = format!(
        r#"name = "inference"
[data]
path = "{root}/fixtures/data/breast_cancer.parquet"
label = "label"
keep = ["row_id"]
[model]
path = "{root}/fixtures/models/breast_cancer_lr.onnx"
[[gate]]
rows_per_s = 1
[[gate]]
rows_per_s = 1e15
[[gate]]
latency_p99_ms = 60000
[[gate]]
latency_p99_ms = 0.0000001
[[gate]]
peak_rss_mb = 1000000
[[gate]]
peak_rss_mb = 1
"#
    );
    let path = tmp.path().join("inference.toml");
    std::fs::write(&path, body).unwrap();
    let cache = tmp.path().join("cache");
    let (code, out, err) = run(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(verdicts(&out), [true, false, true, false, true, false]);
}

#[test]
fn bad_suite_files_are_refused_with_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = fixture("binary_balanced.arrow");
    let p = good.to_str().unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetrc = \"roc_auc\"\nmin = 0.5\n"
            ),
            vec![":5:", "metrc"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"roc_auc\"\nmin = \"high\"\n"
            ),
            vec![":6:", "expected f64"],
        ),
        (
            "name = \"x\"\n[predictions]\npath = \"no/such/file.arrow\"\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\n".to_string(),
            vec!["no/such/file.arrow"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[full]\nbootstrap = 0\n\n[[gate]]\nmetric = \"auc\"\nmin = 0.5\n"
            ),
            vec![":8:", "'auc'", "roc_auc", "average_precision"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\nmax = 0.9\n"
            ),
            vec![":5:", "several bounds"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"roc_auc\"\nmax_drop = 0.1\n"
            ),
            vec!["max_drop needs a [baseline]"],
        ),
        (
            format!("name = \"x\"\n[predictions]\npath = \"{p}\"\n[unknown_section]\na = 1\n"),
            vec![":4:", "unknown_section"],
        ),
    ];
    for (i, (body, needles)) in cases.iter().enumerate() {
        let (code, out, err) = suite(tmp.path(), &format!("bad{i}.toml"), body);
        assert_eq!(code, Some(2), "case {i}: {out}{err}");
        assert!(out.is_empty(), "case {i}: {out}");
        for n in needles {
            assert!(err.contains(n), "case {i}: {err} lacks {n}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn report_judges_a_suites_gates_on_every_candidate() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = tmp.path().join("gates.toml");
    std::fs::write(
        &suite,
        "name = \"review\"\n[predictions]\npath = \"unused.arrow\"\n[baseline]\npredictions = \"unused.arrow\"\n\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.6\n\n[[gate]]\nmetric = \"roc_auc\"\nmax_drop = 0.01\n\n[[gate]]\nmetric = \"accuracy\"\ntier = \"fast\"\nmin = 0.5\n",
    )
    .unwrap();
    let page = tmp.path().join("r.html");
    let (code, _, err) = run(&[
        "report",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        fixture("binary_baseline.arrow").to_str().unwrap(),
        "--baseline",
        fixture("binary_baseline.arrow").to_str().unwrap(),
        "--bootstrap",
        "100",
        "--suite",
        suite.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    // The baseline against itself passes; binary_balanced is far better
    // than the baseline, so it passes too.
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("gates: all 6 gates passed"), "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("all 6 gates passed"));
    // A failing gate: exit 1, the report still written with the verdict.
    std::fs::write(
        &suite,
        "name = \"strict\"\n[predictions]\npath = \"unused.arrow\"\n[[gate]]\nmetric = \"roc_auc\"\nmin = 0.99\n",
    )
    .unwrap();
    std::fs::remove_file(&page).unwrap();
    let (code, _, err) = run(&[
        "report",
        fixture("binary_balanced.arrow").to_str().unwrap(),
        "--bootstrap",
        "0",
        "--suite",
        suite.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("0 passed, 1 FAILED")
    );
}

/// The shipped suites as on a fresh clone: `suites/` and `fixtures/` side
/// by side and no `demo-out/` yet (that folder is made by `make demo`).
/// Every suite with a report writes it where its `[report] path` says,
/// making the folder.
#[test]
fn shipped_suites_write_their_reports_on_a_fresh_clone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir(root.join("suites")).unwrap();
    std::os::unix::fs::symlink(fixture(""), root.join("fixtures")).unwrap();
    let mut ran = 0;
    for e in std::fs::read_dir(suites_dir()).unwrap() {
        let f = e.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        if f.extension().is_none_or(|e| e != "toml") || !text.contains("[report]") {
            continue;
        }
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let copy = root.join("suites").join(&name);
        std::fs::write(&copy, &text).unwrap();
        let (code, _, err) = run(&[
            "run",
            copy.to_str().unwrap(),
            "--cache-dir",
            root.join("cache").to_str().unwrap(),
        ]);
        let want = if name.ends_with("-fails.toml") { 1 } else { 0 };
        assert_eq!(code, Some(want), "{name}: {err}");
        let doc: toml::Table = text.parse().unwrap();
        let report = root
            .join("suites")
            .join(doc["report"]["path"].as_str().unwrap());
        let html = std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", report.display()));
        assert!(html.contains("id=\"gates\""), "{name}");
        ran += 1;
    }
    assert!(ran >= 1, "no shipped suite has a [report]");
}

#[test]
fn suite_mistakes_name_the_key_and_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = fixture("binary_balanced.arrow");
    let p = p.to_str().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let gate = "[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Line 6: the key's own line, not the section's.
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[full]\nbootstrap = 0\nci = 1.5\n{gate}"
            ),
            vec![":6:", "[full] ci = 1.5", "(0, 1)"],
        ),
        (
            format!("name = \"x\"\n[predictions]\npath = \"{p}\"\n[full]\nthreshold = 2\n{gate}"),
            vec![":5:", "[full] threshold = 2", "[0, 1]"],
        ),
        (
            format!("name = \"x\"\n[predictions]\npath = \"{p}\"\n[full]\nthresholds = 1\n{gate}"),
            vec![":5:", "[full] thresholds = 1"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n\n[full]\nmethod = \"bcaa\"\n{gate}"
            ),
            vec![":6:", "method = \"bcaa\"", "bca"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[full]\nresample = \"x\"\n{gate}"
            ),
            vec![":5:", "resample = \"x\"", "multinomial"],
        ),
        // Gates at operating points: a parsable point, a rate of it, the
        // full tier, no paired drop.
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"recall\"\noperating_point = \"precision>0.9\"\nmin = 0.5\n"
            ),
            vec![":5:", "operating_point", "no >= or <="],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"roc_auc\"\noperating_point = \"precision>=0.9\"\nmin = 0.5\n"
            ),
            vec![":5:", "not a rate of an operating point"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"recall\"\ntier = \"fast\"\noperating_point = \"precision>=0.9\"\nmin = 0.5\n"
            ),
            vec![":5:", "full tier"],
        ),
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[[gate]]\nmetric = \"recall\"\noperating_point = \"precision>=0.9\"\nmax_drop = 0.01\n"
            ),
            vec![":5:", "no paired difference"],
        ),
        // [data] beside [predictions] would be silently ignored.
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n\n[data]\npath = \"{root}/fixtures/data/breast_cancer.parquet\"\n{gate}"
            ),
            vec![":5:", "[data]", "[predictions]"],
        ),
        // A suite without gates would pass saying "all 0 gates passed".
        (
            format!("name = \"x\"\n[predictions]\npath = \"{p}\"\n"),
            vec!["no gates", "[[gate]]"],
        ),
        (
            format!(
                "name = \"x\"\n[data]\npath = \"{root}/fixtures/data/breast_cancer.parquet\"\nlabel = \"label\"\nkeep = [\"row_id\"]\nfill_null = nan\n[model]\npath = \"{root}/fixtures/models/breast_cancer_lr.onnx\"\n{gate}"
            ),
            vec![":6:", "fill_null", "finite"],
        ),
        // A threshold has no better direction (the metric registry): no drop.
        (
            format!(
                "name = \"x\"\n[predictions]\npath = \"{p}\"\n[baseline]\npredictions = \"{p}\"\n[[gate]]\nmetric = \"best_f1_threshold\"\nmax_drop = 0.1\n"
            ),
            vec![":7:", "best_f1_threshold", "location"],
        ),
    ];
    let cache = tmp.path().join("cache");
    let run_in = |name: &str, body: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, body).unwrap();
        run(&[
            "run",
            path.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ])
    };
    let mut failures = Vec::new();
    for (i, (body, needles)) in cases.iter().enumerate() {
        let (code, out, err) = run_in(&format!("m{i}.toml"), body);
        let ok = code == Some(2)
            && out.is_empty()
            && err.lines().count() == 1
            && err.contains(&format!("m{i}.toml"))
            && needles.iter().all(|n| err.contains(n));
        if !ok {
            failures.push(format!(
                "case {i} (wants {needles:?}): exit {code:?}: {}",
                err.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // [data] used by a baseline model beside the candidate's predictions is
    // not an error: the baseline runs on it.
    let body = format!(
        "name = \"x\"\n[predictions]\npath = \"{p}\"\n[data]\npath = \"{root}/fixtures/data/breast_cancer.parquet\"\n[baseline]\nmodel = {{ path = \"{root}/fixtures/models/breast_cancer_lr.onnx\" }}\n{gate}"
    );
    let (_, _, err) = run_in("base.toml", &body);
    assert!(!err.contains("[data]"), "{err}");
}

#[test]
fn gates_on_an_interval_can_be_inconclusive() {
    let tmp = tempfile::tempdir().unwrap();
    let cand = fixture("binary_ties.arrow");
    let base = fixture("binary_balanced.arrow");
    let body = |gates: &str, extra: &str| {
        format!(
            "name = \"three verdicts\"\n{extra}\n[predictions]\npath = \"{}\"\n[baseline]\npredictions = \"{}\"\n[full]\nbootstrap = 300\n{gates}",
            cand.display(),
            base.display()
        )
    };
    // The intervals the gates will see.
    let (_, out, err) = suite(
        tmp.path(),
        "probe.toml",
        &body("[[gate]]\nmetric = \"roc_auc\"\nmin = 0\n", ""),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&err);
    let ci = |v: &serde_json::Value| [v["ci"][0].as_f64().unwrap(), v["ci"][1].as_f64().unwrap()];
    let [lo, hi] = ci(&doc["metrics"]["roc_auc"]);
    let [dlo, dhi] = ci(&doc["delta"]["roc_auc"]);
    assert!(lo < hi && dlo < dhi);
    // min_lower_ci below, inside and above the interval; max_upper_ci on
    // the AUC likewise; max_drop with the bound inside the drop's interval
    // (the drop is minus the AUC difference).
    let mid = (lo + hi) / 2.0;
    let drop_mid = -(dlo + dhi) / 2.0;
    let gates = format!(
        "[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {mid}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmax_upper_ci = {}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmax_upper_ci = {mid}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmax_upper_ci = {}\n\
         [[gate]]\nmetric = \"roc_auc\"\nmax_drop = {drop_mid}\n",
        lo - 0.01,
        hi + 0.01,
        hi + 0.01,
        lo - 0.01
    );
    let want = [
        "pass",
        "inconclusive",
        "fail",
        "pass",
        "inconclusive",
        "fail",
        "inconclusive",
    ];
    for (extra, code, inconclusive_passes) in [
        ("", 1, false),
        ("on_inconclusive = \"fail\"", 1, false),
        ("on_inconclusive = \"pass\"", 1, true),
    ] {
        let (got, out, err) = suite(tmp.path(), "three.toml", &body(&gates, extra));
        assert_eq!(got, Some(code), "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let gs = doc["gates"].as_array().unwrap();
        let verdicts: Vec<&str> = gs.iter().map(|g| g["verdict"].as_str().unwrap()).collect();
        assert_eq!(verdicts, want);
        for g in gs {
            let passed = g["passed"].as_bool().unwrap();
            match g["verdict"].as_str().unwrap() {
                "pass" => assert!(passed),
                "fail" => assert!(!passed),
                _ => {
                    assert_eq!(passed, inconclusive_passes);
                    assert!(g["detail"].as_str().unwrap().contains("straddles"), "{g}");
                }
            }
            // The minimum detectable effect from the interval's width:
            // (z₀.₉₇₅ + z₀.₈) · (hi − lo) / (2 z₀.₉₇₅).
            let (a, b) = (
                g["interval"][0].as_f64().unwrap(),
                g["interval"][1].as_f64().unwrap(),
            );
            let mde = (1.959_963_985 + 0.841_621_234) * (b - a) / (2.0 * 1.959_963_985);
            assert!((g["mde"].as_f64().unwrap() - mde).abs() < 1e-9, "{g}");
            assert!(
                g["detail"].as_str().unwrap().contains("at 80% power"),
                "{g}"
            );
        }
        let text = stdout(&evalkit([
            "run",
            tmp.path().join("three.toml").to_str().unwrap(),
        ]));
        let line = format!(
            "2 passed, 3 inconclusive (counted as {}), 2 FAILED",
            if inconclusive_passes { "pass" } else { "fail" }
        );
        assert!(text.contains(&line), "{text}");
        assert!(
            text.contains(if inconclusive_passes {
                "inconclusive (counted as pass)"
            } else {
                "INCONCLUSIVE (counted as fail)"
            }),
            "{text}"
        );
    }
    // Only inconclusive gates besides passes: on_inconclusive decides the
    // exit code.
    let gates = format!(
        "[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {}\n[[gate]]\nmetric = \"roc_auc\"\nmin_lower_ci = {mid}\n",
        lo - 0.01
    );
    let (got, _, err) = suite(tmp.path(), "open.toml", &body(&gates, ""));
    assert_eq!(got, Some(1), "{err}");
    let (got, out, err) = suite(
        tmp.path(),
        "open.toml",
        &body(&gates, "on_inconclusive = \"pass\""),
    );
    assert_eq!(got, Some(0), "{err}");
    assert_eq!(verdicts(&out), [true, true]);
    // A value that is not fail or pass is refused with its line.
    let (got, _, err) = suite(
        tmp.path(),
        "bad.toml",
        &body(&gates, "on_inconclusive = \"maybe\""),
    );
    assert_eq!(got, Some(2));
    assert!(err.contains("bad.toml:2") && err.contains("maybe"), "{err}");
}
