"""evalkit on Spark: exact metrics of a PySpark DataFrame of predictions,
the same numbers, bit for bit, as :func:`evalkit.full` on the collected
rows — where Spark MLlib's ``BinaryClassificationEvaluator`` bins scores
(1000 bins by default) and computes a trapezoid for the area under PR.

Each partition is reduced to one mergeable state inside Spark's Python
workers (``mapInArrow`` over the needed columns only), the partition states
are merged in a tree on the executors (``RDD.treeReduce``; no shuffle of
rows), and the driver finishes the one merged state::

    import evalkit.spark
    df = spark.read.parquet("s3://bucket/preds/")
    r = evalkit.spark.full(df, label="label", score="score", bootstrap=1000)

:func:`fast` samples a DataFrame exactly as :func:`evalkit.fast` samples
its collected rows; :func:`infer` is the inference pass on Spark (one
prediction file and state per partition, as ``evalkit.ray.infer``).

Importing ``evalkit`` never imports PySpark; ``import evalkit.spark`` does
(the ``evalkit[spark]`` extra installs it; Spark needs a Java runtime).
Executors need only the evalkit wheel.
"""

from typing import Any, Iterator, List, Optional, Sequence, Union

from . import InputError, Result, State, UsageError, _batches, _shards, _slice_names

Scores = Union[str, Sequence[str]]


def _reduce_partition(
    batches: Iterator[Any],
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    slicings: List[List[str]],
    baseline: Optional[Scores] = None,
) -> Iterator[Any]:
    """One partition's Arrow batches → one batch of one row: its pickled
    reduction (state and slice states, or with ``baseline`` its paired
    state; or evalkit's error as data)."""
    import pyarrow as pa

    red = _batches.Reduction.of(
        batches, label, score, weight, task, score_kind, slicings, "a Spark partition", baseline=baseline
    )
    yield pa.RecordBatch.from_arrays([pa.array([red.to_bytes()], pa.binary())], names=["reduction"])


def _merge_two(a: _batches.Reduction, b: _batches.Reduction) -> _batches.Reduction:
    return _batches.Reduction.merge_all([a, b])


def _partial_reduce(
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    slicings: List[List[str]],
    baseline: Optional[Scores] = None,
) -> Any:
    """The partition function ``mapInArrow`` calls (a closure over the
    column names, pickled to the executors)."""

    def reduce(batches: Iterator[Any]) -> Iterator[Any]:
        return _reduce_partition(batches, label, score, weight, task, score_kind, slicings, baseline)

    return reduce


def _reduce(
    df: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    slicings: List[List[str]],
    depth: int,
    baseline: Optional[Scores] = None,
) -> _batches.Reduction:
    """Every partition's reduction (with ``baseline``: paired states),
    merged by ``RDD.treeReduce``."""
    if depth < 1:
        raise InputError(f"depth={depth}: the merge tree needs a depth of 1 or more")
    scores = score if baseline is None else [*_batches._names(score), *_batches._names(baseline)]
    needed = _batches.needed_columns(df.schema.fieldNames(), label, scores, weight, slicings, "the DataFrame", task)
    reduce = _partial_reduce(label, score, weight, task, score_kind, slicings, baseline)
    parts = (
        df.select(*["`" + c.replace("`", "``") + "`" for c in needed])
        .mapInArrow(reduce, "reduction binary")
        .rdd.map(lambda r: _batches.Reduction.from_bytes(r[0]))
    )
    try:
        return _on_workers(lambda: parts.treeReduce(_merge_two, depth=depth))
    except ValueError as e:
        if "empty" in str(e).lower():  # no partitions at all
            return _batches.Reduction()
        raise


def _on_workers(job: Any) -> Any:
    """Runs a Spark job; workers without evalkit get one clear error."""
    try:
        return job()
    except Exception as e:
        if "No module named 'evalkit'" in str(e):
            raise UsageError(
                "Spark's Python workers cannot import evalkit: install the evalkit wheel where the "
                "executors' Python runs, or point PYSPARK_PYTHON at a Python that has it (locally: "
                "os.environ['PYSPARK_PYTHON'] = sys.executable before the session starts)"
            ) from None
        raise


