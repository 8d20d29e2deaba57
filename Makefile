# Mathematics of Deep Learning — build, test and benchmark.
# `make book` and `make test` set up the virtual environment by themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Scale knob and base seed of the chapters (1 = CPU teaching size; try 8 on a GPU). Both are part
# of the execution cache's key (book/_ext/execution_cache.py), with the lib sources.
BOOK_SCALE ?= 1
BOOK_SEED  ?= 0
export BOOK_SCALE BOOK_SEED
# pytest-xdist processes for the lib tests and the chapters (a chapter stays in one process). Each
# process allocates GPU memory only as it needs it, so several can share one GPU.
WORKERS ?= 2
PYTEST  := XLA_PYTHON_CLIENT_PREALLOCATE=false $(BIN)/python -m pytest
# A second venv with the oldest versions lib declares in pyproject.toml (JAX, NumPy, SciPy) and the
# test tools of requirements.txt; `make test-minjax` runs the core lib tests there, so that an API
# newer than the floor fails. lib comes from the checkout (PYTHONPATH), not installed.
MINJAX_VENV  ?= .venv-minjax
MINJAX_STAMP := $(MINJAX_VENV)/.installed
floor = $(shell sed -n 's/.*"$(1)>=\([0-9.]*\)".*/\1/p' pyproject.toml)
MINJAX_REQS   = jax==$(call floor,jax) jaxlib==$(call floor,jax) numpy~=$(call floor,numpy).0 \
                scipy~=$(call floor,scipy).0 $(shell grep -E '^(pytest|pytest-xdist|hypothesis)==' requirements.txt)
CORE_TESTS   := $(addprefix tests/test_,ntk.py ridgeless.py mfld.py nets.py data.py validate.py \
                activations.py kernels.py gpu_ready.py)

# Packages installed without their dependencies, only for the static files the slides copy:
# reveal.js (from RISE) and MathJax 2, so that the decks need no network.
ASSET_PACKAGES := rise==5.7.1 jupyter-server-mathjax==0.2.6

.PHONY: setup book test test-lib test-minjax test-notebooks test-site colab student slides colab-check pdf \
        bench gpu-check gpu-check-smoke clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps $(ASSET_PACKAGES)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(MINJAX_STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(MINJAX_VENV)
	$(MINJAX_VENV)/bin/python -m pip install --quiet $(MINJAX_REQS)
	touch $(MINJAX_STAMP)

# Build the website. A chapter found in the execution cache (_build/.jupyter_cache/<key>, filled by
# nbval or an earlier build) is not executed again; the others are executed and cached. Warnings are
# errors; a failing notebook fails the build.
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going --builder html

# All tests, each chapter executed once: the lib tests, and the core ones again under the oldest
# supported JAX; every chapter of _toc.yml under nbval, each stored in the execution cache when all
# its cells pass (a failing check stops here, named by chapter, cell and assertion); the packaging
# tests outside the checkout (the wheel, one Colab notebook); then the website, built from the
# cache without executing anything, checked as a reader sees it; and the smoke version of
# `make gpu-check` (small sizes, no chapters: a few seconds), so that script cannot rot.
test: test-lib test-minjax test-notebooks
	$(BIN)/python -m benchmarks.gpu_check --smoke
	$(PYTEST) tests/packaging
	$(MAKE) --no-print-directory book
	$(PYTEST) tests/site

test-lib: setup
	$(PYTEST) tests -n $(WORKERS)

# The core lib tests under the oldest supported JAX (pyproject.toml's floor), in $(MINJAX_VENV).
test-minjax: $(MINJAX_STAMP)
	XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH=$(CURDIR) $(MINJAX_VENV)/bin/python -m pytest \
	    -o addopts="-ra -p no:cacheprovider" $(CORE_TESTS) -n $(WORKERS)

# Every chapter under nbval; those that pass are stored in the execution cache for `make book`.
test-notebooks: setup
	$(PYTEST) book -n $(WORKERS) --dist loadfile

test-site: setup
	$(PYTEST) tests/site

# Every chapter as a Colab notebook (GPU note + an install cell pinned to this commit) in _build/colab.
colab: setup
	$(BIN)/python book/_ext/chapters.py _build/colab

# Every chapter as a student notebook (exercise solutions removed, graders kept) in _build/student.
student: setup
	$(BIN)/python book/_ext/student.py _build/student

# One reveal.js deck per chapter in _build/slides (executed outputs from the execution cache; a
# chapter not found there is executed first). `make book` also writes them into the site, _build/html/slides.
slides: setup
	$(BIN)/python book/_ext/slides.py _build/slides

# Execute every Colab notebook in a fresh venv outside the checkout, with lib from a wheel.
colab-check: setup
	COLAB_CHECK=all $(BIN)/python -m pytest tests/packaging/test_colab.py

# The whole book as one PDF (XeLaTeX, Japanese glossary terms in Noto CJK); see README for packages.
pdf: setup
	$(BIN)/jupyter-book build . --builder pdflatex

bench: setup
	$(BIN)/python -m benchmarks

# On a GPU: fails unless JAX sees one; the kernels at GPU sizes against floors timed in the same
# run, then every chapter at BOOK_SCALE=8 (GPU_CHECK_SCALE); tables in benchmarks/results/gpu.md.
GPU_CHECK_SCALE ?= 8
gpu-check: setup
	$(BIN)/python -m benchmarks.gpu_check --book-scale $(GPU_CHECK_SCALE)

# The same script at small sizes on any backend, without the chapters (`make test` runs it).
gpu-check-smoke: setup
	$(BIN)/python -m benchmarks.gpu_check --smoke

clean:
	rm -rf _build .pytest_cache
