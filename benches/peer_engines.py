"""Exact metrics on engines: evalkit.ray and evalkit.spark against Spark
MLlib's BinaryClassificationEvaluator and scikit-learn on the collected
arrays (issue 12's measurements).

    make bench-engines             # ROWS=10000000 SHARDS=20 by default
    ROWS=100000000 MLLIB_TIMEOUT=600 make bench-engines

Writes binary prediction shards (Parquet, float32 scores; once rounded to
1e-6, once unrounded: about one distinct score per row) into a temporary
folder, then, in this order, each from the Parquet shards:

- evalkit.ray.full on a local Ray cluster (all cores), bootstrap 0 (on the
  unrounded shards also with score ranges, ranges=64);
- evalkit.spark.full on Spark local[*], bootstrap 0 (the same);
- Spark MLlib's BinaryClassificationEvaluator, areaUnderROC and areaUnderPR
  (two jobs), with numBins=1000 (its default: scores binned) and numBins=0
  (every distinct score);
- scikit-learn's roc_auc_score and average_precision_score on the arrays
  pyarrow collects (the read timed apart).

Times are wall clock, whole call (the read of the shards included);
"memory added" is the largest summed RSS of this process and every process
under it (Ray's raylet and workers, Spark's JVM and Python workers),
sampled every 50 ms, minus that sum when the run began (both engines stay
up through the whole bench, so their idle footprint is not counted). Differences are against evalkit's values (which equal
scikit-learn's to the last digit or two).

MLLIB_TIMEOUT=S cancels MLlib's two metrics (one budget for both) still
running after S seconds (Spark's cancelAllJobs) and reports them as not
finished; none by default.
Every evalkit document is checked equal to the first one, bit for bit.

Needs the Python package built (`make python`, or the wheel), ray[data],
pyspark with a Java runtime, scikit-learn and psutil.
"""

import json
import os
import sys
import tempfile
import threading
import time

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROWS = int(os.environ.get("ROWS", "10000000"))
SHARDS = int(os.environ.get("SHARDS", "20"))
MLLIB_TIMEOUT = float(os.environ["MLLIB_TIMEOUT"]) if os.environ.get("MLLIB_TIMEOUT") else None


class Peak:
    """The peak summed RSS of this process tree while the block runs."""

    def __enter__(self):
        self.base = self.total()
        self.peak = self.base
        self.stop = False
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        self.t0 = time.perf_counter()
        return self

    @staticmethod
    def total():
        me = psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def sample(self):
        while not self.stop:
            self.peak = max(self.peak, self.total())
            time.sleep(0.05)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.stop = True
        self.thread.join()


def write_shards(folder, rounded):
    rng = np.random.default_rng(0)
    per = ROWS // SHARDS
    for i in range(SHARDS):
        n = per if i < SHARDS - 1 else ROWS - per * (SHARDS - 1)
        y = (rng.random(n) < 0.3).astype(np.int64)
        s = np.clip(0.25 * y + 0.75 * rng.random(n), 0, 1)
        s = np.round(s, 6) if rounded else s
        pq.write_table(pa.table({"label": y, "score": s.astype(np.float32)}), os.path.join(folder, f"part-{i:03d}.parquet"))


def row(name, peak, auc, ap, ref):
    d_auc = "—" if ref is None else f"{abs(auc - ref[0]):.1e}"
    d_ap = "—" if ref is None else f"{abs(ap - ref[1]):.1e}"
    grown = (peak.peak - peak.base) / 2**20
    return f"| {name} | {peak.seconds:.2f} s | {grown:,.0f} MB | {auc:.12f} | {ap:.12f} | {d_auc} | {d_ap} |"


def mllib(spark, df, bins):
    """MLlib's two metrics (two jobs), or None when MLLIB_TIMEOUT cancelled them."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    ev = BinaryClassificationEvaluator(rawPredictionCol="score", labelCol="label", numBins=bins)
    timer = None
    cancelled = threading.Event()

    def cancel():
        cancelled.set()  # before the jobs fail, so the failure is read as the cancel
        spark.sparkContext.cancelAllJobs()

    if MLLIB_TIMEOUT is not None:
        timer = threading.Timer(MLLIB_TIMEOUT, cancel)
        timer.start()
    try:
        return ev.setMetricName("areaUnderROC").evaluate(df), ev.setMetricName("areaUnderPR").evaluate(df)
    except Exception:
        if cancelled.is_set():
            return None
        raise
    finally:
        if timer is not None:
            timer.cancel()


def main():
    import ray
    from pyspark.sql import SparkSession
    from sklearn.metrics import average_precision_score, roc_auc_score

    import evalkit
    import evalkit.ray
    import evalkit.spark

    os.environ["PYSPARK_PYTHON"] = sys.executable
    cores = os.cpu_count()
    print(f"{ROWS:,} rows in {SHARDS} Parquet shards; {cores} cores; evalkit {evalkit.__version__}, "
          f"Ray {ray.__version__}, Spark (pyspark) ", end="")
    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "8g"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(spark.version)
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory() as tmp:
        for rounded in (True, False):
            folder = os.path.join(tmp, "rounded" if rounded else "unrounded")
            os.makedirs(folder)
            write_shards(folder, rounded)
            print(f"\n### scores {'rounded to 1e-6' if rounded else 'unrounded (float32)'}\n")
            print("| run | time | memory added | ROC-AUC | AP (PR-AUC) | ROC-AUC diff | PR diff |")
            print("|---|---|---|---|---|---|---|")
            first = None
            differ = []
            calls = [("evalkit.ray.full", lambda **kw: evalkit.ray.full(ray.data.read_parquet(folder), **kw)),
                     ("evalkit.spark.full", lambda **kw: evalkit.spark.full(spark.read.parquet(folder), **kw))]
            for name, call in calls:
                for ranges in (None,) if rounded else (None, 64):
                    kw = {"bootstrap": 0} if ranges is None else {"bootstrap": 0, "ranges": ranges}
                    with Peak() as p:
                        r = call(**kw)
                    doc = json.dumps(r.to_dict(), sort_keys=True)
                    if first is None:
                        first, ref = doc, (r["roc_auc"].value, r["average_precision"].value)
                    elif doc != first:
                        differ.append(f"{name} {kw}")
                    label = name if ranges is None else f"{name}, ranges={ranges}"
                    print(row(label, p, r["roc_auc"].value, r["average_precision"].value,
                              None if doc is first else ref), flush=True)
            df = spark.read.parquet(folder).selectExpr("cast(label as double) label", "cast(score as double) score")
            for bins in (1000, 0):
                with Peak() as p:
                    got = mllib(spark, df, bins)
                name = f"MLlib BinaryClassificationEvaluator, numBins={bins}"
                if got is None:
                    grown = (p.peak - p.base) / 2**20
                    print(f"| {name} | not finished in {MLLIB_TIMEOUT:.0f} s (cancelled) | {grown:,.0f} MB | — | — | — | — |", flush=True)
                else:
                    print(row(name, p, *got, ref), flush=True)
            with Peak() as p:
                t = pq.read_table(folder)
                y, s = t.column("label").to_numpy(), t.column("score").to_numpy()
                read = time.perf_counter() - p.t0
                auc, ap = roc_auc_score(y, s), average_precision_score(y, s)
            print(row(f"scikit-learn on the collected arrays (read {read:.2f} s)", p, auc, ap, ref), flush=True)
            del t, y, s
            if differ:
                raise SystemExit(f"not the same document as evalkit.ray.full's: {differ}")
            print("\nevery evalkit document equal, bit for bit")
    spark.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
