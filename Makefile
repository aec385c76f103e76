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

.PHONY: wheel python pytest test-frameworks demo test test-slow fmt lint features unit ort browser screenshot build install bench bench-peer bench-infer bench-multiclass bench-python bench-ranking bench-profile fixtures venv clean

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

# The Python package (python/, PyO3 + maturin) built into .venv, and its
# tests (Keras on the jax backend included; torch and Lightning only in
# `make test-frameworks`, their wheels are several GB).
$(VENV)/.py-test-installed: python/requirements-test.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r python/requirements-test.txt
	@touch $@

# A release wheel with both faces: `import evalkit` and the `evalkit` command
# (a console script into the extension: one build of the Rust code).
wheel: $(VENV)/.py-test-installed
	$(VENV)/bin/maturin build --release -m python/Cargo.toml -o dist

python: ort $(VENV)/.py-test-installed
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop -m python/Cargo.toml

# The CLI the Python tests compare against.
pytest: python
	$(CARGO) build --bin evalkit
	EVALKIT_REQUIRE_KERAS=1 EVALKIT_REQUIRE_NOTEBOOK=1 EVALKIT_REQUIRE_MLFLOW=1 KERAS_BACKEND=jax $(PY) -m pytest -q python/tests --doctest-modules python/evalkit

test-frameworks: python
	$(VENV)/bin/pip install --quiet torch lightning
	$(PY) -m pytest -q python/tests/test_frameworks.py

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

bench-multiclass: venv build
	$(PY) benches/peer_multiclass.py

clean:
	$(CARGO) clean
	rm -rf $(OUT)
