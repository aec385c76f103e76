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

:func:`infer` is the inference pass on Ray: ONNX Runtime in a pool of
actors, one prediction file (and state) per block, cached by content as
``evalkit infer`` caches a file.

Importing ``evalkit`` never imports Ray; ``import evalkit.ray`` does (the
``evalkit[ray]`` extra installs it). Workers need only the evalkit wheel.
"""

import contextlib
import functools
from typing import Any, List, Optional, Sequence, Union

import ray
import ray.data

from . import InputError, Result, State, UsageError, _batches, _shards, _slice_names

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
    baseline: Optional[Scores] = None,
) -> Any:
    """One block (a pyarrow Table) → a one-row table holding its pickled
    reduction: its state (and slice states; with ``baseline`` its paired
    state), or evalkit's error as data."""
    import pyarrow as pa

    red = _batches.Reduction.of(
        [batch], label, score, weight, task, score_kind, slicings, "a Ray block", baseline=baseline
    )
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
    baseline: Optional[Scores] = None,
) -> _batches.Reduction:
    """Every block's reduction (with ``baseline``: paired states), merged
    in a tree of Ray tasks."""
    if fan_in < 2:
        raise InputError(f"fan_in={fan_in}: a merge task takes 2 or more states")
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    schema = getattr(schema, "base_schema", schema)
    scores = score if baseline is None else [*_batches._names(score), *_batches._names(baseline)]
    needed = _batches.needed_columns(schema, label, scores, weight, slicings, "the dataset", task)
    # Each block infers the task by the file rule from its column types
    # (the result says "inferred", as evalkit.full's does); blocks whose
    # types disagree give states that refuse to merge, with an error.
    reduce = functools.partial(
        _block,
        label=label,
        score=score,
        weight=weight,
        task=task,
        score_kind=score_kind,
        slicings=slicings,
        baseline=baseline,
    )
    merge = ray.remote(_merge)
    reductions = ds.select_columns(needed).map_batches(
        reduce, batch_format="pyarrow", batch_size=None, zero_copy_batch=True
    )
    refs = list(reductions.to_arrow_refs())
    return ray.get(merge.remote(_tree(merge, refs, fan_in))) if refs else _batches.Reduction()


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
    ranges: Optional[int] = None,
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
    slice from its state; no test against the rest, which needs rows).

    ``ranges``: cut the scores into about that many ranges of equal rows
    (binary or multiclass — each class's scores apart —, ``bootstrap=0``):
    one merged state per range, no task holds the whole score histogram,
    and the result is the one-state result bit for bit — for unrounded
    scores at a scale where one histogram would not fit one machine
    (README, "Score ranges")."""
    slicings = _slice_names(slices, "slices= names columns of the dataset")
    if ranges is not None:
        if slicings:
            raise UsageError("slices= and ranges= do not go together: a range's state holds no slice columns")
        return _ranged(ds, label, score, weight, task, score_kind, ranges, fan_in, options)
    return _reduce(ds, label, score, weight, task, score_kind, slicings, fan_in).finish(
        "the dataset", slicings, min_slice, options
    )


def compare(
    ds: Any,
    other: Any = None,
    *,
    candidate: Optional[Scores] = None,
    baseline: Optional[Scores] = None,
    id: Optional[str] = None,
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
    """Candidate vs baseline, in two forms:

    - ``compare(ds, candidate="p_new", baseline="p_old")``: two score
      columns of the same rows;
    - ``compare(ds_new, ds_old, id="row_id", score="p")``: two models'
      predictions joined on an id column (Ray Data's hash join, which needs
      polars on the workers), with ``evalkit compare --id``'s checks (ids
      unique on both sides, every candidate id in the baseline, the labels
      equal; baseline rows the candidate lacks are left out with a note).
      ``score`` names the score column(s) of both (``candidate`` /
      ``baseline`` override it per side), ``weight`` the candidate's.

    Each block is reduced to a paired state (:class:`evalkit.PairedState`:
    each model's state and, binary, the joint histogram of their score
    pairs), merged in a tree of Ray tasks, and finished by
    :func:`evalkit.compare_from_state` with ``options``. Each model's
    metrics, every difference and DeLong's paired test equal
    :func:`evalkit.compare` on the collected rows bit for bit; bootstrap
    intervals (binary, unweighted or whole-number weights; elsewhere
    ``bootstrap=0``) are drawn from the merged paired state, the same draws
    for both models, and equal those of the same state built on one machine
    with the same seed. The joint histogram holds one entry per distinct
    pair of scores: with unrounded scores about one per row, so the driver
    holds the rows' score pairs (README, "Engines").

    ``slices``: columns of the rows (of the candidate's, joined) as
    ``evalkit compare --slice`` takes them: each block also reduces each
    slice's rows to a paired state, merged per slice, and the result holds
    ``slices`` as ``compare --slice`` gives them — each slice's metrics,
    paired differences and DeLong's test equal the CLI's on the same rows
    (its bootstrap intervals are drawn from the slice's paired state), and
    the test against the baseline is adjusted across the slices."""
    cand, base = _batches.compare_columns(other, candidate, baseline, id, score, "dataset")
    slicings = _slice_names(slices, "slices= names columns of the dataset (the candidate's)")
    if other is None:
        red = _reduce(ds, label, cand, weight, task, score_kind, slicings, fan_in, baseline=base)
        return red.compare("the dataset", options, (), slicings, min_slice)
    joined, left_out = _join(ds, other, id, label, cand, base, weight, slicings)
    red = _reduce(
        joined, label, cand, weight, task, score_kind, slicings, fan_in, baseline=_batches.baseline_columns(base)
    )
    result = red.compare("the joined datasets", options, _batches.join_notes(left_out), slicings, min_slice)
    return _batches.joined_result(result, id, base)


def _schema_names(ds: Any) -> List[str]:
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    return list(getattr(schema, "names", None) or getattr(schema, "base_schema", schema).names)


def _join(
    ds: Any,
    other: Any,
    id: str,
    label: str,
    cand: Scores,
    base: Scores,
    weight: Optional[str],
    slicings: Sequence[Sequence[str]] = (),
) -> Any:
    """The candidate's rows with the baseline's scores, joined on ``id``
    after ``compare --id``'s checks; returns the joined dataset and how many
    baseline rows were left out."""
    keys = list(dict.fromkeys(c for by in slicings for c in by if c != id))
    _batches.check_columns(_schema_names(ds), label, cand, weight, "the candidate", keys, id=id)
    _batches.check_columns(_schema_names(other), label, base, None, "the baseline", id=id)

    def kind(side: Any) -> str:
        schema = side.schema()
        return _batches.arrow_id_kind(dict(zip(schema.names, schema.types))[id])

    _batches.check_id_types([("the candidate", kind(ds)), ("the baseline", kind(other))], id)
    # The hash shuffles' partitions: one per CPU of the cluster. Each
    # shuffle has a fixed cost of seconds, so the checks share one: every
    # id with its candidate and baseline row counts.
    parts = max(1, int(ray.cluster_resources().get("CPU", 1)))
    from ray.data.aggregate import Sum

    def tagged(side: Any, c: int) -> Any:
        def tag(t: Any) -> Any:
            import pyarrow as pa

            n = t.num_rows
            return pa.table({id: t.column(id), "c": pa.array([c] * n, pa.int64()), "b": pa.array([1 - c] * n, pa.int64())})

        return side.select_columns([id]).map_batches(tag, batch_format="pyarrow")

    counts = tagged(ds, 1).union(tagged(other, 0)).groupby(id).aggregate(Sum("c"), Sum("b")).materialize()
    null = counts.filter(lambda r: r[id] is None).take(1)
    if null:
        what = "the candidate" if null[0]["sum(c)"] else "the baseline"
        raise _batches.id_error(what, id, "an id is missing (null)")
    dup = counts.filter(lambda r: r["sum(c)"] > 1 or r["sum(b)"] > 1).take(1)
    if dup:
        what = "the candidate" if dup[0]["sum(c)"] > 1 else "the baseline"
        raise _batches.id_error(what, id, f"id {dup[0][id]} appears twice; ids must be unique")
    missing = counts.filter(lambda r: r["sum(c)"] > 0 and r["sum(b)"] == 0).take(1)
    if missing:
        raise _batches.id_error("the candidate", id, f"id {missing[0][id]} is not in the baseline")
    left_out = int(counts.sum("sum(b)") or 0) - int(counts.sum("sum(c)") or 0)
    names = _batches._names(cand)
    base_cols = _batches.baseline_columns(base)
    right = other.select_columns([id, label, *_batches._names(base)]).rename_columns(
        {label: _batches.BASELINE_LABEL, **dict(zip(_batches._names(base), base_cols))}
    )
    left = ds.select_columns(list(dict.fromkeys([id, label, *names, *([weight] if weight else []), *keys])))
    joined = left.join(right, "inner", parts, on=(id,)).materialize()
    bad = joined.filter(lambda r: r[label] != r[_batches.BASELINE_LABEL]).take(1)
    if bad:
        raise _batches.label_error(id, bad[0][id], bad[0][label], bad[0][_batches.BASELINE_LABEL])
    return joined, left_out


# --- Score ranges: the exact full tier without one merged histogram ---------

_BLOCK = "a Ray block"


def _sketch(block: Any, cols: tuple) -> Any:
    return _batches.range_sketch(block, *cols, _BLOCK)


def _split(block: Any, cols: tuple, cuts: List[List[float]]) -> Any:
    out = _batches.range_states(block, *cols, cuts, _BLOCK)
    return out[0] if len(out) == 1 else tuple(out)


def _tree(merge: Any, refs: List[Any], fan_in: int) -> Any:
    """One object merged from ``refs`` by a tree of ``merge`` tasks (each
    level merges ``fan_in`` of them)."""
    while len(refs) > 1:
        refs = [merge.remote(*refs[i : i + fan_in]) for i in range(0, len(refs), fan_in)]
    return refs[0]


def _ranged(
    ds: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    ranges: int,
    fan_in: int,
    options: dict,
) -> Result:
    """:func:`full` with ``ranges``: the rows' scores cut into about that
    many ranges, one merged state per range (a tree of Ray tasks each),
    finished from the ranges' parts (``docs/state-format.md``, "Score
    ranges")."""
    opts = _batches.range_options(ranges, options)
    if fan_in < 2:
        raise InputError(f"fan_in={fan_in}: a merge task takes 2 or more states")
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    schema = getattr(schema, "base_schema", schema)
    needed = _batches.needed_columns(schema, label, score, weight, [], "the dataset", task)
    # The needed columns, read once: both passes run on these blocks.
    blocks = list(ds.select_columns(needed).to_arrow_refs())
    cols = (label, score, weight, task, score_kind)
    sketches = [ray.remote(_sketch).remote(b, cols) for b in blocks]
    sketch = ray.get(_tree(ray.remote(_batches.merge_sketches), sketches, fan_in)) if blocks else None
    cuts = _batches.range_cuts(sketch, ranges, "the dataset")
    k = _batches.range_slots(cuts)
    split = ray.remote(_split).options(num_returns=k)
    pieces = [split.remote(b, cols, cuts) for b in blocks]
    pieces = [[p] if k == 1 else list(p) for p in pieces]
    merge = ray.remote(_batches.merge_range)
    states = [_tree(merge, [p[r] for p in pieces], fan_in) for r in range(k)]
    summaries = ray.get([ray.remote(_batches.range_summary).remote(s) for s in states])
    part = ray.remote(_batches.range_partial)

    def run(contexts: List[tuple]) -> List[Any]:
        return ray.get([part.remote(states[r], c) for r, c in contexts])

    return _batches.finish_ranges(summaries, run, opts, cuts)


@contextlib.contextmanager
def _in_order(ds: Any) -> Any:
    """Runs with the dataset's blocks kept in its order (retried blocks
    too). A dataset executes with the context it was made with, shared with
    the datasets made from it: order is asked of that one, for this run
    only."""
    ctx = ds.context
    kept = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True
    try:
        yield
    finally:
        ctx.execution_options.preserve_order = kept

# --- The fast tier on Ray ---------------------------------------------------


def _fast_step(ref: Any, step: str, args: tuple, kw: dict) -> Any:
    return _batches.fast_step(ref, step, *args, "a Ray block", **kw)


def fast(
    ds: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    sample: Union[int, str, None] = 10_000,
    seed: int = 0,
    threshold: float = 0.5,
) -> Result:
    """The fast tier of a Ray dataset: the same stratified sample,
    estimates and standard errors as :func:`evalkit.fast` on the collected
    rows (in the order of the dataset's blocks), bit for bit. The blocks are
    materialised once (only the needed columns); a Ray task per block counts
    its strata (regression first reads the labels that set the deciles), the
    driver draws the sample's plan from the merged counts, and a second task
    per block returns only its sampled rows — the driver never holds more
    than the sample."""
    schema = ds.schema()
    if schema is None:
        raise InputError("the dataset has no schema (no blocks): there are no rows to evaluate")
    schema = getattr(schema, "base_schema", schema)
    needed = _batches.needed_columns(schema, label, score, weight, [], "the dataset", task)
    args = (label, score, weight, task, score_kind)
    _batches.check_fast_options(sample, threshold)
    with _in_order(ds):
        refs = list(ds.select_columns(needed).to_arrow_refs())
    step = ray.remote(_fast_step)

    def run(name: str, kwargs: Any) -> List[Any]:
        return ray.get([step.remote(r, name, args, kwargs(i)) for i, r in enumerate(refs)])

    return _batches.fast_over_blocks(run, args, sample, seed, threshold, "the dataset")

# --- The inference pass on Ray ---------------------------------------------

MANIFEST = _shards.MANIFEST
Inference = _shards.Inference


class _Scorer(_shards.Scorer):
    """A Ray actor's share of :func:`infer`: one ONNX Runtime session for
    every block it is given (:class:`evalkit._shards.Scorer`)."""

    def __init__(self, model: str, staging: str, options: dict):
        # Not super(): a subclass defined where Ray pickles it by value
        # (a test's) would carry a copy of this class that super()'s
        # implicit class cell does not match.
        _shards.Scorer.__init__(self, model, staging, options, "a Ray block")


def infer(
    model: Union[str, "os.PathLike[str]"],
    ds: Any,
    *,
    output: Union[str, "os.PathLike[str]"],
    label: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    keep: Sequence[str] = (),
    fill_null: Optional[float] = None,
    batch_size: int = 4096,
    device: str = "cpu",
    num_cpus: float = 1,
    num_gpus: Optional[float] = None,
    concurrency: Optional[int] = None,
    threads: Optional[int] = None,
    output_name: Optional[str] = None,
    score_kind: str = "probability",
    task: Optional[str] = None,
    classes: Optional[Sequence[str]] = None,
    cache_dir: Union[str, "os.PathLike[str]", None] = None,
    no_cache: bool = False,
    fan_in: int = 16,
) -> Inference:
    """``evalkit infer`` over a Ray dataset: ONNX Runtime in a pool of Ray
    actors (one session per actor; ``concurrency`` actors, by default a pool
    that grows from one to as many as the cluster's CPUs hold at
    ``num_cpus`` each, or its GPUs with ``device="cuda"``, which asks
    ``num_gpus=1`` per actor), one prediction
    file per block written into the folder ``output`` in the dataset's
    order, and each block's state, in one pass over the rows. Returns an
    :class:`Inference`; ``.full(...)`` evaluates every row from the merged
    state (merged in a tree of Ray tasks, ``fan_in`` states per task).

    Every file is the one ``evalkit infer`` writes for those rows: same
    columns (``label``, ``score``, ``keep``), same scores bit for bit, same
    metadata but ``evalkit.data``, which describes the block. Cached by
    content like ``evalkit infer``: each block's key hashes the model file,
    the block's rows (as Arrow IPC bytes, schema metadata dropped) and the
    options; a block already scored with the same model and options is
    copied from the cache (``cache_dir``: ``$EVALKIT_CACHE``, else
    ``.evalkit/cache`` under the driver's working directory; it and
    ``output`` must be folders every worker sees, as on one machine or a
    shared file system). Blocks are split as Ray splits the dataset, so the
    same dataset read the same way hits the cache.

    ``output`` must be new, empty or an earlier ``infer``'s output (which is
    replaced when this run succeeds); files are written to a staging folder
    inside it and moved into place only when every block succeeded, so a
    failure leaves the folder as it was. ``threads``: ONNX Runtime
    intra-op threads per actor (default ``num_cpus``). A bad block fails
    the call with evalkit's error, of its own class, naming the column and
    the row within the block."""
    if fan_in < 2:
        raise InputError(f"fan_in={fan_in}: a merge task takes 2 or more states")
    gpu = device != "cpu"
    if num_gpus is None:
        num_gpus = 1 if gpu else 0
    if threads is None:
        threads = max(1, int(num_cpus))
    if concurrency is None:
        # From one actor up to what the cluster holds: a fixed pool taking
        # every CPU would leave none for the tasks that read the blocks.
        resources = ray.cluster_resources()
        if gpu:
            most = int(resources.get("GPU", 0) // max(num_gpus, 1e-9))
        else:
            most = int(resources.get("CPU", 1) // max(num_cpus, 1e-9))
        pool = ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, most))
    else:
        pool = ray.data.ActorPoolStrategy(size=int(concurrency))
    # Last: the run makes its staging folder, which only `with run` removes.
    run = _shards.Run(
        model, output, label=label, features=features, keep=keep, fill_null=fill_null, batch_size=batch_size,
        device=device, threads=threads, output_name=output_name, score_kind=score_kind, task=task,
        classes=classes, cache_dir=cache_dir, no_cache=no_cache,
    )
    with run:
        # Blocks keep the dataset's order, so part-00000.. follow the rows.
        with _in_order(ds):
            scored = ds.map_batches(
                _Scorer,
                fn_constructor_kwargs={"model": run.model, "staging": run.staging, "options": run.options},
                batch_format="pyarrow",
                batch_size=None,
                zero_copy_batch=True,
                compute=pool,
                num_cpus=num_cpus,
                num_gpus=num_gpus or None,
            ).materialize()
        refs = list(scored.to_arrow_refs())
        describe = ray.remote(_shards.describe)
        rows = [r for part in ray.get([describe.remote(r) for r in refs]) for r in part]
        merge = ray.remote(_merge)
        while len(refs) > 1:
            refs = [merge.remote(*refs[i : i + fan_in]) for i in range(0, len(refs), fan_in)]
        red = ray.get(merge.remote(*refs)) if refs else _batches.Reduction()
        return run.finish(rows, red)
