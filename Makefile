# Stethos. The two set-up commands are `make run` and `make test`; both create
# .venv when it is missing and install what they need into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
PKGSTAMP := $(VENV)/.installed-package

.PHONY: run test lint models clean-venv translations translations-update package package-test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(PKGSTAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[package]'
	touch $@

# Translations: the .ts sources are edited by people; the .qm files are built
# from them (and committed, so a checkout or a package has them without Qt tools).
TS_FILES := $(wildcard resources/translations/stethos_*.ts)
QM_FILES := $(TS_FILES:.ts=.qm)

resources/translations/%.qm: resources/translations/%.ts | $(STAMP)
	$(VENV)/bin/pyside6-lrelease -silent $< -qm $@

## Compile the translations (.ts -> .qm).
translations: $(QM_FILES)

## Collect every tr()/translate() string of desktop/ into the .ts files (then translate the new ones).
translations-update: $(STAMP)
	$(VENV)/bin/pyside6-lupdate -locations none -no-obsolete $$(find desktop -name '*.py' | sort) -ts $(TS_FILES)

## Open the main window on the bundled sample chest radiograph.
run: $(STAMP) translations
	$(VENV)/bin/stethos --open-sample

## Lint, check the import layers (import-linter) and the types (mypy, engine and desktop), and run the whole test suite headless (pytest exit 5, "no tests", is a failure too).
test: $(DEVSTAMP) translations
	$(VENV)/bin/ruff check engine desktop tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check engine desktop tests benchmarks
	$(VENV)/bin/ruff format --check engine desktop tests benchmarks
	$(VENV)/bin/mypy

## Rebuild every bundled model from ../shared/data.
models: $(STAMP)
	$(VENV)/bin/stethos-engine train all

## Freeze the app and build the Linux installers: the full flavour (dist/stethos_*.deb, PyTorch
## with CUDA) and the CPU flavour (dist/stethos-cpu_*.deb, ONNX Runtime, no PyTorch).
package: $(PKGSTAMP) translations
	packaging/build.sh
	packaging/build.sh --flavour cpu

## Build both installers, install each into a temporary root and run its self-test offline.
package-test: package
	packaging/smoke_test.sh
	packaging/smoke_test.sh --flavour cpu

clean-venv:
	rm -rf $(VENV)
