"""evalkit on Spark: the same numbers as evalkit.full on the collected rows,
bit for bit, for every task and several partition counts; intervals equal
those of the same state built locally; bad partitions and killed Python
workers. One local Spark session per test run (`local[2,3]`: two cores,
a failed task retried), console progress off."""

import os
import sys

import numpy as np
import pytest

import evalkit

pa = pytest.importorskip("pyarrow")


def _require(name):
    if os.environ.get("EVALKIT_REQUIRE_SPARK") == "1":
        return __import__(name)
    return pytest.importorskip(name)


@pytest.fixture(scope="session")
def spark():
    _require("pyspark")
    from pyspark.sql import SparkSession

    # Spark's Python workers run this interpreter (evalkit installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2,3]")
        .appName("evalkit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def frame(spark, table, partitions):
    return spark.createDataFrame(table.to_pandas()).repartition(partitions)


@pytest.mark.parametrize("partitions", [1, 3, 8])
@pytest.mark.parametrize("weights", [None, "whole"])
def test_binary_equals_full_and_the_local_state(spark, data, partitions, weights):
    import evalkit.spark

    t = data.binary(weights=weights)
    w = None if weights is None else "w"
    df = frame(spark, t, partitions)
    got = evalkit.spark.full(df, weight=w, bootstrap=0)
    wv = None if w is None else t.column("w").to_numpy()
    data.same_numbers(got, evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), weights=wv, bootstrap=0))
    boot = evalkit.spark.full(df, weight=w, bootstrap=200, seed=7, depth=3)
    assert boot.to_dict() == evalkit.State.from_arrow(t, weight=w).finish(bootstrap=200, seed=7).to_dict()


@pytest.mark.parametrize("partitions", [1, 4])
def test_compare_equals_compare_on_the_rows(spark, data, partitions):
    """Two score columns of a DataFrame: evalkit.compare's numbers on the
    collected rows, DeLong's paired test included; the paired bootstrap is
    the one-machine paired state's."""
    import evalkit.spark

    t = data.paired(n=3000, seed=partitions, weights="whole", decimals=2)
    df = frame(spark, t, partitions)
    col = lambda c: t.column(c).to_numpy()  # noqa: E731
    for w in (None, "w"):
        want = evalkit.compare(col("label"), col("score"), col("base"), weights=None if w is None else col("w"), bootstrap=0)
        data.same_comparison(evalkit.spark.compare(df, candidate="score", baseline="base", weight=w, bootstrap=0), want)
    boot = evalkit.spark.compare(df, candidate="score", baseline="base", bootstrap=100, seed=4, depth=3)
    local = evalkit.PairedState.from_arrow(t, candidate="score", baseline="base").finish(bootstrap=100, seed=4)
    assert boot.to_dict() == local.to_dict()
    with pytest.raises(evalkit.ColumnError, match="'nope'"):
        evalkit.spark.compare(df, candidate="score", baseline="nope")


SLICINGS = ["region", "region,segment"]


def test_compare_slices_equal_compare_slice_on_the_rows(spark, data):
    """Slices of a comparison on Spark, both forms: two score columns, and
    two DataFrames joined on an id (the candidate's slice columns): every
    number is `compare --slice`'s on the rows."""
    import evalkit.spark

    t = data.paired_sliced(n=3000, seed=4)
    got = evalkit.spark.compare(frame(spark, t, 3), candidate="score", baseline="base", slices=SLICINGS, bootstrap=0)
    data.same_slices(got, data.compare_sliced(t, SLICINGS, bootstrap=0))
    ids = pa.array(np.arange(t.num_rows))
    cand = t.select(["label", "score", "region", "segment"]).append_column("row_id", ids)
    base = pa.table({"row_id": ids, "label": t.column("label"), "score": t.column("base")}).take(
        pa.array(np.random.default_rng(1).permutation(t.num_rows))
    )
    # A slice key the join keeps anyway (the label) is selected once.
    joined = evalkit.spark.compare(
        frame(spark, cand, 2), frame(spark, base, 3), id="row_id", slices=["region", "label"], bootstrap=0
    )
    want = evalkit.compare(candidate=cand, baseline=base, id="row_id", slice=["region", "label"], bootstrap=0)
    data.same_slices(joined, want)


