# hebo-infra: every target sets up what it needs first, so each is one command on a fresh machine.
# `make help` lists them. `make synth` installs only what synth needs (Python + Node packages);
# `make test` adds the test tooling (checkov, in its own virtualenv).
SHELL := /bin/bash
.DEFAULT_GOAL := synth

PIPENV_VERSION := 2026.10.3
PYTHON ?= python3
PY_SCRIPTS := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
# npm reads its global settings (a proxy, a company CA `cafile`, ...) from beside the node that runs
# it; once `npm ci` has put Node 22 in node_modules/.bin, that would be node_modules/node/etc/npmrc.
# Keep the machine's own file, found before PATH changes.
export npm_config_globalconfig := $(shell npm config get globalconfig 2>/dev/null)
export PATH := $(CURDIR)/node_modules/.bin:$(PY_SCRIPTS):$(PATH)
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
ifdef CI  # a spinner only garbles CI logs; on a terminal it shows pipenv is still installing
export PIPENV_NOSPIN := 1
endif
export CHECKPOINT_DISABLE := 1
# The CDK flavour (docs/cdk-terrain.md): cdktf (default) or cdktn, each with its own locked
# Python environment (VENV, from PIPENV_PIPFILE's lock); cdktn adds its CLI's own node_modules.
# Node itself and the test tooling (root node_modules) are shared.
HEBO_CDK := $(or $(HEBO_CDK),cdktf)
export HEBO_CDK
ifeq ($(HEBO_CDK),cdktf)
VENV := .venv
CLI_NODE_MODULES :=
else ifeq ($(HEBO_CDK),cdktn)
VENV := flavours/cdktn/.venv
CLI_NODE_MODULES := flavours/cdktn/node_modules/.installed
export PIPENV_PIPFILE := $(CURDIR)/flavours/cdktn/Pipfile
else
$(error HEBO_CDK='$(HEBO_CDK)' is not a CDK flavour: use one of cdktf, cdktn (default cdktf))
endif
# pipenv lives in its own small virtualenv: `pip install` into the system Python is refused on
# distributions that mark it externally managed (PEP 668: Debian 12, Ubuntu 23.04+).
TOOLS_VENV := .venv-tools
PIPENV := $(TOOLS_VENV)/bin/python -m pipenv
# The project venv is built from the same interpreter (not whichever python3.11 pipenv finds).
export PIPENV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
# One line per install step, a progress line every 10 s while it runs, then how long it took; the
# step's own output only when it fails, or as it runs with VERBOSE=1 (tools/step.sh).
step = @tools/step.sh "$(1)" '$(2)' -- $(3)
VENV_PACKAGES = echo "$$(ls -d $(VENV)/lib/python*/site-packages/*.dist-info 2>/dev/null | wc -l) Python packages installed"
NODE_PACKAGES = echo "$$(ls -d node_modules/*/ node_modules/@*/*/ 2>/dev/null | wc -l) Node packages installed"
# Tests: `make test ARGS='-k compute'` passes ARGS to pytest (in each lane: tools/test_lanes.py);
# `make test-fast` is the inner loop: the lanes without Terraform, the emulator and the CDK CLI
# (ops, services, policy, stacks, unit), and of those the tests not marked `slow` (the marker in pytest.ini).
ARGS ?=
FAST_LANES := ops,services,policy,stacks,unit

.PHONY: help prerequisites setup test-setup synth test test-fast bench bench-tests clean

help: ## list the targets and what they do
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

prerequisites:
	@tools/prerequisites.sh "$(PYTHON)"

setup: prerequisites $(VENV)/.synced node_modules/.installed $(CLI_NODE_MODULES) ## install pipenv, the Python and the Node dependencies (idempotent)

test-setup: setup .venv-checkov/.installed .venv-awscli/.installed ## setup, plus checkov for the policy tests and the AWS CLI for the lifecycle (own virtualenvs)