def state(
    df: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    depth: int = 2,
) -> State:
    """The merged state of every row of ``df`` (see the module's doc):
    ``depth`` is the depth of the merge tree (``RDD.treeReduce``). The task
    defaults to what the column types say (as for a file). A partition with
    bad rows fails the whole call with evalkit's error, of its own class
    (the row is counted within its Arrow batch)."""
    red = _reduce(df, label, score, weight, task, score_kind, [], depth)
    return State(red.state("the DataFrame"))


def full(
    df: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    slices: Union[str, Sequence[Union[str, Sequence[str]]], None] = None,
    min_slice: int = 30,
    depth: int = 2,
    ranges: Optional[int] = None,
    **options: Any,
) -> Result:
    """The full tier of every row of a Spark DataFrame: :func:`state`, then
    :meth:`evalkit.State.finish` with ``options`` (``bootstrap``, ``ci``,
    ``method``, ``resample``, ``seed``, ``threshold``, ``thresholds``).
    Point metrics equal :func:`evalkit.full` on the collected rows bit for
    bit; bootstrap intervals are drawn from the merged state (binary,
    unweighted or whole-number weights; elsewhere pass ``bootstrap=0``) and
    equal those of the same state built on one machine with the same seed.
    ``slices`` and ``ranges`` as :func:`evalkit.ray.full`'s (with
    ``ranges`` each partition's per-range states are merged per range by
    ``reduceByKey``: a shuffle of states, never of rows)."""
    slicings = _slice_names(slices, "slices= names columns of the DataFrame")
    if ranges is not None:
        if slicings:
            raise UsageError("slices= and ranges= do not go together: a range's state holds no slice columns")
        return _ranged(df, label, score, weight, task, score_kind, ranges, depth, options)
    return _reduce(df, label, score, weight, task, score_kind, slicings, depth).finish(
        "the DataFrame", slicings, min_slice, options
    )


def compare(
    df: Any,
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
    depth: int = 2,
    **options: Any,
) -> Result:
    """Candidate vs baseline, in two forms:

    - ``compare(df, candidate="p_new", baseline="p_old")``: two score
      columns of the same rows;
    - ``compare(df_new, df_old, id="row_id", score="p")``: two models'
      predictions joined on an id column, with ``evalkit compare --id``'s
      checks (ids unique on both sides, every candidate id in the baseline,
      the labels equal; baseline rows the candidate lacks are left out with
      a note). ``score`` names the score column(s) of both (``candidate`` /
      ``baseline`` override it per side), ``weight`` the candidate's.

    Each partition is reduced to a paired state, the states are merged by
    ``treeReduce`` and finished by :func:`evalkit.compare_from_state`. The
    same numbers as :func:`evalkit.ray.compare` (see there): bit for bit
    :func:`evalkit.compare` on the collected rows without the bootstrap,
    and the one-machine paired state's intervals with it.

    ``slices``: columns of the rows (of the candidate's, joined) as
    ``evalkit compare --slice`` takes them: each block also reduces each
    slice's rows to a paired state, merged per slice, and the result holds
    ``slices`` as ``compare --slice`` gives them — each slice's metrics,
    paired differences and DeLong's test equal the CLI's on the same rows
    (its bootstrap intervals are drawn from the slice's paired state), and
    the test against the baseline is adjusted across the slices."""
    cand, base = _batches.compare_columns(other, candidate, baseline, id, score, "DataFrame")
    slicings = _slice_names(slices, "slices= names columns of the DataFrame (the candidate's)")
    if other is None:
        red = _reduce(df, label, cand, weight, task, score_kind, slicings, depth, baseline=base)
        return red.compare("the DataFrame", options, (), slicings, min_slice)
    joined, left_out = _join(df, other, id, label, cand, base, weight, slicings)
    red = _reduce(
        joined, label, cand, weight, task, score_kind, slicings, depth, baseline=_batches.baseline_columns(base)
    )
    result = red.compare("the joined DataFrames", options, _batches.join_notes(left_out), slicings, min_slice)
    return _batches.joined_result(result, id, base)


