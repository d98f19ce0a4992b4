# Every target creates the virtual environment when it is missing. `demo` installs only
# what running linkaudit needs; `test` and `lint` add the dev extras (pytest, ruff, mypy...).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

# Run linkaudit (offline scan) over the bundled example notes, with this repository's
# reference config.yaml (a plain config.yaml is only read when named).
demo: $(VENV)/.installed-run
	$(BIN)/linkaudit scan --config config.yaml examples/ ; test $$? -le 1

# Lint, type-check, then the test suite (warnings are errors).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check linkaudit tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check linkaudit tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
