#!/usr/bin/env python3
"""End-to-end check of `evalkit infer --device cuda` against Python onnxruntime-gpu.

    scripts/gpu_check.sh                 # sets up onnxruntime-gpu, then runs this
    python benches/gpu_check.py --device cpu   # the same checks on the CPU provider

Needs numpy, pyarrow and onnxruntime (onnxruntime-gpu for CUDA) in the
interpreter that runs it, and a release evalkit ($EVALKIT_BIN, else
$CARGO_TARGET_DIR/release/evalkit) that loads the same ONNX Runtime library
(the script sets ORT_DYLIB_PATH to that package's library).

1. The provider: `--device cuda[:ID]` needs CUDAExecutionProvider among
   onnxruntime's available providers; evalkit's prediction file must say it
   ran on it (never a silent CPU run).
2. Scores: the digits MLP fixture (float32) and its float16 variant on the
   held-out digits: evalkit's scores against Python onnxruntime on the same
   provider and batch size (features cast by numpy as evalkit casts them),
   and against evalkit's own CPU run. Prints the largest differences and
   fails past 1e-5 (float32) / 2e-3 (float16) against Python, 1e-4 / 4e-3
   against the CPU.
3. Throughput: `--rows` rows (the held-out digits repeated, a Parquet file of
   several row groups) at each `--batch-sizes`: Python's `run` loop over an
   array already in memory (the model alone) against `evalkit infer` as a
   whole process (reading, converting, running, writing) and its model loop
   (rows/s inside `run`, from the file's inference statistics). Best of
   `--repeat`.

Writes everything to `--json` (default gpu_check.json) and prints a table.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, evalkit_binary  # noqa: E402

MODELS = {
    "float32": os.path.join(ROOT, "fixtures", "models", "digits_mlp.onnx"),
    "float16": os.path.join(ROOT, "fixtures", "models", "digits_mlp_f16.onnx"),
}
DIGITS = os.path.join(ROOT, "fixtures", "data", "digits.parquet")
NAMES = [f"pixel_{i}" for i in range(64)]
# Largest |difference| allowed: (against Python on the same provider, against evalkit on the CPU).
TOLERANCE = {"float32": (1e-5, 1e-4), "float16": (2e-3, 4e-3)}


def ort_library():
    capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
    libs = sorted((f for f in os.listdir(capi) if f.startswith("libonnxruntime.so")), key=len, reverse=True)
    if not libs:
        sys.exit(f"no libonnxruntime.so* in {capi}")
    return os.path.join(capi, libs[0])


def providers_for(device):
    if device == "cpu":
        return ["CPUExecutionProvider"]
    dev = int(device.split(":")[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": dev})]


def session(model, device):
    return onnxruntime.InferenceSession(model, providers=providers_for(device))


def features(table, kind):
    X = np.column_stack([table.column(n).to_numpy() for n in NAMES])
    return X.astype(np.float16 if kind == "float16" else np.float32)


def python_scores(sess, X, batch):
    name = sess.get_inputs()[0].name
    out = [sess.run(["probabilities"], {name: X[i:i + batch]})[0] for i in range(0, len(X), batch)]
    return np.concatenate(out).astype(np.float32)


def evalkit_infer(exe, model, data, out, device, batch, env):
    t = time.perf_counter()
    r = subprocess.run([exe, "infer", model, data, "-o", out, "--label", "label", "--keep", "row_id",
                        "--no-cache", "--device", device, "--batch-size", str(batch), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"evalkit infer --device {device} failed: {r.stderr.decode().strip()}")
    table = pa.ipc.open_file(out).read_all()
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    scores = np.asarray(table.column("score").combine_chunks().flatten()).reshape(table.num_rows, -1)
    return scores, json.loads(meta["evalkit.inference"]), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda:0", help="cuda[:ID] or cpu (the same checks on the CPU provider)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 8192, 65536])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default="gpu_check.json")
    args = ap.parse_args()
    exe = evalkit_binary()
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found: run `make build` (or set EVALKIT_BIN)")
    available = onnxruntime.get_available_providers()
    if args.device != "cpu" and "CUDAExecutionProvider" not in available:
        sys.exit(f"onnxruntime {onnxruntime.__version__} has no CUDAExecutionProvider (it has {available}): "
                 "install onnxruntime-gpu built for this machine's CUDA")
    env = dict(os.environ, ORT_DYLIB_PATH=ort_library())
    provider = "CPUExecutionProvider" if args.device == "cpu" else "CUDAExecutionProvider"
    report = {"device": args.device, "onnxruntime": onnxruntime.__version__, "library": env["ORT_DYLIB_PATH"],
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "scores": {}, "throughput": []}
    print(f"onnxruntime {onnxruntime.__version__} ({env['ORT_DYLIB_PATH']}); providers {available}")

    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        digits = pq.read_table(DIGITS)
        for kind, model in MODELS.items():
            sess = session(model, args.device)
            if sess.get_providers()[0] != provider:
                sys.exit(f"Python onnxruntime ran {model} on {sess.get_providers()}, not {provider}")
            want = python_scores(sess, features(digits, kind), 256)
            got, stats, _ = evalkit_infer(exe, model, DIGITS, os.path.join(tmp, "d.arrow"), args.device, 256, env)
            cpu, _, _ = evalkit_infer(exe, model, DIGITS, os.path.join(tmp, "c.arrow"), "cpu", 256, env)
            vs_python, vs_cpu = float(np.abs(got - want).max()), float(np.abs(got - cpu).max())
            report["scores"][kind] = {"provider": stats["provider"], "max_diff_python": vs_python,
                                      "max_diff_cpu": vs_cpu, "bit_identical_python": bool((got == want).all())}
            print(f"{kind}: evalkit on {stats['provider']}: max |diff| {vs_python:.3g} vs Python onnxruntime, "
                  f"{vs_cpu:.3g} vs evalkit on the CPU")
            limit_py, limit_cpu = TOLERANCE[kind]
            if stats["provider"] != provider:
                failed.append(f"{kind}: evalkit ran on {stats['provider']}, not {provider}")
            if vs_python > limit_py or vs_cpu > limit_cpu:
                failed.append(f"{kind}: scores differ by {vs_python:.3g} / {vs_cpu:.3g}")

        # Throughput on a larger file with several row groups.
        reps = -(-args.rows // digits.num_rows)
        big = pa.concat_tables([digits] * reps).slice(0, args.rows)
        big = big.set_column(big.schema.get_field_index("row_id"), "row_id", pa.array(np.arange(args.rows)))
        path = os.path.join(tmp, "big.parquet")
        pq.write_table(big, path, row_group_size=1 << 17)
        print(f"\n{args.rows} rows, best of {args.repeat}")
        print(f"{'model':>8} {'batch':>7} {'python run':>14} {'evalkit infer':>14} {'evalkit loop':>14} "
              f"{'infer/run':>10} {'loop/run':>9}")
        for kind, model in MODELS.items():
            sess = session(model, args.device)
            X = features(big, kind)
            for batch in args.batch_sizes:
                python_scores(sess, X[:batch], batch)  # warm-up
                best_py = min(_timed(lambda: python_scores(sess, X, batch)) for _ in range(args.repeat))
                runs = [evalkit_infer(exe, model, path, os.path.join(tmp, "p.arrow"), args.device, batch, env)
                        for _ in range(args.repeat)]
                best = min(runs, key=lambda r: r[2])
                py, whole, loop = args.rows / best_py, args.rows / best[2], best[1]["model_rows_per_s"]
                report["throughput"].append({"model": kind, "batch_size": batch, "python_run_rows_per_s": py,
                                             "evalkit_rows_per_s": whole, "evalkit_model_rows_per_s": loop})
                print(f"{kind:>8} {batch:>7} {py:>10.0f} r/s {whole:>10.0f} r/s {loop:>10.0f} r/s "
                      f"{whole / py:>9.2f}x {loop / py:>8.2f}x")
    report["failed"] = failed
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    if failed:
        sys.exit("FAILED: " + "; ".join(failed))
    print(f"\nok; written to {args.json}")


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