def _join(
    df: Any,
    other: Any,
    id: str,
    label: str,
    cand: Scores,
    base: Scores,
    weight: Optional[str],
    slicings: Sequence[Sequence[str]] = (),
) -> Any:
    """The candidate's rows with the baseline's scores, joined on ``id``
    after ``compare --id``'s checks (a few small Spark jobs and one join);
    returns the joined DataFrame and how many baseline rows were left out."""
    from pyspark.sql import functions as F

    def q(c: str) -> Any:
        return F.col("`" + c.replace("`", "``") + "`")

    names = _batches._names(cand)
    # Slice keys the join keeps anyway (the id, label, scores, weight) are
    # not selected twice.
    keys = [c for c in dict.fromkeys(c for by in slicings for c in by) if c not in {id, label, weight, *names}]
    _batches.check_columns(df.schema.fieldNames(), label, cand, weight, "the candidate", keys, id=id)
    _batches.check_columns(other.schema.fieldNames(), label, base, None, "the baseline", id=id)
    def kind(frame: Any) -> str:
        t = frame.schema[id].dataType.typeName()
        return {"byte": "integer", "short": "integer", "integer": "integer", "long": "integer"}.get(
            t, "string" if t == "string" else t
        )

    _batches.check_id_types([("the candidate", kind(df)), ("the baseline", kind(other))], id)
    for frame, what in ((df, "the candidate"), (other, "the baseline")):
        if _on_workers(lambda: frame.filter(q(id).isNull()).limit(1).collect()):
            raise _batches.id_error(what, id, "an id is missing (null)")
        dup = _on_workers(lambda: frame.groupBy(q(id)).count().filter(F.col("count") > 1).limit(1).collect())
        if dup:
            raise _batches.id_error(what, id, f"id {dup[0][0]} appears twice; ids must be unique")
    ids = other.select(q(id).alias(id))
    missing = _on_workers(lambda: df.select(q(id).alias(id)).join(ids, on=id, how="left_anti").limit(1).collect())
    if missing:
        raise _batches.id_error("the candidate", id, f"id {missing[0][0]} is not in the baseline")
    keep = [q(id).alias(id), q(label), *(q(c) for c in names), *([q(weight)] if weight else []), *(q(c) for c in keys)]
    right = other.select(
        q(id).alias(id),
        q(label).alias(_batches.BASELINE_LABEL),
        *(q(c).alias(b) for c, b in zip(_batches._names(base), _batches.baseline_columns(base))),
    )
    joined = df.select(*keep).join(right, on=id, how="inner")
    bad = _on_workers(
        lambda: joined.filter(~q(label).eqNullSafe(F.col(_batches.BASELINE_LABEL))).limit(1).collect()
    )
    if bad:
        row = bad[0].asDict()
        raise _batches.label_error(id, row[id], row[label], row[_batches.BASELINE_LABEL])
    left_out = _on_workers(lambda: other.count() - df.count())
    return joined, left_out


_PARTITION = "a Spark partition"


def _table(batches: Iterator[Any]) -> Any:
    import pyarrow as pa

    batches = list(batches)
    return pa.Table.from_batches(batches) if batches else None


def _sketch_partition(cols: tuple) -> Any:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pickle

        import pyarrow as pa

        t = _table(batches)
        out = None if t is None else _batches.range_sketch(t, *cols, _PARTITION)
        yield pa.RecordBatch.from_arrays([pa.array([pickle.dumps(out)], pa.binary())], names=["out"])

    return run


def _split_partition(cols: tuple, cuts: List[List[float]]) -> Any:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pickle

        import pyarrow as pa

        t = _table(batches)
        if t is None:
            return
        out = _batches.range_states(t, *cols, cuts, _PARTITION)
        keys = [r for r, b in enumerate(out) if b is not None]
        yield pa.RecordBatch.from_arrays(
            [pa.array(keys, pa.int32()), pa.array([pickle.dumps(out[r]) for r in keys], pa.binary())],
            names=["range", "state"],
        )

    return run


