# The Makefile is the contract: `make test` runs exactly what CI runs, `make demo` plays the
# built-in scenario locally. Both create their own virtualenv on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Python 3.13 matches the Lambda runtime; `sam build` needs a python3.13 on PATH, which the
# virtualenv provides once it exists.
PYTHON313 ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /opt/homebrew/bin/python3.13; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
REGION ?= us-east-1

.PHONY: help venv chromium lint format typecheck cfn-lint scan build unit integration e2e pytest test demo demo-serve benchmark benchmark-storm benchmark-error-stream benchmark-organization benchmark-cold-start benchmark-noise benchmark-detection lock clean layout

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt pyproject.toml
	@if [ -z "$(PYTHON313)" ]; then \
	  echo "Python 3.13 was not found. Install it, then run make again:"; \
	  echo "  with pyenv:  pyenv install 3.13   (or point PYTHON313=/path/to/python3.13)"; \
	  echo "  on Debian/Ubuntu:  apt-get install python3.13 python3.13-venv"; \
	  echo "  on macOS:  brew install python@3.13"; \
	  exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON313)"
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --requirement requirements-dev.txt
	$(PY) -m pip install --quiet --editable .
	@touch $@

venv: $(VENV)/.installed ## create the virtualenv: pinned dependencies and the `vigil` command

# The status page is checked in headless Chromium (Debian's package) by the e2e tests. Installed
# when missing and we are root (CI's clean machine); otherwise say how, and those tests skip
# (under CI=true they fail instead).
CHROMIUM ?= /usr/bin/chromium
chromium: ## install Debian's chromium for the status page checks (root, when missing)
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing chromium (status page checks)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
	  echo "$(CHROMIUM) is missing: run 'sudo apt-get install --no-install-recommends chromium'" \
	    "or the status page checks are skipped"; \
	fi

lint: venv ## ruff lint and format check, the import contracts (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv ## mypy (strict) on the layer, the CLI, the functions and the emulator
	$(BIN)/mypy

cfn-lint: venv ## cfn-lint (informational rules too), sam validate --lint (every template), the workflows' ASL rules
	$(BIN)/cfn-lint --include-checks I -- template.yaml member/template.yaml sentinel/template.yaml sink/template.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint --region $(REGION)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint --region $(REGION) --template $(CURDIR)/member/template.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint --region $(REGION) --template $(CURDIR)/sentinel/template.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam validate --lint --region $(REGION) --template $(CURDIR)/sink/template.yaml
	$(PY) scripts/lint_statemachines.py

# checkov lives in its own virtualenv: its pins (packaging, networkx, ...) would move the dev
# tools' and it brings numpy and openai, which the tests should not run with.
SCAN_VENV := $(VENV)/scan
$(SCAN_VENV)/.installed: requirements-scan.txt | venv
	$(PY) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --requirement requirements-scan.txt
	@touch $@

scan: venv $(SCAN_VENV)/.installed ## checkov over every template, statelint over every workflow
	$(SCAN_VENV)/bin/checkov --file template.yaml --file member/template.yaml --file sentinel/template.yaml --file sink/template.yaml --framework cloudformation --compact --quiet --skip-download
	$(BIN)/statelint statemachines/*.asl.json
	@echo "statelint: $$(ls statemachines/*.asl.json | wc -l) workflows, no findings"

build: venv ## sam build (no container; arm64 wheels come from PyPI)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/sam build --region $(REGION)

# The tests run in parallel workers, one per core (pytest-xdist; pyproject.toml keeps each module
# whole in one worker). PYTEST_WORKERS=0 runs them in this process, PYTEST_WORKERS=4 in four.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS)

unit: venv ## unit tests of the domain (no AWS, no sockets)
	$(PYTEST) tests/unit

integration: venv ## handlers and adapters on moto
	$(PYTEST) tests/integration

e2e: venv chromium ## the template deployed in the emulator, scenarios played
	$(PYTEST) tests/e2e

benchmark: venv ## what healthy, sweep and unhealthy cycles ask of AWS (10 to 5,000 functions), then the detection table
	$(PY) benchmarks/collection_cycle.py
	@echo
	$(PY) benchmarks/detection.py

benchmark-storm: venv ## 1,000 to 20,000 functions failing at once: bytes, Evaluate CPU, messages
	$(PY) benchmarks/storm.py

benchmark-error-stream: venv ## the error stream per 1,000 error lines: invocations, writes, metrics, cost; a 10,000-line storm
	$(PY) benchmarks/error_stream.py

benchmark-organization: venv ## Organization mode for 50 and 200 accounts: discovery requests; collection of 50 × 500 and 200 × 100 functions in 2 regions, per cycle and month
	$(PY) benchmarks/organization.py

benchmark-noise: venv ## alert episodes a day from background errors alone, by volume (10 to 100,000 invocations)
	$(PY) benchmarks/noise.py

benchmark-detection: venv ## precision, recall, F1, delay on labelled series, against two naive baselines
	$(PY) benchmarks/detection.py

benchmark-cold-start: build ## handler import seconds (fresh interpreter, median of 10) and the layer's size
	$(PY) benchmarks/cold_start.py --importtime 8

layout: venv ## redraw the layout tree and diagram in docs/architecture.md from the code
	$(PY) scripts/layout.py --write

pytest: venv chromium ## every test with branch coverage, in parallel workers
	$(PYTEST) --cov --cov-report=term --durations=15 tests

test: lint typecheck cfn-lint scan build pytest ## everything CI runs

SCENARIO ?= outage-demo
PORT ?= 5000
demo: venv ## play a built-in scenario in the local emulator (SCENARIO=outage-demo)
	$(PY) -m emulator.demo --scenario $(SCENARIO)

# The vigil command needs the stack running: play, then serve it on 127.0.0.1 until Ctrl-C.
demo-serve: venv ## play the demo, then keep its stack running on 127.0.0.1:PORT for the vigil command
	$(PY) -m emulator.demo --scenario $(SCENARIO) --serve --port $(PORT)

lock: venv ## re-resolve requirements-dev.in into requirements-dev.txt
	$(PY) -m pip install --quiet uv
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.13 --output-file requirements-dev.txt
	$(BIN)/uv pip compile requirements-scan.in --python-version 3.13 --output-file requirements-scan.txt

clean: ## remove build output and caches (keeps the virtualenv)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage demo-output
