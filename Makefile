# Liveblog: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export PORT

.PHONY: run test lint format install install-dev migrate seed clean vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo
	@echo "  Liveblog is starting on http://$(HOST):$(PORT)/"
	@echo "  Log in at http://$(HOST):$(PORT)/accounts/login/ as 'blogger' (console) or 'organiser' (Organise: London's pages; admin at /admin/)"
	@echo "  Password: $${DEMO_PASSWORD:-liveblog-demo}   Stop with Ctrl+C."
	@echo
	$(BIN)/python -m liveblog.server -b $(HOST) -p $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run >/dev/null || (echo "Model changes without migrations: run makemigrations" && exit 1)
	$(BIN)/pytest $(PYTEST_ARGS)

# Vendored front-end files, from npm at pinned versions (never a CDN).
vendor:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent htmx.org@2.0.11 >/dev/null && tar xzf htmx.org-2.0.11.tgz \
	  && cp package/dist/htmx.min.js package/LICENSE $(CURDIR)/static/vendor/htmx/ && rm -rf $$tmp
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz \
	  && cp package/axe.min.js package/LICENSE package/LICENSE-3RD-PARTY.txt $(CURDIR)/tests/browser/vendor/ && rm -rf $$tmp

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache *.egg-info

# Benchmarks (not part of `make test`): fan-out to 100 … 10,000 readers against the raw
# websockets floor and plain Channels; writes bench/results/ and docs/benchmarks.md.
# BENCH_ARGS=--quick for a short run; the Redis targets need PostgreSQL and Redis.
.PHONY: bench bench-deps
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[dev,bench]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-dev

bench-deps: $(VENV)/.installed-bench

bench: bench-deps
	ulimit -n "$$(ulimit -Hn)" && $(BIN)/python -m bench.run $(BENCH_ARGS)

# Soak test with faults (not part of `make test`): two workers behind Caddy on a PostgreSQL
# and a Redis of its own, 2,000 readers and a blogger, while a worker is killed, Redis and
# PostgreSQL restart, readers lose their network and the crowd reconnects at once. Writes
# bench/results/soak.json and docs/reliability.md; fails if a reader or a post is not exact.
# SOAK_ARGS=--short for about 2 minutes (default 10).
.PHONY: soak
soak: bench-deps
	ulimit -n "$$(ulimit -Hn)" && $(BIN)/python -m bench.soak $(SOAK_ARGS)
