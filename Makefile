# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install jaju, serve the embedded default on http://127.0.0.1:8000/v1
#   make test   create .venv, install jaju with dev tools, run ruff, mypy and pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[llamacpp,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	JAJU_HOME=$${JAJU_HOME:-$(CURDIR)/.jaju-demo} $(BIN)/jaju serve $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/gateway.py

clean:
	rm -rf $(VENV) .jaju-demo .pytest_cache .mypy_cache .ruff_cache
