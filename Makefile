# hebo-infra: every target sets up what it needs first, so each is one command on a fresh machine.
# `make help` lists them. `make synth` installs only what synth needs (Python + Node packages);
# `make test` adds the test tooling (checkov, in its own virtualenv).
SHELL := /bin/bash
.DEFAULT_GOAL := synth

PIPENV_VERSION := 2026.10.3
PYTHON ?= python3
PY_SCRIPTS := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH := $(CURDIR)/node_modules/.bin:$(PY_SCRIPTS):$(PATH)
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
ifdef CI  # a spinner only garbles CI logs; on a terminal it shows pipenv is still installing
export PIPENV_NOSPIN := 1
endif
export CHECKPOINT_DISABLE := 1
# pipenv lives in its own small virtualenv: `pip install` into the system Python is refused on
# distributions that mark it externally managed (PEP 668: Debian 12, Ubuntu 23.04+).
TOOLS_VENV := .venv-tools
PIPENV := $(TOOLS_VENV)/bin/python -m pipenv
# The project venv is built from the same interpreter (not whichever python3.11 pipenv finds).
export PIPENV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
# One line per install step, then the step's own progress, then how long it took.
step = @echo "==> $(1)"; started=$$(date +%s); $(2) && echo "==> $(1): done in $$(( $$(date +%s) - started )) s"

.PHONY: help setup test-setup synth test bench clean

help: ## list the targets and what they do
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

setup: .venv/.synced node_modules/.installed ## install pipenv, the Python and the Node dependencies (idempotent)

test-setup: setup .venv-checkov/.installed ## setup, plus checkov for the policy tests (own virtualenv)

.venv/.synced: Pipfile.lock
	$(call step,pipenv $(PIPENV_VERSION) into $(TOOLS_VENV),$(PIPENV) --version >/dev/null 2>&1 || { $(PYTHON) -m venv $(TOOLS_VENV) && $(TOOLS_VENV)/bin/pip install --progress-bar off "pipenv==$(PIPENV_VERSION)"; })
	$(call step,Python dependencies into .venv (pipenv sync: the longest step on a fresh machine),PIPENV_VERBOSITY=0 $(PIPENV) sync --dev)
	touch $@

node_modules/.installed: package-lock.json
	$(call step,Node dependencies into node_modules (npm ci: cdktf CLI and Node 22),npm ci --no-audit --no-fund --foreground-scripts --loglevel=http)
	touch $@

.venv-checkov/.installed: tests/policy/checkov-requirements.txt
	$(call step,checkov into .venv-checkov (test tooling only),$(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install --progress-bar off --no-deps -r tests/policy/checkov-requirements.txt)
	touch $@

synth: setup ## synthesize all five stacks for HEBO_STAGE (default dev) into cdktf.out/
	$(call step,synth,.venv/bin/python main.py)

test: test-setup ## run the whole test suite (unit, policy, terraform, lambdas, ops, edge, workflows)
	$(PIPENV) run pytest

bench: setup ## cold synth: shipped import style vs the conventional one, side by side
	$(PIPENV) run python bench/synth.py

clean: ## remove synth output and build artifacts
	rm -rf cdktf.out build .pytest_cache

.PHONY: validate plan-local lifecycle-local plan-production-local

validate: setup ## terraform validate every stack of production, pr-42 and dev with the real AWS provider (mirror or registry)
	$(PIPENV) run python -m tools.terraform_check validate

plan-local: setup ## offline: start moto, apply dns/network/data and plan compute/edge of HEBO_STAGE (default pr-42), print a summary
	$(PIPENV) run python -m tools.moto_emulator --stage $${HEBO_STAGE:-pr-42}

lifecycle-local: setup ## offline: HEBO_STAGE's (default pr-42) whole life on moto as its deploy role: apply, empty re-plans, redeploy, destroy, 0 leftovers, re-create; ends with `lifecycle: {json}`
	$(PIPENV) run python -m tools.lifecycle --stage $${HEBO_STAGE:-pr-42}

plan-production-local: setup ## offline: plan production's five stacks on moto (dns, network, data applied; DNSSEC, global cluster, RDS Proxy, WAF as configured)
	$(PIPENV) run python -m tools.lifecycle --production
