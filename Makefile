# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel: a looser torch requirement can pull a multi-GB CUDA build. tools/install_torch.py
# takes it from PyTorch's CPU index (TORCH_INDEX) when that answers, else from pip's default index.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
STAMP := $(VENV)/.textkit-installed
PYTEST_WORKERS ?= 2

.PHONY: demo test test-fast lint install bench-classical bench-tokenization-env clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) tools/install_torch.py --quiet --index "$(TORCH_INDEX)" "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m spacy info >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/textkit reproduce sentiment --out runs/demo

# ruff (rules and line length in pyproject.toml) over the code, and mypy over the typed packages.
LINT_PATHS := textkit tests bench setup.py
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15 tests

test-fast: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow" tests

# Execute the notebooks in place (tools/notebooks.py) and strip timings and machine paths:
# `make notebooks` for all eight, `make notebooks NOTEBOOKS="01 05"` for some. Commit the outputs.
.PHONY: notebooks
notebooks: $(STAMP)
	$(PY) tools/notebooks.py $(NOTEBOOKS)

# Benchmarks (see BENCHMARKS.md). Peers live in their own venvs, never in .venv.
bench-classical: $(STAMP)
	$(PY) bench/classical.py --repeats 5

bench-tokenization-env:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python tools/install_torch.py --quiet --index "$(TORCH_INDEX)" "$(TORCH_SPEC)"
	.venv-bench/bin/pip install --quiet -r bench/requirements-tokenize.txt
	.venv-bench/bin/pip install --quiet --no-deps "fastai==2.8.12"
	.venv-bench/bin/pip install --quiet --no-deps -e .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build *.egg-info
