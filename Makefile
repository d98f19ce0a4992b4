# Every target creates the virtual environment when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench cassettes clean

$(BIN)/linkaudit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Run linkaudit (offline scan) over the bundled example notes, with the reference config.
demo: $(BIN)/linkaudit
	$(BIN)/linkaudit scan --config config.yaml examples/ ; test $$? -le 1

# Lint, type-check, then the test suite (warnings are errors).
test: $(BIN)/linkaudit
	$(BIN)/ruff check linkaudit tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(BIN)/linkaudit
	$(BIN)/ruff check linkaudit tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
