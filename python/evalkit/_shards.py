"""The inference pass on an engine, the parts Ray and Spark share: each
block (a Ray block, a Spark partition) is scored by an
:class:`evalkit._evalkit.BlockScorer` into a prediction file (and its
state) in a staging folder inside the output folder; when every block
succeeded the files move into place in the dataset's order with a manifest,
so a failed run leaves the folder as it was."""

import json
import os
import shutil
import uuid
from typing import Any, Dict, List, Optional, Sequence, Union

from . import InputError, Result, State, UsageError, _batches

MANIFEST = "_evalkit_infer.json"
STAGING = ".evalkit-staging-"

# What a scored block reports, one row per block (``reduction``: its
# pickled state, or evalkit's error as data).
FIELDS = [
    ("file", "string"),
    ("rows", "int64"),
    ("key", "string"),
    ("cache", "string"),
    ("metadata", "string"),
    ("notes", "string"),
    ("state", "bool"),
    ("reduction", "binary"),
]


def schema() -> Any:
    import pyarrow as pa

    return pa.schema([(n, getattr(pa, "bool_" if t == "bool" else t)()) for n, t in FIELDS])


def ipc(table: Any) -> Any:
    """A block as the bytes of one Arrow IPC stream (one record batch, no
    schema metadata): what the block's cache key hashes."""
    import pyarrow as pa

    table = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue()).cast("B")


class Scorer:
    """One ONNX Runtime session for every block it is given (a Ray actor's,
    a Spark Python worker's). Each block's prediction file (and state) goes
    to the run's staging folder under a fresh name; a call returns one row
    describing it (:data:`FIELDS`), or evalkit's error as data. ``where``
    names a block in errors and in the files' ``evalkit.data``."""

    def __init__(self, model: str, staging: str, options: dict, where: str):
        from . import _evalkit

        self.staging = staging
        self.where = where
        self.error = None
        try:
            self.scorer = _evalkit.BlockScorer(model, **options)
        except _evalkit.EvalkitError as e:
            self.error = (type(e).__name__, str(e))

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        from . import _evalkit

        if table.num_rows == 0:
            return schema().empty_table()
        row = {"file": "", "rows": 0, "key": "", "cache": "", "metadata": "{}", "notes": "[]", "state": False}
        red = _batches.Reduction(error=self.error)
        if self.error is None and not os.path.isdir(self.staging):
            # A late attempt (a retry or speculative copy) after the run
            # ended and removed its folder: write nothing there.
            red = _batches.Reduction(error=("UsageError", f"{self.where}: the infer run it belongs to has ended"))
        elif self.error is None:
            name = uuid.uuid4().hex
            path = os.path.join(self.staging, name + ".arrow")
            try:
                rows, key, cache, metadata, state, notes = self.scorer.score(self.where, ipc(table), path)
                if state is not None:
                    with open(os.path.join(self.staging, name + ".evstate"), "wb") as f:
                        f.write(state)
                row = {"file": name, "rows": rows, "key": key, "cache": cache, "metadata": metadata,
                       "notes": json.dumps(notes), "state": state is not None}
                red = _batches.Reduction(state)
            except _evalkit.EvalkitError as e:
                red = _batches.Reduction(error=(type(e).__name__, str(e)))
        return pa.Table.from_pylist([{**row, "reduction": red.to_bytes()}], schema=schema())


def describe(block: Any) -> List[dict]:
    """A result block without its reductions (what the driver needs)."""
    return block.drop_columns(["reduction"]).to_pylist()


class Inference:
    """What an engine's ``infer`` wrote: one prediction file per block of
    the dataset, in the dataset's order, each as ``evalkit infer`` writes
    one (``evalkit full OUTPUT/part-*.arrow`` evaluates them all), with the
    state of each beside it (``part-*.evstate``) when the rows have labels,
    and the manifest ``_evalkit_infer.json`` listing them.

    ``paths``/``state_paths``: the files; ``rows``: rows scored;
    ``cache``: how many blocks the cache served (``hit``), computed
    (``miss``) or ran without it (``disabled``); ``metadata``: the first
    file's evalkit metadata (task, classes, model, config) parsed;
    ``state``: the merged :class:`evalkit.State` of every row (``None``
    without labels); ``full(**options)``: the full tier from it."""

    def __init__(self, output: str, shards: List[dict], state: Optional[State], notes: List[str]):
        self.output = output
        self.manifest = os.path.join(output, MANIFEST)
        self.paths = [os.path.join(output, s["file"]) for s in shards]
        self.state_paths = [os.path.join(output, s["state"]) for s in shards if s["state"]]
        self.rows = sum(s["rows"] for s in shards)
        self.cache = {k: sum(1 for s in shards if s["cache"] == k) for k in ("hit", "miss", "disabled")}
        self.notes = notes
        first = shards[0]["metadata"] if shards else {}
        self.metadata = {}
        for k, v in first.items():
            if k.startswith("evalkit."):
                try:
                    self.metadata[k[len("evalkit."):]] = json.loads(v)
                except ValueError:
                    self.metadata[k[len("evalkit."):]] = v
        self.state = state

    def full(self, **options: Any) -> Result:
        """The full tier of every row (:meth:`evalkit.State.finish`)."""
        if self.state is None:
            raise InputError(
                "the predictions have no labels (infer was given no label=), or their task has no "
                "mergeable state: there is nothing to evaluate"
            )
        return self.state.finish(**options)

    def __repr__(self) -> str:
        return (
            f"Inference({len(self.paths)} files, {self.rows} rows in {self.output!r}; "
            f"cache {self.cache['hit']} hit, {self.cache['miss']} miss)"
        )


