"""The Python API against the CLI's JSON, scikit-learn, every input kind,
bad input, the GIL, fork, and a training loop."""

import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import evalkit
from evalkit import _evalkit
from evalkit.callbacks import FastEvalHook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures")


def cli():
    exe = os.environ.get("EVALKIT_BIN")
    if exe:
        return exe
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "evalkit")


def cli_json(*args):
    out = subprocess.run([cli(), *args, "--json"], check=True, capture_output=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "fixture", ["binary_balanced.arrow", "binary_weighted.arrow", "multiclass_digits.arrow", "regression.arrow"]
)
def test_full_equals_the_cli(fixture):
    path = os.path.join(FIX, fixture)
    want = cli_json("full", path, "--bootstrap", "64", "--seed", "3")
    f = evalkit.read_predictions(path)
    got = f.full(bootstrap=64, seed=3).to_dict()
    assert got["metrics"] == want["metrics"]
    assert got["task"] == want["task"] and got["rows"] == want["rows"]


def test_fast_and_compare_equal_the_cli():
    a = os.path.join(FIX, "binary_balanced.arrow")
    b = os.path.join(FIX, "binary_baseline.arrow")
    want = cli_json("fast", a, "--sample", "500", "--seed", "4")
    f = evalkit.read_predictions(a)
    assert f.fast(sample=500, seed=4).to_dict()["metrics"] == want["metrics"]
    want = cli_json("compare", a, b, "--bootstrap", "50")
    g = evalkit.read_predictions(b)
    got = evalkit.compare(f.y_true, f.y_score, g.y_score, bootstrap=50).to_dict()
    assert got["delta"] == want["delta"]
    assert got["delong"] == want["delong"]


def test_matches_scikit_learn_on_random_data():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    p = np.clip(0.3 * y + 0.7 * rng.random(5000), 0, 1)
    r = evalkit.full(y, p, bootstrap=0)
    assert r["roc_auc"].value == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert r["average_precision"].value == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert r["log_loss"].value == pytest.approx(sk.log_loss(y, p), abs=1e-12)
    assert r["f1"].value == pytest.approx(sk.f1_score(y, p >= 0.5), abs=1e-12)
    k = 4
    ym = rng.integers(0, k, 3000)
    P = rng.random((3000, k)) + np.eye(k)[ym]
    P /= P.sum(axis=1, keepdims=True)
    m = evalkit.full(ym, P, bootstrap=0)
    assert m.task == "multiclass"
    assert m["macro_roc_auc"].value == pytest.approx(sk.roc_auc_score(ym, P, multi_class="ovr"), abs=1e-12)
    assert m["macro_f1"].value == pytest.approx(sk.f1_score(ym, P.argmax(1), average="macro"), abs=1e-12)
    yr = rng.normal(size=2000)
    pr = yr + rng.normal(scale=0.5, size=2000)
    g = evalkit.full(yr, pr, bootstrap=0)
    assert g["r2"].value == pytest.approx(sk.r2_score(yr, pr), abs=1e-12)
    assert g["mse"].value == pytest.approx(sk.mean_squared_error(yr, pr), abs=1e-12)


def _data(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + 0.6 * rng.random(n), 0, 1)
    return y, p


def test_every_input_kind_gives_the_same_numbers():
    y, p = _data()
    want = evalkit.full(y, p, bootstrap=20).to_dict()["metrics"]
    kinds = [
        (y.astype(np.int8), p),
        (y.astype(np.int64), np.asfortranarray(p)),
        (y.astype(bool), p),
        (y.astype(np.uint16), p),
    ]
    for yy, pp in kinds:
        assert evalkit.full(yy, pp, bootstrap=20).to_dict()["metrics"] == want
    pa = pytest.importorskip("pyarrow")
    assert evalkit.full(pa.array(y), pa.array(p), bootstrap=20).to_dict()["metrics"] == want
    chunked = pa.chunked_array([pa.array(y[:700]), pa.array(y[700:])])
    assert evalkit.full(chunked, pa.chunked_array([pa.array(p)]), bootstrap=20).to_dict()["metrics"] == want

    class DLPackOnly:
        def __init__(self, a):
            self._a = a

        def __dlpack__(self, **kw):
            return self._a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self._a.__dlpack_device__()

    assert evalkit.full(DLPackOnly(y), DLPackOnly(p), bootstrap=20).to_dict()["metrics"] == want
    pl = pytest.importorskip("polars")
    assert evalkit.full(pl.Series(y), pl.Series(p), bootstrap=20).to_dict()["metrics"] == want


