"""pytest: the doctests of `python/evalkit` import each module; the MLflow
evaluator's module imports MLflow, so it is collected only where MLflow is
installed (`make test` installs it)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("mlflow") else ["evalkit/mlflow_evaluator.py"]
