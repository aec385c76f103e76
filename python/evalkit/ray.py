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
from typing import Any, List, Optional, Sequence, Union

import ray

from . import InputError, Result, State, _batches, _slice_names

Scores = Union[str, Sequence[str]]


def _block(
    batch: Any,
    *,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    slicings: List[List[str]],
) -> Any:
    """One block (a pyarrow Table) → a one-row table holding its pickled
    reduction: its state (and slice states), or evalkit's error as data."""
    import pyarrow as pa

    red = _batches.Reduction.of([batch], label, score, weight, task, score_kind, slicings, "a Ray block")
    return pa.table({"reduction": pa.array([red.to_bytes()], pa.binary())})


def _merge(*parts: Any) -> _batches.Reduction:
    """Merges reductions given as merge results or as blocks of the
    reductions dataset."""
    reds = []
    for p in parts:
        if isinstance(p, _batches.Reduction):
            reds.append(p)
        elif p is not None and p.num_rows:
            reds.extend(_batches.Reduction.from_bytes(b) for b in p.column("reduction").to_pylist())
    return _batches.Reduction.merge_all(reds)


def _reduce(
    ds: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    slicings: List[List[str]],
    fan_in: int,
) -> _batches.Reduction:
    """Every block's reduction, merged in a tree of Ray tasks."""
    if fan_in < 2:
        raise InputError(f"fan_in={fan_in}: a merge task takes 2 or more states")
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    schema = getattr(schema, "base_schema", schema)
    needed = _batches.needed_columns(schema, label, score, weight, slicings, "the dataset", task)
    # Each block infers the task by the file rule from its column types
    # (the result says "inferred", as evalkit.full's does); blocks whose
    # types disagree give states that refuse to merge, with an error.
    reduce = functools.partial(
        _block, label=label, score=score, weight=weight, task=task, score_kind=score_kind, slicings=slicings
    )
    merge = ray.remote(_merge)
    reductions = ds.select_columns(needed).map_batches(
        reduce, batch_format="pyarrow", batch_size=None, zero_copy_batch=True
    )
    refs = list(reductions.to_arrow_refs())
    # A tree of merge tasks: each level merges fan_in reductions.
    while len(refs) > 1:
        refs = [merge.remote(*refs[i : i + fan_in]) for i in range(0, len(refs), fan_in)]
    return ray.get(merge.remote(*refs)) if refs else _batches.Reduction()


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
    red = _reduce(ds, label, score, weight, task, score_kind, [], fan_in)
    return State(red.state("the dataset"))


def full(
    ds: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    slices: Union[str, Sequence[Union[str, Sequence[str]]], None] = None,
    min_slice: int = 30,
    fan_in: int = 16,
    **options: Any,
) -> Result:
    """The full tier of every row of a Ray dataset: :func:`state`, then
    :meth:`evalkit.State.finish` with ``options`` (``bootstrap``, ``ci``,
    ``method``, ``resample``, ``seed``, ``threshold``, ``thresholds``).
    Point metrics equal :func:`evalkit.full` on the collected rows bit for
    bit; bootstrap intervals are drawn from the merged state (binary,
    unweighted or whole-number weights; elsewhere pass ``bootstrap=0``) and
    equal those of the same state built on one machine with the same seed.

    ``slices``: column names as ``evalkit full --slice`` takes them
    (``"region"``, ``"region,device"`` crossed, or a list): each block
    also reduces each slice's rows to a state, merged per slice; the result
    holds ``slices`` as ``evalkit full SHARDS --slice`` gives them (each
    slice from its state; no test against the rest, which needs rows)."""
    slicings = _slice_names(slices, "slices= names columns of the dataset")
    return _reduce(ds, label, score, weight, task, score_kind, slicings, fan_in).finish(
        "the dataset", slicings, min_slice, options
    )
