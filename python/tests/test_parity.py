"""Python parity with the CLI: slices, compare by id columns, every report
option, and tables out — each checked against the CLI's JSON on the same
files (the binary `make test` built; see test_api.cli)."""

import json
import os
import subprocess

import numpy as np
import pytest

import evalkit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures")


def cli():
    """The binary these answers are checked against (as test_api.cli)."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.environ.get("EVALKIT_BIN") or os.path.join(target, "debug", "evalkit")

pa = pytest.importorskip("pyarrow")
ipc = pytest.importorskip("pyarrow.ipc")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

SLICED = os.path.join(FIX, "binary_sliced.arrow")
CAND = os.path.join(FIX, "binary_balanced.arrow")
SHUFFLED = os.path.join(FIX, "binary_baseline_shuffled.arrow")


def run(*args):
    out = subprocess.run([cli(), *args, "--json"], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


def table(path):
    return ipc.open_file(path).read_all()


FRAMES = {
    "pandas": lambda t: t.to_pandas(),
    "polars": lambda t: pl.from_arrow(t),
    "pyarrow": lambda t: t,
}


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_full_slices_equal_the_cli(kind):
    frame = FRAMES[kind](table(SLICED))
    for spec, cli_spec in [("region", ["region"]), ([("region", "segment")], ["region,segment"]), (["region", "segment"], ["region", "segment"])]:
        args = [a for c in cli_spec for a in ("--slice", c)]
        want = run("full", SLICED, *args, "--bootstrap", "200")
        got = evalkit.full(frame, label="label", score="score", slice=spec, bootstrap=200).to_dict()
        assert got["slices"] == want["slices"], spec
        assert got["metrics"] == want["metrics"]


def test_slices_from_arrays_equal_slices_from_a_frame():
    t = table(SLICED)
    y, p = t.column("label").to_numpy(), t.column("score").to_numpy()
    region = t.column("region").to_pylist()
    a = evalkit.full(y, p, slice={"region": np.array(region, dtype=object)}, bootstrap=100)
    b = evalkit.full(t, label="label", score="score", slice="region", bootstrap=100)
    assert a.to_dict()["slices"] == b.to_dict()["slices"]
    # A numpy string array, a list and a pandas Series with a missing key
    # (None: its own "null" slice, as a null in a file).
    keys = pd.Series(region, dtype=object)
    keys[:5] = None
    c = evalkit.full(y, p, slice={"region": keys}, bootstrap=0).to_dict()["slices"]
    assert [s["key"]["region"] for s in c] == sorted({r for r in region if r is not None}) + ["null"]
    assert sum(s["rows"] for s in c) == len(y)
    # Crossed, from arrays.
    d = evalkit.full(y, p, slice={("region", "segment"): (region, t.column("segment").to_numpy())}, bootstrap=0)
    want = run("full", SLICED, "--slice", "region,segment", "--bootstrap", "0")
    assert d.to_dict()["slices"] == want["slices"]


def test_slice_errors():
    t = table(SLICED)
    y, p = t.column("label").to_numpy(), t.column("score").to_numpy()
    with pytest.raises(evalkit.ColumnError, match="column 'nope' \\(slice\\) is not in the frame"):
        evalkit.full(t, label="label", score="score", slice="nope")
    with pytest.raises(evalkit.UsageError, match="slice= names columns of a frame"):
        evalkit.full(y, p, slice="region")
    with pytest.raises(evalkit.InputError, match="slice 'region' has 3 values but there are 2000 rows"):
        evalkit.full(y, p, slice={"region": ["a", "b", "c"]})
    with pytest.raises(evalkit.InputError, match="mixes numbers and strings"):
        evalkit.full(y, p, slice={"region": pd.Series([1] * 1000 + ["a"] * 1000, dtype=object)})


def test_compare_by_id_equals_the_cli():
    want = run("compare", CAND, SHUFFLED, "--id", "row_id", "--bootstrap", "200")
    keys = ["metrics", "baseline", "delta", "delong", "join", "rows_used"]
    by_path = evalkit.compare(CAND, SHUFFLED, id="row_id", bootstrap=200).to_dict()
    assert {k: by_path[k] for k in keys} == {k: want[k] for k in keys}
    for kind, make in FRAMES.items():
        c, b = make(table(CAND)), make(table(SHUFFLED))
        got = evalkit.compare(candidate=c, baseline=b, id="row_id", bootstrap=200).to_dict()
        assert {k: got[k] for k in keys} == {k: want[k] for k in keys}, kind
    # Positionally, and a frame against a file.
    got = evalkit.compare(table(CAND).to_pandas(), SHUFFLED, id="row_id", bootstrap=200).to_dict()
    assert got["delta"] == want["delta"]
    got = evalkit.compare(table(CAND).to_pandas(), baseline=table(SHUFFLED), id="row_id", bootstrap=200).to_dict()
    assert got["delta"] == want["delta"]
    # Paired by position, the shuffled baseline is caught by its labels.
    with pytest.raises(evalkit.BadValueError, match="label .* differs from the candidate's"):
        evalkit.compare(CAND, SHUFFLED, bootstrap=0)


def test_compare_by_id_leaves_out_and_refuses_ids():
    t = table(CAND).to_pandas()
    base = t.sample(frac=1.0, random_state=1).reset_index(drop=True)
    extra = pd.DataFrame({"label": [1], "score": [0.5], "row_id": [10**6]})
    r = evalkit.compare(t, pd.concat([base, extra]), id="row_id", bootstrap=0)
    assert any("1 rows of the baseline have ids the candidate lacks" in w for w in r.warnings)
    assert r.rows == len(t)
    with pytest.raises(evalkit.BadValueError, match="row 2000: id \\d+ appears twice"):
        evalkit.compare(t, pd.concat([base, base.iloc[[3]]]), id="row_id", bootstrap=0)
    with pytest.raises(evalkit.BadValueError, match="is not in the baseline"):
        evalkit.compare(t, base.iloc[1:], id="row_id", bootstrap=0)
    with pytest.raises(evalkit.ColumnError, match="column 'uid' \\(id\\) is not in the frame"):
        evalkit.compare(t, base, id="uid")
    with pytest.raises(evalkit.UsageError, match="id= matches the rows of two frames or files"):
        evalkit.compare(t.label.to_numpy(), t.score.to_numpy(), t.score.to_numpy(), id="row_id")
    # String ids, as strings in both.
    ts, bs = t.assign(row_id=t.row_id.map("r{}".format)), base.assign(row_id=base.row_id.map("r{}".format))
    a = evalkit.compare(ts, bs, id="row_id", bootstrap=0).to_dict()
    b = evalkit.compare(t, base, id="row_id", bootstrap=0).to_dict()
    assert a["delta"] == b["delta"]
    with pytest.raises(evalkit.UsageError, match="integers in one file and strings in the other"):
        evalkit.compare(ts, base, id="row_id", bootstrap=0)


def test_compare_slices_equal_the_cli():
    want = run("compare", SLICED, SLICED, "--id", "row_id", "--slice", "region", "--bootstrap", "200")
    got = evalkit.compare(SLICED, SLICED, id="row_id", slice="region", bootstrap=200)
    assert got.to_dict()["slices"] == want["slices"]
    t = table(SLICED).to_pandas()
    got = evalkit.compare(t, t, id="row_id", slice="region", bootstrap=200)
    assert got.to_dict()["slices"] == want["slices"]
    rows = got.to_pandas("slices")
    assert set(rows.columns) >= {"slicing", "region", "metric", "value", "baseline", "delta", "delta_ci_lower"}
    assert (rows.delta.dropna() == 0).all()  # a model against itself


def report_model(*args):
    out = subprocess.run([cli(), "report", *args, "--json"], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


def test_report_options_equal_the_cli(tmp_path):
    want = report_model(
        CAND, "--baseline", SHUFFLED, "--id", "row_id", "--bootstrap", "200", "--method", "bca",
        "--resample", "stratified", "--seed", "4", "--thresholds", "distinct", "--operating-point",
        "precision>=0.8", "--max-fpr", "0.1", "--tpr-at-fpr", "0.05", "--cost", "fp=1,fn=5",
        "-o", str(tmp_path / "cli.html"),
    )
    got = evalkit.report(
        [CAND], tmp_path / "py.html", baseline=SHUFFLED, id="row_id", bootstrap=200, method="bca",
        resample="stratified", seed=4, thresholds="distinct", operating_points=["precision>=0.8"],
        max_fpr=0.1, tpr_at_fpr=[0.05], cost="fp=1,fn=5",
    )
    assert got["candidates"] == want["candidates"]
    assert got["baseline"] == want["baseline"]
    assert (tmp_path / "py.html").read_text().startswith("<!DOCTYPE html>")


def test_report_slices_from_files_frames_and_results(tmp_path):
    want = report_model(SLICED, "--slice", "region", "--bootstrap", "200", "-o", str(tmp_path / "cli.html"))
    got = evalkit.report([SLICED], tmp_path / "a.html", slice="region", bootstrap=200)
    assert got["candidates"] == want["candidates"]
    t = table(SLICED).to_pandas()
    from_frame = evalkit.report([t], tmp_path / "b.html", slice="region", bootstrap=200, label="label", score="score")
    r = evalkit.full(t, label="label", score="score", slice="region", bootstrap=200)
    from_result = evalkit.report([r], tmp_path / "c.html", slice="region", bootstrap=200)
    for m in (from_frame, from_result):
        assert m["candidates"][0]["slices"] == want["candidates"][0]["slices"]
        assert m["candidates"][0]["metrics"] == want["candidates"][0]["metrics"]
    with pytest.raises(evalkit.UsageError, match="has no column 'region'"):
        evalkit.report([evalkit.full(t.label, t.score, bootstrap=0)], tmp_path / "d.html", slice="region")
    with pytest.raises(evalkit.UsageError, match="cost= reads a binary classifier"):
        evalkit.report([os.path.join(FIX, "regression.arrow")], tmp_path / "e.html", cost="fp=1,fn=2")


def test_tables_out():
    multi = evalkit.read_predictions(os.path.join(FIX, "multiclass_digits.arrow")).full(bootstrap=200)
    assert multi.tables == ["metrics", "per_class", "reliability", "confusion"]
    pc = multi.to_pandas("per_class")
    doc = multi.to_dict()
    assert list(pc["class"]) == doc["classes"]
    assert list(pc["f1"]) == [c["f1"] for c in doc["per_class"]]
    assert list(pc["f1_ci_lower"]) == [c["f1_ci"][0] for c in doc["per_class"]]
    conf = multi.to_polars("confusion")
    assert conf["count"].sum() == doc["rows"]
    assert conf.height == len(doc["classes"]) ** 2
    binary = evalkit.read_predictions(CAND).full(bootstrap=0)
    sweep = binary.to_arrow("sweep")
    assert sweep.num_rows == len(binary.to_dict()["sweep"]["threshold"])
    assert {"threshold", "tp", "fp", "precision", "recall", "f1"} <= set(sweep.column_names)
    with pytest.raises(evalkit.UsageError, match="no 'per_class' table; it has: metrics, sweep"):
        binary.to_pandas("per_class")
    # A key column named like one of the table's columns is key_<name>.
    t = table(SLICED)
    clash = evalkit.full(t.column("label").to_numpy(), t.column("score").to_numpy(), slice={"rows": t.column("segment")}, bootstrap=0)
    cols = clash.to_pandas("slices")
    assert "key_rows" in cols.columns and cols["rows"].sum() == len(t) * len(clash.to_dict()["slices"][0]["metrics"])
    sliced = evalkit.full(table(SLICED), label="label", score="score", slice="region", bootstrap=0)
    rows = sliced.to_pandas("slices")
    doc = sliced.to_dict()
    assert len(rows) == sum(len(s["metrics"]) for s in doc["slices"])
    auc = rows[rows.metric == "roc_auc"].set_index("region")["value"]
    assert {k: None if v != v else v for k, v in auc.to_dict().items()} == {s["key"]["region"]: s["metrics"]["roc_auc"]["value"] for s in doc["slices"]}
    # Every table the same in the three libraries.
    for name in sliced.tables:
        a, p, q = sliced.to_arrow(name), sliced.to_pandas(name), sliced.to_polars(name)
        assert a.num_rows == len(p) == q.height and a.column_names == list(p.columns) == q.columns, name


def test_metrics_option_equals_the_cli(tmp_path):
    """``metrics=`` as ``--metrics``: the same metrics, bit for bit, from
    arrays, files, states and an engine-style batch stream; unknown names
    are a UsageError."""
    frame = table(CAND).to_pandas()
    want = run("full", CAND, "--bootstrap", "200", "--metrics", "roc_auc,best_f1,ece")
    got = evalkit.full(frame, label="label", score="score", bootstrap=200, metrics=["roc_auc", "best_f1", "ece"])
    assert got.to_dict()["metrics"] == want["metrics"]
    assert list(got.to_pandas()["metric"]) == ["roc_auc", "best_f1", "ece"]
    assert evalkit.full(frame, label="label", score="score", bootstrap=200, metrics="roc_auc,best_f1,ece").to_dict()["metrics"] == want["metrics"]
    # Every metric when not given: the selection's values are the same.
    every = evalkit.full(frame, label="label", score="score", bootstrap=200).to_dict()["metrics"]
    assert {k: every[k] for k in want["metrics"]} == want["metrics"]

    cmp_want = run("compare", CAND, SHUFFLED, "--id", "row_id", "--bootstrap", "200", "--metrics", "average_precision")
    cmp_got = evalkit.compare(CAND, SHUFFLED, id="row_id", bootstrap=200, metrics=["average_precision"]).to_dict()
    for k in ("metrics", "baseline", "delta", "delong"):
        assert cmp_got[k] == cmp_want[k], k

    # From a state (and so from every engine), as `evalkit full x.evstate`.
    st = tmp_path / "a.evstate"
    subprocess.run([cli(), "state", CAND, "-o", str(st)], check=True, capture_output=True)
    state_want = run("full", str(st), "--bootstrap", "200", "--metrics", "log_loss,roc_auc")
    batches = table(CAND).to_batches(max_chunksize=700)
    state_got = evalkit.full_from_batches(batches, bootstrap=200, metrics=("log_loss", "roc_auc")).to_dict()
    assert state_got["metrics"] == state_want["metrics"]

    with pytest.raises(evalkit.UsageError, match="no metric is called 'auc'"):
        evalkit.full(frame, label="label", score="score", metrics=["auc"])
    with pytest.raises(evalkit.UsageError, match="rmse is a regression metric"):
        evalkit.full(frame, label="label", score="score", metrics="rmse")
    report = evalkit.report([CAND], tmp_path / "r.html", bootstrap=50, metrics=["accuracy"])
    assert list(report["candidates"][0]["metrics"]) == ["accuracy"]
