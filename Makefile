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
# llama-cpp-python is compiled from source: only what jaju loads (libllama and ggml).
# LLAVA_BUILD=OFF drops the multimodal library (mtmd, clip and its model zoo) and LLAMA_OPENSSL=OFF
# the HTTPS client of llama.cpp's downloader; jaju uses neither. Examples, tests, tools, the server
# and curl are already off when llama.cpp is built inside llama-cpp-python 0.3.x: they are named
# so a release that changes those defaults still builds no more. Your own CMAKE_ARGS (e.g.
# -DGGML_CUDA=on) come after these and win.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF
export CMAKE_ARGS := $(LLAMA_CMAKE_ARGS) $(CMAKE_ARGS)

.PHONY: install demo test lint browser bench clean

# pip's whole output goes to $(VENV)/install.log; the screen shows packages and compile steps.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing jaju; llama-cpp-python compiles from source the first time (about 15 min on 2 cores)"
	$(BIN)/python scripts/pip_progress.py $(VENV)/install.log -- \
		$(BIN)/python -m pip install -v -e '.[llamacpp,dense,e5,dev]'
	touch $(STAMP)

install: $(STAMP)

DEMO_HOME ?= $(CURDIR)/.jaju-demo

demo: $(STAMP)
	JAJU_HOME=$(DEMO_HOME) $(BIN)/jaju packs install law
	@echo "the demo's state is $(DEMO_HOME); in another terminal: export JAJU_HOME=$(DEMO_HOME)"
	JAJU_HOME=$(DEMO_HOME) $(BIN)/jaju serve --config demo/jaju.toml $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

# the console's browser tests drive Debian's chromium through playwright (no browser download)
# (and a Korean font, so that the screenshots in docs/console are readable)
browser:
	command -v chromium >/dev/null && fc-list :lang=ko | grep -q . || \
		(apt-get update && apt-get install -y chromium fonts-noto-cjk)

test: lint browser
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
