# The front door. On a fresh machine: `make run` (local gateway + sandbox) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.13.0
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# Python 3.13 (the Lambda runtime's) from pyenv when present, else whatever python3.13 is on PATH.
PY313 := $(shell (PYENV_VERSION=$(PYTHON_VERSION) pyenv which python3 2>/dev/null) || command -v python3.13)
PY313_BIN := $(dir $(PY313))
export SAM_CLI_TELEMETRY := 0
export PYDANTIC_DISABLE_PLUGINS := __all__

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.lock
	@test -n "$(PY313)" || { echo "Python 3.13 is needed (pyenv install 3.13.0)"; exit 1; }
	test -x $(PY) || $(PY313) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	test -x $(SAM_VENV)/bin/python || $(PY313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create the development environment (.venv, Python 3.13)

.PHONY: run
run: venv ## Run the gateway locally on http://127.0.0.1:3000 with the Talon.One sandbox (no AWS, no Docker)
	$(PY) -m local_gateway $(ARGS)

.PHONY: sandbox
sandbox: venv ## Run only the Talon.One sandbox on http://127.0.0.1:8040
	$(PY) -m sandbox --port 8040

.PHONY: call
call: venv ## Send an authenticated request to the gateway: make call ARGS="GET /v1/customer_profiles/c1/inventory"
	$(PY) -m local_gateway.client $(ARGS)

.PHONY: test
test: venv ## Run the whole test suite with coverage
	$(PY) -m pytest --cov --cov-report=term $(ARGS)

.PHONY: lint
lint: venv ## ruff (lint and format) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: format
format: venv ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: generate
generate: venv ## Regenerate everything that follows from the spec: table, models, functions, events, template, OpenAPI
	$(PY) -m tools.generate

.PHONY: validate
validate: $(SAM_VENV)/.installed ## sam validate --lint (cfn-lint)
	$(SAM) validate --lint --region eu-west-1

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (the layer and the 11 functions, for arm64)
	PATH="$(PY313_BIN):$$PATH" $(SAM) build

.PHONY: bench
bench: venv build ## Benchmarks: cold start, warm overhead, memory, artifact sizes (a few minutes)
	$(PY) -m bench $(ARGS)

.PHONY: load
load: venv ## Load test of the local gateway: ARGS="--clients 16 --seconds 20"
	$(PY) -m bench.load $(ARGS)

.PHONY: lock
lock: venv ## Re-pin the dependencies: requirements/dev.lock and the layer's shared/requirements.txt
	$(PY) -m uv pip compile pyproject.toml --extra dev --python-version 3.13 --no-header \
		--annotation-style line -o requirements/dev.lock
	$(PY) -m uv pip compile pyproject.toml --python-version 3.13 --python-platform aarch64-manylinux_2_28 \
		--no-header --annotation-style line \
		| grep -vE '^(boto3|botocore|s3transfer|jmespath|python-dateutil|six|urllib3)==' \
		| cat shared/requirements.header - > shared/requirements.txt

.PHONY: ci
ci: lint test validate build ## What CI runs

.PHONY: clean
clean: ## Remove build outputs and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
