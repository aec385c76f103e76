"""Arrow batches (pyarrow RecordBatches and Tables, as Ray Data, Spark's
``mapInArrow``, Dask's ``to_arrow`` and plain readers hand them out) as the
arrays evalkit's states are built from. pyarrow is imported when a batch
arrives, never by ``import evalkit``."""

from typing import Any, List, Optional, Sequence, Tuple, Union

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


def check_columns(schema: Any, label: str, score: Scores, weight: Optional[str], where: str) -> None:
    """Every named column is in the schema, else a ``ColumnError`` naming it
    and listing the columns there are."""
    have = column_names(schema)
    for role, name in [("label", label), *(("score", s) for s in _names(score)), ("weight", weight)]:
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

    if pa.types.is_boolean(array.type):
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int8)
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
            s = _numeric(col.flatten(), f"{where}, column '{names[0]}'").reshape(len(col), k)
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
