# evalkit — the two commands in the README, and the rest of the chores.
#
#   make demo    infer with the bundled models (cached), then the fast tier,
#                the full tier, a comparison, the HTML report and the
#                passing suite (suites/breast_cancer.toml)
#   make test    fmt check, clippy -D warnings, every test
#
# Both install ONNX Runtime (the `onnxruntime` wheel from PyPI) into .venv
# when no ONNX Runtime is found (ORT_DYLIB_PATH, or .venv). The Python tools
# that regenerate fixtures and run the peer benchmarks: `make venv`.

SHELL := /bin/bash
CARGO ?= cargo
VENV ?= .venv
PY := $(VENV)/bin/python
ONNXRUNTIME ?= onnxruntime==1.32.0
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BIN := $(TARGET_DIR)/debug/evalkit
EVALKIT = $(BIN)
OUT := demo-out
# Said before a build that has not run yet (measured on 2 cores, see the README).
COLD = the first build compiles polars, arrow and ort: about 21 minutes on 2 cores; seconds afterwards

.PHONY: dist wheel wheel-test java python pytest test-frameworks demo test test-slow fmt lint features unit ort browser screenshot build install bench bench-peer bench-infer bench-multiclass bench-python bench-ranking bench-profile bench-engines bench-ray-infer bench-ray-ranges bench-ray-compare fixtures venv clean

demo: ort
	@test -x $(BIN) || echo "building evalkit ($(COLD))"
	$(CARGO) build --bin evalkit
	@mkdir -p $(OUT)
	$(EVALKIT) infer fixtures/models/breast_cancer_gbm.onnx fixtures/data/breast_cancer.parquet \
	  --label label --keep row_id -o $(OUT)/gbm.arrow
	@echo
	$(EVALKIT) infer fixtures/models/breast_cancer_lr.onnx fixtures/data/breast_cancer.parquet \
	  --label label --keep row_id -o $(OUT)/lr.arrow
	@echo
	$(EVALKIT) fast $(OUT)/lr.arrow --sample 100
	@echo
	$(EVALKIT) full $(OUT)/lr.arrow
	@echo
	$(EVALKIT) compare $(OUT)/lr.arrow $(OUT)/gbm.arrow --id row_id
	@echo
	$(EVALKIT) report $(OUT)/lr.arrow --baseline $(OUT)/gbm.arrow --id row_id -o $(OUT)/report.html
	@echo
	@# The passing suite end to end: inference from the cache, fast, full,
	@# compare, gates, report ($(OUT)/breast_cancer_report.html).
	$(EVALKIT) run suites/breast_cancer.toml

test: fmt lint ort browser unit pytest

fmt:
	$(CARGO) fmt --all --check

lint: features
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p evalkit-python -- -D warnings

# One cold build for the demo, the tests and the Python package: the same
# features for every shared crate (see Cargo.toml).
features:
	.ci/same-features

unit:
	@test -x $(BIN) || echo "building the tests ($(COLD))"
	EVALKIT_REQUIRE_BROWSER=1 $(CARGO) test

# Building the wheel: maturin, and uv to make the tests' fresh virtualenv
# (uv links packages from its cache, ~/.cache/uv, so a fresh environment
# costs seconds and little disk).
$(VENV)/.build-installed: python/requirements-build.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r python/requirements-build.txt
	@touch $@

# A release wheel with both faces: `import evalkit` and the `evalkit` command
# (a console script into the extension: one build of the Rust code), one
# wheel for CPython 3.11 and later (abi3).
wheel: $(VENV)/.build-installed
	$(VENV)/bin/maturin build --release --strip -m python/Cargo.toml -o dist

# The command as shipped: the release build without symbols or debug
# information (110 MB where the release binary, which keeps line tables
# for profiles and backtraces, is 189 MB), at dist/evalkit.
dist: build
	@mkdir -p dist
	strip -o dist/evalkit $(TARGET_DIR)/release/evalkit
	@ls -l dist/evalkit

# The Python tests run against an installed wheel, not the source tree: the
# wheel is built once (the debug profile the Rust tests use, so it reuses
# their compiled crates), installed with its extras into a fresh virtualenv
# ($(TEST_VENV), made anew each time), and then
#   - the Python tests and the package's doctests run in it, importing the
#     installed package (a file missing from the wheel fails them);
#   - the CLI tests run again with EVALKIT_BIN set to the installed
#     `evalkit` console script.
TEST_VENV := .venv-wheel
WHEEL_DIR := $(TARGET_DIR)/wheel-test
UV := $(VENV)/bin/uv
PYTEST_ENV := EVALKIT_EXPECT_INSTALLED=1 EVALKIT_REQUIRE_RAY=1 EVALKIT_REQUIRE_SPARK=1 EVALKIT_REQUIRE_KERAS=1 EVALKIT_REQUIRE_NOTEBOOK=1 EVALKIT_REQUIRE_MLFLOW=1 KERAS_BACKEND=jax

# PySpark is published as a source package only: uv would build it anew
# for each fresh environment and keep every build in its cache (1.4 GB
# each), so its wheel is built once per machine into a wheelhouse outside
# the clone, and the installs take it from there.
WHEELHOUSE := $(HOME)/.cache/evalkit-wheels
PYSPARK := $(shell sed -n 's/^pyspark==//p' python/requirements-test.txt)

# Order-only: a fresh clone's new .venv must not make the wheel stale.
$(WHEELHOUSE)/.pyspark-$(PYSPARK): | $(VENV)/.build-installed
	mkdir -p $(WHEELHOUSE)
	$(VENV)/bin/pip wheel --quiet --no-deps --no-cache-dir -w $(WHEELHOUSE) "pyspark==$(PYSPARK)"
	@touch $@

