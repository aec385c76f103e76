"""evalkit: tiered model evaluation from Python.

The Rust library does the work; this package adapts Python inputs and wraps
the results. Every function returns the same numbers and field names as the
``evalkit`` command's ``--json`` output.

>>> import numpy as np, evalkit
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> evalkit.full(y, p, bootstrap=0)["roc_auc"].value
0.75

Inputs: numpy arrays (integer or boolean labels, float32/float64 scores,
``rows × classes`` for multiclass), pyarrow arrays and chunked arrays, polars
Series, and anything with ``__array__`` or ``__dlpack__`` (torch or jax
tensors on the CPU). float32/float64 scores and integer labels that are
already contiguous are used in place, never copied.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from . import _batches, _evalkit, _html
from ._evalkit import (
    BadValueError,
    ColumnError,
    EvalkitError,
    EvalkitIOError,
    FormatError,
    InputError,
    UsageError,
)

__version__: str = _evalkit.__version__


class _Numpy:
    """numpy, imported on first use: ``import evalkit`` and the ``evalkit``
    command do not pay for it (it is most of the import time)."""

    def __getattr__(self, name: str) -> Any:
        import numpy

        globals()["np"] = numpy
        return getattr(numpy, name)


np: Any = _Numpy()

__all__ = [
    "fast",
    "full",
    "compare",
    "read_predictions",
    "report",
    "state",
    "merge_states",
    "full_from_state",
    "compare_from_state",
    "PairedState",
    "power",
    "profile",
    "infer",
    "run_suite",
    "SuiteRun",
    "Verdict",
    "ReportModel",
    "show_report",
    "Evaluator",
    "Result",
    "Metric",
    "PredictionFile",
    "EvalkitError",
    "InputError",
    "FormatError",
    "ColumnError",
    "BadValueError",
    "UsageError",
    "EvalkitIOError",
    "UndefinedMetricError",
]


def __getattr__(name: str) -> Any:
    # evalkit.mlflow and evalkit.ray import MLflow and Ray: only when asked
    # for, never by `import evalkit`.
    if name in ("mlflow", "ray"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


class UndefinedMetricError(EvalkitError):
    """A metric has no value for this data (e.g. ROC-AUC with one class)."""


ArrayLike = Any


def _as_array(x: ArrayLike, what: str, *, scores: bool = False) -> np.ndarray:
    """A contiguous numpy view of ``x``: no copy when the dtype and layout
    already fit; a copy only to convert."""
    if isinstance(x, np.ndarray):
        a = x
    elif hasattr(x, "to_numpy") and type(x).__module__.startswith("polars"):
        a = x.to_numpy()
    elif type(x).__module__.startswith("pyarrow"):
        if hasattr(x, "combine_chunks"):  # ChunkedArray
            x = x.combine_chunks()
        if x.null_count:
            raise InputError(f"{what} has {x.null_count} missing values (nulls); drop or fill them first")
        a = x.to_numpy(zero_copy_only=False)
    elif hasattr(x, "__array__"):
        a = np.asarray(x)
    elif hasattr(x, "__dlpack__"):
        a = np.from_dlpack(x)
    else:
        try:
            a = np.asarray(x)
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{what}: cannot be read as an array ({e})") from None
    if a.ndim == 0 or a.ndim > 2 or (a.ndim == 2 and not scores):
        raise InputError(
            f"{what} has {a.ndim} dimensions; pass a 1-D array"
            + (" (or rows × classes for multiclass scores)" if scores else "")
        )
    kind = a.dtype.kind
    if kind == "b":
        a = a.view(np.uint8)
    elif kind in "iu":
        pass
    elif kind == "f":
        if a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
    else:
        raise InputError(f"{what} has dtype {a.dtype}; pass integers, booleans or floats")
    return np.ascontiguousarray(a)


@dataclass(frozen=True)
class Metric:
    """One metric: value, interval and how the interval was made."""

    value: Optional[float]
    ci: Optional[Tuple[float, float]]
    method: str
    reason: Optional[str] = None
    std_error: Optional[float] = None

    def require(self) -> float:
        """The value, or :class:`UndefinedMetricError` with the reason."""
        if self.value is None:
            raise UndefinedMetricError(self.reason or "undefined")
        return self.value

    def __repr__(self) -> str:
        if self.value is None:
            return f"Metric(n/a: {self.reason})"
        if self.method == "exact":
            return f"Metric({self.value:.6g}, exact: every row)"
        ci = f" [{self.ci[0]:.6g}, {self.ci[1]:.6g}]" if self.ci else ""
        return f"Metric({self.value:.6g}{ci})"


def _ids(values: ArrayLike, role: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Ids for the Rust side (clusters, queries): integers, booleans and
    floats as they are (equal values are one group, as on the command
    line); strings and other objects coded by their sorted distinct values,
    also returned to name the groups again (the groups are the same, but
    their random draws differ from the CLI's, which hashes the strings
    themselves)."""
    if type(values).__module__.startswith("pyarrow") and hasattr(values, "null_count"):
        if values.null_count:
            raise InputError(f"{role} has {values.null_count} missing values (nulls): every row needs a {role}")
    a = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if a.ndim != 1:
        raise InputError(f"{role} has {a.ndim} dimensions; pass one {role} id per row")
    if a.dtype.kind in "biuf":
        return _as_array(a, role), None
    if a.dtype.kind == "O" and any(v is None for v in a):
        raise InputError(f"{role} has missing values (None): every row needs a {role}")
    try:
        uniques, codes = np.unique(a.astype(str) if a.dtype.kind in "OSU" else a, return_inverse=True)
    except TypeError as e:
        raise InputError(f"{role}: cannot be read as ids ({e})") from None
    return np.ascontiguousarray(codes.astype(np.int64)), uniques


def _clusters(cluster: Optional[ArrayLike]) -> Optional[np.ndarray]:
    """Cluster ids for the Rust side (see :func:`_ids`)."""
    return None if cluster is None else _ids(cluster, "cluster")[0]


def _query_ids(query: ArrayLike) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Query ids for the Rust side and, when coded, the ids they stand for
    (see :func:`_ids`)."""
    return _ids(query, "query")


def _same_length(y: np.ndarray, s: np.ndarray, what: str = "scores") -> None:
    if len(y) != len(s):
        raise InputError(f"{len(y)} labels but {len(s)} {what}: y_true and y_score must have one entry per row")


def _is_lazy(x: Any) -> bool:
    return type(x).__module__.startswith("polars") and type(x).__name__ == "LazyFrame"


def _is_frame(x: Any) -> bool:
    """A pandas or polars DataFrame or a pyarrow Table."""
    mod = type(x).__module__
    if mod.startswith("pyarrow"):
        return hasattr(x, "column_names") and hasattr(x, "num_rows")
    return (mod.startswith("pandas") or mod.startswith("polars")) and hasattr(x, "columns") and hasattr(x, "shape")


def _frame_column(frame: Any, name: str, role: str, *, scores: bool = False) -> np.ndarray:
    """Column ``name`` of a frame as an array (zero-copy where the buffers
    allow); a missing or non-numeric column is a :class:`ColumnError`."""
    arrow = type(frame).__module__.startswith("pyarrow")
    cols = list(frame.column_names) if arrow else [str(c) for c in frame.columns]
    if name not in cols:
        shown = ", ".join(cols[:20]) + (", …" if len(cols) > 20 else "")
        raise ColumnError(f"column '{name}' ({role}) is not in the frame; it has: {shown}")
    col = frame.column(name) if arrow else frame[name]
    if type(frame).__module__.startswith("pandas"):
        col = col.to_numpy()
    try:
        return _as_array(col, f"column '{name}' ({role})", scores=scores)
    except ColumnError:
        raise
    except InputError as e:
        raise ColumnError(str(e)) from None


def _from_frame(
    frame: Any,
    label: Optional[str],
    score: Union[str, Sequence[str], None],
    weight: Optional[str],
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Labels, scores (several columns: one probability column per class)
    and weights from a frame, by column name (defaults as the CLI's:
    ``label`` and ``score``)."""
    if _is_lazy(frame):
        raise UsageError("a lazy polars frame: call .collect() on it first (evalkit reads the columns in memory)")
    if not _is_frame(frame):
        raise InputError(
            f"label=/score= name columns of a frame, but got {type(frame).__name__}: "
            "pass a pandas or polars DataFrame or a pyarrow Table (or arrays without label=/score=)"
        )
    y = _frame_column(frame, label or "label", "label")
    names = [score] if isinstance(score, str) or score is None else list(score)
    cols = [_frame_column(frame, n or "score", "score", scores=True) for n in names]
    s = cols[0] if len(cols) == 1 else np.ascontiguousarray(np.column_stack(cols))
    w = None if weight is None else _frame_column(frame, weight, "weight")
    return y, s, w


