"""evalkit on Ray Data and on any engine (the State API, full_from_batches,
Dask): the same numbers as evalkit.full on the collected rows, bit for bit,
for every task and several block counts; intervals equal those of the same
state built locally; bad blocks and killed workers. One local Ray cluster
per test session (2 CPUs, a 200 MB object store)."""

import logging
import os

import numpy as np
import pytest

import evalkit

pa = pytest.importorskip("pyarrow")


def _require(name):
    if os.environ.get("EVALKIT_REQUIRE_RAY") == "1":
        return __import__(name)
    return pytest.importorskip(name)


@pytest.fixture(scope="session")
def ray():
    ray = _require("ray")
    import ray.data  # noqa: F401

    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        logging_level=logging.ERROR,
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("blocks", [1, 3, 8])
@pytest.mark.parametrize("weights", [None, "whole"])
def test_binary_equals_full_and_the_local_state(ray, blocks, weights, data):
    import evalkit.ray

    t = data.binary(weights=weights)
    w = None if weights is None else "w"
    ds = ray.data.from_arrow(t).repartition(blocks)
    got = evalkit.ray.full(ds, weight=w, bootstrap=0)
    wv = None if w is None else t.column("w").to_numpy()
    data.same_numbers(got, evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), weights=wv, bootstrap=0))
    # Intervals: those of the same state built on one machine, same seed.
    boot = evalkit.ray.full(ds, weight=w, bootstrap=200, seed=7, fan_in=2)
    local = evalkit.State.from_arrow(t, weight=w).finish(bootstrap=200, seed=7)
    assert boot.to_dict() == local.to_dict()
    assert boot["roc_auc"].ci is not None


@pytest.mark.parametrize("blocks", [1, 4])
@pytest.mark.parametrize("weights,decimals", [(None, None), (None, 2), ("whole", 2)])
def test_compare_equals_compare_on_the_rows(ray, data, blocks, weights, decimals):
    """Two score columns of one dataset: every number and DeLong's paired
    test are evalkit.compare's on the collected rows; the paired bootstrap
    is the one-machine paired state's, the same seed."""
    import evalkit.ray

    t = data.paired(n=3000, seed=blocks, weights=weights, decimals=decimals)
    w = None if weights is None else "w"
    ds = ray.data.from_arrow(t).repartition(blocks)
    col = lambda c: t.column(c).to_numpy()  # noqa: E731
    want = evalkit.compare(col("label"), col("score"), col("base"), weights=None if w is None else col("w"), bootstrap=0)
    got = evalkit.ray.compare(ds, candidate="score", baseline="base", weight=w, bootstrap=0, fan_in=2)
    data.same_comparison(got, want)
    assert got.to_dict()["file"] == "score" and got.to_dict()["baseline_file"] == "base"
    if w is None:
        assert got.to_dict()["delong"]["p_value"] is not None
    boot = evalkit.ray.compare(ds, candidate="score", baseline="base", weight=w, bootstrap=100, seed=5, fan_in=2)
    local = evalkit.PairedState.from_arrow(t, candidate="score", baseline="base", weight=w).finish(bootstrap=100, seed=5)
    assert boot.to_dict() == local.to_dict()
    assert boot.delta["roc_auc"].ci is not None


SLICINGS = ["region", "region,segment"]


@pytest.mark.parametrize("blocks", [1, 3])
def test_compare_slices_equal_compare_slice_on_the_rows(ray, data, blocks):
    """Slices of a comparison: every number and each slice's DeLong test
    and adjusted test against the baseline are `compare --slice`'s on the
    collected rows; with the bootstrap, each slice's intervals are those of
    the same paired states built on one machine."""
    import evalkit.ray
    from evalkit import _batches

    t = data.paired_sliced(n=3000, seed=blocks)
    ds = ray.data.from_arrow(t).repartition(blocks)
    got = evalkit.ray.compare(ds, candidate="score", baseline="base", slices=SLICINGS, bootstrap=0, fan_in=2)
    data.same_slices(got, data.compare_sliced(t, SLICINGS, bootstrap=0))
    boot = evalkit.ray.compare(ds, candidate="score", baseline="base", slices=SLICINGS, bootstrap=100, seed=3)
    slicings = [s.split(",") for s in SLICINGS]
    local = _batches.Reduction.of([t], "label", "score", None, None, None, slicings, "rows", baseline="base")
    want = local.compare("rows", {"bootstrap": 100, "seed": 3}, (), slicings, 30).to_dict()
    assert boot.to_dict() == want
    assert any(s["delta"]["roc_auc"]["ci"] for s in want["slices"])
    with pytest.raises(evalkit.ColumnError, match="column 'nope' \\(slice\\) is not there"):
        evalkit.ray.compare(ds, candidate="score", baseline="base", slices="nope", bootstrap=0)


