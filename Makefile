# evalkit — the two commands in the README, and the rest of the chores.
#
#   make demo    run evalkit on the bundled fixtures
#   make test    fmt check, clippy -D warnings, every test
#
# Python (scikit-learn, pyarrow) is only needed to regenerate fixtures and to
# run the peer benchmark; `make venv` installs it into .venv.

SHELL := /bin/bash
CARGO ?= cargo
VENV ?= .venv
PY := $(VENV)/bin/python
EVALKIT = $(CARGO) run --quiet --bin evalkit --
DEMO := fixtures/binary_balanced.arrow

.PHONY: demo test test-slow fmt lint unit build bench bench-peer fixtures venv clean

demo:
	$(CARGO) build --quiet --bin evalkit
	$(EVALKIT) fast $(DEMO) --sample 500
	@echo
	$(EVALKIT) full $(DEMO)
	@echo
	$(EVALKIT) compare $(DEMO) fixtures/binary_baseline_shuffled.arrow --id row_id

test: fmt lint unit

fmt:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test

# The long statistical checks (e.g. interval coverage over 400 data sets),
# optimised; not part of `make test`.
test-slow:
	$(CARGO) test --release --test it -- --ignored --nocapture

build:
	$(CARGO) build --release --bin evalkit

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt

venv: $(PY)

fixtures: $(PY)
	$(PY) fixtures/generate.py

bench:
	$(CARGO) bench --bench full_tier

bench-peer: $(PY) build
	$(PY) benches/peer.py

clean:
	$(CARGO) clean
