"""Arrow batches (pyarrow RecordBatches and Tables, as Ray Data, Spark's
``mapInArrow``, Dask's ``to_arrow`` and plain readers hand them out) as the
arrays evalkit's states are built from. pyarrow is imported when a batch
arrives, never by ``import evalkit``."""

import pickle
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _evalkit

Scores = Union[str, Sequence[str]]


def _names(score: Scores) -> List[str]:
    return [score] if isinstance(score, str) else list(score)


def column_names(schema: Any) -> List[str]:
    """The column names of a pyarrow schema (anything with ``.names``), or
    a list of names as they are."""
    if isinstance(schema, (list, tuple)):
        return list(schema)
    return list(getattr(schema, "names", None) or [f.name for f in schema])


def check_columns(
    schema: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    where: str,
    slices: Sequence[str] = (),
    id: Optional[str] = None,
) -> None:
    """Every named column is in the schema, else a ``ColumnError`` naming it
    and listing the columns there are."""
    have = column_names(schema)
    named = [
        ("id", id),
        ("label", label),
        *(("score", s) for s in _names(score)),
        ("weight", weight),
        *(("slice", c) for c in slices),
    ]
    for role, name in named:
        if name is not None and name not in have:
            shown = ", ".join(have[:20]) + (", …" if len(have) > 20 else "")
            raise _evalkit.ColumnError(f"{where}: column '{name}' ({role}) is not there; it has: {shown}")


def _column(batch: Any, name: str) -> Any:
    col = batch.column(name)
    # A Table's column is a ChunkedArray: one array for the conversion.
    return col.combine_chunks() if hasattr(col, "combine_chunks") else col


def _numeric(array: Any, what: str) -> Any:
    """A primitive Arrow array as numpy (zero-copy without nulls); a null
    is an ``InputError`` naming the row."""
    if array.null_count:
        row = next(i for i, v in enumerate(array.is_null().to_pylist()) if v)
        raise _evalkit.BadValueError(f"{what}, row {row}: the value is missing (null)")
    import numpy as np
    import pyarrow as pa

    t = array.type
    if pa.types.is_boolean(t):
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int8)
    if pa.types.is_decimal(t):
        # Spark's DecimalType: each value's nearest float64, through its
        # decimal text (Arrow's own decimal-to-float cast can be an ulp off).
        return np.asarray(array.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_float16(t):
        array = array.cast(pa.float64())
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        hint = " (a Spark ML vector: convert it with pyspark.ml.functions.vector_to_array)" if pa.types.is_struct(t) else ""
        raise _evalkit.ColumnError(f"{what} has type {t}; it must hold numbers{hint}")
    return np.ascontiguousarray(array.to_numpy(zero_copy_only=False))


def arrays(
    batch: Any, label: str, score: Scores, weight: Optional[str], where: str
) -> Tuple[Any, Any, Optional[Any]]:
    """Labels, scores (``rows × classes`` for a list column or several score
    columns) and weights of one batch, as numpy arrays."""
    import numpy as np
    import pyarrow as pa

    y = _numeric(_column(batch, label), f"{where}, column '{label}'")
    names = _names(score)
    if len(names) > 1:
        s = np.column_stack([_numeric(_column(batch, n), f"{where}, column '{n}'") for n in names])
    else:
        col = _column(batch, names[0])
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type):
            if col.null_count:
                row = next(i for i, v in enumerate(col.is_null().to_pylist()) if v)
                raise _evalkit.BadValueError(f"{where}, column '{names[0]}', row {row}: the scores are missing (null)")
            lengths = set(col.value_lengths().to_pylist()) if not pa.types.is_fixed_size_list(col.type) else {col.type.list_size}
            if len(lengths) > 1:
                raise _evalkit.BadValueError(
                    f"{where}, column '{names[0]}': rows hold {sorted(lengths)[:3]} scores; every row needs one per class"
                )
            k = lengths.pop() if lengths else 0
            if k == 0:
                raise _evalkit.BadValueError(f"{where}, column '{names[0]}': the rows hold no scores; give one per class")
            values = col.flatten()
            if values.null_count:
                import pyarrow.compute as pc

                i = next(i for i, v in enumerate(values.is_null().to_pylist()) if v)
                row = pc.list_parent_indices(col)[i].as_py()
                raise _evalkit.BadValueError(f"{where}, column '{names[0]}', row {row}: a class's score is missing (null)")
            s = _numeric(values, f"{where}, column '{names[0]}'").reshape(len(col), k)
        else:
            s = _numeric(col, f"{where}, column '{names[0]}'")
    w = None if weight is None else _numeric(_column(batch, weight), f"{where}, column '{weight}'")
    return y, np.ascontiguousarray(s), w


