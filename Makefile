# Stethos. The two set-up commands are `make run` and `make test`; both create
# .venv when it is missing and install what they need into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint models clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## Open the main window on the bundled sample chest radiograph.
run: $(STAMP)
	$(VENV)/bin/stethos --open-sample

## Lint and run the whole test suite headless (pytest exit 5, "no tests", is a failure too).
test: $(DEVSTAMP)
	$(VENV)/bin/ruff check engine desktop tests benchmarks
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check engine desktop tests benchmarks
	$(VENV)/bin/ruff format --check engine desktop tests benchmarks
	$(VENV)/bin/mypy

## Rebuild every bundled model from ../shared/data.
models: $(STAMP)
	$(VENV)/bin/stethos-engine train all

clean-venv:
	rm -rf $(VENV)
