# One entry point for people and CI. `make run` serves the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test venv lint typecheck pytest migrate sandbox bench-profile clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: venv
	$(BIN)/gamehub serve --host $(HOST) --port $(PORT)

test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest -q $(PYTEST_ARGS)

migrate: venv
	$(BIN)/gamehub migrate

sandbox: venv
	$(BIN)/gamehub daraja-sandbox

bench-profile: venv
	$(BIN)/python -m bench.profile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
