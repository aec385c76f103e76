"""evalkit.ray.infer against evalkit infer on the same rows (make bench-ray-infer).

The digits MLP fixture (64 features, 10 classes) on the bench's 10^6-row
Parquet file (benches/peer_infer.py writes it), on a local Ray cluster of
all cores: evalkit.ray.infer over the file's blocks (one ONNX Runtime
session per actor, threads=1 each), with and without the cache, against
`evalkit infer` (whole process, the same model, every core). Prints
seconds, rows/s and whether the scores are bit for bit the same. The
dataset is materialised first (Ray's own read is timed apart).
"""

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import time

import pyarrow as pa
import pyarrow.ipc as ipc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--evalkit", default=os.path.join(ROOT, "target", "release", "evalkit"))
    ap.add_argument("--data", default=os.path.join(ROOT, "target", "bench-data", "digits_1000000.parquet"))
    ap.add_argument("--blocks", type=int, default=8)
    args = ap.parse_args()
    import ray
    import ray.data

    import evalkit
    import evalkit.ray

    if not os.path.exists(args.data):
        import sys

        sys.path.insert(0, os.path.join(ROOT, "benches"))
        from peer_infer import data

        os.makedirs(os.path.dirname(args.data), exist_ok=True)
        data(1_000_000, args.data)
    model = os.path.join(ROOT, "fixtures", "models", "digits_mlp.onnx")
    tmp = tempfile.mkdtemp()
    try:
        t = time.perf_counter()
        subprocess.run([args.evalkit, "infer", model, args.data, "-o", f"{tmp}/cli.arrow", "--label", "label",
                        "--keep", "row_id", "--no-cache"], check=True, capture_output=True)
        cli = time.perf_counter() - t
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, logging_level=logging.ERROR)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        t = time.perf_counter()
        ds = ray.data.read_parquet(args.data).repartition(args.blocks).materialize()
        read = time.perf_counter() - t
        times = {}
        for label, kw in (("miss", {}), ("hit", {})):
            t = time.perf_counter()
            r = evalkit.ray.infer(model, ds, output=f"{tmp}/out", label="label", keep=["row_id"],
                                  cache_dir=f"{tmp}/cache", **kw)
            times[label] = time.perf_counter() - t
        want = ipc.open_file(f"{tmp}/cli.arrow").read_all()
        got = pa.concat_tables([ipc.open_file(p).read_all() for p in r.paths])
        same = got.column("score").equals(want.column("score"))
        n = want.num_rows
        print(f"{n} rows, {args.blocks} blocks, {os.cpu_count()} cores, ONNX Runtime threads 1 per actor")
        print(f"evalkit infer (process, all cores):  {cli:6.2f} s  {n / cli:10.0f} rows/s")
        print(f"Ray reads the Parquet into blocks:   {read:6.2f} s (not in the times below)")
        print(f"evalkit.ray.infer, cache miss:       {times['miss']:6.2f} s  {n / times['miss']:10.0f} rows/s")
        print(f"evalkit.ray.infer, every block a hit: {times['hit']:6.2f} s")
        print(f"scores bit for bit equal: {same}; cache {r.cache}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