def raise_carried(error_class: str, message: str) -> None:
    """Raises, on the driver, an evalkit error a worker carried back as data
    (its class name and message): engines keep only the text of a worker's
    exception, so the engine modules pass errors as values and re-raise
    them here as their own class."""
    import evalkit

    cls = getattr(evalkit, error_class, None)
    if not (isinstance(cls, type) and issubclass(cls, _evalkit.EvalkitError)):
        cls = _evalkit.EvalkitError
    raise cls(message)


def needed_columns(
    schema: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    slicings: Sequence[Sequence[str]],
    where: str,
    task: Optional[str] = None,
) -> List[str]:
    """The columns an engine reads (label, scores, weight, slice keys),
    each checked to be in the schema (see :func:`check_columns`). A
    ranking is refused: a file with a ``query`` column is one (docs/spec.md
    §1), and its metrics need each query's rows together, which engine
    blocks do not keep — evaluating its rows as a classifier's would be a
    silent wrong answer."""
    if task == "ranking" or (task is None and "query" in column_names(schema)):
        raise _evalkit.UsageError(
            f"{where} is a ranking (it has a query column): a ranking is evaluated from the rows of one "
            "prediction file, with each query's items together, not from engine blocks; collect it, or "
            "pass task='binary' (or another task) to evaluate the rows without their queries"
        )
    keys = list(dict.fromkeys(c for by in slicings for c in by))
    check_columns(schema, label, score, weight, where, keys)
    return list(dict.fromkeys([label, *_names(score), *([weight] if weight else []), *keys]))


def key_values(array: Any) -> Any:
    """A key column of a batch (slice keys) for the Rust side: numbers
    without nulls as numpy, anything else as a list (``None`` for a null)."""
    import numpy as np
    import pyarrow as pa

    if hasattr(array, "combine_chunks"):
        array = array.combine_chunks()
    numeric = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
    if numeric and array.null_count == 0:
        return np.ascontiguousarray(array.to_numpy())
    return array.to_pylist()


SliceKey = Tuple[int, Tuple[str, ...]]

# At most this many slices per slicing, as `--slice` allows (src/slices.rs).
MAX_SLICES = 10_000


