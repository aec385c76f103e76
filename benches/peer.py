#!/usr/bin/env python3
"""Peer benchmark: the binary full tier's work through scikit-learn vs evalkit.

    make bench-peer          # builds evalkit in release, then runs this

For each size (10^6 and 10^7 rows by default) and each kind of scores it
writes a prediction file (int64 labels ~ Bernoulli(0.3); scores a noisy
sigmoid, either rounded to 1e-6 and stored as f64 (`rounded`: few distinct
values, which makes sorting cheap) or unrounded float32 (`float32`: about one
distinct score per row, what a real model writes)), then times

- scikit-learn on arrays already in memory (file reading not counted):
  roc_auc_score + average_precision_score + precision_recall_curve + log_loss;
- `evalkit full FILE --json --bootstrap 0` as a whole process (reading the
  file, every binary metric, the 1000-point sweep, ECE, DeLong, JSON output);
- `evalkit fast FILE --json` as a whole process (10,000-row sample).

It checks that the two agree on ROC-AUC, average precision and log loss
(relative 1e-9) and prints the ratios. Timings are the best of --repeat runs.

Then the bootstrap (B = 1000 at --bootstrap-rows, default 10^6, for each kind
of scores): a plain
scikit-learn loop (resample, call the metric functions) and a careful numpy
sort-once version with Poisson weights, both timed on a few replicates and
scaled to 1000, against `evalkit full` with its default B = 1000.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, evalkit_binary, best_of, run  # noqa: E402


KINDS = ("rounded", "float32")


def make_file(n, path, kind="rounded"):
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = 1.5 * (2 * y - 1) + 1.5 * rng.standard_normal(n)
    p = 1 / (1 + np.exp(-x))
    p = np.round(p, 6) if kind == "rounded" else p.astype(np.float32)
    if not os.path.exists(path):
        table = pa.table({"label": pa.array(y), "score": pa.array(p)})
        tmp = path + ".tmp"
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=n)
        os.replace(tmp, path)
    return y, p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sklearn-repeat", type=int, default=1)
    ap.add_argument("--bootstrap-rows", type=int, default=1_000_000)
    ap.add_argument("--skip-point", action="store_true")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                    help="scores rounded to 1e-6 (f64), unrounded float32, or both")
    args = ap.parse_args()

    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    data_dir = os.path.join(ROOT, "target", "bench-data")
    os.makedirs(data_dir, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    print(f"{'scores':>8}  {'rows':>10}  {'scikit-learn':>13}  {'evalkit full':>13}  {'ratio':>7}  {'evalkit fast':>13}")
    for kind, n in [] if args.skip_point else [(k, n) for k in args.kinds for n in args.rows]:
        path = os.path.join(data_dir, f"peer_{kind}_{n}.arrow")
        y, p = make_file(n, path, kind)
        # The same values as f64 (exact): scikit-learn computes log loss of
        # float32 input in float32, evalkit in f64.
        p = p.astype(np.float64)

        def sk():
            auc = roc_auc_score(y, p)
            apv = average_precision_score(y, p)
            precision_recall_curve(y, p)
            ll = log_loss(y, np.clip(p, 1e-15, 1 - 1e-15))
            return auc, apv, ll

        t_sk, (auc, apv, ll) = best_of(args.sklearn_repeat, sk)
        t_full, out = best_of(args.repeat, lambda: run([exe, "full", path, "--json", "--bootstrap", "0"]))
        doc = json.loads(out)
        for name, want in [("roc_auc", auc), ("average_precision", apv), ("log_loss", ll)]:
            got = doc["metrics"][name]["value"]
            if abs(got - want) > 1e-9 * abs(want):
                sys.exit(f"{name} differs at n={n}: evalkit {got!r}, scikit-learn {want!r}")
        t_fast, _ = best_of(max(args.repeat, 10), lambda: run([exe, "fast", path, "--json"]))
        print(f"{kind:>8}  {n:>10}  {t_sk:>12.3f}s  {t_full:>12.3f}s  {t_sk / t_full:>6.1f}x  {t_fast * 1000:>11.1f}ms")
    for kind in args.kinds:
        bootstrap_peers(exe, args.bootstrap_rows, data_dir, args.repeat, kind)


def bootstrap_peers(exe, n, data_dir, repeat, kind):
    """B = 1000 bootstrap intervals of ROC-AUC, average precision and best F1
    at n rows: a plain scikit-learn loop and a careful numpy sort-once
    version (both timed on a few replicates and scaled to 1000), against
    `evalkit full` with its default B = 1000 (every metric, bands, whole
    process)."""
    path = os.path.join(data_dir, f"peer_{kind}_{n}.arrow")
    y, p = make_file(n, path, kind)
    p = p.astype(np.float64)
    rng = np.random.default_rng(1)

    def sk_replicate():
        idx = rng.integers(0, n, n)
        yy, pp = y[idx], p[idx]
        roc_auc_score(yy, pp)
        average_precision_score(yy, pp)
        prec, rec, _ = precision_recall_curve(yy, pp)
        with np.errstate(invalid="ignore", divide="ignore"):
            np.nanmax(2 * prec * rec / (prec + rec))

    order = np.argsort(-p, kind="stable")
    ys, ps = y[order].astype(np.float64), p[order]
    ends = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])

    def np_replicate():
        w = rng.poisson(1.0, n).astype(np.float64)
        tp = np.cumsum(w * ys)[ends]
        fp = np.cumsum(w * (1 - ys))[ends]
        P, N = tp[-1], fp[-1]
        tp0, fp0 = np.r_[0, tp[:-1]], np.r_[0, fp[:-1]]
        auc = np.sum((fp - fp0) * (tp + tp0)) / (2 * P * N)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = np.sum((tp - tp0) / P * np.where(tp + fp > 0, tp / (tp + fp), 0))
            f1 = np.max(2 * tp / (tp + fp + P))
        return auc, ap, f1

    def per_replicate(fn, reps):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t) / reps

    t_sk = per_replicate(sk_replicate, 20) * 1000
    t_np = per_replicate(np_replicate, 50) * 1000
    t_ev, _ = best_of(repeat, lambda: run([exe, "full", path, "--json"]))
    print(f"\nbootstrap, B = 1000, {n} rows, {kind} scores (scikit-learn and numpy: AUC + AP + best F1 only, scaled from 20/50 replicates;")
    print("evalkit: every binary metric, bands and the point metrics, whole process)")
    print(f"  scikit-learn loop   {t_sk:>9.1f}s   evalkit is {t_sk / t_ev:>6.0f}x faster")
    print(f"  numpy sort-once     {t_np:>9.1f}s   evalkit is {t_np / t_ev:>6.0f}x faster")
    print(f"  evalkit full        {t_ev:>9.2f}s")


if __name__ == "__main__":
    main()
