"""pytest: the doctests of `python/evalkit` import each module; the MLflow
evaluator's module imports MLflow, evalkit.ray Ray and evalkit.spark PySpark,
so each is collected only where it is installed (`make test` installs all)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("mlflow") else ["evalkit/mlflow_evaluator.py"]
for engine in ("ray", "pyspark"):
    if not importlib.util.find_spec(engine):
        collect_ignore.append(f"evalkit/{engine.removeprefix('py')}.py")
