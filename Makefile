# The two commands a user needs: `make up` (start the product) and `make test` (the whole suite).
# Each creates .venv and installs what it needs; `make install` does only that.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install up test lint format bench system-deps postgres clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Debian packages the test suite drives (headless Chromium for the browser tests).
system-deps:
	@bash scripts/install-system-deps.sh

# Make sure the local PostgreSQL server answers (CI requires it; elsewhere its tests skip if absent).
postgres:
	@bash scripts/ensure-postgres.sh

up: install
	$(BIN)/connectflow up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite waits on real servers, browsers and subprocesses more than it computes: two pytest
# processes (one test file each at a time, so module fixtures stay shared) keep both cores busy.
TEST_WORKERS ?= 2

test: install system-deps postgres lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) .connectflow .pytest_cache