def _rows_or_frame(
    y_true: Any,
    y_score: Any,
    weights: Optional[ArrayLike],
    label: Optional[str],
    score: Union[str, Sequence[str], None],
    weight: Optional[str],
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Any]:
    """Arrays from ``(y_true, y_score, weights)``, or from the frame in
    ``y_true`` with ``label=``/``score=``/``weight=`` column names; the
    frame (or ``None``) comes back for other named columns."""
    framed = label is not None or score is not None or weight is not None or _is_frame(y_true) or _is_lazy(y_true)
    if not framed:
        if y_score is None:
            raise UsageError("pass y_true and y_score arrays, or a frame with label= and score= column names")
        return (*_inputs(y_true, y_score, weights), None)
    if y_score is not None or weights is not None:
        raise UsageError("pass either arrays (y_true, y_score, weights=) or a frame with label=, score= and weight= column names, not both")
    return (*_from_frame(y_true, label, score, weight), y_true)


def _named(frame: Any, value: Any, role: str) -> Any:
    """A column name given with a frame (``query="qid"``) as the column."""
    if frame is not None and isinstance(value, str):
        return _frame_column(frame, value, role)
    return value


def _frame_values(frame: Any, name: str, role: str) -> Any:
    """Column ``name`` of a frame as the frame holds it (a pandas or polars
    Series, a pyarrow ChunkedArray); a missing column is a
    :class:`ColumnError` listing the frame's columns."""
    arrow = type(frame).__module__.startswith("pyarrow")
    cols = list(frame.column_names) if arrow else [str(c) for c in frame.columns]
    if name not in cols:
        shown = ", ".join(cols[:20]) + (", …" if len(cols) > 20 else "")
        raise ColumnError(f"column '{name}' ({role}) is not in the frame; it has: {shown}")
    return frame.column(name) if arrow else frame[name]


def _key_values(values: Any, role: str) -> Any:
    """A key column (row ids, slice keys) for the Rust side: a numeric
    array without missing values as a numpy array (zero-copy where it can
    be), anything else as a list with ``None`` for missing values (pandas'
    NaN and NA, polars' and pyarrow's nulls)."""
    mod = type(values).__module__
    if mod.startswith("pandas"):
        if values.dtype.kind in "iuf" and not values.isna().any():
            return np.ascontiguousarray(values.to_numpy())
        return values.astype(object).where(values.notna(), None).tolist()
    if mod.startswith("polars"):
        if values.dtype.is_numeric() and values.null_count() == 0:
            return np.ascontiguousarray(values.to_numpy())
        return values.to_list()
    if mod.startswith("pyarrow"):
        return _batches.key_values(values)
    a = np.asarray(values)
    if a.ndim != 1:
        raise InputError(f"{role} has {a.ndim} dimensions; pass one value per row")
    if a.dtype.kind in "iuf":
        return np.ascontiguousarray(a)
    return a.tolist()


SliceSpec = Union[str, Sequence[Union[str, Sequence[str]]], Dict[Any, Any]]


def _slicings(slice: Optional[SliceSpec], frame: Any, rows: int) -> Tuple[List[List[str]], List[Tuple[str, Any]]]:
    """Slicings (each a list of crossed column names) and the key columns
    they need, from ``slice=``: with a frame, column names (``"region"``,
    ``["region", "device"]`` for two slicings, ``[("region", "device")]`` or
    ``"region,device"`` for one crossed slicing); with arrays, a dict of
    name → values (``{("region", "device"): (r, d)}`` crosses)."""
    if slice is None:
        return [], []
    specs: List[List[str]] = []
    columns: Dict[str, Any] = {}
    if isinstance(slice, dict):
        for key, values in slice.items():
            names = [key] if isinstance(key, str) else [str(k) for k in key]
            vals = [values] if isinstance(key, str) else list(values)
            if len(vals) != len(names):
                raise UsageError(f"slice={{{key!r}: ...}}: give one array per crossed column ({len(names)})")
            for n, v in zip(names, vals):
                kv = _key_values(v, f"slice '{n}'")
                if len(kv) != rows:
                    raise InputError(f"slice '{n}' has {len(kv)} values but there are {rows} rows: give one key per row")
                columns[n] = kv
            specs.append(names)
        return specs, list(columns.items())
    if frame is None:
        raise UsageError("slice= names columns of a frame; with arrays pass slice={'name': values}")
    specs = _slice_names(slice, "")
    for n in dict.fromkeys(c for names in specs for c in names):
        columns[n] = _key_values(_frame_values(frame, n, "slice"), f"slice '{n}'")
    return specs, list(columns.items())


def _slice_names(slice: Optional[SliceSpec], no_dict: str) -> List[List[str]]:
    """Slicings named by ``slice=``: ``"region"``, ``"region,device"``
    (crossed), or a list of names and tuples of names; a dict is refused
    with ``no_dict``."""
    if slice is None:
        return []
    if isinstance(slice, dict):
        raise UsageError(no_dict)
    items = [slice] if isinstance(slice, str) else list(slice)
    return [[c.strip() for c in i.split(",") if c.strip()] if isinstance(i, str) else [str(c) for c in i] for i in items]


