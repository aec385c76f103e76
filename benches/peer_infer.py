#!/usr/bin/env python3
"""Peer benchmark of `evalkit infer` against Python onnxruntime.

    make bench-infer

The digits MLP fixture (64 features, 10 classes) on 10^6 rows (the held-out
digits repeated) at one batch size, for 1 and 2 intra-op threads:

- Python: `InferenceSession.run(["probabilities"], {"input": X[i:i+B]})` over
  the batches of a float32 array already in memory (pure run throughput);
- a Python pipeline doing the same work as `evalkit infer`, timed in
  process (the interpreter's start and imports not counted): pyarrow reads
  the feature, label and kept columns of the Parquet file, numpy stacks the
  features into a float32 matrix, `run` goes over the batches, and pyarrow
  writes the label, the probability lists and the kept column to an Arrow
  IPC file;
- evalkit: `evalkit infer MODEL DATA.parquet -o PREDS --no-cache` as a whole
  process: reading the Parquet file, converting the batches (on a second
  thread, overlapping the model), running the model, writing the
  prediction file.

Prints rows/s of each and evalkit's share of Python's throughput (the run
loop alone, and the pipeline); run it on a quiet machine.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import onnxruntime
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, evalkit_binary  # noqa: E402
MODEL = os.path.join(ROOT, "fixtures", "models", "digits_mlp.onnx")


def data(rows, path):
    t = pq.read_table(os.path.join(ROOT, "fixtures", "data", "digits.parquet"))
    reps = -(-rows // t.num_rows)
    big = pa.concat_tables([t] * reps).slice(0, rows)
    big = big.set_column(big.schema.get_field_index("row_id"), "row_id", pa.array(np.arange(rows)))
    if not os.path.exists(path):
        pq.write_table(big, path + ".tmp")
        os.replace(path + ".tmp", path)
    names = [f"pixel_{i}" for i in range(64)]
    return np.column_stack([big.column(n).to_numpy() for n in names]).astype(np.float32)


def pipeline(sess, path, out, B):
    """The Python pipeline: Parquet in, batched run, Arrow IPC out."""
    names = [f"pixel_{i}" for i in range(64)]
    t = pq.read_table(path, columns=names + ["label", "row_id"])
    X = np.column_stack([t.column(n).to_numpy() for n in names]).astype(np.float32)
    probs = np.concatenate([sess.run(["probabilities"], {"input": X[i:i + B]})[0] for i in range(0, len(X), B)])
    k = probs.shape[1]
    table = pa.table({
        "label": t.column("label"),
        "score": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float64).ravel()), k),
        "row_id": t.column("row_id"),
    })
    with pa.OSFile(out, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    os.makedirs(os.path.join(ROOT, "target", "bench-data"), exist_ok=True)
    path = os.path.join(ROOT, "target", "bench-data", f"digits_{args.rows}.parquet")
    X = data(args.rows, path)
    out = os.path.join(ROOT, "target", "bench-data", "digits_preds.arrow")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; onnxruntime {onnxruntime.__version__}; "
          f"{args.rows} rows, batch size {args.batch_size}")
    print(f"{'threads':>7}  {'python run':>14}  {'python pipeline':>15}  {'evalkit infer':>14}  {'share of run':>12}  "
          f"{'share of pipeline':>17}  {'evalkit model loop':>18}")
    B = args.batch_size
    for threads in args.threads:
        so = onnxruntime.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = onnxruntime.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])
        best_py = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            for i in range(0, args.rows, B):
                sess.run(["probabilities"], {"input": X[i:i + B]})
            best_py = min(best_py, time.perf_counter() - t)
        py_out = os.path.join(ROOT, "target", "bench-data", "digits_preds_py.arrow")
        best_pipe = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            pipeline(sess, path, py_out, B)
            best_pipe = min(best_pipe, time.perf_counter() - t)
        best_ev, loop = float("inf"), None
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = subprocess.run([exe, "infer", MODEL, path, "-o", out, "--label", "label", "--keep", "row_id",
                                "--no-cache", "--batch-size", str(B), "--threads", str(threads), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            if r.returncode != 0:
                sys.exit(r.stderr.decode())
            dt = time.perf_counter() - t
            if dt < best_ev:
                best_ev, loop = dt, json.loads(r.stdout)["inference"]["rows_per_s"]
        py, pipe, ev = args.rows / best_py, args.rows / best_pipe, args.rows / best_ev
        print(f"{threads:>7}  {py:>10.0f} r/s  {pipe:>11.0f} r/s  {ev:>10.0f} r/s  {ev / py:>11.2f}x  "
              f"{ev / pipe:>16.2f}x  {loop:>14.0f} r/s")


if __name__ == "__main__":
    main()
