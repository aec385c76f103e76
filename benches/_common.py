"""Helpers shared by the peer benchmark scripts."""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def evalkit_binary():
    """The release binary: $EVALKIT_BIN, else $CARGO_TARGET_DIR (or target)/release/evalkit."""
    if os.environ.get("EVALKIT_BIN"):
        return os.environ["EVALKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "evalkit")


def best_of(repeat, fn):
    """The best wall time of `repeat` calls, and the last call's result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(cmd):
    """Runs a command; exits with its stderr when it fails; returns stdout."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.decode()}")
    return r.stdout