def _inputs(
    y_true: ArrayLike, y_score: ArrayLike, weights: Optional[ArrayLike]
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Labels, scores and weights as arrays for the Rust side, checked for
    one score per label."""
    y = _as_array(y_true, "y_true")
    s = _as_array(y_score, "y_score", scores=True)
    w = None if weights is None else _as_array(weights, "weights")
    _same_length(y, s)
    return y, s, w


def _metric(d: Dict[str, Any]) -> Metric:
    ci = d.get("ci")
    return Metric(
        value=d.get("value"),
        ci=(ci[0], ci[1]) if ci else None,
        method=d.get("method", "none"),
        reason=d.get("reason"),
        std_error=d.get("std_error"),
    )


def _flat(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    """``value`` under ``prefix`` as flat cells: an interval ``[lo, hi]``
    (a key ending in ``ci``) as ``…_lower``/``…_upper``, a metric
    ``{value, ci, ...}`` as ``prefix``, ``prefix_ci_lower``,
    ``prefix_ci_upper``, other dicts by their keys."""
    if isinstance(value, dict) and "value" in value and "ci" in value:
        out[prefix] = value["value"]
        ci = value.get("ci")
        out[f"{prefix}_ci_lower"] = ci[0] if ci else None
        out[f"{prefix}_ci_upper"] = ci[1] if ci else None
    elif isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}_{k}" if prefix else k, v, out)
    elif prefix.endswith("ci") and (value is None or isinstance(value, list)):
        out[f"{prefix}_lower"] = value[0] if value else None
        out[f"{prefix}_upper"] = value[1] if value else None
    else:
        out[prefix] = value


def _records(rows: List[Dict[str, Any]]) -> Dict[str, list]:
    """A list of JSON objects as columns (nested objects flattened, see
    :func:`_flat`; a key missing from a row is ``None``)."""
    flat = []
    for r in rows:
        cells: Dict[str, Any] = {}
        _flat("", r, cells)
        flat.append(cells)
    names = list(dict.fromkeys(k for f in flat for k in f))
    return {k: [f.get(k) for f in flat] for k in names}


def _slice_table(slices: List[Dict[str, Any]]) -> Dict[str, list]:
    """Slices in long form: one row per (slice, metric) with the slicing,
    each key column, the slice's counts and test, and the metric's value
    and interval (a comparison adds the baseline's value and the paired
    difference)."""
    keys = list(dict.fromkeys(k for sl in slices for k in sl["key"]))
    # A key column named like one of the table's own columns is key_<name>.
    own = {"slicing", "rows", "too_small", "positives", "negatives", "p_value", "p_holm", "p_bh", "flagged",
           "metric", "value", "ci_lower", "ci_upper", "reason", "baseline", "delta", "delta_ci_lower",
           "delta_ci_upper"}
    named = {k: f"key_{k}" if k in own else k for k in keys}
    rows: List[Dict[str, Any]] = []
    for sl in slices:
        base: Dict[str, Any] = {"slicing": ",".join(sl["by"])}
        for k in keys:
            base[named[k]] = sl["key"].get(k)
        for k in ("rows", "too_small", "positives", "negatives"):
            if k in sl:
                base[k] = sl[k]
        test = sl.get("versus_rest") or sl.get("versus_baseline") or {}
        for k in ("p_value", "p_holm", "p_bh", "flagged"):
            base[k] = test.get(k)
        for metric, m in sl["metrics"].items():
            ci = m.get("ci")
            row = dict(base, metric=metric, value=m.get("value"))
            row["ci_lower"], row["ci_upper"] = (ci[0], ci[1]) if ci else (None, None)
            row["reason"] = m.get("reason")
            if "delta" in sl:
                b = sl.get("baseline", {}).get(metric) or {}
                dm = sl["delta"].get(metric) or {}
                dci = dm.get("ci")
                row["baseline"] = b.get("value")
                row["delta"] = dm.get("value")
                row["delta_ci_lower"], row["delta_ci_upper"] = (dci[0], dci[1]) if dci else (None, None)
            rows.append(row)
    cols = _records(rows)
    return cols


class Result:
    """A tier's result: ``result["roc_auc"].value``, ``.ci``, and
    ``to_dict()`` — the CLI's ``--json`` document."""

    def __init__(self, doc: Dict[str, Any], inputs: Optional[tuple] = None, state: Optional[bytes] = None):
        self._doc = doc
        self._inputs = inputs
        # A result finished from a state (an engine's, full_from_state)
        # keeps the state, so evalkit.report can draw it.
        self._state = state
        self.metrics: Dict[str, Metric] = {k: _metric(v) for k, v in doc.get("metrics", {}).items()}
        self.delta: Dict[str, Metric] = {k: _metric(v) for k, v in doc.get("delta", {}).items()}
        self.baseline: Dict[str, Metric] = {k: _metric(v) for k, v in doc.get("baseline", {}).items()}

    @property
    def task(self) -> str:
        return self._doc["task"]

    @property
    def rows(self) -> int:
        return self._doc["rows"]

    @property
    def warnings(self) -> List[str]:
        return list(self._doc.get("warnings", []))

    @property
    def operating_points(self) -> List[Dict[str, Any]]:
        """The operating points asked for (binary ``full``): each with its
        ``constraint``, ``objective``, ``threshold`` (``None`` with a
        ``reason`` when none qualifies), ``bound``, ``metrics`` and the
        optimism-corrected ``expected`` metrics."""
        return json.loads(json.dumps(self._doc.get("operating_points", [])))

    def __getitem__(self, name: str) -> Metric:
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(f"no metric {name!r}; this {self.task} result has: {', '.join(self.metrics)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.metrics

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def to_dict(self) -> Dict[str, Any]:
        """The document the CLI prints with ``--json``."""
        return json.loads(json.dumps(self._doc))

    def _table(self) -> Dict[str, list]:
        """The metrics as columns: metric, value, ci_lower, ci_upper,
        method, reason (and delta, delta_ci_lower, delta_ci_upper for a
        comparison)."""
        names = list(self.metrics)
        ms = [self.metrics[n] for n in names]
        cols: Dict[str, list] = {
            "metric": names,
            "value": [m.value for m in ms],
            "ci_lower": [m.ci[0] if m.ci else None for m in ms],
            "ci_upper": [m.ci[1] if m.ci else None for m in ms],
            "method": [m.method for m in ms],
            "reason": [m.reason for m in ms],
        }
        if self.delta:
            ds = [self.delta.get(n) for n in names]
            cols["delta"] = [d.value if d else None for d in ds]
            cols["delta_ci_lower"] = [d.ci[0] if d and d.ci else None for d in ds]
            cols["delta_ci_upper"] = [d.ci[1] if d and d.ci else None for d in ds]
        return cols

    def _repr_html_(self) -> str:
        """Notebooks: the headline metrics with intervals (every metric
        under a fold), a small ROC curve for binary results, and for a
        comparison the paired differences coloured green (better beyond the
        interval), red (worse) or grey."""
        return _html.result_html(self._doc)

    @property
    def tables(self) -> List[str]:
        """The tables this result has, for :meth:`to_arrow`, :meth:`to_pandas`
        and :meth:`to_polars`: ``metrics`` always; ``per_class`` (multiclass),
        ``sweep`` (binary threshold sweep), ``reliability`` (calibration bins),
        ``confusion`` (long form), ``slices`` (with ``slice=``),
        ``per_query`` (a ranking with ``per_query=True``) and
        ``operating_points`` where the result holds them."""
        d = self._doc
        out = ["metrics"]
        for name, key in (
            ("per_class", "per_class"),
            ("sweep", "sweep"),
            ("reliability", "reliability"),
            ("confusion", "confusion_matrix"),
            ("slices", "slices"),
            ("per_query", "per_query"),
            ("operating_points", "operating_points"),
        ):
            if d.get(key):
                out.append(name)
        return out

    def table(self, name: str = "metrics") -> Dict[str, list]:
        """Table ``name`` (see :attr:`tables`) as columns: a dict of column
        name → list, one entry per row, ready for any data-frame library."""
        if name not in self.tables:
            raise UsageError(f"this result has no {name!r} table; it has: {', '.join(self.tables)}")
        d = self._doc
        if name == "metrics":
            return self._table()
        if name == "per_class":
            return _records(d["per_class"])
        if name == "sweep":
            return {k: v for k, v in d["sweep"].items() if isinstance(v, list)}
        if name == "reliability":
            return {k: v for k, v in d["reliability"].items() if isinstance(v, list)}
        if name == "confusion":
            cm = d["confusion_matrix"]
            labels = cm["labels"]
            cols: Dict[str, list] = {"actual": [], "predicted": [], "count": []}
            for i, row in enumerate(cm["matrix"]):
                for j, c in enumerate(row):
                    cols["actual"].append(labels[i])
                    cols["predicted"].append(labels[j])
                    cols["count"].append(c)
            return cols
        if name == "slices":
            return _slice_table(d["slices"])
        if name == "per_query":
            return dict(d["per_query"])
        return _records(d["operating_points"])

    def to_arrow(self, table: str = "metrics") -> Any:
        """A table (see :attr:`tables`; the metric table by default, one row
        per metric) as a pyarrow Table."""
        import pyarrow as pa

        return pa.table(self.table(table))

    def to_pandas(self, table: str = "metrics") -> Any:
        """A table (see :attr:`tables`; the metric table by default) as a
        pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table(table))

    def to_polars(self, table: str = "metrics") -> Any:
        """A table (see :attr:`tables`; the metric table by default) as a
        polars DataFrame."""
        import polars as pl

        return pl.DataFrame(self.table(table), strict=False)

    def __repr__(self) -> str:
        lines = [f"evalkit {self._doc.get('tier', '')} · {self.task} · {self.rows} rows"]
        width = max((len(k) for k in self.metrics), default=0)
        for k, m in self.metrics.items():
            lines.append(f"  {k:<{width}}  {m!r}")
        return "\n".join(lines)


def _options(task: Optional[str], score_kind: Optional[str]) -> Dict[str, Any]:
    return {"task": task, "score_kind": score_kind}


def _sample_size(sample: Union[int, str, None]) -> Optional[int]:
    """The CLI's ``--sample``: a row count, or ``"all"`` (or ``None``) for
    every row."""
    if sample is None or (isinstance(sample, str) and sample == "all"):
        return None
    if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool):
        if sample >= 1:
            return int(sample)
        raise UsageError(f"sample={sample}: the sample needs at least 1 row (or sample='all' for every row)")
    raise UsageError(f"sample={sample!r}: give a row count, or 'all' (or None) for every row")


def fast(
    y_true: ArrayLike,
    y_score: Optional[ArrayLike] = None,
    *,
    label: Optional[str] = None,
    score: Union[str, Sequence[str], None] = None,
    weight: Optional[str] = None,
    sample: Union[int, str, None] = 10_000,
    seed: int = 0,
    threshold: float = 0.5,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    weights: Optional[ArrayLike] = None,
    query: Optional[ArrayLike] = None,
) -> Result:
    """The fast tier: log loss (or MSE) and accuracy with standard errors on a
    stratified, seeded sample (``sample="all"`` or ``None``: every row, and
    the values are exact, with no interval). With ``query`` (a ranking):
    whole queries drawn, NDCG, MAP and recall at 10 and MRR with standard
    errors over queries.

    >>> import numpy as np, evalkit
    >>> r = evalkit.fast(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4]))
    >>> round(r["accuracy"].value, 3)
    1.0
    >>> r["accuracy"]
    Metric(1, exact: every row)
    """
    y, s, w, frame = _rows_or_frame(y_true, y_score, weights, label, score, weight)
    query = _named(frame, query, "query")
    q = None if query is None else _query_ids(query)[0]
    if q is not None:
        _same_length(y, q, "query ids")
    doc = _evalkit.fast(y, s, w, task, score_kind, _sample_size(sample), seed, threshold, "arrays", q)
    return Result(json.loads(doc), (y, s, w, task, score_kind, {}, None, q))


def full(
    y_true: ArrayLike,
    y_score: Optional[ArrayLike] = None,
    *,
    label: Optional[str] = None,
    score: Union[str, Sequence[str], None] = None,
    weight: Optional[str] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    weights: Optional[ArrayLike] = None,
    cluster: Optional[ArrayLike] = None,
    operating_points: Sequence[str] = (),
    certified: bool = True,
    cost: Optional[Union[str, Dict[str, Any]]] = None,
    max_fpr: Optional[float] = None,
    tpr_at_fpr: Sequence[float] = (),
    query: Optional[ArrayLike] = None,
    k: Sequence[int] = (1, 5, 10),
    gain: str = "linear",
    empty_queries: str = "zero",
    per_query: bool = False,
    slice: Optional[SliceSpec] = None,
    min_slice: int = 30,
    metrics: Union[str, Sequence[str], None] = None,
) -> Result:
    """The full tier: every metric of the task with bootstrap intervals
    (``bootstrap=0`` turns them off; ROC-AUC keeps DeLong's). The GIL is
    released while it runs.

    ``metrics=["roc_auc", "average_precision", "best_f1"]`` computes and
    reports only those (and what they need), as ``evalkit full --metrics``:
    the bootstrap skips the parts no asked-for metric uses. An unknown name
    is a :class:`UsageError` listing the task's metrics.

    ``query``: one query id per row makes the task a ranking (``y_true``
    the relevance, ``y_score`` the score of each (query, item) row): NDCG,
    MAP, precision, recall and hit rate at each cutoff in ``k``, MRR, and
    NDCG and MAP of the whole list, averaged over queries with intervals
    from a query-level bootstrap, as ``evalkit full --task ranking``.
    ``gain="exponential"`` uses ``2**rel - 1``; ``empty_queries="drop"``
    leaves queries without a relevant item out of the means (by default
    they score 0, as in trec_eval); ``per_query=True`` adds every query's
    values as columns under ``result.to_dict()["per_query"]``.

    ``operating_points`` (binary): constraints such as ``"precision>=0.95"``
    or ``"fpr<=0.01,maximize=recall"``, as ``evalkit full --operating-point``;
    each threshold is certified at the constraint's one-sided Clopper–Pearson
    bound unless ``certified=False``. The results are in
    ``result.operating_points`` (dicts, as the CLI's JSON).

    ``cost="fp=1,fn=20"`` (binary): the cost-optimal threshold, the cost
    curve and the decision curve, as ``evalkit full --cost``, in
    ``result.to_dict()["cost"]`` and ``["decision_curve"]``; per-row costs
    as ``cost={"fp": 1.0, "fn": amounts}`` (an array, one cost per row).

    ``max_fpr=0.1`` adds ``partial_roc_auc`` (McClish-standardised, as
    scikit-learn's ``roc_auc_score(max_fpr=0.1)``); ``tpr_at_fpr=[0.01]``
    adds ``tpr_at_fpr_0.01`` (the best TPR of a threshold with FPR ≤ 0.01),
    both with bootstrap intervals.

    ``thresholds``: the sweep's grid size, or ``"distinct"`` for every
    distinct score (one row per operating point of the ROC curve), as
    ``evalkit full --thresholds distinct``.

    Frames: ``evalkit.full(df, label="y", score="p", weight="w")`` reads
    the columns of a pandas or polars DataFrame or a pyarrow Table
    (zero-copy where the buffers allow; ``score=["p0", "p1", "p2"]`` for one
    probability column per class; ``query=`` and ``cluster=`` may name
    columns too). A missing or non-numeric column is a
    :class:`ColumnError`; a lazy polars frame a :class:`UsageError`.

    ``cluster``: one id per row (user, patient, session, query); the
    bootstrap then resamples whole clusters, and ROC-AUC's analytic interval
    is Obuchowski's clustered one instead of DeLong's.
    ``resample="stratified"`` keeps each class's count in every replicate;
    ``method="bca"`` gives BCa intervals.

    ``slice``: the full tier per slice as ``evalkit full --slice``, each
    slice tested against the rest (Holm- and BH-adjusted p-values): column
    names of the frame (``slice="region"``, ``slice=["region", "device"]``
    for two slicings, ``slice=[("region", "device")]`` for one crossed
    slicing), or with arrays ``slice={"region": values}``. Slices with fewer
    than ``min_slice`` rows get point metrics but no intervals. The slices
    are in ``result.to_dict()["slices"]`` and as a table:
    ``result.to_pandas("slices")``.

    >>> import numpy as np, evalkit
    >>> r = evalkit.full(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), bootstrap=0)
    >>> r["roc_auc"].value, r.task
    (0.75, 'binary')
    """
    y, s, w, frame = _rows_or_frame(y_true, y_score, weights, label, score, weight)
    cluster = _named(frame, cluster, "cluster")
    query = _named(frame, query, "query")
    g = _clusters(cluster)
    if g is not None:
        _same_length(y, g, "cluster ids")
    q, names = (None, None) if query is None else _query_ids(query)
    if q is not None:
        _same_length(y, q, "query ids")
    slices, columns = _slicings(slice, frame, len(y))
    if isinstance(operating_points, str):
        operating_points = [operating_points]
    cost_arrays: Dict[str, np.ndarray] = {}
    if isinstance(cost, dict):
        if sorted(cost) != ["fn", "fp"]:
            raise UsageError(f"cost= needs exactly the keys 'fp' and 'fn'; got {sorted(cost)}")
        parts = []
        for key in ("fp", "fn"):
            v = cost[key]
            if np.ndim(v) == 0:
                parts.append(f"{key}={float(v)!r}")
            else:
                cost_arrays[key] = _as_array(np.asarray(v, dtype=np.float64), f"cost {key}")
                parts.append(f"{key}=cost_{key}")
        cost = ",".join(parts)
    doc = _evalkit.full(
        y,
        s,
        w,
        task,
        score_kind,
        bootstrap,
        ci,
        method,
        resample,
        seed,
        threshold,
        str(thresholds),
        "arrays",
        g,
        list(operating_points),
        certified,
        cost,
        max_fpr,
        [float(x) for x in tpr_at_fpr],
        cost_arrays.get("fp"),
        cost_arrays.get("fn"),
        q,
        [int(x) for x in k],
        gain,
        empty_queries,
        per_query,
        columns,
        slices,
        min_slice,
        _metrics_arg(metrics),
    )
    doc = json.loads(doc)
    if names is not None and "per_query" in doc:
        doc["per_query"]["query"] = [names[i].item() for i in doc["per_query"]["query"]]
    return Result(doc, (y, s, w, task, score_kind, dict(columns), g, q))


def _metrics_arg(metrics: Union[str, Sequence[str], None]) -> Optional[str]:
    """``metrics=`` for the Rust side: ``None`` (every metric) or the names
    comma-separated."""
    if metrics is None:
        return None
    if isinstance(metrics, str):
        return metrics
    return ",".join(str(m) for m in metrics)


def _is_model(x: Any) -> bool:
    """A whole model's predictions: a frame or a prediction file's path."""
    return isinstance(x, (str, os.PathLike)) or _is_frame(x) or _is_lazy(x)


def _model(
    role: str,
    x: Any,
    label: Optional[str],
    score: Union[str, Sequence[str], None],
    weight: Optional[str],
    keys: Sequence[str],
    cluster: Optional[str] = None,
    id: Optional[str] = None,
) -> tuple:
    """One model of a comparison or report for the Rust side: a prediction
    file (read there, with the passthrough columns ``keys``) or a frame's
    columns (with those key columns)."""
    if isinstance(x, (str, os.PathLike)):
        scores = None if score is None else ([score] if isinstance(score, str) else list(score))
        return ("file", os.fspath(x), label or "label", scores or ["score"], weight, list(keys), cluster)
    try:
        y, s, w = _from_frame(x, label, score, weight)
        columns = [(k, _key_values(_frame_values(x, k, "id" if k == id else "slice"), f"column '{k}'")) for k in keys]
    except ColumnError as e:
        raise ColumnError(f"the {role}'s frame: {e}") from None
    return ("arrays", role, y, s, w, columns)


def compare(
    y_true: Any = None,
    candidate: Any = None,
    baseline: Any = None,
    *,
    id: Optional[str] = None,
    label: Optional[str] = None,
    score: Union[str, Sequence[str], None] = None,
    weight: Optional[str] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    weights: Optional[ArrayLike] = None,
    cluster: Any = None,
    slice: Optional[SliceSpec] = None,
    min_slice: int = 30,
    metrics: Union[str, Sequence[str], None] = None,
) -> Result:
    """Candidate vs baseline on the same rows: ``result.delta["roc_auc"]``
    is the paired difference with its interval (the same resamples for
    both), ``result.to_dict()["delong"]`` DeLong's paired test (binary).

    Two forms:

    - arrays on the same rows: ``compare(y_true, candidate_scores,
      baseline_scores, weights=..., cluster=..., slice={"region": keys})``;
    - two models as frames (pandas, polars, pyarrow) or prediction files:
      ``compare(candidate=df_a, baseline=df_b, id="row_id", label="y",
      score="p")`` (or positionally ``compare(df_a, df_b, id=...)``), as
      ``evalkit compare a.arrow b.arrow --id row_id``: rows are matched by
      the id column both have (integers or strings; baseline rows whose id
      the candidate lacks are left out, with a warning), else by position
      with the labels checked row by row. ``weight=`` names the weight
      column of both; ``cluster=`` and ``slice=`` name columns of the
      candidate (files: passthrough columns).

    With ``cluster`` the resamples are of whole clusters and
    ``result.to_dict()["obuchowski"]`` holds the clustered paired test.
    ``slice``: per-slice paired differences (``result.to_pandas("slices")``),
    as ``evalkit compare --slice``. ``metrics=[...]``: only those metrics,
    as ``--metrics``."""
    if baseline is None and _is_model(y_true) and _is_model(candidate):
        y_true, candidate, baseline = None, y_true, candidate
    elif candidate is None and _is_model(y_true) and _is_model(baseline):
        y_true, candidate = None, y_true
    if y_true is None:
        if not (_is_model(candidate) and _is_model(baseline)):
            raise UsageError(
                "compare needs (y_true, candidate_scores, baseline_scores) arrays, "
                "or candidate= and baseline= frames or prediction files"
            )
        if weights is not None:
            raise UsageError("weights=: with frames or files, weight= names the weight column")
        slices = _slice_names(slice, "slice= names columns of the candidate (a dict of arrays is for the arrays form)")
        keys = [id] if id else []
        slice_cols = [c for c in dict.fromkeys(c for sl in slices for c in sl) if c not in keys]
        cluster_col = cluster if isinstance(cluster, str) else None
        if cluster is not None and cluster_col is None:
            raise UsageError("cluster=: with frames or files, name the candidate's cluster column")
        if isinstance(candidate, (str, os.PathLike)):
            cand = _model("candidate", candidate, label, score, weight, keys + slice_cols, cluster_col, id)
            g = None
        else:
            cand = _model("candidate", candidate, label, score, weight, keys + slice_cols, None, id)
            g = None if cluster_col is None else _clusters(_frame_values(candidate, cluster_col, "cluster"))
        base = _model("baseline", baseline, label, score, weight, keys, None, id)
    else:
        if id is not None:
            raise UsageError("id= matches the rows of two frames or files; arrays are paired by position")
        if label is not None or score is not None or weight is not None:
            raise UsageError("label=/score=/weight= name columns of frames; pass candidate= and baseline= frames")
        y = _as_array(y_true, "y_true")
        c = _as_array(candidate, "candidate", scores=True)
        b = _as_array(baseline, "baseline", scores=True)
        w = None if weights is None else _as_array(weights, "weights")
        _same_length(y, c, "candidate scores")
        _same_length(y, b, "baseline scores")
        g = _clusters(cluster)
        if g is not None:
            _same_length(y, g, "cluster ids")
        slices, columns = _slicings(slice, None, len(y))
        cand = ("arrays", "candidate", y, c, w, columns)
        base = ("arrays", "baseline", y, b, w, [])
    doc = _evalkit.compare(
        cand, base, id, task, score_kind, bootstrap, ci, method, resample, seed, threshold, str(thresholds), g,
        slices, min_slice, _metrics_arg(metrics),
    )
    return Result(json.loads(doc))


def power(
    *,
    value: float,
    effect: float,
    metric: str = "roc_auc",
    prevalence: float = 0.5,
    power: float = 0.8,
    alpha: float = 0.05,
    paired: Optional[float] = None,
) -> dict:
    """Rows an evaluation needs to detect ``effect`` away from ``value`` with
    the given power (``evalkit power``): Hanley & McNeil's variance for
    ``roc_auc``, a proportion's for ``accuracy``; ``paired=R`` for two models
    on the same rows whose estimates correlate ``R``. Returns the CLI's JSON
    document as a dict (``rows``, ``positives``, ``negatives``, ...).

    >>> import evalkit
    >>> evalkit.power(metric="accuracy", value=0.9, effect=-0.01)["rows"]
    7248
    """
    return json.loads(_evalkit.power(metric, value, effect, prevalence, power, alpha, paired))


def infer(
    model: Union[str, os.PathLike],
    data: Union[str, os.PathLike],
    output: Union[str, os.PathLike],
    *,
    label: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    keep: Sequence[str] = (),
    where: Optional[str] = None,
    fill_null: Optional[float] = None,
    batch_size: int = 4096,
    device: str = "cpu",
    threads: int = 0,
    output_name: Optional[str] = None,
    score_kind: str = "probability",
    task: Optional[str] = None,
    classes: Optional[Sequence[str]] = None,
    cache_dir: Optional[Union[str, os.PathLike]] = None,
    no_cache: bool = False,
) -> dict:
    """One inference pass (``evalkit infer``): runs ``model`` over ``data``
    through ONNX Runtime and writes the prediction file ``output``, cached by
    content (the same model on the same data never runs twice). Returns the
    CLI's JSON document (``cache["status"]`` is ``"hit"``, ``"miss"`` or
    ``"disabled"``; ``inference`` holds rows/s and latencies). Read the
    predictions with :func:`read_predictions`. The GIL is released while it
    runs."""
    return json.loads(
        _evalkit.infer(
            os.fspath(model),
            os.fspath(data),
            os.fspath(output),
            label,
            list(features) if features is not None else None,
            list(keep),
            where,
            fill_null,
            int(batch_size),
            device,
            int(threads),
            output_name,
            score_kind,
            task,
            list(classes) if classes is not None else None,
            os.fspath(cache_dir) if cache_dir is not None else None,
            bool(no_cache),
        )
    )


@dataclass(frozen=True)
class Verdict:
    """One gate's verdict in a suite run."""

    gate: str
    line: int
    verdict: str  # "pass", "fail" or "inconclusive"
    passed: bool
    value: Optional[float]
    interval: Optional[Tuple[float, float]]
    judged_on: str
    measured: Optional[float]
    unit: str
    mde: Optional[float]
    detail: str


class SuiteRun:
    """What ``evalkit run SUITE`` found: ``passed``, ``exit_status`` (0 or 1,
    what the CLI would exit with), ``gates`` (:class:`Verdict` objects), the
    full tier's ``metrics`` and the ``delta`` against the baseline."""

    def __init__(self, doc: Dict[str, Any]):
        self._doc = doc
        self.name: str = doc["name"]
        self.passed: bool = doc["passed"]
        self.exit_status: int = doc["exit_status"]
        self.gates: List[Verdict] = [
            Verdict(**{**g, "interval": tuple(g["interval"]) if g.get("interval") else None}) for g in doc["gates"]
        ]
        self.metrics: Dict[str, Metric] = {k: _metric(v) for k, v in (doc.get("metrics") or {}).items()}
        self.delta: Dict[str, Metric] = {k: _metric(v) for k, v in (doc.get("delta") or {}).items()}
        self.warnings: List[str] = list(doc.get("warnings", []))
        self.notes: List[str] = list(doc.get("notes", []))
        self.report: Optional[str] = doc.get("report")

    def to_dict(self) -> Dict[str, Any]:
        """The document the CLI prints with ``evalkit run --json`` (plus
        ``notes`` and ``exit_status``)."""
        return json.loads(json.dumps(self._doc))

    def _repr_html_(self) -> str:
        """Notebooks: the verdicts, coloured."""
        return _html.suite_html(self._doc)

    def __repr__(self) -> str:
        failed = [g for g in self.gates if not g.passed]
        return f"SuiteRun({self.name!r}, {'passed' if self.passed else f'{len(failed)} of {len(self.gates)} gates failed'})"


def run_suite(
    path: Union[str, os.PathLike],
    *,
    cache_dir: Optional[Union[str, os.PathLike]] = None,
    report: Optional[Union[str, os.PathLike]] = None,
) -> SuiteRun:
    """Runs a suite as ``evalkit run`` does (inference only on a cache miss,
    the tiers the gates need, every gate's verdict, the report) and returns
    a :class:`SuiteRun`; a failing gate is not an exception
    (``run.exit_status == 1``), a bad suite is (:class:`UsageError` naming
    the line)."""
    return SuiteRun(
        json.loads(
            _evalkit.run_suite(
                os.fspath(path),
                os.fspath(cache_dir) if cache_dir is not None else None,
                os.fspath(report) if report is not None else None,
            )
        )
    )


def profile(
    models: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]],
    data: Union[str, os.PathLike],
    *,
    label: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    ignore: Sequence[str] = (),
    where: Optional[str] = None,
    fill_null: Optional[float] = None,
    batch_sizes: Sequence[int] = (1, 8, 64),
    concurrency: Optional[Sequence[int]] = None,
    concurrency_batch: int = 1,
    duration: float = 1.0,
    max_requests: int = 100_000,
    warmup: int = 10,
    threads: int = 1,
    device: str = "cpu",
    output: Optional[str] = None,
    ci: float = 0.95,
    latencies: bool = False,
    bootstrap: int = 1000,
    report: Optional[Union[str, os.PathLike]] = None,
) -> dict:
    """Serving profile of one or more ONNX models on real rows of ``data``
    (``evalkit profile``): latency per request at each batch size (one
    request at a time), throughput under ``concurrency`` clients (one
    session each), footprint, and the environment. With several models and
    a ``label``, each runs once over the data and is compared with the first
    (``quality``). Returns the CLI's JSON document as a dict; ``report``
    writes the HTML page.

    Percentiles are nearest-rank with the request count behind them and a
    distribution-free interval (an end is ``None`` when the requests are too
    few to bound it). Needs ONNX Runtime (the ``onnxruntime`` package).
    """
    paths = [os.fspath(models)] if isinstance(models, (str, os.PathLike)) else [os.fspath(m) for m in models]
    doc = _evalkit.profile(
        paths,
        os.fspath(data),
        label,
        list(features) if features is not None else None,
        list(ignore),
        where,
        fill_null,
        [int(b) for b in batch_sizes],
        [int(c) for c in concurrency] if concurrency is not None else None,
        int(concurrency_batch),
        float(duration),
        int(max_requests),
        int(warmup),
        int(threads),
        device,
        output,
        float(ci),
        bool(latencies),
        int(bootstrap),
        os.fspath(report) if report is not None else None,
    )
    return json.loads(doc)


