#!/usr/bin/env python3
"""Peer benchmark of `evalkit profile` against the same loop in Python.

    make bench-profile

For each bundled model, on its own held-out rows, one intra-op thread per
session (the profile's default):

- Python: `InferenceSession.run([output], {"input": X[s:s+B]})` per request,
  one request at a time (after 10 warm-up requests), requests of B
  consecutive rows of a float32 array already in memory, in the same order
  evalkit takes them; then two threads, each with its own session, sending
  requests back to back (onnxruntime releases the GIL in `run`);
- evalkit: `evalkit profile MODEL DATA --batch-sizes 1,8,64 --concurrency 1,2`
  as a whole process, the same duration per run.

Prints p50 per request of both, evalkit's overhead (the time of a request
outside ONNX Runtime's `run`, as a share of the time inside it, which only
evalkit can measure on itself) and requests/s under two clients.
"""

import argparse
import json
import os
import platform
import sys
import threading
import time

import numpy as np
import onnxruntime
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, evalkit_binary, run  # noqa: E402

MODELS = [
    ("breast_cancer_lr", "breast_cancer", "probabilities"),
    ("breast_cancer_gbm", "breast_cancer", "probabilities"),
    ("digits_mlp", "digits", "probabilities"),
    ("digits_mlp_int8", "digits", "probabilities"),
    ("diabetes_ridge", "diabetes", "variable"),
]


def features(name):
    t = pq.read_table(os.path.join(ROOT, "fixtures", "data", name + ".parquet"))
    cols = [c for c in t.column_names if c not in ("label", "row_id")]
    return np.column_stack([t.column(c).to_numpy() for c in cols]).astype(np.float32)


def session(model):
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def python_latency(model, X, output, b, seconds):
    """Per-request latencies (ms) of one client, as evalkit's loop runs."""
    sess = session(model)
    pool = X
    while pool.shape[0] < b:
        pool = np.concatenate([pool, X])
    span = pool.shape[0] - b + 1
    for w in range(10):
        s = (w * 7919 * b) % span
        sess.run([output], {"input": pool[s:s + b]})
    out = []
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds and i < 100_000:
        s = (i * b) % span
        t = time.perf_counter()
        sess.run([output], {"input": pool[s:s + b]})
        out.append((time.perf_counter() - t) * 1000)
        i += 1
    return np.array(out)


def python_qps(model, X, output, clients, seconds):
    sessions = [session(model) for _ in range(clients)]
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def client(k):
        sess = sessions[k]
        i = k
        n = 0
        while time.perf_counter() < stop:
            s = i % X.shape[0]
            sess.run([output], {"input": X[s:s + 1]})
            i += clients
            n += 1
        counts[k] = n

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def nearest_rank(v, p):
    v = np.sort(v)
    return v[max(int(np.ceil(p / 100 * len(v))), 1) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64])
    args = ap.parse_args()
    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; onnxruntime {onnxruntime.__version__}; "
          f"{args.duration} s per run, one intra-op thread per session")
    print(f"{'model':<18} {'batch':>5}  {'python p50 ms':>13}  {'evalkit p50 ms':>14}  {'ratio':>6}  "
          f"{'evalkit overhead':>16}")
    qps_rows = []
    for name, data, output in MODELS:
        model = os.path.join(ROOT, "fixtures", "models", name + ".onnx")
        data_path = os.path.join(ROOT, "fixtures", "data", data + ".parquet")
        X = features(data)
        doc = json.loads(run([
            exe, "profile", model, data_path, "--ignore", "row_id,label",
            "--batch-sizes", ",".join(map(str, args.batch_sizes)), "--concurrency", "1,2",
            "--duration", str(args.duration), "--json",
        ]))
        m = doc["models"][0]
        for r in m["latency"]:
            b = r["batch_size"]
            py = python_latency(model, X, output, b, args.duration)
            ev = r["latency_ms"]["p50"]["value"]
            pp = nearest_rank(py, 50)
            print(f"{name:<18} {b:>5}  {pp:>13.4f}  {ev:>14.4f}  {pp / ev:>5.2f}x  {r['overhead_pct']:>15.1f}%")
        for t in m["throughput"]:
            c = t["concurrency"]
            qps_rows.append((name, c, python_qps(model, X, output, c, args.duration), t["qps"]))
    print()
    print(f"{'model':<18} {'clients':>7}  {'python req/s':>12}  {'evalkit req/s':>13}  {'ratio':>6}")
    for name, c, py, ev in qps_rows:
        print(f"{name:<18} {c:>7}  {py:>12,.0f}  {ev:>13,.0f}  {ev / py:>5.2f}x")


if __name__ == "__main__":
    main()
