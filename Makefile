# Two commands are the whole set-up: `make run` and `make test` create or refresh .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint openapi bench bench-smoke soak

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## serve on HOST:PORT (default 127.0.0.1:8000), migrating SQLite first
	$(BIN)/gateway serve

# The suite mostly waits on sockets, retries and subprocesses, so three workers beat one even on two cores.
PYTEST_ARGS ?= -n 3

test: $(STAMP)  ## the whole suite (PostgreSQL too when GATEWAY_TEST_DATABASE_URL points at it)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/gateway openapi --output openapi.yaml

WRK_CHECK = @command -v wrk >/dev/null || { echo "make $@ needs wrk: apt-get install -y wrk"; exit 2; }

bench: $(STAMP)  ## every path against its bare baseline (< 10 min): bench/results.json, docs/performance.md
	$(WRK_CHECK)
	$(BIN)/python -m bench

bench-smoke: $(STAMP)  ## seconds: one short run per path; checks the harness works, never timings
	$(WRK_CHECK)
	$(BIN)/python -m bench --smoke

# The fault scenario of tests/journeys/test_no_loss_under_faults.py at ten times the issue's 5,000 events, on
# SQLite and then on PostgreSQL, whose real server is restarted (SOAK_RESTART_POSTGRES=0 cuts a proxy
# instead: for a machine where other suites use PostgreSQL meanwhile). Its figures go to docs/reliability.md.
SOAK_EVENTS ?= 50000
SOAK_RESTART_POSTGRES ?= 1
SOAK_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
SOAK = GATEWAY_TEST_FAULT_EVENTS=$(SOAK_EVENTS) GATEWAY_WRITE_RELIABILITY=1 $(BIN)/pytest -p no:xdist -q \
	tests/journeys/test_no_loss_under_faults.py

soak: $(STAMP)  ## the fault scenario at 10x (50,000 events) on SQLite and PostgreSQL; figures into docs/reliability.md
	$(SOAK)
	GATEWAY_TEST_DATABASE_URL=$(SOAK_POSTGRES_URL) GATEWAY_TEST_REQUIRE_POSTGRES=1 \
	GATEWAY_TEST_RESTART_POSTGRES=$(SOAK_RESTART_POSTGRES) $(SOAK)