def state(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    weights: Optional[ArrayLike] = None,
) -> bytes:
    """The mergeable state of these rows: the bytes of an ``.evstate`` file
    (what ``evalkit state`` writes). States of any split of the rows —
    batches, workers, shards — merge with :func:`merge_states` into the
    state of all of them, bit for bit, and :func:`full_from_state` (or
    ``evalkit full x.evstate``) finishes it.

    >>> import numpy as np, evalkit
    >>> a = evalkit.state(np.array([0, 1]), np.array([0.1, 0.35]))
    >>> b = evalkit.state(np.array([0, 1]), np.array([0.4, 0.8]))
    >>> evalkit.full_from_state(evalkit.merge_states([a, b]), bootstrap=0)["roc_auc"].value
    0.75
    """
    y, s, w = _inputs(y_true, y_score, weights)
    return _evalkit.state(y, s, w, task, score_kind)


def merge_states(states: Sequence[bytes]) -> bytes:
    """The merge of states (from :func:`state`, ``evalkit state`` or
    ``evalkit merge``): one state of every row, whatever the order."""
    return _evalkit.merge_states([bytes(s) for s in states])


def full_from_state(
    state: bytes,
    *,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    metrics: Union[str, Sequence[str], None] = None,
) -> Result:
    """The full tier finished from a state, as ``evalkit full x.evstate``:
    point metrics bit for bit those of the rows; bootstrap intervals drawn
    from the state's histogram (binary, unweighted or whole-number weights;
    elsewhere pass ``bootstrap=0``)."""
    doc = _evalkit.full_state(
        bytes(state), bootstrap, ci, method, resample, seed, threshold, str(thresholds), "state", _metrics_arg(metrics)
    )
    return Result(json.loads(doc), state=bytes(state))


