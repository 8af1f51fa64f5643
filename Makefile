# The two commands: `make demo` (set up and run the demo) and `make test` (set up and run all tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-chaos lint install pins clean bench bench-report bench-latency bench-pages load

# Every version comes from constraints.txt (what the suite ran); pyproject.toml has the ranges.
$(STAMP): pyproject.toml examples/syncwright-json-folder/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,mysql]'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e examples/syncwright-json-folder
	touch $(STAMP)

install: $(STAMP)

# Rewrite constraints.txt from pyproject.toml alone (a fresh venv in a temporary folder, the
# newest versions its ranges allow), then `make test` reinstalls at the new pins and tries them.
pins:
	$(PYTHON) scripts/pin.py

demo: $(STAMP)
	$(BIN)/syncwright demo --dir demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

# --durations=25: the 25 slowest tests, listed at the end.
test: lint
	$(BIN)/python -m pytest --durations=25

# The chaos suite alone (processes killed, PostgreSQL restarted, a full disk); `make test`
# runs it too.
test-chaos: $(STAMP)
	$(BIN)/python -m pytest -m chaos

# syncwright against dlt, SQLite -> PostgreSQL: scenarios (a)-(d), then (e) and (f) below.
# ROWS=... BIG=... REPEAT=... to change the sizes (BIG=0 skips the 10M-row memory run).
ROWS ?= 1000000
BIG ?= 10000000
REPEAT ?= 3
bench: $(STAMP)
	$(BIN)/python -m benchmarks.sync --rows $(ROWS) --repeat $(REPEAT) --big $(BIG)
	$(BIN)/python -m benchmarks.report --entries $(ENTRIES) --backend sqlite
	$(BIN)/python -m benchmarks.latency

bench-latency: $(STAMP)
	$(BIN)/python -m benchmarks.latency

# The report's first pages on 10M entries, SQLite and PostgreSQL (ENTRIES=... to change).
ENTRIES ?= 10000000
bench-report: $(STAMP)
	$(BIN)/python -m benchmarks.report --entries $(ENTRIES)

# The web UI's pages over HTTP on 10M entries, SQLite and PostgreSQL (ENTRIES=... to change).
bench-pages: $(STAMP)
	$(BIN)/python -m benchmarks.pages --entries $(ENTRIES)

# Many syncs on intervals across several workers on PostgreSQL, then lag, runs per minute,
# lost ticks and overlaps (not part of `make test`: it lasts MINUTES).
SYNCS ?= 500
WORKERS ?= 3
MINUTES ?= 15
EVERY ?= 2m
load: $(STAMP)
	$(BIN)/python -m benchmarks.load --syncs $(SYNCS) --workers $(WORKERS) --minutes $(MINUTES) --every $(EVERY)

clean:
	rm -rf $(VENV) demo .syncwright .pytest_cache
