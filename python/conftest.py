"""pytest: the doctests of `python/evalkit` import each module; the MLflow
evaluator's module imports MLflow and evalkit.ray imports Ray, so each is
collected only where its engine is installed (`make test` installs both)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("mlflow") else ["evalkit/mlflow_evaluator.py"]
if not importlib.util.find_spec("ray"):
    collect_ignore.append("evalkit/ray.py")