class _Mergeable:
    """What :class:`State` and :class:`PairedState` share: canonical bytes
    (equal states have equal bytes), so equality and hashing are the
    bytes'."""

    __slots__ = ("_bytes",)

    def __init__(self, data: bytes):
        self._bytes = bytes(data)

    def to_bytes(self) -> bytes:
        """The state's bytes (for :class:`State`, the ``.evstate`` file
        ``evalkit state`` writes): canonical, so equal states have equal
        bytes."""
        return self._bytes

    def merge(self, *others: Any) -> Any:
        """This state merged with ``others``."""
        return type(self).merge_all([self, *others])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._bytes == other._bytes  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._bytes)} bytes)"


class State(_Mergeable):
    """A mergeable state of prediction rows (docs/state-format.md): what
    any engine — a Ray block, a Spark partition, a Dask partition, a
    process of a pool — reduces its rows to, a few kilobytes to a few
    megabytes. States of any split of the rows merge, in any order and any
    tree, into the state of all of them, bit for bit; :meth:`finish` gives
    the result :func:`full` gives on those rows (point metrics to the last
    bit; bootstrap intervals drawn from the state, see
    :func:`full_from_state`).

    >>> import numpy as np, evalkit
    >>> a = evalkit.State.from_arrays(np.array([0, 1]), np.array([0.1, 0.35]))
    >>> b = evalkit.State.from_bytes(evalkit.State.from_arrays(np.array([0, 1]), np.array([0.4, 0.8])).to_bytes())
    >>> a.merge(b).finish(bootstrap=0)["roc_auc"].value
    0.75
    """

    __slots__ = ()

    @classmethod
    def from_arrays(
        cls,
        y_true: ArrayLike,
        y_score: ArrayLike,
        *,
        weights: Optional[ArrayLike] = None,
        task: Optional[str] = None,
        score_kind: Optional[str] = None,
        name: str = "arrays",
    ) -> "State":
        """The state of these rows (as :func:`state`); ``name`` names them
        in errors."""
        y, s, w = _inputs(y_true, y_score, weights)
        return cls(_evalkit.state(y, s, w, task, score_kind, name))

    @classmethod
    def from_arrow(
        cls,
        batch: Any,
        *,
        label: str = "label",
        score: Union[str, Sequence[str]] = "score",
        weight: Optional[str] = None,
        task: Optional[str] = None,
        score_kind: Optional[str] = None,
        name: str = "batch",
    ) -> "State":
        """The state of a pyarrow RecordBatch or Table, by column name (a
        list score column, or several score columns, for multiclass). The
        task, unless given, is inferred from the column types as for a
        prediction file (float labels: regression; several scores per row:
        multiclass; else binary), so batches of one schema agree."""
        _batches.needed_columns(batch.schema, label, score, weight, [], name, task)
        y, s, w = _batches.arrays(batch, label, score, weight, name)
        return cls(_evalkit.state(y, s, w, task, score_kind, name))

    @classmethod
    def from_bytes(cls, data: bytes) -> "State":
        """A state from its bytes (:meth:`to_bytes`, ``evalkit state``);
        bytes that are not a state, or a state of a newer format version than
        this evalkit reads, are an :class:`InputError`."""
        data = bytes(data)
        _evalkit.merge_states([data])  # reads and checks it
        return cls(data)

    @staticmethod
    def merge_all(states: Iterable["State"]) -> "State":
        """The merge of states, in a balanced tree."""
        return State(_evalkit.merge_states([st._bytes for st in states]))

    def finish(self, **options: Any) -> Result:
        """The full tier of the state's rows (options as
        :func:`full_from_state`)."""
        return full_from_state(self._bytes, **options)


