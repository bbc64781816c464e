# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LINT_PATHS := $(wildcard src tests benchmarks tools)

.PHONY: run test lint docs docs-serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

# Runtime install: everything the demo and the CLI need.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[all]"
	touch $@

# Development install: runtime plus test and lint tools.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-run

# Seed the demo record (SQLite in the user data folder), then serve the web app on
# 127.0.0.1:$(PORT) with the demo accounts printed. Ctrl+C stops it.
PORT ?= 8000
run: $(VENV)/.installed-run
	$(BIN)/spinestab demo
	$(BIN)/spinestab serve --demo --port $(PORT)

# ruff (style, complexity), ruff format, and mypy on src (configuration in pyproject.toml)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# The suite in TEST_WORKERS processes (pytest-xdist), a test file per process at a time so
# that a module's fixtures are built once: on 2 cores about half the time of one process.
# TEST_WORKERS=0 runs it in this process (no xdist), as `pytest tests/...` does.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -p no:cacheprovider $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The documentation site (mkdocs-material + mkdocstrings) into site/; strict: a broken link,
# a page missing from the nav or an unreadable docstring fails. The tests build it too.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8001

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info