def test_compare_joined_on_an_id_column(spark, data):
    """Two DataFrames joined on row_id: evalkit.compare --id's numbers,
    note and checks."""
    import evalkit.spark

    cand, base = data.two_models()
    a, b = frame(spark, cand, 3), frame(spark, base, 2)
    got = evalkit.spark.compare(a, b, id="row_id", bootstrap=0)
    want = evalkit.compare(candidate=cand, baseline=base, id="row_id", bootstrap=0)
    data.same_comparison(got, want)
    assert got.to_dict()["join"] == want.to_dict()["join"] == {"by": "id", "column": "row_id"}
    assert "300 rows of the baseline" in got.warnings[0]
    dup = pa.concat_tables([cand, cand.slice(0, 1)])
    with pytest.raises(evalkit.BadValueError, match="id 0 appears twice"):
        evalkit.spark.compare(frame(spark, dup, 2), b, id="row_id")
    with pytest.raises(evalkit.BadValueError, match="is not in the baseline"):
        evalkit.spark.compare(b, a, id="row_id")
    flipped = base.set_column(1, "label", pa.array(1 - base.column("label").to_numpy()))
    with pytest.raises(evalkit.BadValueError, match="label"):
        evalkit.spark.compare(a, frame(spark, flipped, 2), id="row_id")
    with pytest.raises(evalkit.ColumnError, match="'nope' \\(id\\)"):
        evalkit.spark.compare(a, b, id="nope")
    # compare --id's rules for the id column: integers or strings, no nulls.
    floats = cand.set_column(0, "row_id", pa.array(cand.column("row_id").to_numpy().astype(float)))
    with pytest.raises(evalkit.ColumnError, match="integers or strings"):
        evalkit.spark.compare(frame(spark, floats, 2), b, id="row_id")
    nulls = cand.set_column(0, "row_id", pa.array([None] + cand.column("row_id").to_pylist()[1:], pa.int64()))
    with pytest.raises(evalkit.BadValueError, match="missing"):
        evalkit.spark.compare(spark.createDataFrame(nulls.to_pandas().astype({"row_id": "Int64"})), b, id="row_id")


@pytest.mark.parametrize("partitions,ranges", [(1, 1), (3, 8), (5, 40)])
@pytest.mark.parametrize("weights", [None, "fractional"])
def test_score_ranges_equal_one_merged_state(spark, data, partitions, ranges, weights):
    """ranges=K on Spark: states shuffled by range, not rows; the one-state
    JSON bit for bit."""
    import evalkit.spark

    t = data.binary(n=4000, seed=partitions, weights=weights)
    w = None if weights is None else "w"
    df = frame(spark, t, partitions)
    got = evalkit.spark.full(df, weight=w, bootstrap=0, ranges=ranges, thresholds=11, method="wilson")
    want = evalkit.State.from_arrow(t, weight=w).finish(bootstrap=0, thresholds=11, method="wilson")
    assert got.to_dict() == want.to_dict()


def test_score_ranges_carry_evalkits_errors(spark, data):
    import evalkit.spark

    t = data.binary(n=2000)
    s = t.column("score").to_numpy().copy()
    s[1500] = np.nan
    with pytest.raises(evalkit.InputError, match="a Spark partition.*score"):
        evalkit.spark.full(frame(spark, t.set_column(1, "score", pa.array(s)), 3), bootstrap=0, ranges=4)
    with pytest.raises(evalkit.InputError, match="no rows"):
        evalkit.spark.full(frame(spark, t, 2).limit(0), bootstrap=0, ranges=4)
    with pytest.raises(evalkit.UsageError, match="bootstrap=0"):
        evalkit.spark.full(frame(spark, t, 2), ranges=4)
    with pytest.raises(evalkit.UsageError, match="binary and multiclass"):
        evalkit.spark.full(frame(spark, data.regression(n=300), 2), bootstrap=0, ranges=4)