def compare_from_state(
    state: bytes,
    *,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    metrics: Union[str, Sequence[str], None] = None,
) -> Result:
    """The comparison finished from a paired state (:class:`PairedState`'s
    bytes): each model's metrics and every difference bit for bit those of
    :func:`compare` on the rows, DeLong's paired test included; bootstrap
    intervals (binary; unweighted or whole-number weights, Poisson,
    percentile) are drawn from the state's joint histogram with the same
    draws for both models, so they depend only on the merged state and the
    seed (elsewhere pass ``bootstrap=0``)."""
    return _compare_paired(
        state, [], bootstrap=bootstrap, ci=ci, method=method, resample=resample, seed=seed,
        threshold=threshold, thresholds=thresholds, metrics=metrics,
    )


def _compare_paired(
    state: bytes,
    notes: Sequence[str],
    *,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    metrics: Union[str, Sequence[str], None] = None,
    slices: Optional[Tuple[List[List[str]], List[List[bool]], List[Tuple[int, List[str], bytes]]]] = None,
    min_slice: int = 30,
) -> Result:
    """:func:`compare_from_state` with ``notes`` first among the
    comparison's warnings (an engine's join notes, as ``compare --id``
    puts its own); ``slices``: ``(slicings, numeric, items)`` of merged
    paired slice states, finished as ``evalkit compare --slice``."""
    if slices is not None:
        slicings, numeric, items = slices
        doc = _evalkit.compare_paired_slices(
            bytes(state), slicings, numeric, items, bootstrap, ci, method, resample, seed, threshold,
            str(thresholds), min_slice, "paired state", _metrics_arg(metrics), list(notes),
        )
    else:
        doc = _evalkit.compare_paired(
            bytes(state), bootstrap, ci, method, resample, seed, threshold, str(thresholds), "paired state",
            _metrics_arg(metrics), list(notes),
        )
    return Result(json.loads(doc))


