"""Results render themselves in a notebook: a real notebook executed by
nbclient on an ipykernel, its HTML outputs checked."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _require(name):
    if os.environ.get("EVALKIT_REQUIRE_NOTEBOOK") == "1":
        return __import__(name)
    return pytest.importorskip(name)


CELLS = [
    """import numpy as np, evalkit
rng = np.random.default_rng(0)
y = rng.integers(0, 2, 2000)
p = np.clip(0.3 * y + 0.7 * rng.random(2000), 0, 1)
better = np.clip(p + 0.1 * y - 0.05, 0, 1)""",
    "evalkit.full(y, p, bootstrap=100)",
    "evalkit.compare(y, better, p, bootstrap=100)",
    "evalkit.compare(y, p, better, bootstrap=100)",
    f"evalkit.run_suite({os.path.join(ROOT, 'suites', 'breast_cancer-fails.toml')!r}, cache_dir='nbcache')",
    "evalkit.report([evalkit.full(y, p, bootstrap=0)], 'nb_report.html', names=['model'])",
]


def test_a_notebook_shows_results_as_html(tmp_path):
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    _require("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    def html(i):
        outs = [o for o in nb.cells[i].outputs if o.get("output_type") == "execute_result"]
        assert outs, f"cell {i} shows nothing: {nb.cells[i].outputs}"
        return outs[0]["data"]["text/html"]

    full = html(1)
    assert "evalkit full · binary · 2000 rows" in full
    for part in ["roc_auc", "average_precision", "<svg", "<polyline", "ROC · AUC", "all 13 metrics"]:
        assert part in full, part
    # The bootstrap band is drawn behind the curve.
    assert "<polygon" in full
    # A better candidate: the AUC difference is green; a worse one, red.
    better, worse = html(2), html(3)
    assert "candidate − baseline" in better
    roc_better = better[better.index(">roc_auc<"):]
    roc_worse = worse[worse.index(">roc_auc<"):]
    assert "data-colour='#0b7a3e'" in roc_better.split("</tr>")[0]
    assert "data-colour='#b3261e'" in roc_worse.split("</tr>")[0]
    suite = html(4)
    assert "FAILED" in suite and "class='evalkit-verdict'>fail<" in suite and ">pass<" in suite
    report = html(5)
    assert report.startswith("<iframe class='evalkit-report' sandbox=''") and "srcdoc=" in report
    assert os.path.exists(tmp_path / "nb_report.html")