def _ranged(
    df: Any,
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
    ranges: int,
    depth: int,
    options: dict,
) -> Result:
    """:func:`full` with ``ranges`` (see :func:`evalkit.ray.full`)."""
    import pickle

    opts = _batches.range_options(ranges, options)
    if depth < 1:
        raise InputError(f"depth={depth}: the merge tree needs a depth of 1 or more")
    needed = _batches.needed_columns(df.schema.fieldNames(), label, score, weight, [], "the DataFrame", task)
    sel = df.select(*["`" + c.replace("`", "``") + "`" for c in needed])
    cols = (label, score, weight, task, score_kind)
    sketches = sel.mapInArrow(_sketch_partition(cols), "out binary").rdd.map(lambda r: pickle.loads(r[0]))
    try:
        sketch = _on_workers(lambda: sketches.treeReduce(_batches.merge_sketches, depth=depth))
    except ValueError as e:
        if "empty" not in str(e).lower():  # no partitions at all
            raise
        sketch = None
    cuts = _batches.range_cuts(sketch, ranges, "the DataFrame")
    k = _batches.range_slots(cuts)
    # One merged state per range: the partitions' states (not rows) are
    # shuffled by range and merged; kept for the two rounds of parts.
    states = (
        sel.mapInArrow(_split_partition(cols, cuts), "range int, state binary")
        .rdd.map(lambda r: (r[0], pickle.loads(r[1])))
        .reduceByKey(_batches.merge_range, numPartitions=k)
        .persist()
    )
    try:
        found = dict(_on_workers(lambda: states.mapValues(_batches.range_summary).collect()))
        summaries = [found.get(r) for r in range(k)]

        def run(contexts: List[tuple]) -> List[Any]:
            by_range = dict(contexts)
            parts = dict(
                states.filter(lambda kv: kv[0] in by_range)
                .map(lambda kv: (kv[0], _batches.range_partial(kv[1], by_range[kv[0]])))
                .collect()
            )
            return [parts[r] for r, _ in contexts]

        return _batches.finish_ranges(summaries, run, opts, cuts)
    finally:
        states.unpersist()


