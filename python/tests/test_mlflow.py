"""evalkit.mlflow against a real local tracking store (SQLite, as `mlflow
server --backend-store-uri sqlite:///...` uses), read back through
MlflowClient."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import evalkit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _require(name):
    if os.environ.get("EVALKIT_REQUIRE_MLFLOW") == "1":
        return __import__(name)
    return pytest.importorskip(name)


def test_import_evalkit_does_not_import_mlflow_numpy_or_engines():
    code = "import sys, evalkit; print([m for m in ('mlflow', 'numpy', 'pandas', 'polars', 'pyarrow', 'ray', 'dask', 'pyspark') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # numpy comes on first use.
    code = "import sys, evalkit; evalkit.full([0, 1], [0.2, 0.8], bootstrap=0); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_results_and_suites_are_logged_and_read_back(tmp_path, monkeypatch):
    mlflow = _require("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("evalkit", artifact_location=(tmp_path / "artifacts").as_uri())
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    p = np.clip(0.3 * y + 0.7 * rng.random(800), 0, 1)
    r = evalkit.full(y, p, bootstrap=50)
    c = evalkit.compare(y, np.clip(p + 0.05 * y, 0, 1), p, bootstrap=50)
    page = tmp_path / "r.html"
    evalkit.report([r], page)
    with mlflow.start_run(experiment_id=exp) as run:
        logged = evalkit.mlflow.log(r, prefix="val_", report=str(page))
        evalkit.mlflow.log(c, prefix="cmp_")
    client = MlflowClient(uri)
    got = client.get_run(run.info.run_id).data
    assert got.metrics["val_roc_auc"] == r["roc_auc"].value
    assert got.metrics["val_roc_auc_ci_lower"] == r["roc_auc"].ci[0]
    assert got.metrics["val_roc_auc_ci_upper"] == r["roc_auc"].ci[1]
    assert got.metrics["cmp_roc_auc_delta"] == c.delta["roc_auc"].value
    assert logged["val_log_loss"] == r["log_loss"].value
    # Undefined metrics are not logged as numbers.
    assert all(np.isfinite(v) for v in got.metrics.values())
    arts = {a.path for a in client.list_artifacts(run.info.run_id, "evalkit")}
    assert {"evalkit/result.json", "evalkit/r.html"} <= arts
    (tmp_path / "dl").mkdir()
    local = client.download_artifacts(run.info.run_id, "evalkit/result.json", str(tmp_path / "dl"))
    with open(local) as f:
        doc = json.load(f)
    assert doc["tier"] == "compare"  # the last result logged under the same name

    suite = os.path.join(ROOT, "suites", "breast_cancer-fails.toml")
    s = evalkit.run_suite(suite, cache_dir=tmp_path / "cache")
    with mlflow.start_run(experiment_id=exp) as run2:
        evalkit.mlflow.log(s)
    tags = client.get_run(run2.info.run_id).data.tags
    assert tags["evalkit.gates"] == "failed"
    for g in s.gates:
        assert tags[f"evalkit.gate.{g.line}"] == g.verdict
        assert tags[f"evalkit.gate.{g.line}.name"] == g.gate
    with pytest.raises(evalkit.UsageError, match="no active MLflow run"):
        evalkit.mlflow.log(r)
    assert evalkit.mlflow.metric_key("ndcg@10") == "ndcg_at_10"


def test_mlflow_evaluate_with_the_evalkit_evaluator(tmp_path, monkeypatch):
    mlflow = _require("mlflow")
    pd = _require("pandas")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("evaluate", artifact_location=(tmp_path / "artifacts").as_uri())
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    p = np.clip(0.3 * y + 0.7 * rng.random(600), 0, 1)
    data = pd.DataFrame({"label": y, "score": p})
    with mlflow.start_run(experiment_id=exp) as run:
        out = mlflow.models.evaluate(
            data=data,
            targets="label",
            predictions="score",
            model_type="classifier",
            evaluators=["evalkit"],
            evaluator_config={"evalkit": {"bootstrap": 40, "seed": 2}},
        )
    want = evalkit.full(y, p, bootstrap=40, seed=2)
    assert out.metrics["roc_auc"] == want["roc_auc"].value
    got = MlflowClient(uri).get_run(run.info.run_id).data.metrics
    assert got["roc_auc_ci_lower"] == want["roc_auc"].ci[0]
    assert got["log_loss"] == want["log_loss"].value
    with pytest.raises(Exception, match="not evalkit's"):
        with mlflow.start_run(experiment_id=exp):
            mlflow.models.evaluate(data=data, targets="label", predictions="score", model_type="classifier",
                                   evaluators=["evalkit"], evaluator_config={"evalkit": {"bootstraps": 10}})