class Reduction:
    """What an engine's worker reduces its rows to, and what merges of
    those give: the overall state's bytes, with ``slicings`` one state per
    (slicing index, key) and whether each key column holds numbers (how
    keys order), or the first evalkit error (class name, message) a worker
    met — carried as data, since engines keep only the text of a worker's
    exception. Pickled between workers and the driver."""

    __slots__ = ("overall", "numeric", "slices", "error", "paired")

    def __init__(
        self,
        overall: Optional[bytes] = None,
        numeric: Optional[List[List[bool]]] = None,
        slices: Optional[Dict[SliceKey, bytes]] = None,
        error: Optional[Tuple[str, str]] = None,
        paired: bool = False,
    ):
        self.overall = overall
        self.numeric = numeric
        self.slices = slices or {}
        self.error = error
        # ``overall`` is a paired state (two models' scores on the same
        # rows: ``evalkit.ray.compare``), not a state.
        self.paired = paired

    @classmethod
    def of(
        cls,
        batches: Iterable[Any],
        label: str,
        score: Scores,
        weight: Optional[str],
        task: Optional[str],
        score_kind: Optional[str],
        slicings: Sequence[Sequence[str]],
        name: str,
        baseline: Optional[Scores] = None,
    ) -> "Reduction":
        """The reduction of a worker's Arrow batches; with ``baseline``
        (its score columns) the paired state of ``score`` (the candidate)
        and ``baseline`` on the same rows."""
        parts = []
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                y, s, w = arrays(batch, label, score, weight, name)
                names = (",".join(_names(score)), ",".join(_names(baseline))) if baseline is not None else ()
                if baseline is not None:
                    _, sb, _ = arrays(batch, label, baseline, None, name)
                if baseline is not None and not slicings:
                    state = _evalkit.paired_state(y, s, sb, w, task, score_kind, *names, name)
                    parts.append(cls(state, paired=True))
                    continue
                if not slicings:
                    parts.append(cls(_evalkit.state(y, s, w, task, score_kind, name)))
                    continue
                keys = list(dict.fromkeys(c for by in slicings for c in by))
                columns = [(c, key_values(batch.column(c))) for c in keys]
                by_columns = [list(by) for by in slicings]
                if baseline is not None:
                    overall, numeric, items = _evalkit.paired_slice_states(
                        y, s, sb, w, task, score_kind, columns, by_columns, *names, name
                    )
                else:
                    overall, numeric, items = _evalkit.slice_states(y, s, w, task, score_kind, columns, by_columns, name)
                slices = {(si, tuple(k)): b for si, k, b in items}
                if len(slices) < len(items):
                    # A missing key and the text "null" are both labelled
                    # "null": merging them would mix two slices' rows.
                    raise _evalkit.UsageError(
                        f"{name}: a slice column holds both missing values and the text \"null\", which slices "
                        "label alike; replace one of them"
                    )
                parts.append(cls(overall, numeric, slices, paired=baseline is not None))
        except _evalkit.EvalkitError as e:
            return cls(error=(type(e).__name__, str(e)))
        merged = cls.merge_all(parts)
        if merged.error is None and slicings:
            for si, by in enumerate(slicings):
                if sum(1 for k in merged.slices if k[0] == si) > MAX_SLICES:
                    return cls(
                        error=(
                            "UsageError",
                            f"{name}: slices by {','.join(by)} make more than {MAX_SLICES} slices; "
                            "slice by fewer or coarser columns",
                        )
                    )
        return merged

    @classmethod
    def merge_all(cls, parts: Iterable["Reduction"]) -> "Reduction":
        """The merge of reductions (an error wins; empty ones drop out)."""
        parts = [p for p in parts if p is not None]
        for p in parts:
            if p.error is not None:
                return p
        parts = [p for p in parts if p.overall is not None]
        if len(parts) <= 1:
            return parts[0] if parts else cls()
        paired = any(p.paired for p in parts)
        merge = _evalkit.merge_paired if paired else _evalkit.merge_states
        try:
            overall = merge([p.overall for p in parts])
            grouped: Dict[SliceKey, List[bytes]] = {}
            for p in parts:
                for k, b in p.slices.items():
                    grouped.setdefault(k, []).append(b)
            for si in {k[0] for k in grouped}:
                if sum(1 for k in grouped if k[0] == si) > MAX_SLICES:
                    raise _evalkit.UsageError(
                        f"slicing {si + 1} makes more than {MAX_SLICES} slices; slice by fewer or coarser columns"
                    )
            slices = {k: bs[0] if len(bs) == 1 else merge(bs) for k, bs in grouped.items()}
        except _evalkit.FormatError as e:
            # States of different tasks, classes or weighting: the parts'
            # columns were typed differently (each part infers its task).
            return cls(
                error=(
                    "FormatError",
                    f"the parts' states do not merge ({e}): their columns are typed differently "
                    "(float labels make a regression, a list of scores a multiclass task); "
                    "pass task= to decide it for every part",
                )
            )
        except _evalkit.EvalkitError as e:
            return cls(error=(type(e).__name__, str(e)))
        # A key column is numeric (keys order as numbers) if any part saw it
        # typed as numbers: a part whose keys were all missing cannot tell.
        flags = [p.numeric for p in parts if p.numeric is not None]
        numeric = [[any(col) for col in zip(*(f[si] for f in flags))] for si in range(len(flags[0]))] if flags else None
        return cls(overall, numeric, slices, paired=paired)

    def to_bytes(self) -> bytes:
        return pickle.dumps((self.overall, self.numeric, self.slices, self.error, self.paired))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Reduction":
        return cls(*pickle.loads(data))

    def state(self, what: str) -> bytes:
        """The overall state's bytes; raises the carried error, or an
        ``InputError`` when no rows were seen (``what``: the input)."""
        if self.error is not None:
            raise_carried(*self.error)
        if self.overall is None:
            raise _evalkit.InputError(f"{what} has no rows: there is nothing to evaluate")
        return self.overall

    def compare(
        self,
        what: str,
        options: Dict[str, Any],
        notes: Sequence[str] = (),
        slicings: Sequence[Sequence[str]] = (),
        min_slice: int = 30,
    ) -> Any:
        """The comparison finished from the merged paired state (an
        ``evalkit.Result``, as :func:`evalkit.compare` gives), ``notes``
        first among its warnings; with ``slicings`` also the slices, as
        ``evalkit compare --slice`` gives them, each from its paired
        state."""
        from . import _compare_paired

        overall = self.state(what)
        if not slicings:
            return _compare_paired(overall, notes, **options)
        items = [(si, list(k), b) for (si, k), b in self.slices.items()]
        sliced = ([list(by) for by in slicings], self.numeric or [], items)
        return _compare_paired(overall, notes, slices=sliced, min_slice=min_slice, **options)

    def finish(self, what: str, slicings: Sequence[Sequence[str]], min_slice: int, options: Dict[str, Any]) -> Any:
        """The full tier of the merged state (an ``evalkit.Result``, keeping
        the state for a report); with slicings also the slices, as
        ``evalkit full SHARDS --slice`` gives them from states."""
        import json

        from . import Result, State

        overall = self.state(what)
        if not slicings:
            return State(overall).finish(**options)
        from . import _metrics_arg

        opts = dict(options)
        if "thresholds" in opts:
            opts["thresholds"] = str(opts["thresholds"])
        if "metrics" in opts:
            opts["metrics"] = _metrics_arg(opts["metrics"])
        items = [(si, list(k), b) for (si, k), b in self.slices.items()]
        doc = _evalkit.full_slice_states(
            overall, [list(by) for by in slicings], self.numeric or [], items, min_slice=min_slice, **opts
        )
        return Result(json.loads(doc), state=overall)


