#!/usr/bin/env python3
"""Peer benchmark: the multiclass full tier and slicing.

    make bench-multiclass     # builds evalkit in release, then runs this

1. Multiclass, 10^6 rows x 10 classes (labels uniform, probabilities a
   softmax of noisy logits, f64 lists): scikit-learn's
   roc_auc_score(multi_class="ovr") + f1_score(average="macro") + log_loss on
   arrays already in memory, against `evalkit full FILE --json` as a whole
   process, without intervals (--bootstrap 0) and with B = 1000. The script
   checks that both agree on macro ROC-AUC, macro F1 and log loss (1e-9).
2. Slicing: `evalkit full FILE --json` with and without `--slice group`,
   where `group` has 100 values, on the same multiclass file and on a 10^6
   row binary file, both with B = 1000: the ratio sliced / unsliced.

Timings are the best of --repeat runs.
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
from sklearn.metrics import f1_score, log_loss, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, evalkit_binary, best_of, run  # noqa: E402


def write(path, table):
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=len(table))
        os.replace(tmp, path)


def multiclass_file(n, k, path):
    rng = np.random.default_rng(11)
    y = rng.integers(0, k, n)
    logits = rng.standard_normal((n, k))
    logits[np.arange(n), y] += 1.5
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    group = rng.integers(0, 100, n)
    scores = pa.FixedSizeListArray.from_arrays(pa.array(P.ravel()), k)
    table = pa.table({"label": pa.array(y), "score": scores, "group": pa.array(group)})
    table = table.replace_schema_metadata({"evalkit.task": "multiclass"})
    write(path, table)
    return y, P


def binary_file(n, path):
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = 1.5 * (2 * y - 1) + 1.5 * rng.standard_normal(n)
    p = np.round(1 / (1 + np.exp(-x)), 6)
    group = rng.integers(0, 100, n)
    write(path, pa.table({"label": pa.array(y), "score": pa.array(p), "group": pa.array(group)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    data_dir = os.path.join(ROOT, "target", "bench-data")
    os.makedirs(data_dir, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    n, k = args.rows, args.classes
    mc = os.path.join(data_dir, f"multiclass_{n}x{k}.arrow")
    y, P = multiclass_file(n, k, mc)

    def sk():
        auc = roc_auc_score(y, P, multi_class="ovr")
        f1 = f1_score(y, P.argmax(axis=1), average="macro")
        ll = log_loss(y, np.clip(P, 1e-15, 1 - 1e-15))
        return auc, f1, ll

    t_sk, (auc, f1, ll) = best_of(1, sk)
    t_point, out = best_of(args.repeat, lambda: run([exe, "full", mc, "--json", "--bootstrap", "0"]))
    doc = json.loads(out)
    for name, want in [("macro_roc_auc", auc), ("macro_f1", f1), ("log_loss", ll)]:
        got = doc["metrics"][name]["value"]
        if abs(got - want) > 1e-9 * abs(want):
            sys.exit(f"{name} differs: evalkit {got!r}, scikit-learn {want!r}")
    t_boot, _ = best_of(args.repeat, lambda: run([exe, "full", mc, "--json"]))
    print(f"multiclass {n} rows x {k} classes")
    print(f"  scikit-learn ovr AUC + macro F1 + log loss (in memory): {t_sk:.3f}s")
    print(f"  evalkit full --bootstrap 0 (whole process, every metric): {t_point:.3f}s  ({t_sk / t_point:.1f}x)")
    print(f"  evalkit full, B = 1000 (whole process):                  {t_boot:.3f}s")

    bf = os.path.join(data_dir, f"binary_group_{n}.arrow")
    binary_file(n, bf)
    for name, path in [("binary", bf), ("multiclass", mc)]:
        t0, _ = best_of(args.repeat, lambda: run([exe, "full", path, "--json"]))
        t1, out = best_of(args.repeat, lambda: run([exe, "full", path, "--json", "--slice", "group"]))
        slices = len(json.loads(out)["slices"])
        print(f"slicing {name} {n} rows into {slices} slices, B = 1000: unsliced {t0:.3f}s, "
              f"sliced {t1:.3f}s ({t1 / t0:.2f}x)")


if __name__ == "__main__":
    main()
