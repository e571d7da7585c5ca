# Stethos — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
export QT_QPA_PLATFORM_PLUGIN_PATH :=

.PHONY: run test lint models clean-venv

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || PYTHON=python3; \
	$$( command -v $(PYTHON) || command -v python3 ) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/stethos --open-sample

test: $(DEVSTAMP)
	$(VENV)/bin/ruff check engine desktop tests benchmarks
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests

models: $(STAMP)
	$(VENV)/bin/stethos-engine train all