# --- compare joined on an id column -------------------------------------------
# (evalkit.ray.compare / evalkit.spark.compare with a second dataset and
# id=): the engine joins the two models' rows, with `evalkit compare --id`'s
# checks, and the paired reduction runs on the joined rows.

BASELINE_LABEL = "__evalkit_baseline_label"


def baseline_columns(score: Scores) -> List[str]:
    """The joined rows' names for the baseline's score columns."""
    return [f"__evalkit_baseline_{i}" for i in range(len(_names(score)))]


def check_id_types(kinds: Sequence[Tuple[str, str]], id: str) -> None:
    """``compare --id``'s rule for the id columns' types (``kinds``: each
    side's name and its id column's kind, ``"integer"``, ``"string"`` or the
    type's name): integers or strings, the same on both sides."""
    for what, kind in kinds:
        if kind not in ("integer", "string"):
            raise _evalkit.ColumnError(f"{what}, column '{id}' has type {kind}; ids must be integers or strings")
    if len({k for _, k in kinds}) > 1:
        raise _evalkit.ColumnError(
            f"column '{id}' holds integers in one model's rows and strings in the other's; ids must have the same type"
        )


def arrow_id_kind(t: Any) -> str:
    """The kind of an Arrow id column's type (see :func:`check_id_types`)."""
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "string"
    return str(t)


def id_error(what: str, id: str, message: str) -> Exception:
    return _evalkit.BadValueError(f"{what}, column '{id}': {message}")


def label_error(id: str, key: Any, candidate: Any, baseline: Any) -> Exception:
    return _evalkit.BadValueError(
        f"the candidate, column '{id}': id {key}: the candidate's label is {candidate} and the "
        f"baseline's {baseline}; compare needs the same rows"
    )


def compare_columns(
    other: Any, candidate: Optional[Scores], baseline: Optional[Scores], id: Optional[str], score: Scores, data: str
) -> Tuple[Scores, Scores]:
    """The candidate's and the baseline's score columns of an engine's
    ``compare`` in either form — two columns of ``data`` (``other`` is
    ``None``), or two models joined on ``id`` — or the ``UsageError``
    that says how to call it."""
    if other is None:
        if id is not None or candidate is None or baseline is None:
            raise _evalkit.UsageError(
                f"compare({data}, candidate=COL, baseline=COL) compares two score columns of one {data}; "
                f"compare({data}, other, id=COL) joins two models' predictions on an id column"
            )
        return candidate, baseline
    if id is None:
        raise _evalkit.UsageError(f"compare({data}, other, ...) joins the two {data}s' rows: name the id column with id=")
    return candidate or score, baseline or score


def join_notes(left_out: int) -> List[str]:
    """``compare --id``'s note on baseline rows the candidate lacks."""
    return [f"{left_out} rows of the baseline have ids the candidate lacks; they are left out"] if left_out else []


