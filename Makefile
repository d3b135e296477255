# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs orqo and every plugin under plugins/ (the same pip path a third party takes).
$(VENV)/.installed: $(BIN)/python setup.cfg $(wildcard plugins/*/setup.cfg)
	$(BIN)/pip install --quiet -e . $(foreach p,$(PLUGINS),-e $(p))
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]' $(foreach p,$(PLUGINS),-e '$(p)[test]')
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/orqo init-db
	@echo ""
	@echo "orqo is starting on http://$(HOST):$(PORT)  (SQLite in instance/, Ctrl-C to stop)"
	@echo "Next: create an App and a Contact in another shell (see README.md, 'Worked example'):"
	@echo "  $(BIN)/orqo apps create --name demo --adapter custom --credential signing_secret=demo-signing-secret-2026"
	@echo ""
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (bench/run.py, docs/performance.md): minutes of load, not part of `make test`.
# BENCH_ARGS="--smoke" for a quick check, "--help" for the knobs; needs wrk for the real figures.
$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench: install-test $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
