# Two things a fresh machine needs: `make demo` (the main job) and `make test` (the whole suite).
# Both build .venv on first use from pyproject.toml; nothing is installed outside it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/syncd convert examples/

lint: $(BIN)/.installed
	$(BIN)/ruff check syncd tests bench
	$(BIN)/ruff format --check syncd tests bench
	$(BIN)/mypy syncd

test: lint
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