def joined_result(result: Any, id: str, baseline: Scores) -> Any:
    """The comparison of joined rows described as ``compare --id``
    describes it: joined by the id column, the baseline named by its score
    column(s)."""
    from . import Result

    doc = result.to_dict()
    doc["join"] = {"by": "id", "column": id}
    doc["baseline_file"] = ",".join(_names(baseline))
    return Result(doc)


# --- Score ranges over an engine's blocks ------------------------------------
# (evalkit.ray.full / evalkit.spark.full with ranges=K; docs/state-format.md,
# "Score ranges"). The steps run where the engine puts them; an evalkit
# error met in one is carried to the driver as data.


class Carried:
    """An evalkit error met by a step, carried as data (engines keep a
    worker exception's text, not its evalkit class)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception):
        self.error = (type(error).__name__, str(error))


def carrying(f: Any, *args: Any) -> Any:
    """``f(*args)``; the first :class:`Carried` among ``args`` instead, or
    the evalkit error ``f`` raised as a :class:`Carried`."""
    for a in args:
        if isinstance(a, Carried):
            return a
    try:
        return f(*args)
    except _evalkit.EvalkitError as e:
        return Carried(e)


def raise_if_carried(values: Iterable[Any]) -> None:
    """Raises the first carried error, as its own evalkit class."""
    for v in values:
        if isinstance(v, Carried):
            raise_carried(*v.error)


def range_options(ranges: Any, options: Dict[str, Any]) -> Dict[str, Any]:
    """Checks ``ranges`` and the full tier's options before any engine
    work; returns the options as the bindings take them."""
    from . import _metrics_arg

    if isinstance(ranges, bool) or not isinstance(ranges, int) or ranges < 1:
        raise _evalkit.UsageError(f"ranges={ranges!r}: give the number of score ranges, 1 or more")
    opts = dict(options)
    if opts.get("bootstrap", 1000) != 0:
        raise _evalkit.UsageError(
            "bootstrap intervals are not built from score ranges; pass bootstrap=0 "
            "(a binary ROC-AUC keeps DeLong's interval), or leave ranges unset"
        )
    if "thresholds" in opts:
        opts["thresholds"] = str(opts["thresholds"])
    if str(opts.get("thresholds", "")) == "distinct":
        raise _evalkit.UsageError(
            "thresholds='distinct' lists every distinct score, as many as the rows here; "
            "score ranges take a grid (thresholds=N)"
        )
    if "metrics" in opts:
        opts["metrics"] = _metrics_arg(opts["metrics"])
    return opts


def range_sketch(
    batch: Any, label: str, score: Scores, weight: Optional[str], task: Any, score_kind: Any, name: str
) -> Any:
    """Step 1: a block's score sketches, one for binary rows and one per
    class for multiclass rows (``None`` without rows)."""

    def run(batch: Any) -> Any:
        if batch.num_rows == 0:
            return None
        y, s, w = arrays(batch, label, score, weight, name)
        return _evalkit.range_sketch(y, s, w, task, score_kind, name)

    return carrying(run, batch)


def merge_sketches(*parts: Any) -> Any:
    """The merge of sketches, class by class (``None`` for no rows)."""

    def run(*p: Any) -> Any:
        kept = [b for b in p if b is not None]
        if not kept:
            return None
        if len({len(b) for b in kept}) > 1:
            kinds = sorted({"binary" if len(b) == 1 else f"{len(b)} classes" for b in kept})
            raise _evalkit.InputError(
                "the blocks' rows are not of one task and class count: some are " + ", some ".join(kinds)
            )
        return [_evalkit.range_sketch_merge([b[c] for b in kept]) for c in range(len(kept[0]))]

    return carrying(run, *parts)


def range_cuts(sketch: Any, ranges: int, what: str) -> List[List[float]]:
    """The range boundaries from the merged sketches: one list of cuts for
    binary rows, one per class for multiclass rows."""
    raise_if_carried([sketch])
    if sketch is None:
        raise _evalkit.InputError(f"{what} has no rows: there is nothing to evaluate")
    return [_evalkit.range_cuts(s, ranges) for s in sketch]


def range_slots(cuts: List[List[float]]) -> int:
    """How many states :func:`range_states` gives per block: a state per
    range for binary rows (one list of cuts); for multiclass rows (a list
    per class) the rows' sums, then each class's ranges."""
    if len(cuts) == 1:
        return len(cuts[0]) + 1
    return 1 + sum(len(c) + 1 for c in cuts)


def range_states(
    batch: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Any,
    score_kind: Any,
    cuts: List[List[float]],
    name: str,
) -> List[Any]:
    """Step 2: a block's states, one per slot of :func:`range_slots`
    (``None`` where a range has no rows), or its carried error for every
    slot."""
    slots = range_slots(cuts)

    def run(batch: Any) -> Any:
        if batch.num_rows == 0:
            return [None] * slots
        y, s, w = arrays(batch, label, score, weight, name)
        return _evalkit.range_states(y, s, w, task, score_kind, cuts, name)

    out = carrying(run, batch)
    return [out] * slots if isinstance(out, Carried) else out


# A multiclass table's sums (slot 0 of its ranges) start with these bytes.
_CLASS_SUMS = b"EVRMCS1\0"


def merge_range(*parts: Any) -> Any:
    """The merge of one slot's states (``None`` for no rows)."""

    def run(*p: Any) -> Any:
        kept = [b for b in p if b is not None]
        if len(kept) < 2:
            return kept[0] if kept else None
        if kept[0].startswith(_CLASS_SUMS):
            return _evalkit.range_class_sums_merge(kept)
        return _evalkit.merge_states(kept)

    return carrying(run, *parts)


