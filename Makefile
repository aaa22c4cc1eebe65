# The front door. On a fresh machine: `make run` (local gateway + sandbox) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.13.0
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# Python 3.13 (the Lambda runtime's): pyenv's when present, else python3.13 on PATH; either only
# if it runs and is 3.13 (a pyenv shim of a version not installed is on PATH but does not run).
# Recursive (=): looked for only by the recipes that need it.
PY313 = $(shell for candidate in "$$(PYENV_VERSION=$(PYTHON_VERSION) pyenv which python3 2>/dev/null)" \
	"$$(command -v python3.13)"; do [ -n "$$candidate" ] && "$$candidate" -c \
	'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$candidate"; break; }; done)
PY313_BIN = $(dir $(PY313))
NO_PY313 := Python 3.13 is needed (the Lambda runtime's): install it with `pyenv install $(PYTHON_VERSION)` (or apt-get install python3.13) and run make again
# samconfig.toml's environment for deploy and logs: CONFIG_ENV=production make deploy
CONFIG_ENV ?= default
# Another SAM configuration file, by its absolute path: SAMCONFIG=<file> make deploy
SAMCONFIG ?= samconfig.toml
SAMCONFIG_FILE = $(if $(filter-out samconfig.toml,$(SAMCONFIG)),--config-file $(SAMCONFIG))
# A parameter of samconfig.toml for CONFIG_ENV, $(call samconfig,<command>,<key>), empty when
# absent; without a key, "yes" when the command has a section.
samconfig = $(shell $(PY313) -c 'import sys, tomllib; env, cmd, key = sys.argv[1:4]; \
	p = tomllib.load(open("$(SAMCONFIG)", "rb")).get(env, {}).get(cmd, {}).get("parameters"); \
	print((p or {}).get(key, "") if key else ("yes" if p else ""))' "$(CONFIG_ENV)" "$(1)" "$(2)")
export SAM_CLI_TELEMETRY := 0
export PYDANTIC_DISABLE_PLUGINS := __all__

CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
# The findings README.md ("The edge") explains, each a choice; any other finding fails. Offline:
# no guideline download, no platform mapping.
CHECKOV_ACCEPTED := CKV_AWS_21,CKV_AWS_19,CKV_AWS_18,CKV_AWS_120,CKV_AWS_116,CKV_AWS_117,CKV_AWS_173

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.lock
	$(if $(PY313),,$(error $(NO_PY313)))
	@if [ -x $(PY) ]; then echo "Updating the development environment ($(VENV)): requirements/dev.lock changed..."; \
	else echo "Installing the development environment ($(VENV), first run: about 2 minutes)..."; fi
	@test -x $(PY) || $(PY313) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	@touch $@
	@echo "Development environment ready."

$(SAM_VENV)/.installed: requirements/sam.txt
	$(if $(PY313),,$(error $(NO_PY313)))
	@echo "Installing the SAM CLI ($(SAM_VENV), first run: about a minute)..."
	@test -x $(SAM_VENV)/bin/python || $(PY313) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	@touch $@
	@echo "SAM CLI ready."

.PHONY: venv
venv: $(VENV)/.installed ## Create the development environment (.venv, Python 3.13)

.PHONY: run
run: venv ## Run the gateway locally on http://127.0.0.1:3000 with the Talon.One sandbox: ARGS="--port 3001 --sandbox-port 8041"
	@$(PY) -m local_gateway $(ARGS)

.PHONY: sandbox
sandbox: venv ## Run only the Talon.One sandbox on http://127.0.0.1:8040: ARGS="--port 8041 --processing-delay-ms 200"
	@$(PY) -m sandbox --port 8040 $(ARGS)

.PHONY: call
call: venv ## Send an authenticated request to the gateway: make call ARGS="GET /v1/customer_profiles/advocate-1/inventory"
	@$(PY) -m local_gateway.client $(ARGS)

$(CHECKOV_VENV)/.installed:
	$(if $(PY313),,$(error $(NO_PY313)))
	@echo "Installing checkov $(CHECKOV_VERSION) ($(CHECKOV_VENV), first run: about a minute)..."
	@test -x $(CHECKOV_VENV)/bin/python || $(PY313) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

.PHONY: checkov
checkov: $(CHECKOV_VENV)/.installed ## checkov on template.yaml: fails on any finding README.md does not explain
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --skip-download --quiet --compact \
		--framework cloudformation -f template.yaml --skip-check $(CHECKOV_ACCEPTED)

.PHONY: shopify
shopify: venv ## Send a signed Shopify webhook to the gateway: make shopify ARGS="orders/paid tests/fixtures/shopify/order.json"
	@$(PY) -m local_gateway.shopify $(ARGS)

.PHONY: test
# Tests that tally across their own tests and print the table in pytest's summary (the fuzz
# tally, the SDK conformance table): in one process, after the rest has run on both cores.
TALLYING_TESTS := tests/test_fuzz.py tests/test_sdk_conformance.py

test: venv ## Run the whole test suite with coverage (ARGS: one pytest run with those arguments instead)
ifeq ($(strip $(ARGS)),)
	$(PY) -m pytest -n 2 --dist loadfile --cov --cov-report= --cov-fail-under=0 --durations=25 \
		$(addprefix --ignore=,$(TALLYING_TESTS))
	$(PY) -m pytest --cov --cov-append --cov-report=term --durations=10 $(TALLYING_TESTS)
else
	$(PY) -m pytest $(ARGS)
endif

.PHONY: screenshots
screenshots: venv ## Refresh docs/swagger-ui.png (Swagger UI at /docs, in headless chromium)
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest -p no:cacheprovider -q tests/test_browser.py

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
build: $(SAM_VENV)/.installed ## sam build (the layer and the functions, for arm64)
	PATH="$(PY313_BIN):$$PATH" $(SAM) build

# --guided when asked (ARGS="--guided"), when samconfig.toml has no deploy section for
# CONFIG_ENV yet, or when that section still names the example Talon.One URL it ships with (a
# fresh clone): sam then asks for the stack's parameters and saves the answers there.
TALON_URL_EXAMPLE := https://mycompany.europe-west1.talon.one
DEPLOY_GUIDED = $(if $(filter --guided,$(ARGS)),--guided,$(if $(call samconfig,deploy),$(if \
	$(findstring $(TALON_URL_EXAMPLE),$(call samconfig,deploy,parameter_overrides)),--guided),--guided))

.PHONY: deploy
deploy: build ## sam build, then sam deploy with samconfig.toml (guided the first time): CONFIG_ENV=production, ARGS="--guided"
	$(SAM) deploy --config-env $(CONFIG_ENV) $(SAMCONFIG_FILE) $(DEPLOY_GUIDED) $(filter-out --guided,$(ARGS))

.PHONY: logs
logs: $(SAM_VENV)/.installed ## Tail the deployed stack's function logs (sam logs --tail): CONFIG_ENV=production, ARGS="--filter ERROR"
	$(SAM) logs --config-env $(CONFIG_ENV) $(SAMCONFIG_FILE) --stack-name $(call samconfig,global,stack_name) \
		$(addprefix --region ,$(call samconfig,deploy,region)) --tail $(ARGS)

.PHONY: dlq
dlq: venv ## List the dead-letter queue of asynchronous deliveries: ARGS="--local" (make run) or ARGS="--stack NAME"
	$(PY) -m tools.dlq list $(ARGS)

.PHONY: replay
replay: venv ## Send the dead-letter queue's deliveries back, in order: ARGS="--local" or ARGS="--stack NAME"
	$(PY) -m tools.dlq replay $(ARGS)

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
ci: lint test validate checkov build ## What CI runs

.PHONY: clean
clean: ## Remove build outputs and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
