//! The ranking task: every metric equals `trec_eval` (pytrec-eval-terrier)
//! query by query on generated fixtures (fixtures/generate_ranking.py), the
//! mean of `trec_eval` over every order of tied items and scikit-learn's
//! `ndcg_score` where scores tie; the query bootstrap equals a
//! resample-and-recompute reference; row order does not matter; bad input
//! exits 2.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use evalkit::data::{Columns, ReadOptions, Task, read_predictions};
use evalkit::full::{FullOptions, FullResult};
use evalkit::metrics::ranking::{EmptyQueries, Gain, RankingOptions};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{evalkit, expected, fixture, stderr, stdout, write_ipc};

const KS: [usize; 5] = [1, 3, 5, 10, 50];

fn options(replicates: usize, empty: EmptyQueries) -> FullOptions {
    FullOptions {
        intervals: IntervalOptions {
            replicates,
            ..IntervalOptions::default()
        },
        ranking: RankingOptions::new(&KS, Gain::Linear, empty).unwrap(),
        ..FullOptions::default()
    }
}

fn run(
    name: &str,
    options: &FullOptions,
) -> (
    evalkit::data::Predictions,
    Box<evalkit::full::ranking::RankingFull>,
) {
    let preds =
        read_predictions(&fixture(&format!("{name}.arrow")), &ReadOptions::default()).unwrap();
    assert_eq!(preds.task, Task::Ranking, "inferred from the query column");
    match evalkit::full::full(&preds, options).unwrap() {
        FullResult::Ranking(r) => (preds, r),
        other => panic!("not a ranking result: {other:?}"),
    }
}

