# The two Quick start commands (README): `make pipeline` and `make test`.
# Each sets up what it needs on a fresh machine: the virtual environment, the pinned packages and
# Delta Lake's jars (cached in .cache/jars, downloaded once from Maven Central, SHA-512 checked).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Two pytest workers, each with its own SparkSession; a test module runs whole on one of them, and the
# modules that share the session's pipeline run on the same one (tests/conftest.py's scheduler), so
# every lake fixture is built once. PYTEST_WORKERS= runs the suite in one process.
PYTEST_WORKERS ?= -n 2

.PHONY: install jars browser pipeline test lint cluster-up cluster-down mlflow-ui bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

jars: $(STAMP)
	@$(PY) -m lakepulse.runtime.jars >/dev/null

## Runs the main job end to end on the embedded default (local Spark, lake under .lakepulse/).
pipeline: jars
	./spark-submit.sh pipeline $(ARGS)

# Headless Chromium for the report test (Debian's package; not pinned: Debian security updates
# replace the old build, so a pinned version would stop installing).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "make: chromium missing: run 'sudo apt-get install chromium' (needed by the report test)" >&2; exit 1; fi; }

## Runs the whole test suite.
test: jars browser
	$(PY) -m pytest $(PYTEST_WORKERS) $(ARGS)

## Starts the MLflow server and UI on 127.0.0.1 over the local store (ARGS="--port 5001" for another port).
mlflow-ui: $(STAMP)
	$(PY) -m lakepulse.app.mlflow_ui $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check libs jobs tests bench
	$(PY) -m ruff format --check libs jobs tests bench
	$(VENV)/bin/lint-imports --no-cache pyproject.toml

## Benchmarks the data steps at 1M and 10M events (against plain Spark and DuckDB) and an incremental day
## after 365 days, and rewrites BENCHMARKS.md and bench/results.json (over an hour on a quiet 2-core
## machine; ARGS="--help", ARGS="--only scale --events 200000,1000000" for a shorter run).
bench: jars
	$(PY) -m bench $(ARGS)

clean:
	rm -rf build .lakepulse