class PairedState(_Mergeable):
    """The mergeable state of a comparison: two models' scores on the same
    rows (docs/state-format.md, "Paired states") — each model's state and,
    for a binary task, the joint histogram of their score pairs, which
    DeLong's paired test and the paired bootstrap read. What an engine
    reduces a block to for :func:`evalkit.ray.compare` and
    :func:`evalkit.spark.compare`; any other engine merges these the same
    way. :meth:`finish` gives :func:`compare`'s result on those rows.

    >>> import numpy as np, evalkit
    >>> y = np.array([0, 0, 1, 1])
    >>> a = evalkit.PairedState.from_arrays(y[:2], np.array([0.1, 0.4]), np.array([0.2, 0.3]))
    >>> b = evalkit.PairedState.from_arrays(y[2:], np.array([0.35, 0.8]), np.array([0.1, 0.9]))
    >>> a.merge(b).finish(bootstrap=0).delta["roc_auc"].value
    0.25
    """

    __slots__ = ()

    @classmethod
    def from_arrays(
        cls,
        y_true: ArrayLike,
        candidate: ArrayLike,
        baseline: ArrayLike,
        *,
        weights: Optional[ArrayLike] = None,
        task: Optional[str] = None,
        score_kind: Optional[str] = None,
        name: str = "arrays",
    ) -> "PairedState":
        """The paired state of these rows: the candidate's and the
        baseline's scores, row by row."""
        y, c, w = _inputs(y_true, candidate, weights)
        b = _as_array(baseline, "baseline", scores=True)
        _same_length(y, b, "baseline scores")
        return cls(_evalkit.paired_state(y, c, b, w, task, score_kind, "candidate", "baseline", name))

    @classmethod
    def from_arrow(
        cls,
        batch: Any,
        *,
        label: str = "label",
        candidate: Union[str, Sequence[str]] = "candidate",
        baseline: Union[str, Sequence[str]] = "baseline",
        weight: Optional[str] = None,
        task: Optional[str] = None,
        score_kind: Optional[str] = None,
        name: str = "batch",
    ) -> "PairedState":
        """The paired state of a pyarrow RecordBatch or Table, by column
        name: ``candidate`` and ``baseline`` are the two models' score
        columns (a list column, or several columns, each for multiclass)."""
        both = [*_batches._names(candidate), *_batches._names(baseline)]
        _batches.needed_columns(batch.schema, label, both, weight, [], name, task)
        red = _batches.Reduction.of([batch], label, candidate, weight, task, score_kind, [], name, baseline=baseline)
        return cls(red.state(name))

    @classmethod
    def from_bytes(cls, data: bytes) -> "PairedState":
        """A paired state from its bytes: its structure is checked here
        (bytes that are not a paired state are an :class:`InputError`), the
        joint histogram against both models' states when it is finished."""
        data = bytes(data)
        _evalkit.merge_paired([data])  # reads and checks it
        return cls(data)

    @staticmethod
    def merge_all(states: Iterable["PairedState"]) -> "PairedState":
        """The merge of paired states, in a balanced tree."""
        return PairedState(_evalkit.merge_paired([st._bytes for st in states]))

    def finish(self, **options: Any) -> Result:
        """The comparison of the state's rows (options as
        :func:`compare_from_state`)."""
        return compare_from_state(self._bytes, **options)


def full_from_batches(
    batches: Iterable[Any],
    *,
    label: str = "label",
    score: Union[str, Sequence[str]] = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    **options: Any,
) -> Result:
    """The full tier of a stream of Arrow batches (pyarrow RecordBatches or
    Tables: a reader, ``dataset.to_batches()``, Dask partitions), one
    state per batch folded as they come (memory: one batch and the
    running state), finished as :func:`full_from_state` with ``options``.
    The same numbers as :func:`full` on the concatenated rows.

    >>> import pyarrow as pa, evalkit
    >>> t = pa.table({"label": [0, 0, 1, 1], "score": [0.1, 0.4, 0.35, 0.8]})
    >>> evalkit.full_from_batches(t.to_batches(max_chunksize=1), bootstrap=0)["roc_auc"].value
    0.75
    """
    merged: Optional[State] = None
    for n, batch in enumerate(batches):
        _batches.needed_columns(batch.schema, label, score, weight, [], f"batch {n}", task)
        if batch.num_rows == 0:
            continue
        st = State.from_arrow(batch, label=label, score=score, weight=weight, task=task, score_kind=score_kind, name=f"batch {n}")
        merged = st if merged is None else merged.merge(st)
    if merged is None:
        raise InputError("the batches hold no rows")
    return merged.finish(**options)


@dataclass
class PredictionFile:
    """A prediction file read by :func:`read_predictions`."""

    path: str
    task: str
    classes: List[str]
    y_true: np.ndarray
    y_score: np.ndarray
    weights: Optional[np.ndarray]
    metadata: Dict[str, str]
    query: Optional[np.ndarray] = None

    def full(self, **kwargs: Any) -> Result:
        """The full tier of the file's rows."""
        if self.query is not None:
            return full(self.y_true, self.y_score, query=self.query, **kwargs)
        return full(self.y_true, self.y_score, weights=self.weights, task=self.task, **kwargs)

    def fast(self, **kwargs: Any) -> Result:
        """The fast tier of the file's rows."""
        if self.query is not None:
            return fast(self.y_true, self.y_score, query=self.query, **kwargs)
        return fast(self.y_true, self.y_score, weights=self.weights, task=self.task, **kwargs)


def read_predictions(
    path: Union[str, os.PathLike],
    *,
    label: str = "label",
    score: Optional[Sequence[str]] = None,
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    query: Optional[str] = None,
) -> PredictionFile:
    """Reads and validates a prediction file (Arrow IPC, Parquet, CSV) as
    the CLI does; a ranking's query ids are in ``.query``."""
    d = _evalkit.read_predictions(
        os.fspath(path), label, list(score) if score else None, weight, task, score_kind, query
    )
    k = d["classes_in_scores"]
    labels = np.frombuffer(d["labels"], dtype="<" + ("i8" if d["label_dtype"] == "int64" else "f8"))
    scores = np.frombuffer(d["scores"], dtype="<f8")
    if k > 1:
        scores = scores.reshape(-1, k)
    w = np.frombuffer(d["weights"], dtype="<f8") if "weights" in d else None
    return PredictionFile(
        path=os.fspath(path),
        task=d["task"],
        classes=list(d["classes"]),
        y_true=labels,
        y_score=scores,
        weights=w,
        metadata=dict(d["metadata"]),
        query=np.asarray(d["query"], dtype=object) if "query" in d else None,
    )


def _report_item(
    name: str,
    item: Any,
    label: Optional[str],
    score: Union[str, Sequence[str], None],
    weight: Optional[str],
    keys: Sequence[str],
    cluster: Optional[str],
) -> Tuple[tuple, Any]:
    """One report entry for the Rust side, ``(name, model, task,
    score_kind)``, and its cluster ids (arrays) or ``None``."""
    if isinstance(item, (str, os.PathLike)) or _is_frame(item) or _is_lazy(item):
        model = _model(name, item, label, score, weight, keys, cluster if isinstance(item, (str, os.PathLike)) else None)
        g = None
        if cluster is not None and model[0] == "arrays":
            g = _clusters(_frame_values(item, cluster, "cluster"))
        return (name, model, None, None), g
    if isinstance(item, Result):
        if item._inputs is None:
            raise UsageError(
                "this result carries neither predictions nor a state (a comparison's, or one finished from "
                "score ranges, which no process holds whole); report the files"
            )
        y, s, w, task, kind, columns, g, q = item._inputs
        missing = [k for k in keys if k not in columns]
        if missing:
            raise UsageError(
                f"the result of {name!r} has no column {missing[0]!r}: pass it to evalkit.full "
                f"(slice={{{missing[0]!r}: values}}) or report frames or files"
            )
        # A ranking's result keeps its query ids.
        return (name, ("arrays", name, y, s, w, [(k, columns[k]) for k in keys], q), task or item.task, kind), g
    if isinstance(item, PredictionFile):
        if keys:
            raise UsageError(f"id=/slice= read columns of the file: report {item.path!r} by its path")
        return (name, ("arrays", name, item.y_true, item.y_score, item.weights, []), item.task, None), None
    raise UsageError(
        f"cannot report {type(item).__name__}: pass prediction file paths, frames or results of evalkit.full/fast"
    )


