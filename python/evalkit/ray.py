"""evalkit on Ray Data: exact metrics of a ``ray.data.Dataset`` of
predictions, the same numbers, bit for bit, as :func:`evalkit.full` on the
collected rows.

Each block is reduced to a mergeable state where it lives (``map_batches``
over whole blocks as Arrow tables), the states are merged in a tree of Ray
tasks (``fan_in`` states per task, so no single task — and not the driver —
merges them all), and the driver finishes the one merged state::

    import ray, evalkit.ray
    ds = ray.data.read_parquet("s3://bucket/preds/")
    r = evalkit.ray.full(ds, label="label", score="score", bootstrap=1000)
    r["roc_auc"].value, r["roc_auc"].ci

Importing ``evalkit`` never imports Ray; ``import evalkit.ray`` does (the
``evalkit[ray]`` extra installs it). Workers need only the evalkit wheel.
"""

import functools
from typing import Any, List, Optional, Sequence, Tuple, Union

import ray

from . import EvalkitError, InputError, Result, State, _batches

Scores = Union[str, Sequence[str]]


def _block_state(
    batch: Any,
    *,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
) -> Any:
    """One block (a pyarrow Table) → a one-row table holding its state's
    bytes (no row for an empty block). Bad rows do not raise here (Ray would
    keep only the message's text): the row carries evalkit's error class
    and message instead, and the driver raises that."""
    import pyarrow as pa

    schema = pa.schema([("state", pa.binary()), ("error_class", pa.string()), ("error", pa.string())])
    if batch.num_rows == 0:
        return schema.empty_table()
    try:
        st = State.from_arrow(
            batch, label=label, score=score, weight=weight, task=task, score_kind=score_kind, name="a Ray block"
        )
    except EvalkitError as e:
        return pa.table([[None], [type(e).__name__], [str(e)]], schema=schema)
    return pa.table([[st.to_bytes()], [None], [None]], schema=schema)


# A merge's result: the merged state's bytes, an error (class name,
# message) from a block, or None when every block was empty.
Merged = Union[bytes, Tuple[str, str], None]


def _merge(*parts: Any) -> Merged:
    """Merges states given as merge results or as tables of block states;
    the first error found wins (and no state is merged)."""
    import evalkit

    states: List[bytes] = []
    for p in parts:
        if p is None:
            continue
        if isinstance(p, tuple):
            return p
        if isinstance(p, (bytes, bytearray)):
            states.append(bytes(p))
            continue
        if p.num_rows == 0:
            continue  # an empty block (Ray may pass it on without its columns)
        for st, cls, msg in zip(*(p.column(c).to_pylist() for c in ("state", "error_class", "error"))):
            if cls is not None:
                return (cls, msg)
            states.append(st)
    return evalkit.merge_states(states) if states else None


def state(
    ds: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    fan_in: int = 16,
) -> State:
    """The merged state of every row of ``ds`` (see the module's doc).
    ``task`` defaults to what the column types say (as for a file).
    A block with bad rows fails the whole call with evalkit's error, of its
    own class (the row is counted within its block)."""
    if fan_in < 2:
        raise InputError(f"fan_in={fan_in}: a merge task takes 2 or more states")
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    schema = getattr(schema, "base_schema", schema)
    _batches.check_columns(schema, label, score, weight, "the dataset")
    # Each block infers the task by the file rule from its column types
    # (the result says "inferred", as evalkit.full's does); blocks whose
    # types disagree give states that refuse to merge, with an error.
    reduce = functools.partial(
        _block_state, label=label, score=score, weight=weight, task=task, score_kind=score_kind
    )
    merge = ray.remote(_merge)
    states = ds.map_batches(reduce, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)
    refs = list(states.to_arrow_refs())
    # A tree of merge tasks: each level merges fan_in states.
    while len(refs) > 1:
        refs = [merge.remote(*refs[i : i + fan_in]) for i in range(0, len(refs), fan_in)]
    root = ray.get(merge.remote(*refs)) if refs else None
    if isinstance(root, tuple):
        _batches.raise_carried(*root)
    if root is None:
        raise InputError("the dataset has no rows: there is nothing to evaluate")
    return State(root)


def full(
    ds: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    fan_in: int = 16,
    **options: Any,
) -> Result:
    """The full tier of every row of a Ray dataset: :func:`state`, then
    :meth:`evalkit.State.finish` with ``options`` (``bootstrap``, ``ci``,
    ``method``, ``resample``, ``seed``, ``threshold``, ``thresholds``).
    Point metrics equal :func:`evalkit.full` on the collected rows bit for
    bit; bootstrap intervals are drawn from the merged state (binary,
    unweighted or whole-number weights; elsewhere pass ``bootstrap=0``) and
    equal those of the same state built on one machine with the same seed."""
    return state(
        ds, label=label, score=score, weight=weight, task=task, score_kind=score_kind, fan_in=fan_in
    ).finish(**options)