def test_compare_multiclass_regression_and_refusals(ray, data):
    import evalkit.ray

    t, y, p = data.multiclass(n=1500, k=3)
    _, _, q = data.multiclass(n=1500, k=3, seed=8)
    t = t.append_column("base", pa.FixedSizeListArray.from_arrays(pa.array(q.ravel()), 3))
    ds = ray.data.from_arrow(t).repartition(3)
    got = evalkit.ray.compare(ds, candidate="score", baseline="base", bootstrap=0)
    data.same_comparison(got, evalkit.compare(y, p, q, bootstrap=0))
    r = data.regression(n=2000)
    r = r.append_column("base", pa.array(r.column("label").to_numpy().astype(np.float32)))
    got = evalkit.ray.compare(ray.data.from_arrow(r).repartition(2), candidate="score", baseline="base", bootstrap=0)
    col = lambda c: r.column(c).to_numpy()  # noqa: E731
    data.same_comparison(got, evalkit.compare(col("label"), col("score"), col("base"), bootstrap=0))
    with pytest.raises(evalkit.UsageError, match="not built"):
        evalkit.ray.compare(ds, candidate="score", baseline="base", bootstrap=50)
    b = data.paired(n=500, weights="fractional")
    with pytest.raises(evalkit.UsageError, match="whole number"):
        evalkit.ray.compare(ray.data.from_arrow(b), candidate="score", baseline="base", weight="w", bootstrap=50)
    with pytest.raises(evalkit.ColumnError, match="'nope'"):
        evalkit.ray.compare(ray.data.from_arrow(b), candidate="score", baseline="nope")
    # A null in one block's baseline: evalkit's own error, naming the column.
    bad = b.set_column(b.schema.get_field_index("base"), "base", pa.array([None] + b.column("base").to_pylist()[1:], pa.float32()))
    with pytest.raises(evalkit.BadValueError, match="'base'"):
        evalkit.ray.compare(ray.data.from_arrow(bad).repartition(2), candidate="score", baseline="base", bootstrap=0)


def test_compare_joined_on_an_id_column(ray, data):
    """Two datasets joined on row_id (Ray Data's hash join): evalkit.compare
    --id's numbers, note and checks."""
    pytest.importorskip("polars")
    import evalkit.ray

    cand, base = data.two_models()
    a, b = ray.data.from_arrow(cand).repartition(3), ray.data.from_arrow(base).repartition(2)
    got = evalkit.ray.compare(a, b, id="row_id", bootstrap=0)
    want = evalkit.compare(candidate=cand, baseline=base, id="row_id", bootstrap=0)
    data.same_comparison(got, want)
    assert got.to_dict()["join"] == {"by": "id", "column": "row_id"}
    assert "300 rows of the baseline" in got.warnings[0]
    # Each check costs a hash shuffle (seconds each on a small cluster):
    # one refusal here; the Spark test takes each check in turn.
    with pytest.raises(evalkit.BadValueError, match="is not in the baseline"):
        evalkit.ray.compare(b, a, id="row_id")
    with pytest.raises(evalkit.UsageError, match="id="):
        evalkit.ray.compare(a, b)


def test_paired_state_api_without_an_engine(data):
    t = data.paired(n=2000, seed=3, decimals=2)
    parts = [
        evalkit.PairedState.from_arrow(b, candidate="score", baseline="base", name=f"batch {i}")
        for i, b in enumerate(t.to_batches(max_chunksize=300))
    ]
    merged = evalkit.PairedState.merge_all(parts[::-1])
    assert merged == evalkit.PairedState.from_arrow(t, candidate="score", baseline="base")
    again = evalkit.PairedState.from_bytes(merged.to_bytes())
    col = lambda c: t.column(c).to_numpy()  # noqa: E731
    data.same_comparison(again.finish(bootstrap=0), evalkit.compare(col("label"), col("score"), col("base"), bootstrap=0))
    arrays = evalkit.PairedState.from_arrays(col("label"), col("score"), col("base"))
    assert arrays.finish(bootstrap=0).delta["roc_auc"].value == again.finish(bootstrap=0).delta["roc_auc"].value
    with pytest.raises(evalkit.InputError):
        evalkit.PairedState.from_bytes(b"EVPAIR\0\0junk")
    with pytest.raises(evalkit.InputError):
        evalkit.PairedState.from_bytes(merged.to_bytes()[:-3])