def range_summary(state: Any) -> Any:
    """Step 3: a range's summary from its merged state (a multiclass
    table's sums are their own summary)."""

    def run(s: Any) -> Any:
        if s is None or s.startswith(_CLASS_SUMS):
            return s
        return _evalkit.range_summary(s)

    return carrying(run, state)


def range_partial(state: Any, context: bytes) -> Any:
    """Step 5: a range's part."""
    return carrying(lambda s: _evalkit.range_partial(s, context), state)


def finish_ranges(summaries: List[Any], run: Any, opts: Dict[str, Any], cuts: List[List[float]]) -> Any:
    """Steps 4–6 on the driver: ``summaries`` one per slot of
    :func:`range_slots` (``None`` for a range without rows);
    ``run([(slot, context), ...])`` computes those ranges' parts where their
    states live and returns them in order."""
    import json

    from . import Result

    raise_if_carried(summaries)
    if len(cuts) > 1:
        return Result(json.loads(_finish_classes(summaries, run, opts, cuts)))
    kept = [r for r, s in enumerate(summaries) if s is not None]
    sums = [summaries[r] for r in kept]
    contexts = _evalkit.range_plan(sums, **opts)
    partials = run(list(zip(kept, contexts)))
    raise_if_carried(partials)
    second = _evalkit.range_delong_contexts(contexts, partials)
    delong = None
    if second is not None:
        delong = run(list(zip(kept, second)))
        raise_if_carried(delong)
    return Result(json.loads(_evalkit.range_finish(sums, partials, delong, "state", **opts)))


def _finish_classes(summaries: List[Any], run: Any, opts: Dict[str, Any], cuts: List[List[float]]) -> str:
    """:func:`finish_ranges` of multiclass rows: each class's ranges are
    planned apart (its one-vs-rest table), every class's parts computed in
    one round, and the document finished from the rows' sums (slot 0)."""
    classes, jobs, slot = [], [], 1
    for c in cuts:
        kept = [r for r in range(slot, slot + len(c) + 1) if summaries[r] is not None]
        sums = [summaries[r] for r in kept]
        contexts = _evalkit.range_plan(sums, **opts) if sums else []
        classes.append((sums, len(jobs), len(kept)))
        jobs.extend(zip(kept, contexts))
        slot += len(c) + 1
    partials = run(jobs) if jobs else []
    raise_if_carried(partials)
    per_class = [(sums, partials[at : at + n]) for sums, at, n in classes]
    return _evalkit.range_finish_multiclass(summaries[0], per_class, "state", **opts)


# --- The fast tier over an engine's blocks -----------------------------------


def check_fast_options(sample: Any, threshold: float) -> None:
    """``sample`` and ``threshold`` as :func:`evalkit.fast` checks them,
    before any engine work."""
    from . import _sample_size

    _sample_size(sample)
    if not (0.0 <= threshold <= 1.0):
        raise _evalkit.UsageError(f"threshold {threshold} is not a probability in [0, 1]")


