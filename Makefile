# Two commands get a fresh machine running: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/workflows
REDIS ?= redis://127.0.0.1:6379/0

# make bench: a database of its own (recreated each run) and Redis with a channel prefix of its own.
BENCH_DB ?= postgres://postgres@127.0.0.1:5432/workflows_bench
BENCH_REDIS ?= $(REDIS)
# make reliability: a database of its own (recreated each run; its name must contain "reliability").
RELIABILITY_DB ?= postgres://postgres@127.0.0.1:5432/workflows_reliability

.PHONY: run test test-pg lint bench bench-quick reliability reliability-quick install migrate demo services chromium clean
# apt-get needs root; as another user it goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# The redis extra (channels-redis, redis-py): only for REDIS_URL, so the PostgreSQL targets.
$(BIN)/.redis-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,redis]'
	touch $@

# The lint extra: ruff, mypy and the Django and DRF stubs; with the redis extra, so mypy reads
# the Redis code against the package it imports.
$(BIN)/.lint-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,lint,redis]'
	touch $@

# The bench extra: DBOS Transact (the peer) and matplotlib (the plot).
$(BIN)/.bench-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench,redis]'
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# Serve on http://$(HOST):$(PORT) with daphne; on SQLite the worker runs inside it.
run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Open http://$(HOST):$(PORT)/  (log in as demo / demo)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# Two pytest-xdist processes, whole files each (a file's tests share its servers): the suite
# waits on servers and browsers as much as it computes. `make test XDIST=` runs it in one.
XDIST ?= -n 2 --dist loadfile

# The suite on the embedded default (SQLite file, in-memory channel layer).
test: install chromium
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest $(XDIST)

# The same suite on the local PostgreSQL and Redis services.
test-pg: $(BIN)/.redis-installed services chromium
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(BIN)/pytest $(XDIST)

# Lint (ruff), formatting (ruff format) and types (mypy with the Django and DRF stubs) of the
# non-test code; the configuration is in pyproject.toml.
lint: $(BIN)/.lint-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks (never part of the test suite), on the local PostgreSQL and Redis: the engine against
# the commit floor and DBOS, HTTP latency, widget fan-out, the apps' own figures (the builder's in
# Chromium), paused executions.
# Prints a table; writes bench/results.json and bench/results.png. `make bench ARGS=--quick` (or
# `make bench-quick`) is the smoke run for CI: small sizes, fails only if something crashes.
bench: $(BIN)/.bench-installed services chromium
	BENCH_DATABASE_URL=$(BENCH_DB) BENCH_REDIS_URL=$(BENCH_REDIS) $(BIN)/python -m bench.run $(ARGS)

bench-quick:
	$(MAKE) bench ARGS="--quick $(ARGS)"

# The fault suite (never part of the test suite), on the local PostgreSQL and a redis-server of
# its own: daphne and three workers under kill -9, SIGTERM, terminated backends and Redis
# restarts, then schemathesis and cross-tenant probes. Prints a table and fails when a figure
# that must be 0 is not. `make reliability-quick` is the short run CI makes (a few minutes).
reliability: $(BIN)/.redis-installed services
	RELIABILITY_DATABASE_URL=$(RELIABILITY_DB) $(BIN)/python -m reliability.run $(ARGS)

reliability-quick:
	$(MAKE) reliability ARGS="--quick $(ARGS)"

services:
	@bash .ci/services.sh

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (browser tests)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) db.sqlite3* .test-db* staticfiles