@pytest.mark.parametrize("blocks,ranges", [(1, 1), (3, 8), (8, 40)])
@pytest.mark.parametrize("weights", [None, "fractional"])
def test_score_ranges_equal_one_merged_state(ray, data, blocks, ranges, weights):
    """ranges=K: no task holds the whole histogram, and the JSON is the
    one-state JSON, bit for bit (DeLong's interval, the grid and the
    Wilson intervals included)."""
    import evalkit.ray

    t = data.binary(n=5000, seed=blocks, weights=weights)
    w = None if weights is None else "w"
    ds = ray.data.from_arrow(t).repartition(blocks)
    for opts in ({}, {"threshold": 0.3, "thresholds": 11, "method": "wilson"}):
        got = evalkit.ray.full(ds, weight=w, bootstrap=0, ranges=ranges, fan_in=2, **opts)
        want = evalkit.State.from_arrow(t, weight=w).finish(bootstrap=0, **opts)
        assert got.to_dict() == want.to_dict()
    assert got["roc_auc"].ci is not None or weights is not None


@pytest.mark.parametrize("blocks,ranges", [(1, 1), (3, 8), (6, 40)])
@pytest.mark.parametrize("weights", [False, True])
def test_multiclass_score_ranges_equal_one_merged_state(ray, data, blocks, ranges, weights):
    """Multiclass ranges=K: each class's probabilities cut into their own
    ranges, the rows' sums merged beside them; the one-state JSON (and
    evalkit.full's point metrics on the rows) bit for bit."""
    import evalkit.ray

    t, y, p = data.multiclass(n=3000, k=5, seed=blocks)
    w = None
    if weights:
        w = "w"
        t = t.append_column("w", pa.array(np.random.default_rng(blocks).random(len(y)) * (np.arange(len(y)) % 7 != 0)))
    ds = ray.data.from_arrow(t).repartition(blocks)
    got = evalkit.ray.full(ds, weight=w, bootstrap=0, ranges=ranges, fan_in=2)
    want = evalkit.State.from_arrow(t, weight=w).finish(bootstrap=0)
    assert got.to_dict() == want.to_dict()
    rows = evalkit.full(y, p, weights=None if w is None else t.column("w").to_numpy(), bootstrap=0)
    for name in ("macro_roc_auc", "weighted_roc_auc", "macro_average_precision", "accuracy", "log_loss"):
        if name in rows:
            assert got[name].value == rows[name].value, name
    if weights and blocks == 3:
        # Every weight 0: no class has a range; the result says so as the one state does.
        zero = t.set_column(t.schema.get_field_index("w"), "w", pa.array(np.zeros(len(y))))
        got = evalkit.ray.full(ray.data.from_arrow(zero).repartition(blocks), weight="w", bootstrap=0, ranges=ranges)
        assert got.to_dict() == evalkit.State.from_arrow(zero, weight="w").finish(bootstrap=0).to_dict()
        # Sketches of binary and multiclass blocks do not merge: one clear error.
        from evalkit import _batches

        sketch = lambda t: _batches.range_sketch(t, "label", "score", None, None, None, "a block")  # noqa: E731
        mixed = _batches.merge_sketches(sketch(data.binary(n=50)), sketch(t))
        with pytest.raises(evalkit.InputError, match="some are 5 classes, some binary|some are binary, some 5 classes"):
            _batches.range_cuts(mixed, 4, "the dataset")


def test_score_ranges_refuse_what_they_cannot_give(ray, data, tmp_path):
    import evalkit.ray

    ds = ray.data.from_arrow(data.binary(n=300)).repartition(2)
    with pytest.raises(evalkit.UsageError, match="bootstrap=0"):
        evalkit.ray.full(ds, ranges=4)
    with pytest.raises(evalkit.UsageError, match="distinct"):
        evalkit.ray.full(ds, ranges=4, bootstrap=0, thresholds="distinct")
    with pytest.raises(evalkit.UsageError, match="slices"):
        evalkit.ray.full(ds, ranges=4, bootstrap=0, slices="label")
    with pytest.raises(evalkit.UsageError, match="ranges=0"):
        evalkit.ray.full(ds, ranges=0, bootstrap=0)
    # No process holds the whole table, so there is nothing to draw a report from.
    ranged = evalkit.ray.full(ds, ranges=4, bootstrap=0)
    with pytest.raises(evalkit.UsageError, match="score ranges"):
        evalkit.report([ranged], str(tmp_path / "r.html"))
    assert not (tmp_path / "r.html").exists()
    reg = ray.data.from_arrow(data.regression(n=200)).repartition(2)
    with pytest.raises(evalkit.UsageError, match="binary and multiclass"):
        evalkit.ray.full(reg, ranges=4, bootstrap=0)
    # A bad row in one block: evalkit's own error, naming the block's row.
    t = data.binary(n=300)
    s = t.column("score").to_numpy().copy()
    s[250] = 1.5
    bad = ray.data.from_arrow(t.set_column(1, "score", pa.array(s))).repartition(3)
    with pytest.raises(evalkit.BadValueError, match="a Ray block"):
        evalkit.ray.full(bad, ranges=4, bootstrap=0)


