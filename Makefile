# The two commands of the README: `make book` (paper scale) and `make test` (every check, smoke scale).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
# The scale of `make book`: paper unless set (`BOOK_SCALE=large make book` builds the large book).
BOOK_SCALE ?= paper

.PHONY: book test lint unit notebooks render build-smoke browser benchmark clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $(STAMP)

## make book: build the HTML at paper scale (or $BOOK_SCALE) from a clean build, print where it is.
## tools/execute_chapters.py executes the chapters first, two at a time (one process per core), longest
## first, into the execution cache that the build then reads; the claims ledger (07), which reads what
## the chapters recorded, runs after them.  Cells tagged skip-execution (the live sliders) are not run.
## Each cell has the scale's time-out (lib.scale.cell_timeout): a stuck cell fails in minutes, naming
## the chapter and the cell, and the build is then not started (no second attempt).
CACHE := _build/.jupyter_cache
# From the chapter registry (lib/chapters.py), at recipe time: the executed chapters longest first, and the ledger.
CHAPTERS = $$($(BIN)/python -m lib.chapters execute)
LEDGER = $$($(BIN)/python -m lib.chapters ledger)
book: $(STAMP)
	rm -rf _build results
	BOOK_SCALE=$(BOOK_SCALE) $(BIN)/python -m tools.execute_chapters $(CHAPTERS) --after $(LEDGER) \
		--jobs 2 --cache $(CACHE) --times _build/cell-times.json
	BOOK_SCALE=$(BOOK_SCALE) $(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book: $(CURDIR)/_build/html/index.html"

## make test: every check at smoke scale, each chapter executed once, both cores busy:
## unit tests (pytest-xdist, random order); every notebook under nbval, live cells included, whose
## runs are kept (tools/nbval_outputs.py) and rendered by the warning-free build; the browser check.
EXECUTED := _build/executed
SMOKE_TIMEOUT = $$($(BIN)/python -c 'import lib.scale; print(lib.scale.cell_timeout("smoke"))')
NBVAL := BOOK_SCALE=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:randomly -p tools.nbval_outputs \
	--nbval-save $(EXECUTED) -q
test: $(STAMP) lint unit notebooks render browser

## lint: ruff (pyproject.toml's rules) on the code (the notebooks are not linted yet).
lint: $(STAMP)
	$(BIN)/ruff check lib tests benchmarks tools _ext

## unit: in a random order (pytest-randomly), new each run unless RANDOM_SEED is given; the seed is printed.
unit: $(STAMP)
	@seed=$${RANDOM_SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	echo "unit: test order seed $$seed (make unit RANDOM_SEED=$$seed replays it)"; \
	BOOK_SCALE=smoke $(BIN)/python -m pytest tests -m "not browser" -q -n 2 --randomly-seed=$$seed

notebooks: $(STAMP)
	rm -rf results _build
	$(NBVAL) --nbval-cell-timeout=$(SMOKE_TIMEOUT) -n 2 --dist loadfile $(CHAPTERS)
	$(NBVAL) --nbval-cell-timeout=$(SMOKE_TIMEOUT) $(LEDGER)

## render: the smoke build from the runs of `make notebooks` (it executes nothing; checked after it).
render: $(STAMP)
	$(BIN)/python -m tools.nbval_outputs cache $(EXECUTED) $(CACHE)
	BOOK_SCALE=smoke $(BIN)/jupyter-book build . $(JB_FLAGS)
	$(BIN)/python -m tools.nbval_outputs check $(EXECUTED) $(CACHE)

## build-smoke: the smoke book on its own (executes the chapters like `make book`, at smoke sizes).
build-smoke: $(STAMP)
	$(MAKE) book BOOK_SCALE=smoke

browser: $(STAMP)
	BOOK_SCALE=smoke $(BIN)/python -m pytest tests -m browser -q -n 2

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_gradient.py

clean:
	rm -rf _build results .pytest_cache
