"""Shared by the engine tests (test_ray.py, test_spark.py): prediction
tables of every task, and the check that two results hold the same
numbers."""

import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pa():
    import pyarrow

    return pyarrow


class Data:
    """Prediction tables (pyarrow) of each task, unrounded float32 scores."""

    @staticmethod
    def binary(n=6000, seed=0, weights=None):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, n)
        # Unrounded float32 scores: about one distinct score per row.
        s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1).astype(np.float32)
        cols = {"label": y, "score": s}
        if weights == "whole":
            cols["w"] = rng.integers(0, 4, n).astype(np.float64)
        elif weights == "fractional":
            cols["w"] = rng.random(n) * 2
        return _pa().table(cols)

    @staticmethod
    def multiclass(n=3000, k=4, seed=1):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, k, n)
        p = rng.random((n, k)) + np.eye(k)[y]
        p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
        return _pa().table({"label": y, "score": _pa().FixedSizeListArray.from_arrays(_pa().array(p.ravel()), k)}), y, p

    @staticmethod
    def regression(n=4000, seed=2):
        rng = np.random.default_rng(seed)
        y = rng.normal(size=n)
        return _pa().table({"label": y, "score": (y + rng.normal(scale=0.5, size=n)).astype(np.float32)})

    @staticmethod
    def paired(n=4000, seed=0, weights=None, decimals=None):
        """Binary rows with two models' scores: ``score`` (the candidate),
        ``base`` (the baseline, a noisier copy); rounded to ``decimals``
        for many rows per pair of scores."""
        t = Data.binary(n=n, seed=seed, weights=weights)
        rng = np.random.default_rng(seed + 100)
        s = t.column("score").to_numpy()
        b = np.clip(0.6 * s + 0.4 * rng.random(n), 0, 1).astype(np.float32)
        if decimals is not None:
            s, b = np.round(s, decimals).astype(np.float32), np.round(b, decimals).astype(np.float32)
        t = t.set_column(t.schema.get_field_index("score"), "score", _pa().array(s))
        return t.append_column("base", _pa().array(b))

    @staticmethod
    def paired_sliced(n=3000, seed=0):
        """:meth:`paired` rows with slice keys: ``region`` (strings, some
        missing) and ``segment`` (integers)."""
        pa = _pa()
        t = Data.paired(n=n, seed=seed)
        rng = np.random.default_rng(seed + 200)
        region = [[None, "north", "south", "east"][k] for k in rng.integers(0, 4, n)]
        t = t.append_column("region", pa.array(region, pa.string()))
        return t.append_column("segment", pa.array(rng.integers(0, 3, n), pa.int64()))

    @staticmethod
    def compare_sliced(t, slicings, **options):
        """``evalkit.compare --slice`` on the rows of :meth:`paired_sliced`
        (the candidate ``score``, the baseline ``base``) on one machine."""
        import evalkit

        cand = t.select(["label", "score", "region", "segment"])
        base = _pa().table({"label": t.column("label"), "score": t.column("base")})
        return evalkit.compare(candidate=cand, baseline=base, label="label", score="score", slice=slicings, **options)

    @staticmethod
    def same_slices(got, want):
        """Two sliced comparisons agree on every number and every slice."""
        Data.same_comparison(got, want)
        g, w = got.to_dict(), want.to_dict()
        assert len(g["slices"]) == len(w["slices"]) >= 4
        for k in ("slices", "slices_flagged", "min_slice"):
            assert g[k] == w[k], k

    @staticmethod
    def two_models(n=2000, seed=5, extra=300):
        """Two models' predictions as separate tables keyed by ``row_id``:
        the baseline's rows shuffled, with ``extra`` rows the candidate
        lacks."""
        pa = _pa()
        t = Data.paired(n=n + extra, seed=seed, decimals=2)
        ids = np.arange(n + extra)
        cand = pa.table({"row_id": ids[:n], "label": t.column("label").slice(0, n), "score": t.column("score").slice(0, n)})
        order = np.random.default_rng(seed).permutation(n + extra)
        base = pa.table({"row_id": ids, "label": t.column("label"), "score": t.column("base")}).take(order)
        return cand, base

    @staticmethod
    def same_comparison(got, want):
        """Two ``compare`` results agree on every number (the file names
        differ: columns on an engine, arrays on one machine)."""
        g, w = got.to_dict(), want.to_dict()
        for k in ("metrics", "baseline", "delta", "delong", "per_class_delta", "warnings", "rows", "task", "bootstrap"):
            assert g.get(k) == w.get(k), k

    @staticmethod
    def same_numbers(got, want):
        g, w = got.to_dict(), want.to_dict()
        assert g["metrics"] == w["metrics"]
        assert g["task"] == w["task"] and g["task_reason"] == w["task_reason"] and g["rows"] == w["rows"]
        for k in ("sweep", "reliability", "confusion_matrix", "per_class"):
            assert g.get(k) == w.get(k), k


@pytest.fixture(scope="session")
def data():
    """The :class:`Data` generators (pyarrow is needed)."""
    pytest.importorskip("pyarrow")
    return Data


@pytest.fixture(scope="session")
def evalkit_cli():
    """The `evalkit` binary answers are checked against (`make test`
    builds it): EVALKIT_BIN, else the debug build in the target folder."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.environ.get("EVALKIT_BIN") or os.path.join(target, "debug", "evalkit")


@pytest.fixture(scope="session")
def sliced_shards(tmp_path_factory):
    """fixtures/binary_sliced.arrow (region: strings with nulls, segment:
    integers) as a table and as three Parquet shards, and a function that
    runs the CLI's `full --json` on the shards: the state path the engines'
    slices must equal."""
    pa = pytest.importorskip("pyarrow")
    import json
    import subprocess

    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    table = ipc.open_file(os.path.join(ROOT, "fixtures", "binary_sliced.arrow")).read_all()
    folder = tmp_path_factory.mktemp("sliced")
    cuts = [0, 500, 1300, table.num_rows]
    paths = []
    for i in range(3):
        path = str(folder / f"part-{i}.parquet")
        pq.write_table(table.slice(cuts[i], cuts[i + 1] - cuts[i]), path)
        paths.append(path)

    def cli_full(binary, *args):
        out = subprocess.run([binary, "full", *paths, *args, "--json"], capture_output=True)
        assert out.returncode == 0, out.stderr.decode()
        return json.loads(out.stdout)

    assert pa is not None
    return table, cli_full
