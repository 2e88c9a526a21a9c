# The two commands: `make run` and `make test`. The rest are for people working on the code.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
CATALOGS := $(wildcard cosa/locale/*/LC_MESSAGES/messages.po)

.PHONY: run test lint format messages compile-messages migrate bench clean

$(RUNTIME): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

compile-messages: $(RUNTIME)
	$(BIN)/pybabel compile --domain=messages --directory=cosa/locale --statistics

## make run: set everything up and start the app on http://127.0.0.1:8000 with a local mail catcher
run: $(RUNTIME) compile-messages
	$(BIN)/python -m cosa run-dev

## make test: install what the tests need, then the whole suite on SQLite, PostgreSQL and Chromium
test: $(DEV)
	bash scripts/test.sh

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make messages: extract every user-facing string and update the English and Welsh catalogs
messages: $(RUNTIME)
	$(BIN)/pybabel extract --mapping=babel.cfg --keywords=lazy_gettext --omit-header --no-location --sort-output --output=cosa/locale/messages.pot .
	$(BIN)/pybabel update --domain=messages --input-file=cosa/locale/messages.pot --output-dir=cosa/locale --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python scripts/fill_english_catalog.py

migrate: $(RUNTIME)
	$(BIN)/python -m cosa migrate

bench: $(DEV)
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
