# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install jaju, install the law pack (its statutes into a shared
#               knowledge base), serve its `law` and `labour` assistants (no generative model
#               needed) on http://127.0.0.1:8000/v1
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
	$(BIN)/python -m pip install --quiet -e '.[llamacpp,dense,e5,dev]'
	touch $(STAMP)

install: $(STAMP)

DEMO_HOME ?= $(CURDIR)/.jaju-demo

demo: $(STAMP)
	JAJU_HOME=$(DEMO_HOME) $(BIN)/jaju packs install law
	JAJU_HOME=$(DEMO_HOME) $(BIN)/jaju serve --config demo/jaju.toml $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/pii.py
	$(BIN)/python bench/safety.py
	$(BIN)/python bench/tools.py

clean:
	rm -rf $(VENV) .jaju-demo .pytest_cache .mypy_cache .ruff_cache
