# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml client/pyproject.toml | cksum | cut -d' ' -f1)

# Local demo wiring: the simulator and the app share these (override in the environment).
export GPU_CLUSTER_API_KEY ?= demo-cluster-key
export GPU_CLUSTER_WEBHOOK_SECRET ?= demo-webhook-secret

.PHONY: setup demo test lint bench bench-list bench-load prod-check clean

setup: $(STAMP)

# The download CLI is its own package in client/ (the `pipeline` command); the suite tests it too.
$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet -e ./client
	rm -f $(VENV)/.installed-*
	touch $@

# The demo retries a broken job quickly so its failure shows within seconds.
demo: export ARTIFACT_RETRY_BASE_SECONDS ?= 3
demo: export ARTIFACT_MAX_ATTEMPTS ?= 3
# DEBUG stays on for the demo's dev server, but visitors see the product's 404 page, not Django's.
demo: export PRODUCT_404_IN_DEBUG ?= true
demo: setup
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) run_demo

# The suite runs on every CPU core (pytest-xdist); each test owns its database, ports and files.
test: setup lint
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

bench: setup
	$(PY) -m bench

# The list views and the load at 100,000 models (PostgreSQL DATABASE_URL; load also Redis at
# BENCH_REDIS_URL). The filled <name>_bench database is reused; BENCH_REFILL=1 fills it again.
bench-list: setup
	BENCH_ONLY=list $(PY) -m bench

bench-load: setup
	BENCH_ONLY=load $(PY) -m bench

# The production process set (deploy/run) end to end without Docker: needs PostgreSQL and Redis on
# 127.0.0.1 (PRODCHECK_DATABASE_URL, PRODCHECK_REDIS_URL name the dedicated database and db number).
prod-check: setup
	$(PY) -m deploy.prod_check

clean:
	rm -rf var staticfiles