wheel-test: ort $(VENV)/.build-installed $(WHEELHOUSE)/.pyspark-$(PYSPARK)
	rm -rf $(WHEEL_DIR)
	$(VENV)/bin/maturin build --quiet -m python/Cargo.toml -o $(WHEEL_DIR)
	rm -rf $(TEST_VENV)
	$(UV) venv --quiet --python "$$(command -v python3)" $(TEST_VENV)
	$(UV) pip install --quiet --python $(TEST_VENV)/bin/python --find-links $(WHEELHOUSE) \
	  "$$(ls $(WHEEL_DIR)/evalkit-*.whl)[infer,mlflow,ray,spark]" "$(ONNXRUNTIME)" -r python/requirements-test.txt

pytest: wheel-test java
	$(CARGO) build --bin evalkit
	$(PYTEST_ENV) $(TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider --import-mode=importlib python/tests
	$(PYTEST_ENV) $(TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider --doctest-modules --pyargs evalkit
	EVALKIT_BIN=$(abspath $(TEST_VENV))/bin/evalkit $(CARGO) test --test it

# The Python package built in place into .venv (`maturin develop`), for
# working on it; `make test` does not use it.
$(VENV)/.py-test-installed: python/requirements-test.txt $(VENV)/.build-installed $(WHEELHOUSE)/.pyspark-$(PYSPARK)
	$(VENV)/bin/pip install --quiet --find-links $(WHEELHOUSE) -r python/requirements-test.txt
	@touch $@

python: ort $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop -m python/Cargo.toml

test-frameworks: python
	$(VENV)/bin/pip install --quiet torch lightning
	$(PY) -m pytest -q python/tests/test_frameworks.py

# A Java runtime for the Spark tests (Debian's default-jre-headless: Java 17).
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing a Java runtime (Debian) for the Spark tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends default-jre-headless; }

# Headless Chromium for the report tests (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian) for the report tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# The README's screenshot of the demo report, taken with the same headless
# Chromium the tests use.
screenshot: demo browser
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	  --hide-scrollbars --window-size=1280,1900 --screenshot=docs/report.png \
	  file://$(CURDIR)/$(OUT)/report.html
	$(EVALKIT) report fixtures/multiclass_digits.arrow --bootstrap 200 -o $(OUT)/multiclass.html
	$(EVALKIT) report fixtures/regression.arrow --bootstrap 200 -o $(OUT)/regression.html
	for t in multiclass regression; do \
	  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	    --hide-scrollbars --window-size=1280,1500 --screenshot=docs/report-$$t.png \
	    file://$(CURDIR)/$(OUT)/$$t.html; \
	done

# ONNX Runtime for `evalkit infer`: ORT_DYLIB_PATH if set, else the
# onnxruntime wheel in .venv (installed from PyPI when missing).
ort:
	@if [ -n "$$ORT_DYLIB_PATH" ]; then \
	  echo "ONNX Runtime: $$ORT_DYLIB_PATH"; \
	elif [ -x $(PY) ] && $(PY) -c "import onnxruntime" 2>/dev/null; then \
	  :; \
	else \
	  echo "installing $(ONNXRUNTIME) into $(VENV)"; \
	  python3 -m venv $(VENV) && \
	  $(VENV)/bin/pip install --quiet --upgrade pip && \
	  $(VENV)/bin/pip install --quiet "$(ONNXRUNTIME)"; \
	fi

# The long statistical checks (e.g. interval coverage over 400 data sets),
# optimised; not part of `make test`.
test-slow: ort
	$(CARGO) test --release --test it -- --ignored --nocapture

build:
	$(CARGO) build --release --bin evalkit

# `evalkit` on PATH: an optimised build installed into ~/.cargo/bin (a
# release build of its own: about 15 minutes cold on 2 cores).
install:
	$(CARGO) install --locked --path . --bin evalkit

$(VENV)/.dev-installed: requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.dev-installed

fixtures: venv
	$(PY) fixtures/generate.py
	$(PY) fixtures/generate_models.py
	$(PY) fixtures/generate_differential.py
	$(PY) fixtures/generate_ranking.py
	$(PY) fixtures/generate_serving_models.py

bench: ort
	$(CARGO) bench --bench full_tier

bench-peer: venv build
	$(PY) benches/peer.py

bench-infer: venv build
	$(PY) benches/peer_infer.py

bench-python: venv build $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release -m python/Cargo.toml
	$(PY) benches/peer_python.py

bench-states: venv build
	$(PY) benches/states.py

# Ranking metrics vs pytrec_eval and ranx (installs both into .venv).
bench-ranking: venv build
	$(VENV)/bin/pip install --quiet pytrec-eval-terrier ranx
	$(PY) benches/peer_ranking.py

bench-profile: venv build
	$(PY) benches/peer_profile.py

# evalkit.ray and evalkit.spark against Spark MLlib and scikit-learn on
# Parquet shards (ROWS=..., SHARDS=...).
bench-engines: venv $(VENV)/.py-test-installed java
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release -m python/Cargo.toml
	$(PY) benches/peer_engines.py

bench-ray-ranges: venv $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release -m python/Cargo.toml
	$(PY) benches/ray_ranges.py

bench-ray-compare: venv $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release -m python/Cargo.toml
	$(PY) benches/ray_compare.py

bench-ray-infer: venv build $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release -m python/Cargo.toml
	$(PY) benches/ray_infer.py

bench-multiclass: venv build
	$(PY) benches/peer_multiclass.py

clean:
	$(CARGO) clean
	rm -rf $(OUT)