@pytest.mark.parametrize("partitions,ranges,weights", [(1, 4, False), (4, 30, False), (3, 8, True)])
def test_multiclass_score_ranges_equal_one_merged_state(spark, data, partitions, ranges, weights):
    """Multiclass ranges=K on Spark: the sums and each class's ranges
    shuffled by slot; the one-state JSON bit for bit."""
    import evalkit.spark

    import pandas as pd

    _, y, p = data.multiclass(n=2500, k=4, seed=partitions)
    cols = {"label": y, **{f"p{c}": p[:, c] for c in range(p.shape[1])}}
    w = None
    if weights:
        cols["w"] = np.random.default_rng(partitions).random(len(y)) * (np.arange(len(y)) % 5 != 0)
        w = "w"
    df = spark.createDataFrame(pd.DataFrame(cols)).repartition(partitions)
    score = [f"p{c}" for c in range(p.shape[1])]
    got = evalkit.spark.full(df, score=score, weight=w, bootstrap=0, ranges=ranges)
    want = evalkit.spark.full(df, score=score, weight=w, bootstrap=0)
    assert got.to_dict() == want.to_dict()
    data.same_numbers(got, evalkit.full(y, p, weights=cols.get("w"), bootstrap=0))


def test_fractional_weights_multiclass_and_regression(spark, data):
    import evalkit.spark

    t = data.binary(weights="fractional")
    got = evalkit.spark.full(frame(spark, t, 4), weight="w", bootstrap=0)
    data.same_numbers(
        got,
        evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), weights=t.column("w").to_numpy(), bootstrap=0),
    )
    # Multiclass: an array column (Spark's ArrayType) and one column per class.
    _, y, p = data.multiclass()
    import pandas as pd

    arrays = spark.createDataFrame(pd.DataFrame({"label": y, "score": list(p)})).repartition(5)
    data.same_numbers(evalkit.spark.full(arrays, bootstrap=0), evalkit.full(y, p, bootstrap=0))
    cols = spark.createDataFrame(pd.DataFrame({"label": y, **{f"p{c}": p[:, c] for c in range(p.shape[1])}})).repartition(3)
    got = evalkit.spark.full(cols, score=[f"p{c}" for c in range(p.shape[1])], bootstrap=0)
    data.same_numbers(got, evalkit.full(y, p, bootstrap=0))
    t = data.regression()
    data.same_numbers(
        evalkit.spark.full(frame(spark, t, 6), bootstrap=0),
        evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), bootstrap=0),
    )


def test_slices_equal_the_cli_over_shards(spark, sliced_shards, evalkit_cli):
    import evalkit.spark

    table, cli_full = sliced_shards
    want = cli_full(evalkit_cli, "--slice", "region", "--slice", "region,segment", "--bootstrap", "200")
    for partitions in (1, 4):
        df = frame(spark, table, partitions)
        got = evalkit.spark.full(df, slices=["region", "region,segment"], bootstrap=200).to_dict()
        assert got["slices"] == want["slices"]
        assert got["metrics"] == want["metrics"]


