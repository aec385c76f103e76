"""evalkit results into MLflow, where teams already track their runs.

    import evalkit, evalkit.mlflow
    with mlflow.start_run():
        evalkit.mlflow.log(evalkit.full(y, p), prefix="val_")

Each metric is logged with its interval's bounds (``roc_auc``,
``roc_auc_ci_lower``, ``roc_auc_ci_upper``), a comparison's paired
differences as ``<metric>_delta`` (with their bounds), the JSON document as
the artifact ``evalkit/result.json``, a report page as an artifact, and a
suite's verdicts as tags. MLflow is imported only here, never by
``import evalkit``.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from . import Metric, Result, SuiteRun, UsageError

_BAD = re.compile(r"[^0-9A-Za-z_\-. /]")


def metric_key(name: str) -> str:
    """An evalkit metric name as an MLflow key (letters, digits, ``_ - . /``
    and spaces): ``ndcg@10`` → ``ndcg_at_10``, ``recall@precision>=0.95`` →
    ``recall_at_precision_ge_0.95``.

    >>> metric_key("recall@precision>=0.95")
    'recall_at_precision_ge_0.95'
    """
    for a, b in (("@", "_at_"), (">=", "_ge_"), ("<=", "_le_"), (">", "_gt_"), ("<", "_lt_"), ("=", "_eq_")):
        name = name.replace(a, b)
    return _BAD.sub("_", name)


def _values(prefix: str, metrics: Dict[str, Metric], suffix: str = "") -> List[Tuple[str, float]]:
    out = []
    for name, m in metrics.items():
        if m.value is None:
            continue  # undefined: MLflow has no "n/a", and NaN would read as a value
        key = metric_key(f"{prefix}{name}{suffix}")
        out.append((key, float(m.value)))
        if m.ci is not None:
            out.append((f"{key}_ci_lower", float(m.ci[0])))
            out.append((f"{key}_ci_upper", float(m.ci[1])))
    return out


def log(
    result: Any,
    run_id: Optional[str] = None,
    prefix: str = "",
    *,
    report: Optional[str] = None,
    artifact_path: str = "evalkit",
    step: int = 0,
) -> Dict[str, float]:
    """Logs ``result`` (a :class:`evalkit.Result` of ``full``, ``fast`` or
    ``compare``, or a :class:`evalkit.SuiteRun`) to the MLflow run
    ``run_id`` (default: the active run): every defined metric and its
    interval bounds, a comparison's differences, the JSON document (as
    ``<artifact_path>/result.json``), the report ``report`` (or the suite's
    own) as an artifact, and a suite's verdicts as tags
    (``evalkit.gates``: passed/failed; ``evalkit.gate.<line>``: the verdict,
    ``evalkit.gate.<line>.name``: the gate as written). Returns the metrics
    logged."""
    import mlflow
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

    if not isinstance(result, (Result, SuiteRun)):
        raise UsageError(f"evalkit.mlflow.log takes a Result or a SuiteRun, not {type(result).__name__}")
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise UsageError("no active MLflow run: call it inside mlflow.start_run(), or pass run_id=")
        run_id = active.info.run_id
    values = _values(prefix, result.metrics)
    if result.delta:
        values += _values(prefix, result.delta, "_delta")
    tags: List[Tuple[str, str]] = []
    if isinstance(result, SuiteRun):
        tags.append(("evalkit.gates", "passed" if result.passed else "failed"))
        for g in result.gates:
            tags.append((f"evalkit.gate.{g.line}", g.verdict))
            tags.append((f"evalkit.gate.{g.line}.name", g.gate[:5000]))
        report = report or result.report
    tags.append(("evalkit.version", result.to_dict().get("evalkit_version", "")))
    now = int(time.time() * 1000)
    client = MlflowClient()
    client.log_batch(
        run_id,
        metrics=[MlflowMetric(k, v, now, step) for k, v in values],
        tags=[RunTag(k, v) for k, v in tags],
    )
    client.log_text(run_id, json.dumps(result.to_dict(), indent=1), f"{artifact_path}/result.json")
    if report is not None:
        if not os.path.isfile(report):
            raise UsageError(f"report={report!r} is not a file")
        client.log_artifact(run_id, report, artifact_path)
    return dict(values)
