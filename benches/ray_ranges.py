"""Score ranges on Ray (issue 12, part 4): evalkit.ray.full with one merged
state against ranges=K, on unrounded float32 scores (about one distinct
score per row: the case whose state grows with the rows).

    make bench-ray-ranges            # ROWS=10000000 SHARDS=20 by default
    ROWS=30000000 RANGES=16,64 make bench-ray-ranges
    CLASSES=10 ROWS=3000000 make bench-ray-ranges   # multiclass rows

Writes binary prediction shards (Parquet) as `make bench-engines` does
(with CLASSES=K, multiclass rows instead: a label and K float32
probability columns p0..p(K-1), unrounded, the label's raised),
then on a local Ray cluster (all cores) times each call from the Parquet
shards, bootstrap 0, and samples every 50 ms the unique memory (USS) of this
process (the driver) and of every process under it (Ray's workers, raylet,
object store): "largest process" is the highest any single process reached,
"driver" this process's. The
JSON documents must be equal (they are checked), so only time and memory
differ.

Needs the Python package built (`make python`), ray[data] and psutil.
"""

import json
import os
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(__file__))
from peer_engines import ROWS, SHARDS, write_shards  # noqa: E402

RANGES = [int(k) for k in os.environ.get("RANGES", "16,64").split(",")]
CLASSES = int(os.environ.get("CLASSES", "0"))


def write_multiclass(folder):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    per = ROWS // SHARDS
    for i in range(SHARDS):
        n = per if i < SHARDS - 1 else ROWS - per * (SHARDS - 1)
        y = rng.integers(0, CLASSES, n)
        p = rng.random((n, CLASSES), dtype=np.float32)
        p[np.arange(n), y] += rng.random(n, dtype=np.float32)
        p /= p.sum(axis=1, keepdims=True)
        cols = {"label": y, **{f"p{c}": p[:, c] for c in range(CLASSES)}}
        pq.write_table(pa.table(cols), os.path.join(folder, f"part-{i:03d}.parquet"))


class Peaks:
    """The largest unique memory (USS: pages no other process shares, so
    Ray's shared object store is not counted in every worker that maps it)
    of any one process of this tree, which process that was, and the
    driver's."""

    def __init__(self, every=0.05):
        # Reading every process's USS costs CPU: a coarser interval for
        # long calls keeps the sampler from slowing what it measures.
        self.every = every

    def __enter__(self):
        self.largest = self.driver = 0
        self.who = ""
        self.stop = False
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        self.t0 = time.perf_counter()
        return self

    def sample(self):
        me = psutil.Process()
        while not self.stop:
            for p in [me, *me.children(recursive=True)]:
                try:
                    uss = p.memory_full_info().uss
                    if uss > self.largest:
                        self.largest = uss
                        self.who = "driver" if p.pid == me.pid else " ".join(p.cmdline()[:2])[-40:]
                except psutil.Error:
                    continue
                if p.pid == me.pid:
                    self.driver = max(self.driver, uss)
            time.sleep(self.every)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.stop = True
        self.thread.join()


def main():
    import ray
    import ray.data

    import evalkit
    import evalkit.ray

    cores = os.cpu_count()
    what = f"{CLASSES} classes, unrounded float32 probabilities" if CLASSES else "unrounded float32 scores"
    print(f"{ROWS:,} rows in {SHARDS} Parquet shards, {what}; {cores} cores; "
          f"evalkit {evalkit.__version__}, Ray {ray.__version__}")
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    with tempfile.TemporaryDirectory() as folder:
        if CLASSES:
            write_multiclass(folder)
            kw = {"score": [f"p{c}" for c in range(CLASSES)]}
        else:
            write_shards(folder, rounded=False)
            kw = {}
        print("| call | time | largest process (USS) | which | driver (USS) | distinct scores |")
        print("|---|---|---|---|---|---|")
        docs = {}
        runs = [("one merged state", None)] + [(f"ranges={k}", k) for k in RANGES]
        for name, k in runs:
            ds = ray.data.read_parquet(folder)
            with Peaks() as p:
                r = evalkit.ray.full(ds, bootstrap=0, ranges=k, **kw)
            d = r.to_dict()
            docs[name] = d
            distinct = f"{d['distinct_scores']:,}" if "distinct_scores" in d else "—"
            print(f"| `{name}` | {p.seconds:.2f} s | {p.largest / 2**20:,.0f} MB | {p.who} | {p.driver / 2**20:,.0f} MB "
                  f"| {distinct} |", flush=True)
        first = json.dumps(docs[runs[0][0]], sort_keys=True)
        for name, _ in runs[1:]:
            assert json.dumps(docs[name], sort_keys=True) == first, f"{name} differs from one merged state"
        print("every JSON document equal, bit for bit")
    ray.shutdown()


if __name__ == "__main__":
    main()