def test_bad_partitions_raise_evalkits_own_errors(spark, data):
    import evalkit.spark

    t = data.binary(n=3000)
    with pytest.raises(evalkit.ColumnError, match="column 'p' \\(score\\) is not there; it has: label, score"):
        evalkit.spark.full(frame(spark, t, 2), score="p")
    s = t.column("score").to_numpy().copy()
    s[2500] = np.nan
    with pytest.raises(evalkit.InputError, match="a Spark partition.*score"):
        evalkit.spark.full(frame(spark, t.set_column(1, "score", pa.array(s)), 3), bootstrap=0)
    with pytest.raises(evalkit.InputError, match="no rows"):
        evalkit.spark.full(frame(spark, t, 2).limit(0), bootstrap=0)
    ranked = t.append_column("query", pa.array(np.arange(t.num_rows) // 10))
    with pytest.raises(evalkit.UsageError, match="is a ranking .* task='binary'"):
        evalkit.spark.full(frame(spark, ranked, 2), bootstrap=0)
    with pytest.raises(evalkit.UsageError, match="bootstrap"):
        evalkit.spark.full(frame(spark, data.regression(), 2))


def test_workers_without_evalkit_get_a_clear_error(spark, data, monkeypatch):
    import evalkit.spark

    # Spark's workers run a Python without evalkit: the error says what to
    # install or set, in one line.
    real = evalkit.spark._reduce_partition

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'evalkit'")

    monkeypatch.setattr(evalkit.spark, "_reduce_partition", missing)
    try:
        with pytest.raises(evalkit.UsageError, match="Spark's Python workers cannot import evalkit.*PYSPARK_PYTHON"):
            evalkit.spark.full(frame(spark, data.binary(n=100), 1), bootstrap=0)
    finally:
        monkeypatch.setattr(evalkit.spark, "_reduce_partition", real)


def test_a_killed_python_worker_is_retried_to_the_same_result(spark, data, tmp_path):
    import evalkit.spark

    t = data.binary(n=3000)
    marker = str(tmp_path / "killed")

    def kill_once(batches):
        # The first partition to get here loses its Python worker (as to
        # the OOM killer); Spark runs the task again (local[2,3]).
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        yield from batches

    df = frame(spark, t, 4)
    df = df.mapInArrow(kill_once, df.schema)
    got = evalkit.spark.full(df, bootstrap=200, seed=1)
    assert os.path.exists(marker)
    assert got.to_dict() == evalkit.State.from_arrow(t).finish(bootstrap=200, seed=1).to_dict()


def _same_fast(got, want):
    g, w = got.to_dict(), want.to_dict()
    assert g["metrics"] and g["strata"]
    drop = ("file", "weight_column")
    assert {k: v for k, v in g.items() if k not in drop} == {k: v for k, v in w.items() if k not in drop}


def shards(spark, table, k, folder):
    """``table`` as ``k`` Parquet files read back as one DataFrame: one
    partition per file and no shuffle, so the rows' order is the same in
    every job (a shuffle's, as after ``repartition``, is not)."""
    import pyarrow.parquet as pq

    folder.mkdir()
    bounds = np.linspace(0, table.num_rows, k + 1).astype(int)
    for i in range(k):
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), folder / f"part-{i}.parquet")
    return spark.read.parquet(str(folder))


@pytest.fixture
def file_per_partition(spark):
    """Each small file its own partition (an open cost above the split
    size keeps Spark from packing files together), for this test only."""
    key = "spark.sql.files.openCostInBytes"
    kept = spark.conf.get(key)
    spark.conf.set(key, str(1 << 30))
    yield
    spark.conf.set(key, kept)


@pytest.mark.parametrize("partitions", [1, 4])
def test_fast_equals_fast_on_the_collected_rows(spark, data, partitions, tmp_path, file_per_partition):
    import evalkit.spark

    df = shards(spark, data.binary(n=3000, weights="fractional"), partitions, tmp_path / "b")
    assert df.rdd.getNumPartitions() == partitions
    rows = df.toPandas()  # partition order: the order the fast tier samples in
    for w in (None, "w"):
        wv = None if w is None else rows["w"].to_numpy()
        got = evalkit.spark.fast(df, weight=w, sample=400, seed=5)
        _same_fast(got, evalkit.fast(rows["label"].to_numpy(), rows["score"].to_numpy(), weights=wv, sample=400, seed=5))
    t, _, _ = data.multiclass()
    arrays = shards(spark, t, partitions, tmp_path / "m")
    rows = arrays.toPandas()
    _same_fast(
        evalkit.spark.fast(arrays, sample=250, seed=1),
        evalkit.fast(rows["label"].to_numpy(), np.stack(rows["score"].to_numpy()), sample=250, seed=1),
    )
    reg = shards(spark, data.regression(), partitions, tmp_path / "r")
    rows = reg.toPandas()
    got = evalkit.spark.fast(reg, sample=300)
    _same_fast(got, evalkit.fast(rows["label"].to_numpy(), rows["score"].to_numpy(), sample=300))
    with pytest.raises(evalkit.UsageError, match="threshold"):
        evalkit.spark.fast(reg, threshold=-1.0)


# --- evalkit.spark.infer ----------------------------------------------------

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def _read(path):
    import pyarrow.ipc as ipc

    with ipc.open_file(path) as f:
        return f.read_all()


