# bdg — the two set-up commands are `make up` and `make test`; both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
# uv from PATH, else the one pip installs for this user.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
CODE := services shared tests deploy

.PHONY: help up test lint typecheck unit integration e2e fuzz lock bootstrap rebuild clean docs chromium

help:
	@echo "make up      start NATS and the three services with demo data (Ctrl-C stops);"
	@echo "             data kept in .data; BDG_REPLICAS=2 BDG_NATS_NODES=3 for a local cluster"
	@echo "make test    lint, type-check and run the whole test suite"
	@echo "make rebuild replay both streams into fresh reporting read models, then switch"
	@echo "make lock    re-resolve requirements.lock and requirements-dev.lock with hashes"

bootstrap: $(STAMP)

# Install uv if missing, create the virtualenv and sync it to the locked dev set.
$(STAMP): requirements-dev.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv 2>/dev/null || \
		$(PYTHON) -m pip install --quiet uv || \
		$(PYTHON) -m pip install --quiet --user --break-system-packages uv
	@test -x $(BIN)/python || $(UV) venv --quiet --python ">=3.11" $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements-dev.lock
	@touch $(STAMP)

# BDG_REPLICAS, BDG_NATS_NODES, BDG_DATA_DIR, ... reach the launcher through the environment.
up: $(STAMP)
	$(BIN)/python deploy/run_local.py

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

typecheck: $(STAMP)
	$(BIN)/mypy services shared

# The browser tests drive Debian's Chromium (a browser a tool downloads itself cannot be
# fetched here): installed when missing.
chromium:
	@test -x /usr/bin/chromium || apt-get install -y chromium || \
		(apt-get update && apt-get install -y chromium)

test: lint typecheck chromium
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# Schemathesis for longer than `make test` does (seconds per service).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	BDG_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/pytest tests/fuzz -p no:cacheprovider

lock:
	$(UV) pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 \
		--quiet -o requirements.lock
	$(UV) pip compile pyproject.toml --group dev --universal --generate-hashes \
		--python-version 3.11 --quiet -o requirements-dev.lock

rebuild: $(STAMP)
	$(BIN)/python -m services.reporting.rebuild

docs: $(STAMP)
	$(BIN)/python -m shared.contracts.asyncapi > docs/asyncapi.json

# Keeps .data (the stores, streams and generated secrets of `make up`): rm -rf .data.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
