# The two commands of the README: `make book` (paper scale) and `make test` (every check, smoke scale).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB_FLAGS := -W -n --keep-going
# The scale of `make book`: paper unless set (`BOOK_SCALE=large make book` builds the large book).
BOOK_SCALE ?= paper

.PHONY: book test unit notebooks build-smoke browser benchmark clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $(STAMP)

## make book: build the HTML at paper scale (or $BOOK_SCALE) from a clean build, print where it is.
## The chapters are executed first, two at a time (jupyter-cache's parallel executor, one process per
## core), into the execution cache that the build then reads; the claims ledger (07), which reads what
## the chapters recorded, is executed by the build itself, last.  A chapter that fails there is not
## cached, so the build executes it again and fails on it.  Listed longest first, so that the two
## processes finish together.
CACHE := _build/.jupyter_cache
CHAPTERS := 06_training 06c_random_starts 04b_fixed_coherence 05_mnist 04_simulations 06b_hessian \
	03_criticality 02_support_recovery 01_model
book: $(STAMP)
	rm -rf _build results
	mkdir -p $(CACHE)
	JUPYTERCACHE=$(CACHE) $(BIN)/jcache notebook add $(CHAPTERS:%=book/%.ipynb) >/dev/null
	BOOK_SCALE=$(BOOK_SCALE) JUPYTERCACHE=$(CACHE) $(BIN)/jcache project execute --executor local-parallel --timeout 1800
	BOOK_SCALE=$(BOOK_SCALE) $(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book: $(CURDIR)/_build/html/index.html"

## make test: every check at smoke scale (unit tests, nbval, warning-free clean build, browser).
test: $(STAMP) unit notebooks build-smoke browser

unit: $(STAMP)
	BOOK_SCALE=smoke $(BIN)/python -m pytest tests -m "not browser" -q

notebooks: $(STAMP)
	rm -rf results
	BOOK_SCALE=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:randomly book -q

build-smoke: $(STAMP)
	rm -rf _build results
	BOOK_SCALE=smoke $(BIN)/jupyter-book build . $(JB_FLAGS)

browser: $(STAMP)
	BOOK_SCALE=smoke $(BIN)/python -m pytest tests -m browser -q

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_gradient.py

clean:
	rm -rf _build results .pytest_cache
