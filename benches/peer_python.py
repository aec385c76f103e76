#!/usr/bin/env python3
"""Python binding benchmark: `evalkit.fast` / `evalkit.full` from numpy.

    make bench-python     # builds the extension in release, then runs this

On 10^6 rows (binary, labels ~ Bernoulli(0.3), scores a noisy sigmoid):
- `evalkit.fast(y, p)` per call (median of 50; includes the crossing into
  Rust and the JSON back) — the issue's target is at most 2 ms;
- `evalkit.full(y, p, bootstrap=1000)` against `evalkit full FILE --json`
  (the CLI as a whole process, reading the same rows from an Arrow file);
- with torchmetrics installed: BinaryAUROC + BinaryAveragePrecision under
  torchmetrics' BootStrapper (1000 bootstraps), for the same data.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa

import evalkit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    n = 1_000_000
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = 1.5 * (2 * y - 1) + 1.5 * rng.standard_normal(n)
    p = np.round(1 / (1 + np.exp(-x)), 6)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}")

    evalkit.fast(y, p)
    times = []
    for _ in range(50):
        t = time.perf_counter()
        evalkit.fast(y, p)
        times.append(time.perf_counter() - t)
    print(f"evalkit.fast, {n} rows: median {statistics.median(times) * 1e3:.2f} ms per call (min {min(times) * 1e3:.2f} ms)")

    t = time.perf_counter()
    r = evalkit.full(y, p, bootstrap=1000)
    t_py = time.perf_counter() - t
    path = os.path.join(ROOT, "target", "bench-data", "python_1000000.arrow")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    table = pa.table({"label": pa.array(y), "score": pa.array(p)})
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    exe = os.environ.get("EVALKIT_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "evalkit"
    )
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        out = subprocess.run([exe, "full", path, "--json"], check=True, capture_output=True).stdout
        best = min(best, time.perf_counter() - t)
    cli = json.loads(out)
    assert cli["metrics"] == r.to_dict()["metrics"], "Python and the CLI disagree"
    print(f"evalkit.full(bootstrap=1000): {t_py:.3f} s; CLI `evalkit full` (whole process): {best:.3f} s; ratio {t_py / best:.2f}")

    try:
        import torch
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision
        from torchmetrics.wrappers import BootStrapper
    except ImportError:
        print("torchmetrics not installed: its comparison is skipped (pip install torch torchmetrics)")
        return
    yt, pt = torch.from_numpy(y), torch.from_numpy(p)
    t = time.perf_counter()
    for metric in (BinaryAUROC(), BinaryAveragePrecision()):
        b = BootStrapper(metric, num_bootstraps=1000, sampling_strategy="poisson")
        b.update(pt, yt)
        b.compute()
    t_tm = time.perf_counter() - t
    print(f"torchmetrics BootStrapper(AUROC, AP), 1000 bootstraps: {t_tm:.3f} s; evalkit.full is {t_tm / t_py:.1f}x faster")


if __name__ == "__main__":
    sys.exit(main())
