# One entry point for people and CI. `make run` serves the embedded default; `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test venv lint typecheck pytest migrate sandbox bench-profile cluster clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
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

# Needs wrk (Debian package `wrk`): installed here when missing and apt-get is usable.
bench-profile: venv
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }; } || true
	$(BIN)/python -m bench.profile $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# N instances (default 3) behind NGINX on the configured PostgreSQL and Redis
# (GAMEHUB_DATABASE_URL and GAMEHUB_REDIS_URL); Ctrl-C stops them all. See docs/OPERATIONS.md.
N ?= 3
CLUSTER_PORT ?= 8080
cluster: venv
	$(BIN)/python -m gamehub.cluster --instances $(N) --port $(CLUSTER_PORT)
