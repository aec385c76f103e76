"""States and shards: peak memory and time of `evalkit full` over shards,
state sizes, merge time (issue 11's measurements).

    make bench-states              # ROWS=10000000 SHARDS=20 by default
    ROWS=100000000 make bench-states

Writes binary prediction shards (Parquet, float32 scores; once rounded to
1e-6, once unrounded: about one distinct score per row) into a temporary
folder, then measures with /usr/bin/time:

- `evalkit full 'DIR/*.parquet' --bootstrap 0` (shards, a few at a time)
  against `evalkit full ONE.parquet --bootstrap 0` on the same rows in one
  file, when that fits: streamed chunk by chunk (the default) and read whole
  (`EVALKIT_CHUNK_ROWS` larger than the file: every row in memory);
- `evalkit state` on the shards: the state file's size;
- `evalkit full STATE --bootstrap 1000` (rounded scores): the bootstrap
  drawn from the state's histogram;
- `evalkit merge` of 100 states.

Needs the release binary (`make build`) and pyarrow (`make venv`).
"""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EVALKIT = os.environ.get("EVALKIT", os.path.join(target, "release", "evalkit"))
ROWS = int(os.environ.get("ROWS", "10000000"))
SHARDS = int(os.environ.get("SHARDS", "20"))
# The one-file run needs every row in memory (about 40 bytes a row).
ONE_FILE_MAX = int(os.environ.get("ONE_FILE_MAX", "100000000"))


def timed(args, env=None):
    """Runs a command under /usr/bin/time: (seconds, peak RSS in MB)."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M"] + args,
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    if out.returncode != 0:
        sys.exit(f"{args}: {out.stderr}")
    m = re.search(r"TIME ([0-9.]+) ([0-9]+)", out.stderr)
    return float(m.group(1)), int(m.group(2)) / 1024


def write_shards(folder, rounded, one_file):
    rng = np.random.default_rng(7)
    per = ROWS // SHARDS
    tables = []
    for s in range(SHARDS):
        y = (rng.random(per) < 0.3).astype(np.uint8)
        p = np.clip(0.35 * y + 0.65 * rng.random(per), 0, 1)
        if rounded:
            p = np.round(p, 6)
        t = pa.table({"label": y, "score": p.astype(np.float32)})
        pq.write_table(t, os.path.join(folder, f"part-{s:03}.parquet"))
        if one_file:
            tables.append(t)
    if one_file:
        pq.write_table(pa.concat_tables(tables), os.path.join(folder, "..", "one.parquet"))


def main():
    if not os.path.exists(EVALKIT):
        sys.exit(f"{EVALKIT} is missing: run `make build` first")
    print(f"{ROWS:,} binary rows in {SHARDS} Parquet shards; {os.cpu_count()} cores")
    for rounded in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            shards = os.path.join(tmp, "shards")
            os.mkdir(shards)
            one_file = ROWS <= ONE_FILE_MAX
            write_shards(shards, rounded, one_file)
            kind = "rounded to 1e-6" if rounded else "unrounded float32"
            t, rss = timed([EVALKIT, "full", os.path.join(shards, "*.parquet"), "--bootstrap", "0", "--json"])
            print(f"[{kind}] full over shards:   {t:7.2f} s, peak RSS {rss:8.0f} MB")
            if one_file:
                one = [EVALKIT, "full", os.path.join(tmp, "one.parquet"), "--bootstrap", "0", "--json"]
                t1, rss1 = timed(one, {"EVALKIT_CHUNK_ROWS": str(10**12)})
                print(f"[{kind}] one file, whole:    {t1:7.2f} s, peak RSS {rss1:8.0f} MB (shards {t / t1:.2f}x)")
                t2, rss2 = timed(one)
                print(f"[{kind}] one file, streamed: {t2:7.2f} s, peak RSS {rss2:8.0f} MB ({t2 / t1:.2f}x whole)")
            state = os.path.join(tmp, "all.evstate")
            t, rss = timed([EVALKIT, "state", shards, "-o", state])
            size = os.path.getsize(state)
            print(f"[{kind}] state of every row: {size / 1e6:8.2f} MB ({size / ROWS:.2f} bytes/row), {t:.2f} s")
            if rounded:
                t, rss = timed([EVALKIT, "full", state, "--bootstrap", "1000", "--json"])
                print(f"[{kind}] B = 1000 from the state: {t:7.2f} s, peak RSS {rss:8.0f} MB")
                parts = []
                for i in range(100):
                    p = os.path.join(tmp, f"s{i}.evstate")
                    src = os.path.join(shards, f"part-{i % SHARDS:03}.parquet")
                    subprocess.run([EVALKIT, "state", src, "-o", p], check=True, capture_output=True)
                    parts.append(p)
                t, rss = timed([EVALKIT, "merge"] + parts + ["-o", os.path.join(tmp, "m.evstate")])
                print(f"[{kind}] merge of 100 states:  {t:7.2f} s, peak RSS {rss:8.0f} MB")


if __name__ == "__main__":
    main()
