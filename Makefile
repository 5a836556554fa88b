# Two commands do all set-up: `make run` (the bot) and `make test` (the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench accuracy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/salesbot

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/telegram_throughput.py

accuracy: $(VENV)/.installed
	$(BIN)/python bench/classifier_accuracy.py

clean:
	rm -rf $(VENV) *.egg-info
