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

.PHONY: install run run-prod serve migrate demo lint audit format test test-sqlite test-postgres fuzz bench load backup restore messages clean

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

## make run-prod: the production stack on this machine (PostgreSQL of DATABASE_URL, Redis of
## REDIS_URL): migrate, collectstatic, WEB_WORKERS ASGI processes on PORT, Celery worker and beat
run-prod: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python scripts/run_prod.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -c pyproject.toml -r command_center incidents alerts maps playbooks scripts -q

## make audit: pip-audit of the installed (pinned) dependencies; fails on a known vulnerability.
## Without the advisory data it prints SKIPPED and passes, unless AUDIT_REQUIRED=true.
audit: install
	$(BIN)/python scripts/audit.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make test: lint, the dependency audit, the whole suite on SQLite, then again on PostgreSQL
## (browser tests and the tests that make their own databases run once)
test: lint audit test-sqlite test-postgres

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

## make fuzz: the fuzz tests (API by its OpenAPI schema, forms, pages, sockets, CSV) with many
## more examples, in rounds that stop within FUZZ_SECONDS (FUZZ_EXAMPLES: the first round's)
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 25
fuzz: install
	env -u DATABASE_URL FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(BIN)/python tests/fuzz/run_fuzz.py $(FUZZ_ARGS)

## make bench: every benchmark under tests/bench, each figure beside its same-run baseline,
## as one table in var/bench.md (BENCH_ARGS="--only reports --quick" for a subset or a smoke run)
bench: install
	mkdir -p var
	env -u DATABASE_URL $(BIN)/python tests/bench/run_all.py $(BENCH_ARGS)

## make load: LOAD_CLIENTS dashboards on 2 ASGI processes while LOAD_RATE cases a second are
## registered through the API for LOAD_SECONDS (needs PostgreSQL and Redis; --help for more)
LOAD_CLIENTS ?= 500
LOAD_SECONDS ?= 300
LOAD_RATE ?= 2
load: install
	env -u DATABASE_URL $(BIN)/python tests/bench/bench_load_ws.py --clients $(LOAD_CLIENTS) \
		--seconds $(LOAD_SECONDS) --rate $(LOAD_RATE) $(LOAD_ARGS)

## make backup: the database and MEDIA_ROOT into a new folder under BACKUP_DIR, with a manifest
## make restore FROM=<backup folder>: verify its checksums and restore it (YES=1 replaces data)
BACKUP_DIR ?= var/backups
backup: install
	$(BIN)/python manage.py backup --output "$(BACKUP_DIR)"

restore: install
	@test -n "$(FROM)" || { echo "Give the backup folder: make restore FROM=..."; exit 2; }
	$(BIN)/python manage.py restore "$(FROM)" $(if $(YES),--yes,)

## make messages: refresh the zh-Hans catalogue after changing user-facing strings
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