def test_fractional_weights_multiclass_and_regression(ray, data):
    import evalkit.ray

    t = data.binary(weights="fractional")
    got = evalkit.ray.full(ray.data.from_arrow(t).repartition(4), weight="w", bootstrap=0)
    want = evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), weights=t.column("w").to_numpy(), bootstrap=0)
    data.same_numbers(got, want)
    t, y, p = data.multiclass()
    for blocks in (1, 5):
        got = evalkit.ray.full(ray.data.from_arrow(t).repartition(blocks), bootstrap=0)
        data.same_numbers(got, evalkit.full(y, p, bootstrap=0))
    # One score column per class.
    cols = pa.table({"label": y, **{f"p{c}": p[:, c] for c in range(p.shape[1])}})
    got = evalkit.ray.full(ray.data.from_arrow(cols).repartition(3), score=[f"p{c}" for c in range(p.shape[1])], bootstrap=0)
    data.same_numbers(got, evalkit.full(y, p, bootstrap=0))
    t = data.regression()
    for blocks in (1, 6):
        got = evalkit.ray.full(ray.data.from_arrow(t).repartition(blocks), bootstrap=0)
        data.same_numbers(got, evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), bootstrap=0))


def test_many_blocks_merge_in_a_tree(ray, data):
    import evalkit.ray

    t = data.binary(n=4000)
    ds = ray.data.from_arrow(t).repartition(40)
    a = evalkit.ray.state(ds, fan_in=2)
    b = evalkit.ray.state(ds, fan_in=64)
    assert a == b == evalkit.State.from_arrow(t)  # canonical bytes


