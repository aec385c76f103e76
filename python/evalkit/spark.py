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

Importing ``evalkit`` never imports PySpark; ``import evalkit.spark`` does
(the ``evalkit[spark]`` extra installs it; Spark needs a Java runtime).
Executors need only the evalkit wheel.
"""

from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

from . import EvalkitError, InputError, Result, State, UsageError, _batches

Scores = Union[str, Sequence[str]]

# A partition's reduction, and a merge's: (state bytes or None when empty,
# evalkit error class or None, message or None).
Part = Tuple[Optional[bytes], Optional[str], Optional[str]]

_SCHEMA = "state binary, error_class string, error string"


def _reduce_partition(
    batches: Iterator[Any],
    label: str,
    score: Scores,
    weight: Optional[str],
    task: Optional[str],
    score_kind: Optional[str],
) -> Iterator[Any]:
    """One partition's Arrow batches → one batch of one row: its merged
    state (no row for an empty partition), or evalkit's error as data
    (Spark would keep only the message's text of an exception)."""
    import pyarrow as pa

    schema = pa.schema([("state", pa.binary()), ("error_class", pa.string()), ("error", pa.string())])
    states: List[State] = []
    try:
        for batch in batches:
            if batch.num_rows:
                states.append(
                    State.from_arrow(
                        batch,
                        label=label,
                        score=score,
                        weight=weight,
                        task=task,
                        score_kind=score_kind,
                        name="a Spark partition",
                    )
                )
        if not states:
            return
        row: Part = (State.merge_all(states).to_bytes(), None, None)
    except EvalkitError as e:
        row = (None, type(e).__name__, str(e))
    yield pa.RecordBatch.from_arrays([pa.array([v], t.type) for v, t in zip(row, schema)], schema=schema)


def _merge_two(a: Part, b: Part) -> Part:
    """Merges two partitions' reductions; an error wins."""
    for p in (a, b):
        if p[1] is not None:
            return p
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    return (State.merge_all([State(a[0]), State(b[0])]).to_bytes(), None, None)


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
    if depth < 1:
        raise InputError(f"depth={depth}: the merge tree needs a depth of 1 or more")
    names = [score] if isinstance(score, str) else list(score)
    columns = [label, *names, *([weight] if weight else [])]
    _batches.check_columns(df.schema.fieldNames(), label, score, weight, "the DataFrame")
    reduce = _partial_reduce(label, score, weight, task, score_kind)
    parts = df.select(*columns).mapInArrow(reduce, _SCHEMA).rdd.map(lambda r: (r[0], r[1], r[2]))
    try:
        if parts.isEmpty():
            raise InputError("the DataFrame has no rows: there is nothing to evaluate")
        merged = parts.treeReduce(_merge_two, depth=depth)
    except Exception as e:
        if "No module named 'evalkit'" in str(e):
            raise UsageError(
                "Spark's Python workers cannot import evalkit: install the evalkit wheel where the "
                "executors' Python runs, or point PYSPARK_PYTHON at a Python that has it (locally: "
                "os.environ['PYSPARK_PYTHON'] = sys.executable before the session starts)"
            ) from None
        raise
    if merged[1] is not None:
        _batches.raise_carried(merged[1], merged[2])
    if merged[0] is None:
        raise InputError("the DataFrame has no rows: there is nothing to evaluate")
    return State(merged[0])


def _partial_reduce(
    label: str, score: Scores, weight: Optional[str], task: Optional[str], score_kind: Optional[str]
) -> Any:
    """The partition function ``mapInArrow`` calls (a closure over the
    column names, pickled to the executors)."""

    def reduce(batches: Iterator[Any]) -> Iterator[Any]:
        return _reduce_partition(batches, label, score, weight, task, score_kind)

    return reduce


def full(
    df: Any,
    *,
    label: str = "label",
    score: Scores = "score",
    weight: Optional[str] = None,
    task: Optional[str] = None,
    score_kind: Optional[str] = None,
    depth: int = 2,
    **options: Any,
) -> Result:
    """The full tier of every row of a Spark DataFrame: :func:`state`, then
    :meth:`evalkit.State.finish` with ``options`` (``bootstrap``, ``ci``,
    ``method``, ``resample``, ``seed``, ``threshold``, ``thresholds``).
    Point metrics equal :func:`evalkit.full` on the collected rows bit for
    bit; bootstrap intervals are drawn from the merged state (binary,
    unweighted or whole-number weights; elsewhere pass ``bootstrap=0``) and
    equal those of the same state built on one machine with the same seed."""
    return state(
        df, label=label, score=score, weight=weight, task=task, score_kind=score_kind, depth=depth
    ).finish(**options)