/// Each query's id as the fixture writes it.
fn query_names(
    preds: &evalkit::data::Predictions,
    r: &evalkit::full::ranking::RankingFull,
) -> Vec<String> {
    let Columns::Ranking { ids, .. } = &preds.columns else {
        unreachable!()
    };
    evalkit::json::query_ids(ids, &r.per_query.first_row)
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn check_against(name: &str, golden: &serde_json::Value, empty: EmptyQueries) {
    let (preds, r) = run(name, &options(0, empty));
    let names = query_names(&preds, &r);
    let per_query = golden["per_query"].as_object().unwrap();
    assert_eq!(names.len(), per_query.len(), "{name}: queries");
    let mut checked = 0;
    for (q, id) in names.iter().enumerate() {
        let want = &per_query[id];
        for (m, metric) in r.per_query.names.iter().enumerate() {
            let got = r.per_query.row(q)[m];
            let w = want[metric]
                .as_f64()
                .unwrap_or_else(|| panic!("{metric} in the golden"));
            assert!(
                (got - w).abs() < 1e-9,
                "{name} query {id} {metric}: {got} vs {w}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, names.len() * (5 * KS.len() + 3));
    // Means: over every query (trec_eval's), or over those with a relevant
    // item.
    for metric in &r.per_query.names {
        let values: Vec<f64> = names
            .iter()
            .enumerate()
            .filter(|&(q, _)| empty == EmptyQueries::Zero || r.per_query.relevant[q] > 0)
            .map(|(_, id)| per_query[id][metric].as_f64().unwrap())
            .collect();
        let want = values.iter().sum::<f64>() / values.len() as f64;
        if empty == EmptyQueries::Zero {
            let trec = golden["mean"][metric].as_f64().unwrap();
            assert!((want - trec).abs() < 1e-12);
        }
        let got = r.metrics.value(metric).unwrap();
        assert!(
            (got - want).abs() < 1e-9,
            "{name} mean {metric}: {got} vs {want}"
        );
    }
}

#[test]
fn every_metric_equals_trec_eval() {
    let golden = expected("ranking");
    check_against("ranking", &golden["ranking"], EmptyQueries::Zero);
    check_against(
        "ranking_baseline",
        &golden["ranking_baseline"],
        EmptyQueries::Zero,
    );
    check_against("ranking", &golden["ranking"], EmptyQueries::Drop);
}

#[test]
fn ties_are_the_mean_of_trec_eval_over_every_order() {
    let golden = expected("ranking");
    check_against("ranking_ties", &golden["ranking_ties"], EmptyQueries::Zero);
    // scikit-learn's ndcg_score averages ties too.
    let (preds, r) = run("ranking_ties", &options(0, EmptyQueries::Zero));
    let names = query_names(&preds, &r);
    let sk = golden["ranking_ties_sklearn_ndcg"].as_object().unwrap();
    let mut checked = 0;
    for (q, id) in names.iter().enumerate() {
        let Some(want) = sk.get(id) else { continue };
        for k in KS {
            let metric = format!("ndcg@{k}");
            let m = r.per_query.names.iter().position(|n| *n == metric).unwrap();
            let got = r.per_query.row(q)[m];
            let w = want[&metric].as_f64().unwrap();
            assert!(
                (got - w).abs() < 1e-9,
                "query {id} {metric}: {got} vs sklearn {w}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 90 * KS.len(), "{checked}");
    // The fixture has ties in most queries (else this test checks little).
    let tied = r.per_query.items.iter().filter(|&&n| n > 3).count();
    assert!(tied > 50);
}

#[test]
fn query_bootstrap_equals_resampling_whole_queries() {
    let opts = options(400, EmptyQueries::Drop);
    let (_, r) = run("ranking", &opts);
    let iv = &opts.intervals;
    let counted: Vec<usize> = (0..r.per_query.len())
        .filter(|&q| r.per_query.relevant[q] > 0)
        .collect();
    assert!(
        counted.len() < r.per_query.len(),
        "the fixture has empty queries"
    );
    for metric in ["ndcg@10", "mrr", "hit_rate@1", "map"] {
        let m = r.per_query.names.iter().position(|n| n == metric).unwrap();
        let replicates: Vec<f64> = (0..iv.replicates)
            .map(|rep| {
                let (mut sum, mut total) = (0.0, 0.0);
                for &q in &counted {
                    let w = evalkit::uncertainty::lanes::poisson_weight_clustered(
                        iv.seed,
                        rep,
                        r.per_query.keys[q],
                    ) as f64;
                    sum += w * r.per_query.row(q)[m];
                    total += w;
                }
                sum / total
            })
            .collect();
        let want = evalkit::uncertainty::percentile_interval(&replicates, iv.level).unwrap();
        let got = r.metrics.get(metric).unwrap().ci.unwrap();
        assert!(
            (got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12,
            "{metric}: {got:?} vs {want:?}"
        );
        let v = r.metrics.value(metric).unwrap();
        assert!(got[0] <= v && v <= got[1], "{metric}: {v} outside {got:?}");
    }
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("resamples whole queries")),
        "{:?}",
        r.notes
    );

    // Multinomial: as many queries drawn as count, the clustered draws.
    let mut opts = options(200, EmptyQueries::Drop);
    opts.intervals.resample = evalkit::uncertainty::Resample::Multinomial;
    let (_, r) = run("ranking", &opts);
    let keys: Vec<u64> = counted.iter().map(|&q| r.per_query.keys[q]).collect();
    let m = r
        .per_query
        .names
        .iter()
        .position(|n| n == "ndcg@5")
        .unwrap();
    let replicates: Vec<f64> = (0..200)
        .map(|rep| {
            let counts = evalkit::uncertainty::lanes::multinomial_counts_clustered(
                opts.intervals.seed,
                rep,
                &keys,
                None,
            );
            let (mut sum, mut total) = (0.0, 0.0);
            for (&q, &c) in counted.iter().zip(&counts) {
                sum += c as f64 * r.per_query.row(q)[m];
                total += c as f64;
            }
            sum / total
        })
        .collect();
    let want =
        evalkit::uncertainty::percentile_interval(&replicates, opts.intervals.level).unwrap();
    let got = r.metrics.get("ndcg@5").unwrap().ci.unwrap();
    assert!(
        (got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12,
        "multinomial: {got:?} vs {want:?}"
    );
}

/// The same rows in another order, or with the query ids as integers, give
/// the same numbers bit for bit.
#[test]
fn row_order_and_id_type_do_not_matter() {
    let preds = read_predictions(&fixture("ranking.arrow"), &ReadOptions::default()).unwrap();
    let n = preds.rows();
    let reversed: Vec<u32> = (0..n as u32).rev().collect();
    let opts = options(200, EmptyQueries::Zero);
    let a = evalkit::full::full(&preds, &opts).unwrap();
    let b = evalkit::full::full(&preds.gather(&reversed), &opts).unwrap();
    assert_eq!(a.metrics(), b.metrics());

    // Integer ids: another key per query, so other bootstrap draws, but the
    // same point values.
    let Columns::Ranking {
        labels,
        scores,
        ids,
        ..
    } = &preds.columns
    else {
        unreachable!()
    };
    let ids: Vec<i64> = {
        use arrow::array::AsArray;
        let s = ids.as_string::<i32>();
        (0..n)
            .map(|r| s.value(r)[1..].parse::<i64>().unwrap())
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("int_ids.arrow");
    write_ipc(
        &path,
        vec![
            ("query", Arc::new(Int64Array::from(ids)) as ArrayRef),
            (
                "label",
                Arc::new(Float64Array::from(
                    (0..n).map(|r| labels.get(r)).collect::<Vec<_>>(),
                )),
            ),
            (
                "score",
                Arc::new(Float64Array::from(
                    (0..n).map(|r| scores.get(r)).collect::<Vec<_>>(),
                )),
            ),
        ],
        &[],
    );
    let c = read_predictions(&path, &ReadOptions::default()).unwrap();
    let c = evalkit::full::full(&c, &options(0, EmptyQueries::Zero)).unwrap();
    for (name, m) in a.metrics().iter() {
        assert_eq!(m.value, c.metrics().value(name), "{name}");
    }
}

#[test]
fn cli_full_json_has_every_query() {
    let out = evalkit([
        "full",
        fixture("ranking.arrow").to_str().unwrap(),
        "--k",
        "1,5,10",
        "--bootstrap",
        "0",
        "--json",
        "--per-query",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["task"], "ranking");
    assert_eq!(doc["queries"], 300);
    let golden = expected("ranking");
    // The whole list's reciprocal rank is 0 exactly when a query has no
    // relevant item.
    let empty = golden["ranking"]["per_query"]
        .as_object()
        .unwrap()
        .values()
        .filter(|q| q["mrr"].as_f64() == Some(0.0))
        .count();
    assert!(empty >= 30, "every tenth query has none, and some others");
    assert_eq!(doc["empty_queries"], empty);
    assert_eq!(doc["ranking"]["k"], serde_json::json!([1, 5, 10]));
    assert_eq!(
        doc["headline"],
        serde_json::json!(["ndcg@10", "map@10", "mrr", "recall@10"])
    );
    assert_eq!(doc["directions"]["ndcg@5"], "higher");
    for m in [
        "ndcg@10",
        "map@5",
        "mrr",
        "precision@1",
        "hit_rate@5",
        "ndcg",
        "map",
    ] {
        let got = doc["metrics"][m]["value"].as_f64().unwrap();
        let want = golden["ranking"]["mean"][m].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{m}: {got} vs {want}");
    }
    let pq = &doc["per_query"];
    assert_eq!(pq["query"].as_array().unwrap().len(), 300);
    assert_eq!(pq["ndcg@10"].as_array().unwrap().len(), 300);
    let id = pq["query"][0].as_str().unwrap();
    let want = golden["ranking"]["per_query"][id]["ndcg@10"]
        .as_f64()
        .unwrap();
    assert!((pq["ndcg@10"][0].as_f64().unwrap() - want).abs() < 1e-9);
    assert!(
        doc["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains(&format!("{empty} of 300 queries have no relevant item"))),
        "{}",
        doc["warnings"]
    );

    // The table names the conventions.
    let out = evalkit([
        "full",
        fixture("ranking.arrow").to_str().unwrap(),
        "--bootstrap",
        "0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ndcg@10") && text.contains("ties"), "{text}");
}

#[test]
fn one_row_one_query_and_all_ties() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.arrow");
    // One query, every score tied: precision@1 is the share of relevant
    // items; a second query of one irrelevant row.
    write_ipc(
        &path,
        vec![
            (
                "query",
                Arc::new(StringArray::from(vec!["a", "a", "a", "a", "b"])) as ArrayRef,
            ),
            ("label", Arc::new(Int64Array::from(vec![1, 0, 0, 2, 0]))),
            ("score", Arc::new(Float64Array::from(vec![0.5; 5]))),
        ],
        &[],
    );
    let preds = read_predictions(&path, &ReadOptions::default()).unwrap();
    let r = evalkit::full::full(&preds, &options(100, EmptyQueries::Drop)).unwrap();
    let m = r.metrics();
    assert_eq!(m.value("precision@1"), Some(0.5));
    assert_eq!(m.value("hit_rate@1"), Some(0.5));
    // One query counts: no interval, and the reason says why.
    assert!(m.get("ndcg@10").unwrap().ci.is_none());
    assert!(
        r.warnings().iter().any(|w| w.contains("one query counts")),
        "{:?}",
        r.warnings()
    );
    // Every query empty and dropped: no value, with the reason.
    let path = dir.path().join("empty.arrow");
    write_ipc(
        &path,
        vec![
            (
                "query",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            ("label", Arc::new(Int64Array::from(vec![0, 0]))),
            ("score", Arc::new(Float64Array::from(vec![0.5, 0.1]))),
        ],
        &[],
    );
    let preds = read_predictions(&path, &ReadOptions::default()).unwrap();
    let r = evalkit::full::full(&preds, &options(100, EmptyQueries::Drop)).unwrap();
    assert!(r.metrics().iter().all(|(_, m)| m.value.is_none()));
    let r = evalkit::full::full(&preds, &options(100, EmptyQueries::Zero)).unwrap();
    assert_eq!(r.metrics().value("ndcg@5"), Some(0.0));
}

#[test]
fn bad_ranking_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, query: ArrayRef, label: ArrayRef, extra: Option<(&str, ArrayRef)>| {
        let path = dir.path().join(name);
        let mut cols = vec![
            ("query", query),
            ("label", label),
            (
                "score",
                Arc::new(Float64Array::from(vec![0.9, 0.1, 0.4])) as ArrayRef,
            ),
        ];
        cols.extend(extra);
        write_ipc(&path, cols, &[]);
        path.to_str().unwrap().to_string()
    };
    let ok_query: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "b"]));
    let ok_label: ArrayRef = Arc::new(Int64Array::from(vec![1, 0, 2]));
    let nan_query = write(
        "nan.arrow",
        Arc::new(Float64Array::from(vec![1.0, f64::NAN, 2.0])),
        ok_label.clone(),
        None,
    );
    let null_query = write(
        "null.arrow",
        Arc::new(StringArray::from(vec![Some("a"), None, Some("b")])),
        ok_label.clone(),
        None,
    );
    let negative = write(
        "negative.arrow",
        ok_query.clone(),
        Arc::new(Int64Array::from(vec![1, -1, 0])),
        None,
    );
    let weighted = write(
        "weighted.arrow",
        ok_query.clone(),
        ok_label.clone(),
        Some((
            "weight",
            Arc::new(Float64Array::from(vec![1.0, 2.0, 1.0])) as ArrayRef,
        )),
    );
    let big = write(
        "big.arrow",
        ok_query.clone(),
        Arc::new(Int64Array::from(vec![2000, 0, 1])),
        None,
    );
    let good = write("good.arrow", ok_query, ok_label, None);
    let binary = fixture("binary_balanced.arrow");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["full", &nan_query],
            "row 1: is NaN: every row needs a query",
        ),
        (
            vec!["full", &null_query],
            "row 1: is null: every row needs a query",
        ),
        (vec!["full", &negative], "row 1: relevance -1 is negative"),
        (vec!["full", &weighted], "weighs every query equally"),
        (vec!["full", &good, "--k", "0"], "--k 0"),
        (vec!["full", &good, "--k", "5,-1"], "--k -1"),
        (vec!["full", &good, "--gain", "cubic"], "cubic"),
        (
            vec!["full", &big, "--gain", "exponential"],
            "relevance 2000 of row 0 is above 64",
        ),
        (
            vec!["full", &good, "--resample", "stratified"],
            "ranking has no classes",
        ),
        (
            vec!["full", binary.to_str().unwrap(), "--task", "ranking"],
            "no such query column",
        ),
        (
            vec!["full", binary.to_str().unwrap(), "--query", "session"],
            "column 'session'",
        ),
        (
            vec!["full", &good, "--cluster", "query"],
            "resamples whole queries",
        ),
    ];
    for (args, message) in cases {
        let out = evalkit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        // One line (clap's errors add a hint line).
        assert!(stderr(&out).trim().lines().count() <= 2, "{}", stderr(&out));
    }
    let out = evalkit(["full", &good, "--bootstrap", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `compare` pairs queries, whatever the rows' order: each metric's
/// difference is the mean of the per-query differences, and its interval
/// the percentile of the differences under the same query draws.
#[test]
fn compare_pairs_whole_queries() {
    use evalkit::compare::{Join, align, compare};
    let read = |n: &str| read_predictions(&fixture(n), &ReadOptions::default()).unwrap();
    let cand = read("ranking.arrow");
    let base = read("ranking_baseline.arrow");
    let reversed: Vec<u32> = (0..base.rows() as u32).rev().collect();
    let base = base.gather(&reversed);
    let opts = options(300, EmptyQueries::Zero);
    let (aligned, _) = align(&cand, &base, None).unwrap();
    let c = compare(&cand, &aligned, Join::Position, &opts, &|_, _| {}).unwrap();
    assert_eq!(c.join, Join::Query("query".to_string()));
    let (FullResult::Ranking(rc), FullResult::Ranking(rb)) = (&c.candidate, &c.baseline) else {
        panic!("ranking results")
    };
    assert_eq!(rc.per_query.keys, rb.per_query.keys, "queries in one order");
    let golden = expected("ranking");
    let iv = &opts.intervals;
    for metric in ["ndcg@10", "map", "hit_rate@5", "precision@1"] {
        let want = golden["ranking"]["mean"][metric].as_f64().unwrap()
            - golden["ranking_baseline"]["mean"][metric].as_f64().unwrap();
        let got = c.delta.value(metric).unwrap();
        assert!((got - want).abs() < 1e-9, "{metric}: {got} vs {want}");
        let m = rc.per_query.names.iter().position(|n| n == metric).unwrap();
        let replicates: Vec<f64> = (0..iv.replicates)
            .map(|rep| {
                let (mut sum, mut total) = (0.0, 0.0);
                for q in 0..rc.per_query.len() {
                    let w = evalkit::uncertainty::lanes::poisson_weight_clustered(
                        iv.seed,
                        rep,
                        rc.per_query.keys[q],
                    ) as f64;
                    sum += w * (rc.per_query.row(q)[m] - rb.per_query.row(q)[m]);
                    total += w;
                }
                sum / total
            })
            .collect();
        let want = evalkit::uncertainty::percentile_interval(&replicates, iv.level).unwrap();
        let ci = c.delta.get(metric).unwrap().ci.unwrap();
        assert!(
            (ci[0] - want[0]).abs() < 1e-12 && (ci[1] - want[1]).abs() < 1e-12,
            "{metric}: {ci:?} vs {want:?}"
        );
    }

    // A query missing from the baseline, or judged differently: exit 2
    // naming the query.
    let Columns::Ranking { ids, .. } = &base.columns else {
        unreachable!()
    };
    let first = {
        use arrow::array::AsArray;
        ids.as_string::<i32>().value(0).to_string()
    };
    let keep: Vec<u32> = (0..base.rows() as u32)
        .filter(|&r| {
            use arrow::array::AsArray;
            ids.as_string::<i32>().value(r as usize) != first
        })
        .collect();
    let fewer = base.gather(&keep);
    let e = compare(&cand, &fewer, Join::Position, &opts, &|_, _| {}).unwrap_err();
    assert!(
        e.to_string().contains(&format!(
            "query \"{first}\" is in the candidate but not in the baseline"
        )),
        "{e}"
    );
    let out = evalkit([
        "compare",
        fixture("ranking.arrow").to_str().unwrap(),
        fixture("ranking_baseline.arrow").to_str().unwrap(),
        "--id",
        "item",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("query by query"), "{}", stderr(&out));
    let out = evalkit([
        "compare",
        fixture("ranking.arrow").to_str().unwrap(),
        fixture("ranking_ties.arrow").to_str().unwrap(),
        "--bootstrap",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("in the candidate but not in the baseline")
            || stderr(&out).contains("items"),
        "{}",
        stderr(&out)
    );
}

/// The fast tier draws whole queries; with every query drawn it gives the
/// full tier's means exactly.
#[test]
fn fast_tier_samples_whole_queries() {
    let preds = read_predictions(&fixture("ranking.arrow"), &ReadOptions::default()).unwrap();
    let all = evalkit::fast::fast(
        &preds,
        &evalkit::fast::FastOptions {
            sample: None,
            ..Default::default()
        },
    );
    let full = evalkit::full::full(
        &preds,
        &FullOptions {
            intervals: IntervalOptions {
                replicates: 0,
                ..Default::default()
            },
            ..FullOptions::default()
        },
    )
    .unwrap();
    for name in ["ndcg@10", "map@10", "mrr", "recall@10"] {
        let m = all.metrics.get(name).unwrap();
        assert_eq!(m.method, "exact");
        assert!(
            (m.value.unwrap() - full.metrics().value(name).unwrap()).abs() < 1e-12,
            "{name}"
        );
    }
    let sampled = evalkit::fast::fast(
        &preds,
        &evalkit::fast::FastOptions {
            sample: Some(2000),
            ..Default::default()
        },
    );
    assert_eq!(sampled.strata_kind, "query");
    let drawn = sampled.strata[0].sampled as usize;
    // About 2000 rows' worth of queries (the file: 5970 rows in 300).
    assert!((90..=110).contains(&drawn), "{drawn}");
    assert!(sampled.rows_used < preds.rows());
    let m = sampled.metrics.get("ndcg@10").unwrap();
    let [lo, hi] = m.ci.unwrap();
    assert!(lo < m.value.unwrap() && m.value.unwrap() < hi && m.std_error.unwrap() > 0.0);
    let out = evalkit([
        "fast",
        fixture("ranking.arrow").to_str().unwrap(),
        "--sample",
        "1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("whole queries sampled"),
        "{}",
        stdout(&out)
    );
}

/// Suites gate rankings like any task: the example suite passes, and a
/// bound the interval does not clear fails (exit 1).
#[test]
fn suites_gate_on_ranking_metrics() {
    let suite = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/ranking.toml");
    let out = evalkit(["run", suite.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let gates = doc["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 4);
    assert!(gates.iter().all(|g| g["passed"] == true), "{gates:?}");

    let dir = tempfile::tempdir().unwrap();
    let failing = dir.path().join("ranking.toml");
    let text = std::fs::read_to_string(&suite)
        .unwrap()
        .replace("../fixtures/", &format!("{}/", fixture("").display()))
        .replace("min_lower_ci = 0.65", "min_lower_ci = 0.75");
    std::fs::write(&failing, text).unwrap();
    let out = evalkit(["run", failing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("fail"), "{}", stdout(&out));
}
