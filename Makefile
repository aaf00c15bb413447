# GovFlow: the two commands are `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install migrate seed serve test lint bench clean

install: $(VENV)/.installed webui/static/dist/.built

# Reinstalls whenever pyproject.toml (the pinned dependencies) changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The browser bundles (bpmn-js, charts) come from the npm registry at install time; no CDN.
webui/static/dist/.built: frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*.js) $(wildcard frontend/src/*/*.js)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	cd frontend && npm run --silent build
	touch $@

migrate: install
	$(BIN)/govflow migrate

seed: migrate
	$(BIN)/govflow seed

serve: seed
	$(BIN)/govflow serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/calendar.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/inbox.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache frontend/node_modules webui/static/dist
