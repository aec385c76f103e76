"""The installed package: `make test` installs the wheel into a fresh
virtualenv and runs these tests with ``EVALKIT_EXPECT_INSTALLED=1``, so a file
missing from the wheel, a missing entry point or an ONNX Runtime that is not
found beside the package fails here."""

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig

import pytest

import evalkit

INSTALLED = os.environ.get("EVALKIT_EXPECT_INSTALLED") == "1"
needs_install = pytest.mark.skipif(not INSTALLED, reason="`make test` runs this against the installed wheel")

# What the wheel must hold besides the extension module.
PACKAGE_FILES = [
    "__init__.py",
    "_cli.py",
    "_html.py",
    "_evalkit.pyi",
    "py.typed",
    "callbacks.py",
    "mlflow.py",
    "mlflow_evaluator.py",
    "ray.py",
    "spark.py",
    "_batches.py",
]


@needs_install
def test_the_tests_import_the_installed_package():
    here = os.path.realpath(os.path.dirname(evalkit.__file__))
    site = os.path.realpath(sysconfig.get_paths()["platlib"])
    assert here == os.path.join(site, "evalkit"), f"evalkit imported from {here}, not from {site}"
    for name in PACKAGE_FILES:
        assert os.path.isfile(os.path.join(here, name)), f"the wheel lacks evalkit/{name}"
    ext = [f for f in os.listdir(here) if f.startswith("_evalkit.") and f.endswith(".so")]
    # One build for every Python from 3.11 on (the stable ABI).
    assert ext == ["_evalkit.abi3.so"], ext


@needs_install
def test_the_distribution_declares_the_command_extras_and_evaluator():
    dist = importlib.metadata.distribution("evalkit")
    assert dist.version == evalkit.__version__
    scripts = {e.name: e.value for e in dist.entry_points if e.group == "console_scripts"}
    assert scripts == {"evalkit": "evalkit._cli:main"}
    evaluators = [e for e in dist.entry_points if e.group == "mlflow.model_evaluator"]
    assert [e.value for e in evaluators] == ["evalkit.mlflow_evaluator:EvalkitEvaluator"]
    extras = set(dist.metadata.get_all("Provides-Extra") or [])
    assert {"infer", "gpu", "mlflow", "ray", "spark"} <= extras
    assert dist.metadata["Requires-Python"] == ">=3.11"


@needs_install
def test_the_command_finds_onnxruntime_in_its_own_environment(tmp_path):
    spec = importlib.util.find_spec("onnxruntime")
    assert spec is not None, "make test installs evalkit[infer]"
    package = os.path.realpath(list(spec.submodule_search_locations)[0])
    script = os.path.join(os.path.dirname(sys.executable), "evalkit")
    # Not activated, no hint, elsewhere: the console script finds the
    # onnxruntime package installed beside it.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "ORT_DYLIB_PATH")}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run([script, "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.startswith(f"evalkit {evalkit.__version__}\n"), out.stdout
    m = re.search(r"^ONNX Runtime \S+ \((.+)\)$", out.stdout, re.M)
    assert m, out.stdout
    assert os.path.realpath(m.group(1)).startswith(package + os.sep), (m.group(1), package)


def test_the_command_and_the_module_agree(tmp_path):
    # `python -m evalkit._cli` is the console script's code: same exit status
    # and message for bad input as the binary (exit 2, one line).
    out = subprocess.run(
        [sys.executable, "-m", "evalkit._cli", "full", str(tmp_path / "missing.arrow")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.arrow" in lines[0], out.stderr
