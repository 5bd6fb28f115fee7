# The two commands: `make run` (set up and serve the demo hub) and `make test` (lint + suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp
# PostgreSQL used by the second test run (CI starts it; elsewhere it is skipped if absent).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/hub

.PHONY: install run serve migrate demo lint format test test-sqlite test-postgres bench messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

## make run: venv, install, migrate, demo data, serve over ASGI on http://$(HOST):$(PORT)
run: demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo "Serving the hub on http://$(HOST):$(PORT)  (log in as clerk_lianshi / demo)"
	$(BIN)/uvicorn command_center.asgi:application --host $(HOST) --port $(PORT) --lifespan on

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make test: lint, the whole suite on SQLite, then again on PostgreSQL (browser tests and
## the tests that make their own databases run once)
test: lint test-sqlite test-postgres

test-sqlite: install
	env -u DATABASE_URL $(BIN)/pytest

test-postgres: install
	@if $(BIN)/python scripts/service_up.py postgres "$(TEST_POSTGRES_URL)"; then \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/pytest -m "not e2e and not own_databases and not slow"; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL) and CI=true: failing."; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL run, no server at $(TEST_POSTGRES_URL) (set TEST_POSTGRES_URL)."; \
	fi

## make bench: every benchmark under tests/bench, each figure beside its same-run baseline
bench: install
	@for script in tests/bench/bench_*.py; do env -u DATABASE_URL $(BIN)/python $$script || exit 1; done

## make messages: refresh the zh-Hans catalogue after changing user-facing strings
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