def _state_of(item: Any) -> Optional[bytes]:
    """The state bytes a report entry stands for: a :class:`State`, or a
    result finished from one (and holding no rows); else ``None``."""
    if isinstance(item, State):
        return item.to_bytes()
    if isinstance(item, Result) and item._inputs is None and item._state is not None:
        return item._state
    return None


def report(
    results_or_paths: Sequence[Any],
    path: Union[str, os.PathLike],
    *,
    baseline: Any = None,
    names: Optional[Sequence[str]] = None,
    bootstrap: int = 1000,
    ci: float = 0.95,
    method: str = "percentile",
    resample: str = "poisson",
    seed: int = 0,
    threshold: float = 0.5,
    thresholds: Union[int, str] = 1000,
    title: Optional[str] = None,
    id: Optional[str] = None,
    slice: Union[str, Sequence[Union[str, Sequence[str]]], None] = None,
    min_slice: int = 30,
    cluster: Optional[str] = None,
    operating_points: Sequence[str] = (),
    certified: bool = True,
    cost: Optional[str] = None,
    max_fpr: Optional[float] = None,
    tpr_at_fpr: Sequence[float] = (),
    label: Optional[str] = None,
    score: Union[str, Sequence[str], None] = None,
    weight: Optional[str] = None,
    metrics: Union[str, Sequence[str], None] = None,
) -> Dict[str, Any]:
    """Writes the HTML report (one self-contained page) for candidates given
    as prediction files, frames (``label=``/``score=``/``weight=`` name
    their columns) or results of :func:`full`; returns the report's model
    as a dict. States (:class:`State`, or results of ``evalkit.ray.full``,
    ``evalkit.spark.full`` and :func:`full_from_state`) are drawn from the
    state, as ``evalkit report x.evstate`` (no baseline, ids, slices or
    clusters: those need rows). The options are ``evalkit report``'s: the interval
    (``bootstrap``, ``ci``, ``method``, ``resample``, ``seed``), the
    threshold and sweep, ``id`` (match the baseline's rows by this column),
    ``slice`` (column names, as :func:`full`'s; a result carries the columns
    given to its ``full(slice=...)``), ``cluster`` (a column name; a result
    uses its own cluster ids), ``operating_points``, ``cost``, ``max_fpr``
    , ``tpr_at_fpr`` and ``metrics`` (only these metrics)."""
    items = list(results_or_paths)
    if names is None:
        names = [
            os.path.splitext(os.path.basename(os.fspath(i)))[0] if isinstance(i, (str, os.PathLike)) else f"model {n + 1}"
            for n, i in enumerate(items)
        ]
    if len(names) != len(items):
        raise UsageError(f"names gives {len(names)} names for {len(items)} candidates")
    states = [_state_of(i) for i in items]
    if any(st is not None for st in states):
        if not all(st is not None for st in states):
            raise UsageError("a report draws either states (State, or results of an engine or full_from_state) or rows, not both")
        for what, given in (("baseline=", baseline), ("id=", id), ("slice=", slice), ("cluster=", cluster)):
            if given is not None:
                raise UsageError(f"{what} needs the rows of prediction files; a state carries none")
        if isinstance(operating_points, str):
            operating_points = [operating_points]
        doc = _evalkit.report_states(
            list(zip(names, states)), os.fspath(path), bootstrap, ci, method, resample, seed, threshold,
            str(thresholds), title, list(operating_points), certified, cost, max_fpr, [float(x) for x in tpr_at_fpr],
            _metrics_arg(metrics),
        )
        return ReportModel(json.loads(doc), os.fspath(path))
    slices = _slice_names(slice, "report's slice= names columns (a result keeps the arrays given to its full(slice=...))")
    keys = ([id] if id else []) + [c for c in dict.fromkeys(c for sl in slices for c in sl) if c != id]
    entries = [_report_item(n, i, label, score, weight, keys, cluster) for n, i in zip(names, items)]
    cands = [e for e, _ in entries]
    groups = [g for _, g in entries]
    base = None
    if baseline is not None:
        bname = os.path.splitext(os.path.basename(os.fspath(baseline)))[0] if isinstance(baseline, (str, os.PathLike)) else "baseline"
        base = _report_item(bname, baseline, label, score, weight, [id] if id else [], None)[0]
    if isinstance(operating_points, str):
        operating_points = [operating_points]
    doc = _evalkit.report(
        cands, os.fspath(path), base, bootstrap, ci, method, resample, seed, threshold, str(thresholds), title,
        id, slices, min_slice, groups, list(operating_points), certified, cost, max_fpr,
        [float(x) for x in tpr_at_fpr], _metrics_arg(metrics),
    )
    return ReportModel(json.loads(doc), os.fspath(path))


class ReportModel(dict):
    """The report's model (a dict, as before) that shows the written page
    inline in a notebook (``_repr_html_``: the page in a sandboxed
    iframe)."""

    def __init__(self, doc: Dict[str, Any], path: str):
        super().__init__(doc)
        self.path = path

    def _repr_html_(self) -> str:
        return show_report(self.path)._repr_html_()


class _ReportView:
    def __init__(self, page: str, height: int):
        self._page, self._height = page, height

    def _repr_html_(self) -> str:
        return _html.report_iframe(self._page, self._height)


def show_report(path: Union[str, os.PathLike], height: int = 900) -> Any:
    """A report file (``evalkit report``, a suite's, ``evalkit profile
    --report``) shown inline in a notebook: the page in a sandboxed iframe.

    >>> import evalkit
    >>> "iframe" in evalkit.show_report(__file__)._repr_html_()
    True
    """
    with open(path, encoding="utf-8") as f:
        return _ReportView(f.read(), height)


class Evaluator:
    """Accumulates predictions batch by batch (a validation loop) and runs
    the tiers on everything seen so far.

    >>> import numpy as np, evalkit
    >>> ev = evalkit.Evaluator(task="binary")
    >>> ev.update(np.array([0, 1]), np.array([0.3, 0.8]))
    >>> ev.update(np.array([1, 0]), np.array([0.6, 0.1]))
    >>> ev.compute_fast(sample=None)["accuracy"].value
    1.0
    """

    def __init__(self, task: Optional[str] = None, score_kind: Optional[str] = None, **full_options: Any):
        self.task = task
        self.score_kind = score_kind
        self.full_options = full_options
        self._y: List[np.ndarray] = []
        self._s: List[np.ndarray] = []
        self._w: List[np.ndarray] = []

    def update(self, y_true: ArrayLike, y_score: ArrayLike, weights: Optional[ArrayLike] = None) -> None:
        """Adds a batch (kept as it is; earlier batches are not copied)."""
        y = _as_array(y_true, "y_true")
        s = _as_array(y_score, "y_score", scores=True)
        if len(y) != len(s):
            raise InputError(f"the batch has {len(y)} labels but {len(s)} scores")
        if (weights is None) != (not self._w) and self._y:
            raise InputError("give weights with every batch or with none")
        self._y.append(y)
        self._s.append(s)
        if weights is not None:
            self._w.append(_as_array(weights, "weights"))

    @property
    def rows(self) -> int:
        return sum(len(y) for y in self._y)

    def _arrays(self) -> tuple:
        if not self._y:
            raise InputError("the evaluator has no rows yet: call update() first")
        y = np.concatenate(self._y) if len(self._y) > 1 else self._y[0]
        s = np.concatenate(self._s) if len(self._s) > 1 else self._s[0]
        w = (np.concatenate(self._w) if len(self._w) > 1 else self._w[0]) if self._w else None
        return y, s, w

    def compute_fast(self, **options: Any) -> Result:
        """The fast tier on every row seen."""
        y, s, w = self._arrays()
        return fast(y, s, weights=w, task=self.task, score_kind=self.score_kind, **options)

    def compute_full(self, **options: Any) -> Result:
        """The full tier on every row seen."""
        y, s, w = self._arrays()
        opts = {**self.full_options, **options}
        return full(y, s, weights=w, task=self.task, score_kind=self.score_kind, **opts)

    def reset(self) -> None:
        """Forgets every batch."""
        self._y.clear()
        self._s.clear()
        self._w.clear()