@pytest.mark.parametrize(
    "model,data_name,partitions",
    [("breast_cancer_lr", "breast_cancer", 3), ("digits_mlp_f16", "digits", 2)],
)
def test_infer_writes_what_evalkit_infer_writes(spark, tmp_path, evalkit_cli, file_per_partition, model, data_name, partitions):
    import json
    import subprocess

    import pyarrow.parquet as pq

    import evalkit.spark

    m = os.path.abspath(os.path.join(FIXTURES, "models", model + ".onnx"))
    d = os.path.abspath(os.path.join(FIXTURES, "data", data_name + ".parquet"))
    cli_out = tmp_path / "cli.arrow"
    evalkit.infer(m, d, cli_out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache_cli")
    want = _read(cli_out)
    df = shards(spark, pq.read_table(d), partitions, tmp_path / "rows")
    assert df.rdd.getNumPartitions() == partitions
    out = tmp_path / "preds"
    got = evalkit.spark.infer(m, df, output=out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert got.cache == {"hit": 0, "miss": partitions, "disabled": 0} and got.rows == want.num_rows
    assert [os.path.basename(p) for p in got.paths] == [f"part-{i:05d}.arrow" for i in range(partitions)]
    parts = [_read(p) for p in got.paths]
    # Partition order (Spark packs the files largest first), every score
    # bit for bit the CLI's on the same row (other batches).
    table = pa.concat_tables(parts)
    order = df.select("row_id").toPandas()["row_id"].to_numpy()
    assert table.column("row_id").to_numpy().tolist() == order.tolist()
    want = want.take(pa.array(order))
    assert table.schema.names == want.schema.names == ["label", "score", "row_id"]
    for name in want.schema.names:
        assert table.column(name).equals(want.column(name)), name
    for part in parts:
        meta, cli_meta = part.schema.metadata, want.schema.metadata
        for key in (b"evalkit.task", b"evalkit.classes", b"evalkit.config", b"evalkit.model"):
            assert meta.get(key) == cli_meta.get(key), key
        assert b'"path":"a Spark partition"' in meta[b"evalkit.data"]
    # The merged state, the states beside the files and the CLI's one file
    # give one answer.
    doc = got.full(bootstrap=0).to_dict()

    def cli(*args):
        proc = subprocess.run([evalkit_cli, "full", *args, "--bootstrap", "0", "--json"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["metrics"]

    assert doc["metrics"] == cli(str(cli_out)) == cli(*got.state_paths)
    # Again: every partition from the cache, the same bytes.
    first = [open(p, "rb").read() for p in got.paths]
    again = evalkit.spark.infer(m, df, output=out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert again.cache == {"hit": partitions, "miss": 0, "disabled": 0}
    assert [open(p, "rb").read() for p in again.paths] == first
    assert sorted(os.listdir(out)) == sorted(
        ["_evalkit_infer.json"] + [f"part-{i:05d}.{e}" for i in range(partitions) for e in ("arrow", "evstate")]
    )


def test_infer_refuses_bad_partitions_and_leaves_the_output_as_it_was(spark, tmp_path, file_per_partition):
    import pyarrow.parquet as pq

    import evalkit.spark

    m = os.path.join(FIXTURES, "models", "breast_cancer_lr.onnx")
    t = pq.read_table(os.path.join(FIXTURES, "data", "breast_cancer.parquet"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    df = shards(spark, t, 2, tmp_path / "good")
    with pytest.raises(evalkit.UsageError, match="holds files evalkit did not write there"):
        evalkit.spark.infer(m, df, output=mine, label="label", no_cache=True)
    assert os.listdir(mine) == ["notes.txt"]
    out = tmp_path / "preds"
    good = evalkit.spark.infer(m, df, output=out, label="label", keep=["row_id"], no_cache=True)
    assert good.cache == {"hit": 0, "miss": 0, "disabled": 2}
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    # The second partition holds a NaN feature: the error names the
    # partition's column and row; the first run's files stay as they were.
    col = t.column("mean radius").to_numpy().copy()
    col[200] = np.nan
    bad = t.set_column(t.schema.get_field_index("mean radius"), "mean radius", pa.array(col))
    with pytest.raises(evalkit.BadValueError, match=r"a Spark partition.*mean radius.*NaN"):
        evalkit.spark.infer(m, shards(spark, bad, 2, tmp_path / "bad"), output=out, label="label", keep=["row_id"], no_cache=True)
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
    assert not [n for n in os.listdir(out) if n.startswith(".evalkit-staging")]
    with pytest.raises(evalkit.InputError, match="no rows"):
        evalkit.spark.infer(m, df.limit(0), output=tmp_path / "empty", label="label", no_cache=True)
