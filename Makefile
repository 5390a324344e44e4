# The platform's two everyday commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_STAMP := web/app/vendor/.installed

# Official releases are read from a local mirror of the download sites when there is one.
DATA_MIRROR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export DATA_MIRROR
DATA_DIR ?= ./var
export DATA_DIR
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TEST_POSTGRES_URL

SERVICE_TESTS := libs/tests services
ASYNC_TESTS := contracts/tests gateway/tests mail_ingress/tests tests

.PHONY: help install web lock broker postgres load run test test-services test-async bench admin clean \
	policy-tools dead-letters events demo-data

help:
	@echo "make run    set everything up and run the platform on 127.0.0.1 (web app at /, GraphQL at /graphql)"
	@echo "make test   set everything up and run the whole test suite"
	@echo "make lint   ruff (lint, format check) and mypy over the packages (make test runs it first)"
	@echo "make bench  measure every request path beside its baseline (wrk); writes var/bench/latest.json"
	@echo "make load   load the available code sets (done by make run)"
	@echo "make web    vendor the web app's pinned npm libraries (done by make run and make test)"
	@echo "make demo-data  post the sample jobs to the job board"

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

install: $(STAMP)

# The manifests' policy check (checkov) lives in its own pinned environment: it pins many
# libraries of its own that must not meet the platform's.
POLICY_VENV := .venv-policy
POLICY_STAMP := $(POLICY_VENV)/.installed
$(POLICY_STAMP): deploy/k8s/policy/requirements.lock
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet -r deploy/k8s/policy/requirements.lock
	@touch $@

policy-tools: $(POLICY_STAMP)

# The web app's npm libraries (web/package-lock.json), copied into web/app/vendor.
$(WEB_STAMP): web/package.json web/package-lock.json scripts/vendor-web.sh
	@scripts/vendor-web.sh

web: $(WEB_STAMP)

# Rewrite the lockfile from pyproject's direct dependencies.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e ".[dev]"
	(echo "# Pinned dependency lockfile: every package of the platform's virtual environment."; \
	 echo "# Regenerate with: make lock"; .venv-lock/bin/pip freeze --exclude-editable) > requirements.lock
	rm -rf .venv-lock

broker:
	@scripts/ensure-rabbitmq.sh

postgres:
	@scripts/ensure-postgres.sh

load: install
	$(BIN)/python -m codes.cli load

# The broker is stopped on exit only if this run started it.
run: install web
	@scripts/ensure-rabbitmq.sh --marker $(DATA_DIR)/.broker-started-by-make-run
	$(MAKE) --no-print-directory load
	MEDCODE_BROKER_MARKER=$(DATA_DIR)/.broker-started-by-make-run $(BIN)/python -m medcode_common.launcher

# Every package's code (their tests are not type-checked); configuration in pyproject.toml.
MYPY_PACKAGES := medcode_contracts medcode_common codes accounts metering assistant careers gateway mail_ingress

.PHONY: lint
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(addprefix -p ,$(MYPY_PACKAGES))

test: lint install web
	@scripts/ensure-rabbitmq.sh --management
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	@scripts/ensure-wrk.sh
	$(MAKE) --no-print-directory test-services test-async

# Service tests run under eventlet (nameko test); gateway and end-to-end tests run under
# asyncio in a separate process, since the two must never share one.
test-services: install
	$(BIN)/nameko test $(SERVICE_TESTS) -p no:cacheprovider

test-async: install policy-tools web
	@command -v kubectl >/dev/null || command -v kustomize >/dev/null || \
	  { echo "error: kubectl (or kustomize) is needed to render deploy/k8s"; exit 1; }
	$(BIN)/python -m pytest $(ASYNC_TESTS) -p no:cacheprovider -p no:pytest_nameko

# Loads its own fresh data directory (the "first make run" row); BENCH_SECONDS shortens it.
bench: install
	@scripts/ensure-rabbitmq.sh --management
	@scripts/ensure-wrk.sh
	$(BIN)/python -m benchmarks.run

admin: install
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=someone@example.org"; exit 2; }
	$(BIN)/python -m accounts.cli make-admin "$(EMAIL)"

# Operators: messages parked after failing EVENT_MAX_ATTEMPTS times, per service. Lists
# them; `make dead-letters REPLAY="<id> <id>"` (or REPLAY=all) sends them back.
dead-letters: install
	$(BIN)/python -m medcode_common.dead_letters $(if $(SERVICE),--service $(SERVICE)) \
	  $(if $(REPLAY),replay $(if $(filter all,$(REPLAY)),--all,$(REPLAY)),list)

# Operators: the live domain events, one line each (time, type, id; no personal fields).
events: install
	$(BIN)/python -m medcode_common.event_tail $(if $(SERVICE),--service $(SERVICE))

# Sample jobs from a sample employer, marked as sample data (make run posts them on an
# empty board unless CAREERS_DEMO_DATA=false).
demo-data: install
	$(BIN)/python -m careers.cli demo-data

clean:
	rm -rf var .pytest_cache