def test_float_scores_are_used_in_place():
    y, p = _data()
    for dtype in (np.float32, np.float64):
        s = p.astype(dtype)
        assert _evalkit._scores_address(y, s) == s.ctypes.data
    # A non-contiguous view must be converted: then it is a copy.
    s = np.repeat(p, 2)[::2]
    assert _evalkit._scores_address(y, np.ascontiguousarray(s)) != s.ctypes.data


def test_bad_input_raises_the_right_error():
    y, p = _data(100)
    with pytest.raises(evalkit.InputError, match="100 labels but 99 scores"):
        evalkit.full(y, p[:99])
    bad = p.copy()
    bad[7] = np.nan
    with pytest.raises(evalkit.BadValueError, match="row 7"):
        evalkit.full(y, bad)
    with pytest.raises(evalkit.InputError, match="3 dimensions"):
        evalkit.full(y, np.zeros((100, 2, 2)))
    with pytest.raises(evalkit.InputError, match="dtype"):
        evalkit.full(y, np.array(["a"] * 100))
    with pytest.raises(evalkit.BadValueError):
        evalkit.full(y + 2, p)
    with pytest.raises(evalkit.UsageError):
        evalkit.full(y, p, method="magic")
    with pytest.raises(evalkit.EvalkitIOError):
        evalkit.read_predictions("/no/such/file.arrow")
    with pytest.raises(evalkit.FormatError):
        evalkit.read_predictions(__file__)
    one = evalkit.full(np.zeros(50, dtype=int), np.linspace(0, 1, 50), bootstrap=0)
    with pytest.raises(evalkit.UndefinedMetricError):
        one["roc_auc"].require()
    assert issubclass(evalkit.BadValueError, evalkit.EvalkitError)


def test_the_gil_is_released_while_rust_works():
    y, p = _data(300_000, seed=5)
    ticks = 0
    stop = False

    def spin():
        nonlocal ticks
        while not stop:
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    start = time.perf_counter()
    evalkit.full(y, p, bootstrap=1000)
    elapsed = time.perf_counter() - start
    stop = True
    t.join()
    # The spinner ran throughout (it would be frozen if the GIL were held).
    assert elapsed > 0.05
    assert ticks >= 0.3 * elapsed / 0.0011, (ticks, elapsed)


def _child(q):
    y, p = _data(20_000, seed=9)
    q.put(evalkit.full(y, p, bootstrap=100)["roc_auc"].value)


def test_works_in_a_forked_child_after_the_parent_used_it():
    y, p = _data(20_000, seed=9)
    want = evalkit.full(y, p, bootstrap=100)["roc_auc"].value
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0, "the forked child hung or crashed"
    assert q.get(timeout=5) == want


def test_evaluator_accumulates_batches():
    y, p = _data(1000)
    ev = evalkit.Evaluator(task="binary", bootstrap=30)
    for i in range(0, 1000, 100):
        ev.update(y[i : i + 100], p[i : i + 100])
    assert ev.rows == 1000
    assert ev.compute_full().to_dict()["metrics"] == evalkit.full(y, p, bootstrap=30).to_dict()["metrics"]
    assert ev.compute_fast(sample=None)["log_loss"].value == pytest.approx(
        evalkit.fast(y, p, sample=None)["log_loss"].value
    )
    ev.reset()
    with pytest.raises(evalkit.InputError):
        ev.compute_fast()


def test_report_from_results_and_files(tmp_path):
    y, p = _data(3000)
    r = evalkit.full(y, p, bootstrap=50)
    out = tmp_path / "r.html"
    model = evalkit.report([r, os.path.join(FIX, "binary_balanced.arrow")], out, names=["mine", "file"], bootstrap=50)
    html = out.read_text()
    assert "ROC curve" in html and "mine" in html
    assert [c["name"] for c in model["candidates"]] == ["mine", "file"]