def check_output(output: str) -> List[str]:
    """The output folder: created when missing; else it may hold only what
    an earlier ``infer`` wrote there (its manifest and files), which this
    run replaces. Returns the earlier run's files."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"output={output!r} is a file: infer writes a folder of prediction files; name a folder")
    os.makedirs(output, exist_ok=True)
    earlier: List[str] = []
    manifest = os.path.join(output, MANIFEST)
    if os.path.exists(manifest):
        try:
            with open(manifest) as f:
                doc = json.load(f)
            earlier = [s["file"] for s in doc["shards"]] + [s["state"] for s in doc["shards"] if s.get("state")]
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{manifest} is not an evalkit manifest ({e}); remove it or choose another folder")
    ours = set(earlier) | {MANIFEST}
    others = sorted(n for n in os.listdir(output) if n not in ours and not n.startswith(STAGING))
    if others:
        raise UsageError(
            f"output={output!r} holds files evalkit did not write there ({', '.join(others[:3])}"
            f"{', …' if len(others) > 3 else ''}); choose a new or empty folder"
        )
    return earlier


class Run:
    """One engine ``infer`` call's set-up: the model and options checked,
    the output folder checked, a staging folder made in it. ``finish``
    moves the scored blocks into place; the staging folder goes either way
    (use it as a context manager)."""

    def __init__(
        self,
        model: Union[str, "os.PathLike[str]"],
        output: Union[str, "os.PathLike[str]"],
        *,
        label: Optional[str],
        features: Optional[Sequence[str]],
        keep: Sequence[str],
        fill_null: Optional[float],
        batch_size: int,
        device: str,
        threads: int,
        output_name: Optional[str],
        score_kind: str,
        task: Optional[str],
        classes: Optional[Sequence[str]],
        cache_dir: Union[str, "os.PathLike[str]", None],
        no_cache: bool,
    ):
        self.model = os.path.abspath(os.fspath(model))
        if not os.path.isfile(self.model):
            raise InputError(f"{self.model}: no such model file")
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise UsageError(f"device={device!r}: use 'cpu' or 'cuda' (or 'cuda:N')")
        self.output = os.path.abspath(os.fspath(output))
        self.earlier = check_output(self.output)
        cache = None
        if not no_cache:
            cache = os.path.abspath(
                os.fspath(cache_dir)
                if cache_dir is not None
                else os.environ.get("EVALKIT_CACHE", os.path.join(".evalkit", "cache"))
            )
        self.options: Dict[str, Any] = dict(
            label=label,
            features=list(features) if features is not None else None,
            keep=list(keep),
            fill_null=fill_null,
            batch_size=int(batch_size),
            device=device,
            threads=int(threads),
            output_name=output_name,
            score_kind=score_kind,
            task=task,
            classes=list(classes) if classes is not None else None,
            cache_dir=cache,
            no_cache=no_cache,
        )
        self.staging = os.path.join(self.output, STAGING + uuid.uuid4().hex)
        os.makedirs(self.staging)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def finish(self, rows: List[dict], red: "_batches.Reduction") -> Inference:
        """``rows``: every block's row (:data:`FIELDS` but the reduction),
        in the dataset's order; ``red``: their reductions merged. Raises a
        block's error; else moves the files into place (``part-00000``…),
        removes what an earlier run left that this one did not write, and
        writes the manifest last."""
        if red.error is not None:
            _batches.raise_carried(*red.error)
        if not rows:
            raise InputError("the dataset has no rows: there is nothing to score")
        output, staging = self.output, self.staging
        shards = []
        for i, r in enumerate(rows):
            name = f"part-{i:05d}"
            os.replace(os.path.join(staging, r["file"] + ".arrow"), os.path.join(output, name + ".arrow"))
            if r["state"]:
                os.replace(os.path.join(staging, r["file"] + ".evstate"), os.path.join(output, name + ".evstate"))
            shards.append(
                {
                    "file": name + ".arrow",
                    "state": name + ".evstate" if r["state"] else None,
                    "rows": r["rows"],
                    "key": r["key"],
                    "cache": r["cache"],
                    "metadata": json.loads(r["metadata"]),
                }
            )
        written = {s["file"] for s in shards} | {s["state"] for s in shards if s["state"]}
        for name in self.earlier:
            if name not in written:
                try:
                    os.remove(os.path.join(output, name))
                except FileNotFoundError:
                    pass
        from . import __version__

        doc = {
            "created_by": f"evalkit {__version__}",
            "model": self.model,
            "rows": sum(s["rows"] for s in shards),
            "shards": [{k: s[k] for k in ("file", "state", "rows", "key", "cache")} for s in shards],
        }
        tmp = os.path.join(staging, MANIFEST)
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, os.path.join(output, MANIFEST))
        notes = sorted({n for r in rows for n in json.loads(r["notes"])})
        state = State(red.overall) if red.overall is not None and all(s["state"] for s in shards) else None
        return Inference(output, shards, state, notes)
