# PaperDesk: two commands on a fresh machine.
#   make run   set up what is missing, start the desk on its embedded defaults
#   make test  set up what is missing (packages, Redis, PostgreSQL, Chromium), run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run test setup setup-dev services lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(DEV): requirements.txt requirements-dev.txt $(RUNTIME)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(RUNTIME)
setup-dev: $(DEV)

run: setup
	$(PY) -m app.launcher

services:
	bash .ci/services.sh

lint: setup-dev
	$(VENV)/bin/lint-imports

test: setup-dev services lint
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# backtesting.py is the peer of bench/backtest.py only: installed for the benchmarks, not the desk.
bench: setup-dev
	$(PY) -m pip install -q backtesting==0.6.5
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .state .pytest_cache