$(VENV)/.synced: $(dir $(VENV))Pipfile.lock
	@$(PIPENV) --version >/dev/null 2>&1 || { tools/prerequisites.sh "$(PYTHON)" && \
	  tools/step.sh "pipenv $(PIPENV_VERSION) into $(TOOLS_VENV)" 'echo "pip is installing"' -- \
	    sh -c '$(PYTHON) -m venv $(TOOLS_VENV) && $(TOOLS_VENV)/bin/pip install --disable-pip-version-check --progress-bar off "pipenv==$(PIPENV_VERSION)"'; }
	$(call step,Python dependencies into $(VENV) (pipenv sync: the longest step on a fresh machine),$(VENV_PACKAGES),$(PIPENV) sync --dev)
	@touch $@

node_modules/.installed: package-lock.json
	$(call step,Node dependencies into node_modules (npm ci: cdktf CLI and Node 22),$(NODE_PACKAGES),npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
	@touch $@

flavours/cdktn/node_modules/.installed: flavours/cdktn/package-lock.json
	$(call step,cdktn CLI into flavours/cdktn/node_modules (npm ci),$(NODE_PACKAGES),sh -c 'cd flavours/cdktn && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error')
	@touch $@

.venv-checkov/.installed: tests/policy/checkov-requirements.txt
	$(call step,checkov into .venv-checkov (test tooling only),echo "pip is installing",sh -c '$(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install --disable-pip-version-check --progress-bar off --no-deps -r tests/policy/checkov-requirements.txt')
	@touch $@

.venv-awscli/.installed: tests/terraform/awscli-requirements.txt
	$(call step,AWS CLI into .venv-awscli (the lifecycle's edge invalidation),echo "pip is installing",sh -c '$(PYTHON) -m venv .venv-awscli && .venv-awscli/bin/pip install --disable-pip-version-check --progress-bar off --no-deps -r tests/terraform/awscli-requirements.txt')
	@touch $@

synth: setup ## synthesize all five stacks for HEBO_STAGE (default dev) into cdktf.out/
	@echo "==> synth"; started=$$(date +%s); $(VENV)/bin/python main.py && echo "==> synth: done in $$(( $$(date +%s) - started )) s"

test: test-setup ## the whole suite as concurrent lanes (tools/test_lanes.py), last line `lanes: {json}`; ARGS='...' goes to each lane's pytest
	$(VENV)/bin/python -m tools.test_lanes $(ARGS)

test-fast: test-setup ## the inner loop: the ops, services, policy, stacks and unit lanes without `slow` tests (no Terraform, emulator, CDK CLI), concurrently; ARGS='...' goes to pytest
	$(VENV)/bin/python -m tools.test_lanes --lanes $(FAST_LANES) -m "not slow" $(ARGS)

bench: setup ## cold synth: shipped import style vs the conventional one, side by side
	$(VENV)/bin/python bench/synth.py

bench-tests: test-setup ## where the suite's time goes: wall time per lane and the ten slowest tests, lanes vs one serial pytest (ARGS='...' to bench/tests.py)
	$(VENV)/bin/python bench/tests.py $(ARGS)

clean: ## remove synth output and build artifacts
	rm -rf cdktf.out build .pytest_cache

.PHONY: validate plan-local lifecycle-local plan-production-local

validate: setup ## terraform validate every stack of production, pr-42 and dev with the real AWS provider (mirror or registry)
	$(VENV)/bin/python -m tools.terraform_check validate

plan-local: setup ## offline: start moto, apply dns/network/data and plan compute/edge of HEBO_STAGE (default pr-42), print a summary
	$(VENV)/bin/python -m tools.moto_emulator --stage $${HEBO_STAGE:-pr-42}

lifecycle-local: setup ## offline: HEBO_STAGE's (default pr-42) whole life on moto as its deploy role: apply, empty re-plans, redeploy, destroy, 0 leftovers, re-create; ends with `lifecycle: {json}`
	$(VENV)/bin/python -m tools.lifecycle --stage $${HEBO_STAGE:-pr-42}

plan-production-local: setup ## offline: plan production's five stacks on moto (dns, network, data applied; DNSSEC, global cluster, RDS Proxy, WAF as configured)
	$(VENV)/bin/python -m tools.lifecycle --production
