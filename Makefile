# Every target creates .venv itself; a newcomer needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint demo dev bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Ruff: lint and imports, then the format (`$(VENV)/bin/ruff format .` applies it).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The pipeline against the bundled sample Jira (or the Jira in JIRA_BASE_URL); DEMO_ARGS=--help for options.
demo: install
	$(PY) -m jarkdown_pipeline.tools.demo $(DEMO_ARGS)

# The Dagster UI (dagster dev -w workspace.yaml) against the sample Jira (or the Jira in JIRA_BASE_URL).
dev: install
	$(PY) -m jarkdown_pipeline.tools.dev $(DEV_ARGS)

# Throughput, memory, rendering and incremental figures (minutes; not part of `make test`).
bench: install
	$(PY) -m jarkdown_pipeline.tools.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
