# Entry points. `make setup` prepares a fresh Debian 12 machine; everything else builds on it.
SHELL := /bin/bash
VENV  ?= .venv
BIN   := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_FORCE_COLOR ?= 1
INVENTORY ?= local
IMAGE_ARCHIVE := .cache/images/stack-images.tar
# Every shell script: *.sh files and files whose first line is a sh/bash shebang. Jinja templates (*.j2)
# are not scripts until rendered; local-only trees (venv, caches, node_modules) are skipped.
SHELL_SCRIPTS = $(shell find . \( -name .git -o -name .venv -o -name .cache -o -name collections -o -name node_modules \
	-o -name .pytest_cache -o -name __pycache__ -o -path ./benchmarks/results \) -prune -o -type f ! -name '*.j2' -print \
	| xargs awk 'FNR == 1 { if (FILENAME ~ /\.sh$$/ || /^\#!.*[\/ ](ba|da)?sh( |$$)/) print FILENAME; nextfile }' | sort)

.PHONY: help setup demo down lint unit audit backend-test frontend-test images audit-images integration e2e molecule test \
	bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

setup: ## Install everything this project needs (venv, Docker engine, compose plugin, base images)
	scripts/setup.sh

demo: setup ## Deploy the demo stack on this machine (https://localhost)
	ansible-playbook site.yml -i $(INVENTORY)

down: ## Stop the local demo stack (volumes are kept)
	ansible-playbook playbooks/down.yml -i $(INVENTORY)

lint: ## yamllint, ansible-lint (production profile), syntax check, shellcheck
	yamllint --strict .
	shellcheck $(SHELL_SCRIPTS)
	ansible-lint --profile production
	ansible-playbook --syntax-check site.yml -i local
	ansible-playbook --syntax-check playbooks/rollback.yml playbooks/restore.yml playbooks/maintenance.yml playbooks/status.yml \
	  playbooks/down.yml -i local

unit: ## Fast tests: templates, filters, Dockerfiles, scripts, benchmark code; its Python's coverage >= 80 % (.coveragerc)
	pytest -q --cov --cov-report=term tests/unit

# Known vulnerabilities (scripts/audit.py, docs/security.md#audits): a finding fails unless audit-accept.yml accepts
# it until a date; an advisory source that does not answer fails too. Maven: reported as not audited, with why.
audit: ## Vulnerability audits: npm (SPA, browser tests; high/critical), the venv (pip-audit, OSV); Maven reported
	scripts/audit.py npm=files/demo-app/frontend npm=tests/browser pip maven=files/demo-app/backend

backend-test: ## The demo backend's JUnit tests on an embedded PostgreSQL, JaCoCo line coverage >= 80 %
	@command -v psql >/dev/null || { echo "psql missing (make setup installs postgresql-client)"; exit 1; }
	cd files/demo-app/backend && mvn -B -ntp -T 1 verify | grep -E "Tests run:|coverage|BUILD|ERROR|FAIL"; test "$${PIPESTATUS[0]}" -eq 0

frontend-test: ## The demo SPA's Vitest tests (jsdom, mocked fetch), V8 line coverage >= 80 %
	@command -v npm >/dev/null || { echo "npm missing (make setup installs nodejs and npm)"; exit 1; }
	cd files/demo-app/frontend && npm ci --no-audit --no-fund && npm test

images: ## Build the image set on the local engine and export it for the test hosts
	ansible-playbook playbooks/images.yml -i local
	scripts/export-images.sh $(IMAGE_ARCHIVE)

audit-images: ## Pending Debian security updates in each deployer/* and demo-* image (apt, bookworm-security)
	scripts/audit.py images

integration: ## Roles against this machine's engine: image builds, edge + certbot (pebble), backups
	pytest -q -m integration tests/integration

e2e: ## Deploy locally, then test deploy/redeploy/rollback over real HTTPS
	pytest -q -m e2e tests/e2e

# The docker driver creates and destroys the hosts with async tasks, which Mitogen cannot run with ansible-core
# 2.19 (they hang): those two steps use Ansible's linear strategy, the playbooks under test Mitogen (ansible.cfg).
# Each host's nested engine keeps its images in an anonymous volume (/var/lib/docker) that `molecule destroy`
# leaves behind, gigabytes a run: they go with their hosts.
MOLECULE_HOSTS = ANSIBLE_STRATEGY=linear molecule
MOLECULE_DESTROY = vols=$$(docker inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' \
	  deployer-host minimal-host 2>/dev/null); $(MOLECULE_HOSTS) destroy -s default && \
	  if [ -n "$$vols" ]; then docker volume rm $$vols >/dev/null; fi
molecule: ## Full site.yml on two fresh Debian 12 hosts (converge, idempotence, verify; firewall seen from outside)
	$(MOLECULE_DESTROY)
	$(MOLECULE_HOSTS) create -s default
	molecule converge -s default && molecule idempotence -s default && molecule verify -s default; \
	  rc=$$?; $(MOLECULE_DESTROY); exit $$rc

# Stages one after the other: on 2 cores integration and Molecule side by side took as long as in sequence
# (integration alone 8 min 35 s, beside Molecule 17 min 37 s), and e2e counts dropped requests and latency.
test: setup lint unit audit backend-test frontend-test images audit-images integration molecule e2e ## Everything CI runs

BENCH_RUNS ?= 1
bench: ## Load tests against the local stack (not part of `test`); BENCH_RUNS=3: the medians the README quotes
	for i in $$(seq $(BENCH_RUNS)); do benchmarks/run.sh || exit 1; done

clean: ## Remove the venv, caches and test hosts
	-$(MOLECULE_HOSTS) destroy -s default
	rm -rf $(VENV) .cache .pytest_cache
