# `make demo` and `make test` set everything up on a fresh machine (Python >= 3.10 needed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision pinned as a pair: other builds pair badly with torchvision from PyPI.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint format clean

demo: $(VENV)/.installed
	$(BIN)/efficientvit demo

# Two pytest workers of one thread each (tests/conftest.py): 13 minutes on 2 cores instead of 20.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/python -m pytest -n 2

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	touch $@

# The demo with every extra (ONNX Runtime, the SegFormer comparison); `pip install .` alone runs it too.
$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
