#!/usr/bin/env python3
"""Peer benchmark: ranking metrics through evalkit, pytrec_eval and ranx.

    make bench-ranking       # builds evalkit in release, then runs this

Writes a ranking file of --queries queries (default 10^5) with --items items
each (default 100, so 10^7 rows): graded relevance 0–3 (about 30% of items
relevant), unrounded float32 scores (a noisy function of the label: about
one distinct score per row, as real models write), query ids as strings.
Then times, each as a whole process where it can be:

- `evalkit full FILE --k 1,5,10 --json` with B = 1000 query-bootstrap
  intervals (reading the file, every metric at every cutoff, the bootstrap);
- the same with `--bootstrap 0` (point values only);
- pytrec_eval (trec_eval's C code) on the same queries: building its
  dictionaries from the columns, then evaluating ndcg_cut, map_cut, P,
  recall, success at 1, 5, 10, recip_rank, ndcg and map; point values
  only (it has no intervals);
- ranx (numba) on the same data: building its Qrels and Run from a pandas
  frame, then ndcg@k, precision@k, recall@k, hit_rate@k and mrr;
  point values only.

pytrec_eval and ranx are timed in this process (their data already in
memory as numpy columns; reading the file is not counted for them). It
checks that the point values agree (pytrec_eval: every metric to 1e-9 plus
the share of queries with tied scores; ranx: NDCG, precision, recall, hit
rate and MRR, printed — both break ties their own way where unrounded
scores rarely do: the differences are bounded by the share of queries
holding a tie, which it prints) and prints the ratios. Timings are the best of
--repeat runs.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, best_of, evalkit_binary, run  # noqa: E402

KS = [1, 5, 10]


def make_file(queries, items, path):
    rng = np.random.default_rng(11)
    n = queries * items
    labels = np.minimum(rng.geometric(0.7, n) - 1, 3).astype(np.int64)
    scores = (0.6 * labels + rng.standard_normal(n)).astype(np.float32)
    qid = np.repeat(np.arange(queries), items)
    if not os.path.exists(path):
        table = pa.table(
            {
                "query": pa.array([f"q{q}" for q in range(queries)]).take(pa.array(qid)),
                "item": pa.array(np.tile(np.arange(items), queries)),
                "label": pa.array(labels),
                "score": pa.array(scores),
            }
        )
        tmp = path + ".tmp"
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        os.replace(tmp, path)
    return qid, labels, scores


def evalkit_run(path, bootstrap):
    out = run(
        [evalkit_binary(), "full", path, "--k", ",".join(map(str, KS)), "--bootstrap", str(bootstrap), "--json"]
    )
    return json.loads(out)


def pytrec(qid, items, labels, scores):
    import pytrec_eval

    def go():
        qrel, runs = {}, {}
        for q in range(qid[-1] + 1):
            lo, hi = q * items, (q + 1) * items
            docs = [str(i) for i in range(items)]
            qrel[str(q)] = dict(zip(docs, labels[lo:hi].tolist()))
            runs[str(q)] = dict(zip(docs, scores[lo:hi].astype(np.float64).tolist()))
        ks = ",".join(map(str, KS))
        measures = {f"ndcg_cut.{ks}", f"map_cut.{ks}", f"P.{ks}", f"recall.{ks}", f"success.{ks}", "recip_rank", "ndcg", "map"}
        res = pytrec_eval.RelevanceEvaluator(qrel, measures).evaluate(runs)
        names = {"recip_rank": "mrr", "ndcg": "ndcg", "map": "map"}
        for k in KS:
            names.update({f"ndcg_cut_{k}": f"ndcg@{k}", f"map_cut_{k}": f"map@{k}", f"P_{k}": f"precision@{k}",
                          f"recall_{k}": f"recall@{k}", f"success_{k}": f"hit_rate@{k}"})
        return {names[m]: float(np.mean([r[m] for r in res.values()])) for m in names}

    return go


def ranx_run(qid, items, labels, scores):
    import pandas as pd
    from ranx import Qrels, Run, evaluate

    def go():
        doc = np.tile(np.arange(items), qid[-1] + 1).astype(str).astype(object)
        q = qid.astype(str).astype(object)
        keep = labels > 0
        def frame(q, d, score):
            # ranx wants object (not pandas' string) id columns.
            df = pd.DataFrame({"q_id": q, "doc_id": d, "score": score})
            return df.astype({"q_id": object, "doc_id": object})

        qrels = Qrels.from_df(frame(q[keep], doc[keep], labels[keep]), q_id_col="q_id", doc_id_col="doc_id", score_col="score")
        r = Run.from_df(frame(q, doc, scores.astype(np.float64)), q_id_col="q_id", doc_id_col="doc_id", score_col="score")
        metrics = [f"{m}@{k}" for m in ("ndcg", "precision", "recall", "hit_rate") for k in KS] + ["mrr"]
        return evaluate(qrels, r, metrics)

    return go


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "bench"))
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"ranking_{args.queries}x{args.items}.arrow")
    qid, labels, scores = make_file(args.queries, args.items, path)
    rows = len(labels)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{rows:,} rows in {args.queries:,} queries of {args.items} items")

    t_boot, doc = best_of(args.repeat, lambda: evalkit_run(path, 1000))
    t_point, point = best_of(args.repeat, lambda: evalkit_run(path, 0))
    ours = {m: v["value"] for m, v in point["metrics"].items()}
    assert doc["metrics"]["ndcg@10"]["ci"] is not None
    print(f"evalkit full, B = 1000 query bootstrap: {t_boot:8.2f} s (whole process)")
    print(f"evalkit full, point values:             {t_point:8.2f} s (whole process)")

    # Queries holding tied float32 scores: there trec_eval breaks ties by
    # document id and evalkit averages them, so each such query can move a
    # mean by up to 1 / queries.
    tied = sum(
        len(np.unique(scores[q * args.items:(q + 1) * args.items])) < args.items for q in range(args.queries)
    )
    print(f"queries holding tied scores: {tied}")
    t_trec, trec = best_of(1, pytrec(qid, args.items, labels, scores))
    worst = max(abs(trec[m] - ours[m]) for m in trec)
    assert worst <= 1e-9 + tied / args.queries, f"pytrec_eval differs by {worst}"
    print(f"pytrec_eval, point values:              {t_trec:8.2f} s (in process)  "
          f"{t_trec / t_point:5.1f}x evalkit's point run; agree to {worst:.1e}")
    try:
        t_ranx, rx = best_of(1, ranx_run(qid, args.items, labels, scores))
    except ImportError:
        print("ranx: not installed (pip install ranx)")
        return
    worst = max(abs(rx[m] - ours[m]) for m in rx)
    print(f"ranx, point values:                     {t_ranx:8.2f} s (in process, incl. numba compile)  "
          f"{t_ranx / t_point:5.1f}x evalkit's point run; agree to {worst:.1e}")
    t_ranx2, _ = best_of(1, ranx_run(qid, args.items, labels, scores))
    print(f"ranx again (numba compiled):            {t_ranx2:8.2f} s  {t_ranx2 / t_point:5.1f}x")


if __name__ == "__main__":
    main()