def test_bad_blocks_raise_evalkits_own_errors(ray, data):
    import evalkit.ray

    t = data.binary(n=3000)
    with pytest.raises(evalkit.ColumnError, match="column 'p' \\(score\\) is not there; it has: label, score"):
        evalkit.ray.full(ray.data.from_arrow(t), score="p")
    s = t.column("score").to_numpy().copy()
    s[2500] = np.nan
    bad = t.set_column(1, "score", pa.array(s))
    with pytest.raises(evalkit.InputError, match="a Ray block.*score"):
        evalkit.ray.full(ray.data.from_arrow(bad).repartition(3), bootstrap=0)
    nulls = t.set_column(0, "label", pa.array([None if i == 10 else int(v) for i, v in enumerate(t.column("label").to_pylist())]))
    with pytest.raises(evalkit.BadValueError, match="column 'label', row 10: the value is missing"):
        evalkit.ray.full(ray.data.from_arrow(nulls), bootstrap=0)
    with pytest.raises(evalkit.InputError, match="no rows"):
        evalkit.ray.full(ray.data.from_arrow(t.slice(0, 0)), bootstrap=0)
    # A ranking (a query column) is not evaluated as a classifier's rows.
    ranked = t.append_column("query", pa.array(np.arange(t.num_rows) // 10))
    with pytest.raises(evalkit.UsageError, match="is a ranking .* task='binary'"):
        evalkit.ray.full(ray.data.from_arrow(ranked), bootstrap=0)
    assert evalkit.ray.full(ray.data.from_arrow(ranked), task="binary", bootstrap=0).rows == t.num_rows
    with pytest.raises(evalkit.UsageError, match="bootstrap"):
        # A regression state has no bootstrap: the finish says so.
        evalkit.ray.full(ray.data.from_arrow(data.regression()))


def test_a_killed_worker_is_retried_to_the_same_result(ray, tmp_path, data):
    import evalkit.ray

    t = data.binary(n=3000)
    marker = tmp_path / "killed"

    def kill_once(batch):
        # The first task to get here dies with its process (as a worker
        # lost to the OOM killer or a node failure); Ray runs it again.
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)
        return batch

    ds = ray.data.from_arrow(t).repartition(4).map_batches(kill_once, batch_format="pyarrow", max_retries=3)
    got = evalkit.ray.full(ds, bootstrap=200, seed=1)
    assert marker.exists()
    assert got.to_dict() == evalkit.State.from_arrow(t).finish(bootstrap=200, seed=1).to_dict()


def test_state_api_and_batches_without_an_engine(data):
    t = data.binary(n=5000)
    y, s = t.column("label").to_numpy(), t.column("score").to_numpy()
    parts = [evalkit.State.from_arrow(b) for b in t.to_batches(max_chunksize=700)]
    merged = evalkit.State.merge_all(reversed(parts))
    assert merged == evalkit.State.from_arrays(y, s) == parts[0].merge(*parts[1:])
    assert evalkit.State.from_bytes(merged.to_bytes()) == merged
    data.same_numbers(merged.finish(bootstrap=0), evalkit.full(y, s, bootstrap=0))
    data.same_numbers(evalkit.full_from_batches(t.to_batches(max_chunksize=333), bootstrap=0), evalkit.full(y, s, bootstrap=0))
    with pytest.raises(evalkit.InputError):
        evalkit.State.from_bytes(b"not a state")
    with pytest.raises(evalkit.InputError, match="no rows"):
        evalkit.full_from_batches([])
    with pytest.raises(evalkit.UsageError, match="is a ranking"):
        evalkit.State.from_arrow(t.append_column("query", pa.array(np.zeros(t.num_rows, dtype=np.int64))))
    with pytest.raises(evalkit.ColumnError, match="batch 0: column 'y' \\(label\\)"):
        evalkit.full_from_batches(t.to_batches(), label="y")
    m, yy, p = data.multiclass()
    with pytest.raises(evalkit.InputError, match="multiclass|binary|task"):
        # Batches of different tasks do not merge into a wrong number.
        evalkit.State.merge_all([evalkit.State.from_arrow(m), evalkit.State.from_arrow(t)])


def test_reports_from_states_and_engine_results(ray, data, tmp_path, evalkit_cli):
    import json
    import subprocess

    import evalkit.ray

    t = data.binary(n=4000)
    st = evalkit.State.from_arrow(t)
    (tmp_path / "m.evstate").write_bytes(st.to_bytes())
    out = subprocess.run(
        [evalkit_cli, "report", str(tmp_path / "m.evstate"), "--bootstrap", "200", "--operating-point",
         "precision>=0.6", "-o", str(tmp_path / "cli.html"), "--json"],
        capture_output=True,
    )
    assert out.returncode == 0, out.stderr.decode()
    want = json.loads(out.stdout)["candidates"][0]
    for item in (st, evalkit.ray.full(ray.data.from_arrow(t).repartition(3), bootstrap=200)):
        got = evalkit.report([item], tmp_path / "py.html", names=["m"], bootstrap=200, operating_points=["precision>=0.6"])
        c = got["candidates"][0]
        # The same page model, but for where the state came from.
        skip = ("file", "name", "provenance")
        assert {k: v for k, v in c.items() if k not in skip} == {k: v for k, v in want.items() if k not in skip}
    assert (tmp_path / "py.html").read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(evalkit.UsageError, match="either states .* or rows"):
        evalkit.report([st, evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), bootstrap=0)], tmp_path / "x.html")
    with pytest.raises(evalkit.UsageError, match="baseline= needs the rows"):
        evalkit.report([st], tmp_path / "x.html", baseline=st)


def test_slices_equal_the_cli_over_shards(ray, sliced_shards, evalkit_cli):
    import evalkit.ray

    table, cli_full = sliced_shards
    want = cli_full(evalkit_cli, "--slice", "region", "--slice", "region,segment", "--bootstrap", "200")
    for blocks in (1, 4):
        ds = ray.data.from_arrow(table).repartition(blocks)
        got = evalkit.ray.full(ds, slices=["region", ("region", "segment")], bootstrap=200, fan_in=2).to_dict()
        assert got["slices"] == want["slices"]
        assert got["metrics"] == want["metrics"]
    with pytest.raises(evalkit.ColumnError, match="column 'nope' \\(slice\\)"):
        evalkit.ray.full(ray.data.from_arrow(table), slices="nope")