def fast_step(
    block: Any,
    step: str,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    name: str,
    **kw: Any,
) -> Tuple[str, Any]:
    """One block's share of the fast tier over blocks (``step``: "counts",
    "probe" or "pick"; see ``evalkit::fast::blocks``): ``("ok", output)``,
    ``("empty", None)`` for a block without rows, or evalkit's error as
    data, ``("error", (class, message))``. "pick" checks the block's strata
    against those its "counts" gave (``expect``): an engine that recomputes
    its data between the passes must give the same rows."""
    import pyarrow as pa

    if block.num_rows == 0:
        return ("empty", None)
    try:
        y, s, w = arrays(block, label, score, weight, name)
        expect = kw.pop("expect", None)
        if step == "pick" and expect is not None:
            again = _evalkit.fast_block("counts", y, s, w, task, score_kind, name, cuts=kw.get("cuts"))
            if list(again[4]) != list(expect):
                raise _evalkit.UsageError(
                    f"{name} holds other rows than in the first pass (strata {list(expect)} then {list(again[4])}): "
                    "the data changed between the passes; persist or cache it first"
                )
        out = _evalkit.fast_block(step, y, s, w, task, score_kind, name, **kw)
        if step == "pick":
            out = block.take(pa.array(out, pa.int64()))
        return ("ok", out)
    except _evalkit.EvalkitError as e:
        return ("error", (type(e).__name__, str(e)))


def fast_over_blocks(
    run: Any, args: tuple, sample: Any, seed: int, threshold: float, what: str
) -> Any:
    """The fast tier over an engine's blocks: ``run(step, kwargs)`` runs
    :func:`fast_step` on every block in a fixed order with ``kwargs(i)``
    for block ``i`` and returns the outputs in that order. Counts the
    strata (a regression first probes the labels that set the deciles),
    draws the plan from the merged counts, picks each block's sampled rows
    and finishes from them in block order: :func:`evalkit.fast` on the rows
    in that order, bit for bit."""
    import json

    import pyarrow as pa

    from . import Result, _sample_size

    label, score, weight, task, score_kind = args
    n = _sample_size(sample)

    def outputs(step: str, kwargs: Any) -> List[Any]:
        outs = run(step, kwargs)
        for kind, out in outs:
            if kind == "error":
                raise_carried(*out)
        return [out for _, out in outs]

    counts = outputs("counts", lambda i: {"cuts": None})
    heads = [c[:3] for c in counts if c is not None]
    if not heads:
        raise _evalkit.InputError(f"{what} has no rows: there is nothing to evaluate")
    if any(h != heads[0] for h in heads):
        raise _evalkit.FormatError(
            f"the parts of {what} disagree on the task ({sorted(set(heads))[:2]}): their columns are typed "
            "differently; pass task= to decide it for every part"
        )
    kind, classes, _ = heads[0]
    rows = [c[3] if c is not None else 0 for c in counts]
    total = sum(rows)
    cuts = None
    if kind == "regression":
        firsts = [sum(rows[:i]) for i in range(len(rows))]
        probes = outputs("probe", lambda i: {"first": firsts[i], "rows": total})
        cuts = _evalkit.fast_decile_cuts([v for p in probes if p is not None for v in p])
        counts = outputs("counts", lambda i: {"cuts": cuts})
    strata = {"binary": 2, "multiclass": classes, "regression": 10}[kind]
    per_block = [list(c[4]) + [0] * (strata - len(c[4])) if c is not None else [0] * strata for c in counts]
    totals = [sum(b[h] for b in per_block) for h in range(strata)]
    parts = [[p for c in counts if c is not None and h < len(c[5]) for p in c[5][h]] for h in range(strata)]
    seen = [[sum(b[h] for b in per_block[:i]) for h in range(strata)] for i in range(len(counts))]
    picked = outputs(
        "pick",
        lambda i: {
            "cuts": cuts, "totals": totals, "seen": seen[i], "sample": n, "seed": seed,
            "expect": list(counts[i][4]) if counts[i] is not None else [],
        },
    )
    table = pa.concat_tables([t for t in picked if t is not None and t.num_rows])
    y, s, w = arrays(table, label, score, weight, "the sample")
    doc = _evalkit.fast_blocks_finish(y, s, w, task, score_kind, total, totals, parts, cuts, n, seed, threshold, what)
    return Result(json.loads(doc))
