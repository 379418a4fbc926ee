# CivicFlow: `make demo` runs a consultation cycle on real data, `make test` runs the tests.
# Both bootstrap from nothing: they create .venv and install CivicFlow first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite
SCALE ?= small

.PHONY: demo test lint bench app clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/civicflow demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q --db $(DB)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# `make bench SCALE=city DB=postgresql`; results in bench-results.json (docs/performance.md)
bench: $(BIN)/.installed
	$(BIN)/python bench/run.py --scale $(SCALE) --db $(DB) --out bench-results.json

app: $(BIN)/.installed
	$(BIN)/civicflow app

clean:
	rm -rf var test-output .pytest_cache