def test_reductions_of_odd_batches(data):
    from evalkit._batches import Reduction

    t = data.binary(n=2000)
    y, s = t.column("label").to_numpy(), t.column("score").to_numpy()

    def reduce(batch, slicings):
        return Reduction.of([batch], "label", "score", None, None, None, slicings, "batch")

    # Keys of one column seen as numbers in one part and all missing (so
    # untyped) in another order the same, whichever part comes first.
    keys = pa.array([None] * 1000 + [9 if i % 2 else 10 for i in range(1000)], pa.int64())
    a, b = t.slice(0, 1000).append_column("k", keys.slice(0, 1000)), t.slice(1000).append_column("k", keys.slice(1000))
    one = Reduction.merge_all([reduce(a, [["k"]]), reduce(b, [["k"]])]).finish("rows", [["k"]], 30, {"bootstrap": 0})
    two = Reduction.merge_all([reduce(b, [["k"]]), reduce(a, [["k"]])]).finish("rows", [["k"]], 30, {"bootstrap": 0})
    assert [x["key"]["k"] for x in one.to_dict()["slices"]] == ["9", "10", "null"]
    assert one.to_dict()["slices"] == two.to_dict()["slices"]
    # The text "null" and a missing key would be one slice: refused.
    odd = t.append_column("k", pa.array(["null" if i % 2 else None for i in range(t.num_rows)]))
    with pytest.raises(evalkit.UsageError, match='both missing values and the text "null"'):
        reduce(odd, [["k"]]).state("rows")
    # Too many slices over the parts, as --slice refuses them.
    parts = [reduce(t.slice(0, 1000).append_column("k", pa.array(np.arange(j * 1000, j * 1000 + 1000))), [["k"]]) for j in range(11)]
    assert all(part.error is None for part in parts)  # 1000 slices each
    with pytest.raises(evalkit.UsageError, match="more than 10000 slices"):
        Reduction.merge_all(parts).state("rows")
    # Parts typed differently (integer labels here, float labels there)
    # infer different tasks: refused, saying so.
    floats = pa.table({"label": y.astype(np.float64), "score": s})
    with pytest.raises(evalkit.FormatError, match="typed differently .* pass task="):
        Reduction.merge_all([reduce(t, []), reduce(floats, [])]).state("rows")
    fixed = [Reduction.of([b], "label", "score", None, "binary", None, [], "b") for b in (t, floats)]
    assert Reduction.merge_all(fixed).error is None
    # A null inside a list score names its row; decimals and half floats
    # are read as float64; a struct (a Spark ML vector) is named.
    m, yy, p = data.multiclass(n=10)
    lists = pa.array([list(map(float, r)) if i != 3 else [0.5, None, 0.25, 0.25] for i, r in enumerate(p)], pa.list_(pa.float64()))
    with pytest.raises(evalkit.BadValueError, match="row 3: a class's score is missing"):
        evalkit.State.from_arrow(pa.table({"label": yy, "score": lists}))
    import decimal

    dec = pa.array([decimal.Decimal(f"{v:.6f}") for v in s], pa.decimal128(9, 6))
    got = evalkit.State.from_arrow(pa.table({"label": y, "score": dec})).finish(bootstrap=0)
    data.same_numbers(got, evalkit.full(y, np.round(s.astype(np.float64), 6), bootstrap=0))
    vec = pa.array([{"values": [0.1]}] * t.num_rows)
    with pytest.raises(evalkit.ColumnError, match="has type struct.*vector_to_array"):
        evalkit.State.from_arrow(pa.table({"label": y, "score": vec}))


def test_dask_partitions_in_a_few_lines(data):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    t = data.binary(n=5000)
    ddf = dd.from_pandas(t.to_pandas(), npartitions=5)

    # The README's example: one state per partition, merged, finished.
    @dask.delayed
    def reduce(part):
        return evalkit.State.from_arrow(pa.Table.from_pandas(part, preserve_index=False)).to_bytes()

    states = dask.compute(*[reduce(p) for p in ddf.to_delayed()], scheduler="threads")
    r = evalkit.State.merge_all(evalkit.State.from_bytes(b) for b in states).finish(bootstrap=0)
    data.same_numbers(r, evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), bootstrap=0))


# --- evalkit.ray.infer ------------------------------------------------------

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def _read(path):
    import pyarrow.ipc as ipc

    with ipc.open_file(path) as f:
        return f.read_all()


