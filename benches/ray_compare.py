"""compare on Ray (issue 12): evalkit.ray.compare on two score columns of
one dataset against evalkit.compare on the collected arrays.

    make bench-ray-compare           # ROWS=10000000 SHARDS=20 by default

Writes binary shards (Parquet: label, the candidate's score, the
baseline's) with scores rounded to 1e-3 (many rows per pair of scores)
and unrounded float32 (about one pair per row: the joint histogram grows
with the rows), then on a local Ray cluster (all cores) times
evalkit.ray.compare from the shards (bootstrap 0: points and DeLong's
paired test; and bootstrap 200) with the unique memory (USS) of the largest
process and of the driver (sampled every 0.5 s: reading every process's
USS costs CPU, and at 50 ms it slowed the calls on 2 cores by half), and
evalkit.compare on the arrays pyarrow collects. Numbers must agree
(checked): bit for bit without the bootstrap.

Needs the Python package built (`make python`), ray[data] and psutil.
"""

import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(__file__))
from peer_engines import ROWS, SHARDS  # noqa: E402
from ray_ranges import Peaks  # noqa: E402


def write_shards(folder, decimals):
    rng = np.random.default_rng(1)
    per = ROWS // SHARDS
    for i in range(SHARDS):
        n = per if i < SHARDS - 1 else ROWS - per * (SHARDS - 1)
        y = (rng.random(n) < 0.3).astype(np.int64)
        s = np.clip(0.25 * y + 0.75 * rng.random(n), 0, 1)
        b = np.clip(0.6 * s + 0.4 * rng.random(n), 0, 1)
        if decimals is not None:
            s, b = np.round(s, decimals), np.round(b, decimals)
        table = pa.table({"label": y, "score": s.astype(np.float32), "base": b.astype(np.float32)})
        pq.write_table(table, os.path.join(folder, f"part-{i:03d}.parquet"))


KEYS = ("metrics", "baseline", "delta", "delong")


def main():
    import ray
    import ray.data

    import evalkit
    import evalkit.ray

    print(f"{ROWS:,} rows in {SHARDS} Parquet shards; {os.cpu_count()} cores; evalkit {evalkit.__version__}, "
          f"Ray {ray.__version__}")
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    print("| scores | call | time | largest process (USS) | driver (USS) |")
    print("|---|---|---|---|---|")
    for label, decimals in (("rounded to 1e-3", 3), ("unrounded float32", None)):
        with tempfile.TemporaryDirectory() as folder:
            write_shards(folder, decimals)
            got = {}
            for boot in (0, 200):
                ds = ray.data.read_parquet(folder)
                with Peaks(every=0.5) as p:
                    r = evalkit.ray.compare(ds, candidate="score", baseline="base", bootstrap=boot, seed=1)
                got[boot] = r.to_dict()
                print(f"| {label} | `evalkit.ray.compare`, bootstrap {boot} | {p.seconds:.2f} s "
                      f"| {p.largest / 2**20:,.0f} MB | {p.driver / 2**20:,.0f} MB |", flush=True)
            with Peaks(every=0.5) as p:
                t = pq.read_table(folder)
                col = lambda c: t.column(c).to_numpy()  # noqa: E731
                want = evalkit.compare(col("label"), col("score"), col("base"), bootstrap=0).to_dict()
            print(f"| {label} | pyarrow read + `evalkit.compare`, bootstrap 0 | {p.seconds:.2f} s "
                  f"| {p.largest / 2**20:,.0f} MB | {p.driver / 2**20:,.0f} MB |", flush=True)
            for k in KEYS:
                assert got[0][k] == want[k], f"{label}: {k} differs from evalkit.compare"
            d = got[0]["delong"]
            print(f"  ({label}: every number equal to evalkit.compare; ROC-AUC difference {d['difference']:.6f}, "
                  f"DeLong z {d['z']:.2f}; bootstrap-200 interval {got[200]['delta']['roc_auc']['ci']})", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
