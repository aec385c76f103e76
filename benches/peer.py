#!/usr/bin/env python3
"""Peer benchmark: the binary full tier's work through scikit-learn vs evalkit.

    make bench-peer          # builds evalkit in release, then runs this

For each size (10^6 and 10^7 rows by default) it writes a prediction file
(int64 labels, f64 scores; labels ~ Bernoulli(0.3), scores a noisy sigmoid
rounded to 1e-6), then times

- scikit-learn on arrays already in memory (file reading not counted):
  roc_auc_score + average_precision_score + precision_recall_curve + log_loss;
- `evalkit full FILE --json` as a whole process (reading the file, every
  binary metric, the 1000-point sweep, ECE, JSON output);
- `evalkit fast FILE --json` as a whole process (10,000-row sample).

It checks that the two agree on ROC-AUC, average precision and log loss
(relative 1e-9) and prints the ratios. Timings are the best of --repeat runs.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import sklearn
from sklearn.metrics import average_precision_score, log_loss, precision_recall_curve, roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def evalkit_binary():
    if os.environ.get("EVALKIT_BIN"):
        return os.environ["EVALKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "evalkit")


def make_file(n, path):
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = 1.5 * (2 * y - 1) + 1.5 * rng.standard_normal(n)
    p = np.round(1 / (1 + np.exp(-x)), 6)
    if not os.path.exists(path):
        table = pa.table({"label": pa.array(y), "score": pa.array(p)})
        tmp = path + ".tmp"
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=n)
        os.replace(tmp, path)
    return y, p


def best_of(repeat, fn):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.decode()}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sklearn-repeat", type=int, default=1)
    args = ap.parse_args()

    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    data_dir = os.path.join(ROOT, "target", "bench-data")
    os.makedirs(data_dir, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    print(f"{'rows':>10}  {'scikit-learn':>13}  {'evalkit full':>13}  {'ratio':>7}  {'evalkit fast':>13}")
    for n in args.rows:
        path = os.path.join(data_dir, f"peer_{n}.arrow")
        y, p = make_file(n, path)

        def sk():
            auc = roc_auc_score(y, p)
            apv = average_precision_score(y, p)
            precision_recall_curve(y, p)
            ll = log_loss(y, np.clip(p, 1e-15, 1 - 1e-15))
            return auc, apv, ll

        t_sk, (auc, apv, ll) = best_of(args.sklearn_repeat, sk)
        t_full, out = best_of(args.repeat, lambda: run([exe, "full", path, "--json"]))
        doc = json.loads(out)
        for name, want in [("roc_auc", auc), ("average_precision", apv), ("log_loss", ll)]:
            got = doc["metrics"][name]["value"]
            if abs(got - want) > 1e-9 * abs(want):
                sys.exit(f"{name} differs at n={n}: evalkit {got!r}, scikit-learn {want!r}")
        t_fast, _ = best_of(max(args.repeat, 10), lambda: run([exe, "fast", path, "--json"]))
        print(f"{n:>10}  {t_sk:>12.3f}s  {t_full:>12.3f}s  {t_sk / t_full:>6.1f}x  {t_fast * 1000:>11.1f}ms")


if __name__ == "__main__":
    main()