def _cli_json(cli, *args):
    import json
    import subprocess

    proc = subprocess.run([cli, *args, "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    "model,data,blocks",
    [("breast_cancer_lr", "breast_cancer", 3), ("digits_mlp", "digits", 4), ("diabetes_ridge", "diabetes", 2)],
)
def test_infer_writes_what_evalkit_infer_writes(ray, tmp_path, evalkit_cli, model, data, blocks):
    import evalkit.ray

    m = os.path.abspath(os.path.join(FIXTURES, "models", model + ".onnx"))
    d = os.path.abspath(os.path.join(FIXTURES, "data", data + ".parquet"))
    cli_out = tmp_path / "cli.arrow"
    evalkit.infer(m, d, cli_out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache_cli")
    want = _read(cli_out)
    ds = ray.data.read_parquet(d).repartition(blocks)
    out = tmp_path / "preds"
    got = evalkit.ray.infer(m, ds, output=out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert got.cache == {"hit": 0, "miss": blocks, "disabled": 0} and got.rows == want.num_rows
    assert [os.path.basename(p) for p in got.paths] == [f"part-{i:05d}.arrow" for i in range(blocks)]
    parts = [_read(p) for p in got.paths]
    # The dataset's order, every score bit for bit the CLI's (other batches).
    table = pa.concat_tables(parts)
    assert table.schema.names == want.schema.names == ["label", "score", "row_id"]
    for name in want.schema.names:
        assert table.column(name).equals(want.column(name)), name
    for part in parts:
        meta, cli_meta = part.schema.metadata, want.schema.metadata
        for key in (b"evalkit.task", b"evalkit.classes", b"evalkit.score_kind", b"evalkit.config", b"evalkit.model", b"evalkit.format_version"):
            assert meta.get(key) == cli_meta.get(key), key
        assert b'"path":"a Ray block"' in meta[b"evalkit.data"]
    # The full tier from the merged state, from the states written beside
    # the files, from the files, and from the CLI's one file: one answer.
    doc = got.full(bootstrap=0).to_dict()
    cli = _cli_json(evalkit_cli, "full", str(cli_out), "--bootstrap", "0")
    assert doc["metrics"] == cli["metrics"]
    assert _cli_json(evalkit_cli, "full", *got.state_paths, "--bootstrap", "0")["metrics"] == cli["metrics"]
    assert _cli_json(evalkit_cli, "full", *got.paths, "--bootstrap", "0")["metrics"] == cli["metrics"]
    # Again: every block from the cache, the same bytes, the model not run.
    first = [open(p, "rb").read() for p in got.paths]
    again = evalkit.ray.infer(m, ds, output=out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert again.cache == {"hit": blocks, "miss": 0, "disabled": 0}
    assert [open(p, "rb").read() for p in again.paths] == first
    assert sorted(os.listdir(out)) == sorted(
        ["_evalkit_infer.json"] + [f"part-{i:05d}.{e}" for i in range(blocks) for e in ("arrow", "evstate")]
    )


def test_infer_refuses_bad_blocks_and_leaves_the_output_as_it_was(ray, tmp_path):
    import evalkit.ray

    m = os.path.join(FIXTURES, "models", "breast_cancer_lr.onnx")
    import pyarrow.parquet as pq

    t = pq.read_table(os.path.join(FIXTURES, "data", "breast_cancer.parquet"))
    # A folder holding someone's file is not written into.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    ds = ray.data.from_arrow(t).repartition(2)
    with pytest.raises(evalkit.UsageError, match="holds files evalkit did not write there"):
        evalkit.ray.infer(m, ds, output=mine, label="label", no_cache=True)
    assert os.listdir(mine) == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(evalkit.UsageError, match="is a file"):
        evalkit.ray.infer(m, ds, output=mine / "notes.txt", label="label", no_cache=True)
    # A good run, then one whose second block holds a NaN feature: the
    # error names the block's column and row; the first run's files stay.
    out = tmp_path / "preds"
    good = evalkit.ray.infer(m, ds, output=out, label="label", keep=["row_id"], no_cache=True)
    assert good.cache == {"hit": 0, "miss": 0, "disabled": 2}
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    col = t.column("mean radius").to_numpy().copy()
    col[200] = np.nan
    bad = t.set_column(t.schema.get_field_index("mean radius"), "mean radius", pa.array(col))
    with pytest.raises(evalkit.BadValueError, match=r"a Ray block.*mean radius.*NaN"):
        evalkit.ray.infer(m, ray.data.from_arrow(bad).repartition(2), output=out, label="label", keep=["row_id"], no_cache=True)
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
    # No labels: files without a label column, and no state to evaluate.
    nolabel = evalkit.ray.infer(m, ds, output=tmp_path / "nolabel", features=[c for c in t.column_names if c not in ("label", "row_id")], no_cache=True)
    assert nolabel.state is None and _read(nolabel.paths[0]).schema.names == ["score"]
    with pytest.raises(evalkit.InputError, match="no labels"):
        nolabel.full()
    with pytest.raises(evalkit.InputError, match="no such model file"):
        evalkit.ray.infer(tmp_path / "missing.onnx", ds, output=tmp_path / "x")


def test_infer_survives_a_killed_actor(ray, tmp_path, monkeypatch):
    import evalkit.ray

    m = os.path.join(FIXTURES, "models", "breast_cancer_lr.onnx")
    d = os.path.join(FIXTURES, "data", "breast_cancer.parquet")
    marker = tmp_path / "killed"

    class Dying(evalkit.ray._Scorer):
        def __call__(self, table):
            # The first block kills its actor's process (a node lost, the
            # OOM killer); Ray restarts the actor and gives the block again.
            if not marker.exists():
                marker.write_text("x")
                os._exit(1)
            return super().__call__(table)

    monkeypatch.setattr(evalkit.ray, "_Scorer", Dying)
    ds = ray.data.read_parquet(d).repartition(3)
    got = evalkit.ray.infer(m, ds, output=tmp_path / "out", label="label", keep=["row_id"], no_cache=True)
    assert marker.exists()
    want = tmp_path / "cli.arrow"
    evalkit.infer(m, d, want, label="label", keep=["row_id"], no_cache=True)
    table = pa.concat_tables([_read(p) for p in got.paths])
    assert table.column("score").equals(_read(want).column("score"))
    assert table.column("row_id").equals(_read(want).column("row_id"))
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".evalkit-staging")]


# --- evalkit.ray.fast ---------------------------------------------------------


def _same_fast(got, want):
    # Everything but what names the input (a dataset and its weight column
    # here, arrays there).
    g, w = got.to_dict(), want.to_dict()
    assert g["metrics"] and g["strata"]
    drop = ("file", "weight_column")
    assert {k: v for k, v in g.items() if k not in drop} == {k: v for k, v in w.items() if k not in drop}


@pytest.mark.parametrize("blocks", [1, 3, 7])
def test_fast_equals_fast_on_the_collected_rows(ray, data, blocks):
    import evalkit.ray

    for weights in (None, "fractional"):
        t = data.binary(n=3000, weights=weights)
        w = None if weights is None else "w"
        ds = ray.data.from_arrow(t).repartition(blocks)
        wv = None if w is None else t.column("w").to_numpy()
        y, p = t.column("label").to_numpy(), t.column("score").to_numpy()
        for sample in (500, 7, "all"):
            got = evalkit.ray.fast(ds, weight=w, sample=sample, seed=3)
            _same_fast(got, evalkit.fast(y, p, weights=wv, sample=sample, seed=3))
    t, y, p = data.multiclass()
    got = evalkit.ray.fast(ray.data.from_arrow(t).repartition(blocks), sample=300, seed=1)
    _same_fast(got, evalkit.fast(y, p, sample=300, seed=1))
    t = data.regression()
    got = evalkit.ray.fast(ray.data.from_arrow(t).repartition(blocks), sample=200, seed=2, threshold=0.3)
    want = evalkit.fast(t.column("label").to_numpy(), t.column("score").to_numpy(), sample=200, seed=2, threshold=0.3)
    _same_fast(got, want)
    assert got.to_dict()["strata_kind"] == "label decile"


def test_fast_refuses_bad_blocks(ray, data):
    import evalkit.ray

    t = data.binary(n=400)
    labels = t.column("label").to_pylist()
    labels[300] = None
    bad = t.set_column(t.schema.get_field_index("label"), "label", pa.array(labels, pa.int64()))
    with pytest.raises(evalkit.BadValueError, match="column 'label', row"):
        evalkit.ray.fast(ray.data.from_arrow(bad).repartition(2))
    with pytest.raises(evalkit.UsageError, match="sample"):
        evalkit.ray.fast(ray.data.from_arrow(t), sample=0)
    with pytest.raises(evalkit.UsageError, match="threshold"):
        evalkit.ray.fast(ray.data.from_arrow(t), threshold=2.0)
    with pytest.raises(evalkit.ColumnError, match="nope"):
        evalkit.ray.fast(ray.data.from_arrow(t), score="nope")


def test_fast_weird_cases_equal_fast_on_the_rows(ray):
    import evalkit.ray

    cases = [
        pa.table({"label": [1], "score": pa.array([0.7], pa.float32())}),
        pa.table({"label": [0] * 50, "score": pa.array(np.linspace(0, 1, 50), pa.float32())}),
        pa.table({"label": [0, 1] * 50, "score": pa.array([0.5] * 100, pa.float32())}),
        pa.table({"label": [0, 1] * 50, "score": pa.array(np.linspace(0, 1, 100), pa.float32()), "w": [0.0] * 100}),
    ]
    for t in cases:
        w = "w" if "w" in t.column_names else None
        wv = None if w is None else t.column("w").to_numpy()
        got = evalkit.ray.fast(ray.data.from_arrow(t).repartition(min(3, t.num_rows)), weight=w, sample=10)
        _same_fast(got, evalkit.fast(t.column("label").to_numpy(), t.column("score").to_numpy(), weights=wv, sample=10))
    # Weights of 0 everywhere: no estimate, given as null, never NaN.
    assert all(m["value"] is None for m in got.to_dict()["metrics"].values())
