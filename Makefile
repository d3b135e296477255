# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*)
HOST ?= 127.0.0.1
PORT ?= 8000
# Installs print one line a step. pip's own output (setuptools' deprecation warnings fill a
# screen) goes to $(INSTALL_LOG) and is shown only when the step fails.
INSTALL_LOG := $(VENV)/install.log
LOGGED = >$(INSTALL_LOG) 2>&1 || { cat $(INSTALL_LOG) >&2; echo "make: failed; pip's output is above and in $(INSTALL_LOG)" >&2; exit 1; }

.PHONY: run test install install-test clean bench

$(BIN)/python:
	@echo "==> Creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@echo "==> Upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip $(LOGGED)

# Installs orqo and every plugin under plugins/ (the same pip path a third party takes).
$(VENV)/.installed: $(BIN)/python setup.cfg $(wildcard plugins/*/setup.cfg)
	@echo "==> Installing orqo and its plugins ($(notdir $(PLUGINS))) into $(VENV)"
	@$(BIN)/pip install --quiet -e . $(foreach p,$(PLUGINS),-e $(p)) $(LOGGED)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "==> Installing the test extras"
	@$(BIN)/pip install --quiet -e '.[test]' $(foreach p,$(PLUGINS),-e '$(p)[test]') $(LOGGED)
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The banner names the database init-db initialised (ORQO_DATABASE_URL, instance/config.py or
# SQLite in instance/), as init-db prints it: with its password hidden.
run: install
	@echo "==> Initialising the database"
	@out=$$($(BIN)/orqo init-db) || exit 1; echo "$$out"; \
	  database=$${out#Initialised the database at }; database=$${database% (migration *}; \
	  echo ""; \
	  echo "orqo is starting on http://$(HOST):$(PORT)  (database: $$database; Ctrl-C to stop)"
	@echo "Next: create an App and a Contact in another shell (see README.md, 'Worked example'):"
	@echo "  $(BIN)/orqo apps create --name demo --adapter custom --credential signing_secret=demo-signing-secret-2026"
	@echo ""
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (bench/run.py, docs/performance.md): minutes of load, not part of `make test`.
# BENCH_ARGS="--smoke" for a quick check, "--help" for the knobs; needs wrk for the real figures.
$(VENV)/.installed-bench: $(VENV)/.installed-test
	@echo "==> Installing the benchmark extras"
	@$(BIN)/pip install --quiet -e '.[bench]' $(LOGGED)
	@touch $@

bench: install-test $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info
