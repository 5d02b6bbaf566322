# make demo: tag examples/sample.txt (split words) and a line of raw text with the shipped model; make test: the test suite.
# Everything goes into .venv (created if missing), so both work from a clean clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install

demo: install
	$(BIN)/polytag tag --format words examples/sample.txt
	printf "Der Hund schläft im Garten. Le chat dort sur le canapé du salon.\n" | $(BIN)/polytag tag --format raw -

install: $(VENV)/.installed

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (the package itself is editable).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@ $(VENV)/.installed
