# Mathematics of Deep Learning — build, test and benchmark.
# `make book` and `make test` set up the virtual environment by themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Scale knob for the chapters (1 = CPU teaching size; try 8 on a GPU).
BOOK_SCALE ?= 1
export BOOK_SCALE

.PHONY: setup book test test-lib test-notebooks test-site colab colab-check pdf bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Build the website, executing every chapter. Warnings are errors; a failing notebook fails the build.
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going --builder html

# All tests: lib unit/property tests, nbval executing every notebook listed in _toc.yml and one
# Colab notebook outside the checkout; then the website is built and checked as a reader sees it.
test: setup
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory book
	$(BIN)/python -m pytest tests/site

test-lib: setup
	$(BIN)/python -m pytest tests

test-notebooks: setup
	$(BIN)/python -m pytest book

test-site: setup
	$(BIN)/python -m pytest tests/site

# Every chapter as a Colab notebook (GPU note + an install cell pinned to this commit) in _build/colab.
colab: setup
	$(BIN)/python book/_ext/chapters.py _build/colab

# Execute every Colab notebook in a fresh venv outside the checkout, with lib from a wheel.
colab-check: setup
	COLAB_CHECK=all $(BIN)/python -m pytest tests/test_colab.py

# The whole book as one PDF (XeLaTeX, Japanese glossary terms in Noto CJK); see README for packages.
pdf: setup
	$(BIN)/jupyter-book build . --builder pdflatex

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build .pytest_cache