def _fast_partition(step: str, args: tuple, kwargs: dict) -> Any:
    """The partition function of one fast-tier step: the partition's rows
    (its Arrow batches as one table) → one row ``(partition id, pickled
    output)``; ``kwargs`` maps partition ids to the step's arguments."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pickle

        import pyarrow as pa
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        t = _table(batches)
        out = ("empty", None) if t is None else _batches.fast_step(t, step, *args, _PARTITION, **kwargs.get(part, {}))
        yield pa.RecordBatch.from_arrays(
            [pa.array([part], pa.int64()), pa.array([pickle.dumps(out)], pa.binary())], names=["part", "out"]
        )

    return run


def fast(
    df: Any,
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
    """The fast tier of a Spark DataFrame: the same stratified sample,
    estimates and standard errors as :func:`evalkit.fast` on the collected
    rows (partition order), bit for bit. Two or three passes over the
    partitions (``mapInArrow``, one row back per partition): the strata's
    counts (a regression first reads the labels that set the deciles), then
    each partition's sampled rows, drawn from the plan the driver makes of
    the merged counts; the driver holds only the sample. Spark recomputes
    the DataFrame for each pass: a partition whose rows changed in between
    is an error (``cache()`` a DataFrame whose rows are not reproducible)."""
    import pickle

    _batches.check_fast_options(sample, threshold)
    needed = _batches.needed_columns(df.schema.fieldNames(), label, score, weight, [], "the DataFrame", task)
    selected = df.select(*["`" + c.replace("`", "``") + "`" for c in needed])
    count = selected.rdd.getNumPartitions()
    args = (label, score, weight, task, score_kind)

    def run(step: str, kwargs: Any) -> List[Any]:
        by_part = {i: kwargs(i) for i in range(count)}
        rows = _on_workers(
            lambda: selected.mapInArrow(_fast_partition(step, args, by_part), "part long, out binary").collect()
        )
        outs: List[Any] = [("empty", None)] * count
        for r in rows:
            outs[r[0]] = pickle.loads(r[1])
        return outs

    return _batches.fast_over_blocks(run, args, sample, seed, threshold, "the DataFrame")


# --- the inference pass ---------------------------------------------------

# A Python worker's scorer, kept between the partitions it is given (Spark
# reuses its Python workers): the model is loaded once per worker, not once
# per partition.
_SCORER: dict = {}


def _score_partition(model: str, staging: str, options: dict) -> Any:
    """The partition function of :func:`infer`: the partition's rows (its
    Arrow batches as one table) → its prediction file (and state) in the
    staging folder, and one row describing it, with the partition id."""
    import json

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        t = _table(batches)
        if t is None or t.num_rows == 0:
            return
        key = (model, staging, json.dumps(options, sort_keys=True))
        scorer = _SCORER.get(key)
        if scorer is None:
            _SCORER.clear()
            scorer = _SCORER[key] = _shards.Scorer(model, staging, options, _PARTITION)
        out = scorer(t)
        part = TaskContext.get().partitionId()
        out = out.append_column("partition", pa.array([part] * out.num_rows, pa.int64()))
        yield from out.to_batches()

    return run


def infer(
    model: Union[str, "os.PathLike[str]"],
    df: Any,
    *,
    output: Union[str, "os.PathLike[str]"],
    label: Optional[str] = None,
    features: Optional[Sequence[str]] = None,
    keep: Sequence[str] = (),
    fill_null: Optional[float] = None,
    batch_size: int = 4096,
    device: str = "cpu",
    threads: int = 1,
    output_name: Optional[str] = None,
    score_kind: str = "probability",
    task: Optional[str] = None,
    classes: Optional[Sequence[str]] = None,
    cache_dir: Union[str, "os.PathLike[str]", None] = None,
    no_cache: bool = False,
    depth: int = 2,
) -> _shards.Inference:
    """``evalkit infer`` over a Spark DataFrame: each partition is scored
    inside Spark's Python workers (``mapInArrow``; one ONNX Runtime session
    per worker, kept between the partitions it gets, ``threads`` intra-op
    threads each), one prediction file per non-empty partition written into
    the folder ``output`` in partition order, and each partition's state,
    in one pass over the rows. Returns the same ``Inference`` as
    :func:`evalkit.ray.infer` (``evalkit._shards.Inference``: the files
    ``part-*.arrow`` / ``part-*.evstate``, the manifest, ``.state`` merged
    on the executors by ``RDD.treeReduce`` of ``depth``, ``.full(...)``).

    Every file is the one ``evalkit infer`` writes for those rows (same
    columns, same scores bit for bit, same metadata but ``evalkit.data``,
    which describes the partition), cached by content as there: each
    partition's key hashes the model file, its rows (as Arrow IPC bytes)
    and the options, so the same DataFrame partitioned the same way hits
    the cache. ``output`` and ``cache_dir`` must be folders every executor
    sees (one machine, or a shared file system); ``output`` must be new,
    empty or an earlier ``infer``'s output, replaced only when every
    partition succeeded. ``device="cuda"`` runs the CUDA provider in each
    worker (the executors need GPUs, ``onnxruntime-gpu``, and Spark's GPU
    scheduling so that tasks do not share one). A bad partition fails the
    call with evalkit's error, of its own class, naming the column and the
    row within the partition."""
    from pyspark import StorageLevel

    if depth < 1:
        raise InputError(f"depth={depth}: the merge tree needs a depth of 1 or more")
    run = _shards.Run(
        model, output, label=label, features=features, keep=keep, fill_null=fill_null, batch_size=batch_size,
        device=device, threads=threads, output_name=output_name, score_kind=score_kind, task=task,
        classes=classes, cache_dir=cache_dir, no_cache=no_cache,
    )
    with run:
        fields = ", ".join(f"{n} {'bigint' if t == 'int64' else 'boolean' if t == 'bool' else t}" for n, t in _shards.FIELDS)
        # Kept between the two jobs below (the descriptions, then the
        # states' merge), so that the model runs once per partition.
        scored = (
            df.mapInArrow(_score_partition(run.model, run.staging, run.options), fields + ", partition bigint")
            .rdd.persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            described = _on_workers(
                lambda: scored.map(lambda r: (r["partition"], {k: r[k] for k, _ in _shards.FIELDS if k != "reduction"})).collect()
            )
            reductions = scored.map(lambda r: _batches.Reduction.from_bytes(r["reduction"]))
            try:
                red = _on_workers(lambda: reductions.treeReduce(_merge_two, depth=depth))
            except ValueError as e:
                if "empty" not in str(e).lower():  # no partitions at all
                    raise
                red = _batches.Reduction()
        finally:
            scored.unpersist()
        rows = [r for _, r in sorted(described, key=lambda pr: pr[0])]
        return run.finish(rows, red)
