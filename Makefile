# hebo-infra: every target sets up what it needs first, so each is one command on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := synth

PIPENV_VERSION := 2026.10.3
PYTHON ?= python3
PY_SCRIPTS := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH := $(CURDIR)/node_modules/.bin:$(PY_SCRIPTS):$(PATH)
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export CHECKPOINT_DISABLE := 1
PIPENV := $(PYTHON) -m pipenv

.PHONY: setup synth test bench clean

setup: .venv/.synced node_modules/.installed .venv-checkov/.installed ## install Python, Node and checkov dependencies (idempotent)

.venv/.synced: Pipfile.lock
	$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "pipenv==$(PIPENV_VERSION)"
	$(PIPENV) sync --dev
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.venv-checkov/.installed: tests/policy/checkov-requirements.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --no-deps -r tests/policy/checkov-requirements.txt
	touch $@

synth: setup ## synthesize all five stacks for HEBO_STAGE (default dev) into cdktf.out/
	$(PIPENV) run python main.py

test: setup ## run the whole test suite (unit, policy, lambdas, ops)
	$(PIPENV) run pytest

bench: setup ## cold synth: shipped import style vs the conventional one, side by side
	$(PIPENV) run python bench/synth.py

clean:
	rm -rf cdktf.out build .pytest_cache

.PHONY: validate plan-local

validate: setup ## terraform validate every stack of production, pr-42 and dev with the real AWS provider (mirror or registry)
	$(PIPENV) run python -m tools.terraform_check validate

plan-local: setup ## offline: start moto, apply dns/network/data and plan compute/edge of HEBO_STAGE (default pr-42), print a summary
	$(PIPENV) run python -m tools.terraform_check plan-local --stage $${HEBO_STAGE:-pr-42}
