# Two commands get a fresh machine running: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/workflows
REDIS ?= redis://127.0.0.1:6379/0

.PHONY: run test test-pg bench install migrate demo services chromium clean
# apt-get needs root; as another user it goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# Serve on http://$(HOST):$(PORT) with daphne; on SQLite the worker runs inside it.
run: demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Open http://$(HOST):$(PORT)/  (log in as demo / demo)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# The suite on the embedded default (SQLite file, in-memory channel layer).
test: install chromium
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest

# The same suite on the local PostgreSQL and Redis services.
test-pg: install services chromium
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(BIN)/pytest

# Benchmarks (never part of the test suite), on PostgreSQL: the engine against the commit
# floor first (it creates and migrates the database), then each app's own figures.
bench: install services chromium
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/engine_bench.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/events_bench.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/approvals_bench.py
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(BIN)/python bench/widgets_bench.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/builder_bench.py

services:
	@bash .ci/services.sh

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (browser tests)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) db.sqlite3* .test-db* staticfiles
