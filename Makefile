# One-command developer workflow. `make run` brings the whole stack up; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup lint format run reset test test-unit test-integration test-security test-e2e bench demo admin clean synth package deploy openapi

$(STAMP): requirements.txt requirements-dev.txt container_workers/gpu_worker/requirements.txt container_workers/blender_worker/requirements.txt pyproject.toml package.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (bpy 5.0 supports only 3.11): set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	npm ci --no-audit --no-fund --silent
	cp node_modules/@mediapipe/pose/pose_landmark_heavy.tflite \
		"$$($(PY) -c 'from container_workers.gpu_worker.mocap.estimation import landmark_model_path as p; print(p("heavy"))')"
	touch $(STAMP)

setup: $(STAMP) ## create the environment and install everything

run: setup ## start emulator, infrastructure, API (127.0.0.1:8000), event runner and workers; Ctrl-C stops all (IAM=1: enforce the declared roles); data and secrets persist in .stack/
	$(PY) -m devstack $(if $(IAM),--iam)

reset: ## wipe the local stack's state (.stack/: every user, project, asset, job and the generated secrets)
	$(PY) -m devstack.state --reset

lint: setup ## ruff (lint + format check), mypy, and the import-layering contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: setup ## install what tests need and run them all
	$(PY) -m pytest tests/unit tests/integration tests/security tests/e2e

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-security: setup
	$(PY) -m pytest tests/security

test-e2e: setup
	$(PY) -m pytest tests/e2e

bench: setup ## run the benchmarks (numbers in docs/benchmarks.md)
	$(PY) bench/run_all.py

openapi: setup ## regenerate chalicelib/api/openapi.json from the models (a unit test fails while it is out of date)
	$(PY) -m chalicelib.api.openapi --write

clean:
	rm -rf $(VENV) node_modules .stack build

admin: setup ## create or promote the first admin (stack running): make admin EMAIL=... PASSWORD=...
	$(PY) -m devstack.admin --email "$(EMAIL)" $(if $(PASSWORD),--password "$(PASSWORD)")

demo: setup ## mocap + avatar + animate end to end against the running stack
	$(PY) -m ai3d.demo

# ---------------------------------------------------------------- AWS (docs/deploy.md)
STAGE ?= prod
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD)

synth: setup ## the deployable CloudFormation template (chalice package + infrastructure/template.yaml); prints its path last
	$(PY) -m infrastructure.synth --print template

package: setup ## the Lambda packages (api.zip for the API and authorizer, events.zip); prints their paths last
	$(PY) -m infrastructure.synth --print packages

deploy: synth ## deploy to AWS with your credentials: make deploy STAGE=prod [ALARM_EMAIL=ops@example.com] [REGION=...]
	$(PY) -m infrastructure.release --stage $(STAGE) --image-tag $(IMAGE_TAG) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL)) $(if $(REGION),--region $(REGION))