def test_a_training_loop_with_early_stopping():
    """Logistic regression by SGD in numpy; the hook evaluates each epoch
    and stops when the validation log loss stops improving."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 5))
    w_true = np.array([1.5, -2.0, 0.5, 0.0, 1.0])
    y = (rng.random(4000) < 1 / (1 + np.exp(-X @ w_true))).astype(np.int64)
    Xtr, ytr, Xva, yva = X[:3000], y[:3000], X[3000:], y[3000:]
    w = np.zeros(5)
    logged = []
    hook = FastEvalHook(monitor="log_loss", patience=3, min_delta=1e-4, sample=None, log=lambda e, v: logged.append(v))
    lr = 0.5
    for epoch in range(200):
        for i in range(0, 3000, 100):
            xb, yb = Xtr[i : i + 100], ytr[i : i + 100]
            grad = xb.T @ (1 / (1 + np.exp(-xb @ w)) - yb) / len(yb)
            w -= lr * grad
        lr *= 0.5  # the learning rate decays: a plateau comes
        for i in range(0, 1000, 250):  # validation batches
            hook.update(yva[i : i + 250], 1 / (1 + np.exp(-Xva[i : i + 250] @ w)))
        hook.on_epoch_end(epoch)
        if hook.should_stop:
            break
    assert hook.should_stop and hook.stopped_epoch is not None and hook.stopped_epoch < 199
    assert len(logged) == hook.stopped_epoch + 1
    assert all("fast/log_loss" in v and "fast/accuracy" in v for v in logged)
    assert logged[-1]["fast/accuracy"] > 0.7


def test_full_every_writes_reports(tmp_path):
    # One numbering: the loop's own epochs (0-based here) in the log, the
    # report files and their titles.
    y, p = _data(500)
    logged = []
    hook = FastEvalHook(full_every=2, bootstrap=20, report_dir=str(tmp_path), log=lambda e, v: logged.append((e, v)))
    for epoch in range(4):
        logs = hook.on_epoch_end(epoch, y, p)
        assert ("full/roc_auc" in logs) == (epoch % 2 == 1)
    full_epochs = [e for e, v in logged if "full/roc_auc" in v]
    assert full_epochs == [1, 3]
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.html", "epoch_0003.html"]
    for e in full_epochs:
        with open(tmp_path / f"epoch_{e:04d}.html") as f:
            assert f"epoch {e}" in f.read()


def test_logged_values_carry_no_float_noise():
    # 21 of 25 right: the stratified mean is 0.8400000000000001 in floats.
    y = np.array([0] * 10 + [1] * 15)
    p = np.array([0.1] * 8 + [0.9] * 2 + [0.8] * 13 + [0.2] * 2)
    hook = FastEvalHook(sample=None)
    logs = hook.on_epoch_end(0, y, p)
    assert repr(logs["fast/accuracy"]) == "0.84"
    assert logs["fast/accuracy"] == pytest.approx(evalkit.fast(y, p, sample=None)["accuracy"].value, abs=1e-12)


def test_sample_takes_the_cli_spelling():
    y, p = _data(300)
    every = evalkit.fast(y, p, sample="all")
    assert every.to_dict() == evalkit.fast(y, p, sample=None).to_dict()
    for bad, needle in [("some", "row count"), (0, "at least 1 row"), (-3, "at least 1 row"), (True, "row count"), (2.5, "row count")]:
        with pytest.raises(evalkit.UsageError, match=needle):
            evalkit.fast(y, p, sample=bad)


def test_every_row_is_exact_not_a_zero_width_interval():
    y, p = _data(300)
    r = evalkit.fast(y, p, sample="all")
    for name in ("log_loss", "accuracy"):
        m = r[name]
        assert m.ci is None and m.method == "exact" and m.std_error == 0
        assert "every row" in m.reason
        assert repr(m).endswith("exact: every row)")
    # A sample of some rows keeps its intervals, and a perfect sample's
    # accuracy interval is not [1, 1].
    sampled = evalkit.fast(y, (y == 1).astype(float) * 0.8 + 0.1, sample=100)
    lo, hi = sampled["accuracy"].ci
    assert sampled["accuracy"].value == 1 and hi == 1 and 0.9 < lo < 1
    assert sampled["accuracy"].method == "wilson"


def test_malformed_report_entries_are_usage_errors(tmp_path):
    with pytest.raises(evalkit.UsageError, match="report entry"):
        _evalkit.report([("only a name",)], str(tmp_path / "r.html"))


@pytest.mark.parametrize("fixture", ["binary_weighted.arrow", "multiclass_digits.arrow", "regression.arrow"])
def test_states_from_batches_merge_to_the_files_state(fixture, tmp_path):
    # Batches on "workers" → states → merged in any order: the bytes of
    # `evalkit state FILE`, and the file's point metrics, bit for bit.
    path = os.path.join(FIX, fixture)
    f = evalkit.read_predictions(path)
    n = len(f.y_true)
    cuts = [0, n // 3, n // 3 + 1, (2 * n) // 3, n]
    parts = [
        evalkit.state(
            f.y_true[a:b],
            f.y_score[a:b],
            weights=None if f.weights is None else f.weights[a:b],
            task=f.task,
        )
        for a, b in zip(cuts, cuts[1:])
        if b > a
    ]
    merged = evalkit.merge_states(parts[::-1])
    assert evalkit.merge_states(parts) == merged
    out = tmp_path / "file.evstate"
    subprocess.run([cli(), "state", path, "-o", str(out)], check=True, capture_output=True)
    whole = out.read_bytes()
    # The file's state carries its class names and path; the arrays' do
    # not, so compare what the states finish to.
    want = cli_json("full", str(out), "--bootstrap", "0")
    got = evalkit.full_from_state(merged, bootstrap=0).to_dict()
    assert got["metrics"] == want["metrics"]
    assert got["rows"] == want["rows"]
    assert evalkit.full_from_state(whole, bootstrap=0).to_dict()["metrics"] == want["metrics"]


def test_bad_states_raise_the_right_error():
    y, p = _data(200)
    good = evalkit.state(y, p)
    with pytest.raises(evalkit.FormatError, match="state 1"):
        evalkit.merge_states([good, good[:40]])
    with pytest.raises(evalkit.FormatError):
        evalkit.full_from_state(b"not a state")
    with pytest.raises(evalkit.UsageError):
        evalkit.merge_states([])
    multi = evalkit.state(np.array([0, 1, 2]), np.eye(3))
    with pytest.raises(evalkit.InputError):
        evalkit.merge_states([good, multi])
    # Intervals from a binary state; refused, with the reason, from a
    # regression one.
    r = evalkit.full_from_state(good, bootstrap=200, seed=1)
    assert r["roc_auc"].ci is not None
    reg = evalkit.state(np.array([1.0, 2.0, 3.5]), np.array([1.1, 2.2, 3.0]), task="regression")
    with pytest.raises(evalkit.UsageError, match="bootstrap 0"):
        evalkit.full_from_state(reg)


def test_clusters_resample_whole_clusters_as_the_cli_does(tmp_path):
    import pyarrow as pa
    import pyarrow.ipc as ipc

    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(60), rng.integers(1, 9, size=60))
    strength = 1.5 + 1.5 * rng.standard_normal(60)[users]
    y = (rng.random(len(users)) < 0.4).astype(np.int64)
    s = 1 / (1 + np.exp(-(strength * (y - 0.5) + rng.standard_normal(len(users)))))
    path = str(tmp_path / "clustered.arrow")
    table = pa.table({"label": y, "score": s, "user": users, "name": [f"u{u}" for u in users]})
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table)
    want = cli_json("full", path, "--cluster", "user", "--bootstrap", "100")
    got = evalkit.full(y, s, bootstrap=100, cluster=users).to_dict()
    # Integer ids: the same keys, so the same draws and the same numbers.
    assert got["metrics"] == want["metrics"]
    assert got["clusters"] == {"column": "cluster", "count": 60} and want["clusters"]["count"] == 60
    assert got["obuchowski"] == want["obuchowski"]
    assert "independent rows" in got["delong"]["reason"]
    # String ids name the same clusters (other draws, the same Obuchowski).
    named = evalkit.full(y, s, bootstrap=100, cluster=np.array([f"u{u}" for u in users])).to_dict()
    assert named["clusters"]["count"] == 60
    assert named["obuchowski"]["std_error"] == pytest.approx(got["obuchowski"]["std_error"], rel=1e-12)
    # Rows alone give narrower intervals on this clustered data.
    rows = evalkit.full(y, s, bootstrap=100).to_dict()["metrics"]["roc_auc"]["ci"]
    ci = got["metrics"]["roc_auc"]["ci"]
    assert ci[1] - ci[0] > rows[1] - rows[0]
    # compare: the clustered paired test.
    c = evalkit.compare(y, s, np.clip(s + 0.05 * rng.standard_normal(len(s)), 0, 1), bootstrap=50, cluster=users)
    assert c.to_dict()["obuchowski"]["p_value"] is not None
    with pytest.raises(evalkit.InputError, match="cluster"):
        evalkit.full(y, s, cluster=users[:-1])
    bad = users.astype(float)
    bad[4] = np.nan
    with pytest.raises(evalkit.InputError, match="row 4"):
        evalkit.full(y, s, cluster=bad)


def test_stratified_resampling_equals_the_cli():
    path = os.path.join(FIX, "multiclass_digits.arrow")
    want = cli_json("full", path, "--stratify", "--bootstrap", "64", "--seed", "2")
    got = evalkit.read_predictions(path).full(bootstrap=64, seed=2, resample="stratified").to_dict()
    assert got["metrics"] == want["metrics"]
    assert got["bootstrap"]["resample"] == "stratified"
    with pytest.raises(evalkit.UsageError, match="poisson, multinomial or stratified"):
        evalkit.full(np.array([0, 1]), np.array([0.2, 0.8]), resample="boot")


def test_power_equals_the_cli():
    want = cli_json("power", "--value", "0.85", "--effect", "-0.01", "--prevalence", "0.3", "--paired", "0.5")
    got = evalkit.power(value=0.85, effect=-0.01, prevalence=0.3, paired=0.5)
    assert got == want
    with pytest.raises(evalkit.UsageError, match="effect"):
        evalkit.power(value=0.85, effect=0.0)


def test_profile_percentiles_are_the_recorded_requests():
    model = os.path.join(FIX, "models", "breast_cancer_lr.onnx")
    data = os.path.join(FIX, "data", "breast_cancer.parquet")
    p = evalkit.profile(
        model, data, ignore=["row_id", "label"], batch_sizes=[1, 4], concurrency=[1, 2],
        duration=5.0, max_requests=150, latencies=True,
    )
    assert p["tier"] == "profile"
    assert p["environment"]["provider"] == "CPUExecutionProvider"
    (m,) = p["models"]
    assert m["input"] == "input 'input' of shape [N, 30]"
    for run in m["latency"] + m["throughput"]:
        lat = np.sort(np.array(run["latencies_ms"]))
        # Stopped by the request count, long before the duration.
        assert len(lat) == run["latency_ms"]["requests"] == 150
        for q in (50, 95, 99):
            rank = int(np.ceil(q / 100 * len(lat)))
            assert run["latency_ms"][f"p{q}"]["value"] == lat[rank - 1]
        assert run["latency_ms"]["max"] == lat[-1]
        # 150 requests bound a p99 from below, not from above.
        assert run["latency_ms"]["p99"]["upper"] is None
    with pytest.raises(evalkit.UsageError, match="batch size must be at least 1"):
        evalkit.profile(model, data, ignore=["row_id", "label"], batch_sizes=[0])


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_count_methods_equal_the_cli(method):
    path = os.path.join(FIX, "binary_balanced.arrow")
    want = cli_json("full", path, "--method", method, "--bootstrap", "0")
    got = evalkit.read_predictions(path).full(bootstrap=0, method=method).to_dict()
    assert got["metrics"] == want["metrics"]
    assert got["metrics"]["accuracy"]["method"] == method
    assert got["metrics"]["specificity"]["method"] == method
    with pytest.raises(evalkit.UsageError, match="percentile, bca, wilson or clopper-pearson"):
        evalkit.full(np.array([0, 1]), np.array([0.2, 0.8]), method="exact")


def test_operating_points_equal_the_cli():
    path = os.path.join(FIX, "binary_balanced.arrow")
    asks = ["precision>=0.9", "fpr<=0.05,maximize=f1", "specificity>=0.999"]
    flags = [a for ask in asks for a in ("--operating-point", ask)]
    want = cli_json("full", path, "--bootstrap", "64", *flags)
    f = evalkit.read_predictions(path)
    got = evalkit.full(f.y_true, f.y_score, bootstrap=64, operating_points=asks)
    assert got.operating_points == want["operating_points"]
    first, _, infeasible = got.operating_points
    assert first["bound"]["value"] >= 0.9 and first["metrics"]["precision"]["ci"] is not None
    assert infeasible["threshold"] is None and "negatives" in infeasible["reason"]
    plain = evalkit.full(f.y_true, f.y_score, bootstrap=0, operating_points="precision>=0.9", certified=False)
    assert plain.operating_points[0]["certified"] is False
    # The point-estimate choice is at least as bold as the certified one.
    assert plain.operating_points[0]["threshold"] <= first["threshold"]
    with pytest.raises(evalkit.UsageError, match="no >= or <="):
        evalkit.full(f.y_true, f.y_score, bootstrap=0, operating_points=["precision>0.9"])
    with pytest.raises(evalkit.UsageError, match="binary classifier"):
        evalkit.full(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5]), bootstrap=0, operating_points=["recall>=0.5"])


def test_costs_equal_the_cli():
    path = os.path.join(FIX, "binary_balanced.arrow")
    want = cli_json("full", path, "--bootstrap", "0", "--cost", "fp=1,fn=5")
    f = evalkit.read_predictions(path)
    got = evalkit.full(f.y_true, f.y_score, bootstrap=0, cost="fp=1,fn=5").to_dict()
    assert got["cost"] == want["cost"] and got["decision_curve"] == want["decision_curve"]
    with pytest.raises(evalkit.UsageError, match="both fp and fn"):
        evalkit.full(f.y_true, f.y_score, bootstrap=0, cost="fp=1")
    # Per-row costs: constant arrays give the constant costs' answer; a
    # negative cost names its row.
    n = len(f.y_true)
    rows = evalkit.full(f.y_true, f.y_score, bootstrap=0, cost={"fp": 1.0, "fn": np.full(n, 5.0)})
    assert rows.to_dict()["cost"]["threshold"] == want["cost"]["threshold"]
    assert abs(rows.to_dict()["cost"]["expected_cost"] - want["cost"]["expected_cost"]) < 1e-12
    bad = np.full(n, 5.0)
    bad[7] = -1.0
    with pytest.raises(evalkit.InputError, match="row 7"):
        evalkit.full(f.y_true, f.y_score, bootstrap=0, cost={"fp": 1.0, "fn": bad})
    with pytest.raises(evalkit.UsageError, match="'fp' and 'fn'"):
        evalkit.full(f.y_true, f.y_score, bootstrap=0, cost={"fp": 1.0})


def test_partial_auc_equals_scikit_learn_and_the_cli():
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score

    path = os.path.join(FIX, "binary_weighted.arrow")
    f = evalkit.read_predictions(path)
    got = evalkit.full(f.y_true, f.y_score, weights=f.weights, bootstrap=64, max_fpr=0.1, tpr_at_fpr=[0.05])
    want = roc_auc_score(f.y_true, f.y_score, sample_weight=f.weights, max_fpr=0.1)
    assert abs(got["partial_roc_auc"].value - want) < 1e-9
    cli = cli_json("full", path, "--bootstrap", "64", "--max-fpr", "0.1", "--tpr-at-fpr", "0.05")
    assert got.to_dict()["metrics"] == cli["metrics"]
    with pytest.raises(evalkit.UsageError, match="0, 1"):
        evalkit.full(f.y_true, f.y_score, bootstrap=0, max_fpr=0.0)


def test_ranking_equals_the_cli_and_names_queries():
    import pyarrow.ipc as ipc

    path = os.path.join(FIX, "ranking.arrow")
    t = ipc.open_file(path).read_all()
    labels = t.column("label").to_numpy()
    scores = t.column("score").to_numpy()
    queries = np.asarray(t.column("query").to_pylist(), dtype=object)
    want = cli_json("full", path, "--bootstrap", "0", "--k", "1,3,10")
    r = evalkit.full(labels, scores, query=queries, k=[10, 3, 1], bootstrap=0, per_query=True)
    assert r.task == "ranking"
    got = r.to_dict()
    assert got["ranking"] == want["ranking"]
    for name, m in want["metrics"].items():
        assert r[name].value == pytest.approx(m["value"], abs=1e-12), name
    pq = got["per_query"]
    assert sorted(pq["query"]) == sorted(set(queries.tolist()))
    assert len(pq["ndcg@10"]) == len(pq["query"]) == 300
    # With the bootstrap: an interval around every mean.
    r = evalkit.full(labels, scores, query=queries, bootstrap=200)
    lo, hi = r["ndcg@10"].ci
    assert lo < r["ndcg@10"].value < hi
    # Bad input: a query id per row, no weights, a positive cutoff.
    with pytest.raises(evalkit.InputError, match="query ids"):
        evalkit.full(labels, scores, query=queries[:-1])
    with pytest.raises(evalkit.UsageError, match="weighs every query equally"):
        evalkit.full(labels, scores, query=queries, weights=np.ones(len(labels)))
    with pytest.raises(evalkit.UsageError, match="k=0"):
        evalkit.full(labels, scores, query=queries, k=[0])
    with pytest.raises(evalkit.InputError, match="missing values"):
        evalkit.full(labels, scores, query=np.array([None] * len(labels), dtype=object))


def test_ranking_files_and_the_fast_tier():
    path = os.path.join(FIX, "ranking.arrow")
    f = evalkit.read_predictions(path)
    assert f.task == "ranking" and f.query is not None and len(f.query) == len(f.y_true)
    want = cli_json("full", path, "--bootstrap", "0")
    got = f.full(bootstrap=0).to_dict()
    for name, m in want["metrics"].items():
        assert got["metrics"][name]["value"] == pytest.approx(m["value"], abs=1e-12), name
    want = cli_json("fast", path, "--sample", "all")
    got = f.fast(sample="all").to_dict()
    for name, m in want["metrics"].items():
        assert got["metrics"][name]["value"] == pytest.approx(m["value"], abs=1e-12), name
        assert got["metrics"][name]["method"] == "exact"


def test_a_ranking_result_is_reported_as_the_cli_reports_its_file(tmp_path):
    import pyarrow.ipc as ipc

    path = os.path.join(FIX, "ranking.arrow")
    t = ipc.open_file(path).read_all()
    labels, scores = t.column("label").to_numpy(), t.column("score").to_numpy()
    queries = np.asarray(t.column("query").to_pylist(), dtype=object)
    r = evalkit.full(labels, scores, query=queries, bootstrap=0)
    got = evalkit.report([r], tmp_path / "r.html", bootstrap=0)
    want = cli_json("report", path, "-o", str(tmp_path / "cli.html"), "--bootstrap", "0")
    assert got["task"] == want["task"] == "ranking"
    assert got["candidates"][0]["metrics"] == want["candidates"][0]["metrics"]
    # The fast tier's result too (it keeps the query ids the same way).
    f = evalkit.fast(labels, scores, query=queries, sample="all")
    assert evalkit.report([f], tmp_path / "f.html", bootstrap=0)["task"] == "ranking"


def _frame_data():
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.3).astype(np.int64)
    p = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1)
    w = rng.random(500) + 0.5
    return y, p, w


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_frames_in_equal_arrays(kind):
    y, p, w = _frame_data()
    cols = {"y": y, "p": p, "w": w, "name": np.array(["a"] * len(y))}
    if kind == "pandas":
        pd = pytest.importorskip("pandas")
        df = pd.DataFrame(cols)
    elif kind == "polars":
        import polars as pl

        df = pl.DataFrame(cols)
    else:
        import pyarrow as pa

        df = pa.table(cols)
    want = evalkit.full(y, p, weights=w, bootstrap=50, seed=1).to_dict()
    got = evalkit.full(df, label="y", score="p", weight="w", bootstrap=50, seed=1).to_dict()
    assert got["metrics"] == want["metrics"]
    assert evalkit.fast(df, label="y", score="p").to_dict()["metrics"] == evalkit.fast(y, p).to_dict()["metrics"]
    with pytest.raises(evalkit.ColumnError, match="column 'nope' \\(score\\) is not in the frame; it has: y, p, w, name"):
        evalkit.full(df, label="y", score="nope")
    with pytest.raises(evalkit.ColumnError, match="column 'name' \\(score\\)"):
        evalkit.full(df, label="y", score="name")
    with pytest.raises(evalkit.UsageError, match="not both"):
        evalkit.full(df, p, label="y")


def test_lazy_frames_and_multiclass_columns():
    import polars as pl

    y, p, _ = _frame_data()
    with pytest.raises(evalkit.UsageError, match="lazy polars frame"):
        evalkit.full(pl.DataFrame({"label": y, "score": p}).lazy(), score="score")
    # One probability column per class, as the CLI's --score p0,p1.
    df = pl.DataFrame({"label": y, "p0": 1 - p, "p1": p})
    got = evalkit.full(df, score=["p0", "p1"], task="multiclass", bootstrap=0).to_dict()
    want = evalkit.full(y, np.column_stack([1 - p, p]), task="multiclass", bootstrap=0).to_dict()
    assert got["metrics"] == want["metrics"]


def test_tables_out():
    y, p, _ = _frame_data()
    r = evalkit.full(y, p, bootstrap=50)
    t = r.to_arrow()
    assert t.column_names == ["metric", "value", "ci_lower", "ci_upper", "method", "reason"]
    assert t.num_rows == len(r.metrics)
    row = t.column("metric").to_pylist().index("roc_auc")
    assert t.column("value")[row].as_py() == r["roc_auc"].value
    assert t.column("ci_lower")[row].as_py() == r["roc_auc"].ci[0]
    pl_df = r.to_polars()
    assert pl_df.shape == (len(r.metrics), 6)
    pytest.importorskip("pandas")
    assert list(r.to_pandas()["metric"]) == list(r.metrics)
    c = evalkit.compare(y, p, np.clip(p + 0.05, 0, 1), bootstrap=50)
    assert "delta" in c.to_arrow().column_names


def test_infer_and_run_suite(tmp_path):
    model = os.path.join(FIX, "models", "breast_cancer_lr.onnx")
    data = os.path.join(FIX, "data", "breast_cancer.parquet")
    out = tmp_path / "preds.arrow"
    first = evalkit.infer(model, data, out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert first["cache"]["status"] == "miss" and first["rows"] == 285
    again = evalkit.infer(model, data, out, label="label", keep=["row_id"], cache_dir=tmp_path / "cache")
    assert again["cache"]["status"] == "hit"
    assert evalkit.read_predictions(str(out)).full(bootstrap=0)["roc_auc"].value > 0.99
    with pytest.raises(evalkit.UsageError, match="--batch-size must be at least 1"):
        evalkit.infer(model, data, out, batch_size=0)

    suite = os.path.join(ROOT, "suites", "breast_cancer-fails.toml")
    run = evalkit.run_suite(suite, cache_dir=tmp_path / "cache2")
    proc = subprocess.run([cli(), "run", suite, "--cache-dir", str(tmp_path / "cache3"), "--json"], capture_output=True)
    assert proc.returncode == 1, proc.stderr
    want = json.loads(proc.stdout)
    assert (run.passed, run.exit_status) == (False, 1)
    assert [g.verdict for g in run.gates] == [g["verdict"] for g in want["gates"]]
    assert [g.detail for g in run.gates] == [g["detail"] for g in want["gates"]]
    assert isinstance(run.gates[0], evalkit.Verdict) and run.gates[0].line == want["gates"][0]["line"]
    assert run.metrics["roc_auc"].value == want["metrics"]["roc_auc"]["value"]
    assert any("inference ran" in n for n in run.notes)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[gate]]\nmetric = "roc_auc"\nmin = 0.5\nbogus = 1\n')
    with pytest.raises(evalkit.UsageError, match="bad.toml"):
        evalkit.run_suite(bad)


def test_the_packages_evalkit_command_is_the_cli():
    """`python -m evalkit._cli` (the `evalkit` console script) runs the same
    command line as the binary: same output, same exit status."""
    path = os.path.join(FIX, "binary_balanced.arrow")
    # Each finds ONNX Runtime on its own (the package in its environment
    # first, see test_install.py); pointed at the same library, `--version`
    # prints the same lines.
    lib = subprocess.run([cli(), "--version"], capture_output=True, text=True).stdout
    env = dict(os.environ, ORT_DYLIB_PATH=os.path.abspath(lib.split("(", 1)[1].rsplit(")", 1)[0]))
    for args in (["full", path, "--bootstrap", "20", "--json"], ["--version"], ["full", "no_such.arrow"]):
        py = subprocess.run([sys.executable, "-m", "evalkit._cli", *args], capture_output=True, env=env)
        rs = subprocess.run([cli(), *args], capture_output=True, env=env)
        assert (py.returncode, py.stdout, py.stderr) == (rs.returncode, rs.stdout, rs.stderr), args


def test_thresholds_distinct_equals_the_cli():
    path = os.path.join(FIX, "binary_ties.arrow")
    want = cli_json("full", path, "--thresholds", "distinct", "--bootstrap", "0")
    got = evalkit.read_predictions(path).full(bootstrap=0, thresholds="distinct").to_dict()
    assert got["sweep"] == want["sweep"] and got["sweep"]["kind"] == "distinct"
    assert got["metrics"] == want["metrics"]
    with pytest.raises(evalkit.UsageError, match="thresholds=1"):
        evalkit.full(np.array([0, 1]), np.array([0.2, 0.8]), thresholds=1)


def test_a_late_block_after_its_infer_run_ended_writes_nothing(tmp_path):
    """An engine's retried or speculative block that arrives after its run
    ended (and removed its staging folder) writes nothing and reports why."""
    import shutil

    import pyarrow.parquet as pq

    from evalkit import _batches, _shards

    fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
    model = os.path.abspath(os.path.join(fixtures, "models", "breast_cancer_lr.onnx"))
    t = pq.read_table(os.path.join(fixtures, "data", "breast_cancer.parquet"))
    staging = tmp_path / "staging"
    staging.mkdir()
    options = dict(
        label="label", features=None, keep=["row_id"], fill_null=None, batch_size=64, device="cpu", threads=1,
        output_name=None, score_kind="probability", task=None, classes=None, cache_dir=None, no_cache=True,
    )
    scorer = _shards.Scorer(model, str(staging), options, "a block")
    row = scorer(t).to_pylist()[0]
    assert row["rows"] == t.num_rows and (staging / (row["file"] + ".arrow")).exists()
    shutil.rmtree(staging)
    late = scorer(t).to_pylist()[0]
    error = _batches.Reduction.from_bytes(late["reduction"]).error
    assert error[0] == "UsageError" and "has ended" in error[1]
    assert not staging.exists()
