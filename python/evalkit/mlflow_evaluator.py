"""evalkit as an MLflow evaluator: ``mlflow.models.evaluate(...,
evaluators=["evalkit"], evaluator_config={"evalkit": {...}})`` (and the
older ``mlflow.evaluate``).

Registered through MLflow's ``mlflow.model_evaluator`` entry point (in the
package's metadata), so installing evalkit is enough. Evaluates the model's
predictions (or the dataset's ``predictions`` column) against the targets
with evalkit's full tier and logs every metric with its interval bounds
(:func:`evalkit.mlflow.log`). ``evaluator_config`` keys: ``bootstrap``
(1000), ``ci`` (0.95), ``seed`` (0), ``task`` (default: regression for a
regressor, else from the labels), ``threshold`` (0.5), ``prefix`` ("").
Importing this module imports MLflow; ``import evalkit`` does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mlflow.models.evaluation.base import EvaluationResult, ModelEvaluator

import evalkit

from .mlflow import log

_KEYS = {"bootstrap", "ci", "seed", "task", "threshold", "prefix"}


def _column(x: Any, name: Any = None) -> np.ndarray:
    """One column of predictions: a named column of a frame, its only
    column, or the array itself."""
    if hasattr(x, "columns"):
        cols = list(x.columns)
        if name is not None and name in cols:
            x = x[name]
        elif len(cols) == 1:
            x = x[cols[0]]
        else:
            raise evalkit.UsageError(
                f"the model's output has columns {cols}: name the score column with predictions=..."
            )
    return np.asarray(x)


class EvalkitEvaluator(ModelEvaluator):
    """evalkit's full tier inside ``mlflow.evaluate``."""

    @classmethod
    def can_evaluate(cls, *, model_type, evaluator_config, **kwargs) -> bool:
        return model_type in ("classifier", "regressor")

    def evaluate(
        self,
        *,
        model_type,
        dataset,
        run_id,
        evaluator_config,
        model=None,
        extra_metrics=None,
        custom_artifacts=None,
        predictions=None,
        **kwargs,
    ):
        config = dict(evaluator_config or {})
        unknown = set(config) - _KEYS
        if unknown:
            raise evalkit.UsageError(
                f"evaluator_config keys {sorted(unknown)} are not evalkit's; it takes {sorted(_KEYS)}"
            )
        if dataset.labels_data is None:
            raise evalkit.UsageError("evalkit needs the targets: mlflow.evaluate(..., targets=COLUMN)")
        y = np.asarray(dataset.labels_data)
        if model is not None:
            scores = _column(model.predict(dataset.features_data), predictions)
        else:
            scores = _column(dataset.predictions_data)
        task = config.get("task") or ("regression" if model_type == "regressor" else None)
        if task == "regression":
            y = y.astype(np.float64)
        result = evalkit.full(
            y,
            scores,
            bootstrap=int(config.get("bootstrap", 1000)),
            ci=float(config.get("ci", 0.95)),
            seed=int(config.get("seed", 0)),
            threshold=float(config.get("threshold", 0.5)),
            task=task,
        )
        logged = log(result, run_id=run_id, prefix=str(config.get("prefix", "")))
        return EvaluationResult(metrics=logged, artifacts={}, run_id=run_id)
