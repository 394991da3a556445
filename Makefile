# certflow.ssl — developer entry points.
#   make demo   the whole workflow on the embedded local CA, nothing external needed; installs only
#               requirements.txt into the virtualenv and writes only into ~/certflow-demo ($CERTFLOW_DEMO_DIR)
#   make test   installs what the tests need (Debian packages, a virtualenv) and runs every test:
#               ansible-test sanity and units, then pytest (unit, lint, packaging, AWX runner, integration)
#   make bench  N fresh certificates from Pebble with this collection, community.crypto and certbot (N=10; docs/performance.md)
#   make bench-floor  certflow-http against bench/raw_acme.py, a minimal raw-protocol client, at FLOOR_N=500 (one run)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
SYSTEM_PACKAGES := bind9 bind9-utils dnsutils nginx-light apache2 openssl chromium shellcheck pdns-server pdns-backend-sqlite3
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)

N ?= 10
FLOOR_N ?= 500
BENCH_ARGS ?=

.PHONY: demo test unit integration sanity lint system-deps runtime-venv venv collection clean bench bench-floor

# Two stamps: the demo needs only the runtime requirements, the tests their tools as well.
$(BIN)/.installed-runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(BIN)/.installed-runtime

runtime-venv: $(BIN)/.installed-runtime

venv: $(BIN)/.installed

collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/certflow
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/certflow/ssl

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# the packaged services must not hold the ports or the files the tests use
	@-systemctl disable --now named nginx apache2 pdns >/dev/null 2>&1 || true

demo: runtime-venv collection
	$(BIN)/ansible-playbook playbooks/demo.yml

unit: venv collection
	$(BIN)/python -m pytest tests/unit

integration: system-deps venv collection
	$(BIN)/python -m pytest tests/integration

# ansible-test sanity (every test, no ignore file) and ansible-test units, offline: tests/sanity/run.sh
sanity: system-deps venv
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHON="$(CURDIR)/$(BIN)/python" bash tests/sanity/run.sh

# ansible-lint (production profile, .ansible-lint) on the whole collection, ruff on the Python code
lint: venv collection
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint
	$(BIN)/ruff check plugins tests bench

# PYTEST_ARGS: a part of the suite (make test PYTEST_ARGS=tests/unit, or .ci/run PYTEST_ARGS=...).
# PYTEST_WORKERS: pytest-xdist workers; every worker starts its own services on free ports.
PYTEST_ARGS ?= tests
PYTEST_WORKERS ?= 2
test: system-deps venv collection sanity
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

# Not part of `make test`: a few minutes, and timings are a record, not a test.
bench: system-deps venv collection
	BENCH_COMMAND='make bench N=$(N)$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")' $(BIN)/python bench/bench.py --n $(N) $(BENCH_ARGS)

# The cost per certificate against the protocol's floor: certflow-http and raw-floor only, no scale run.
bench-floor: system-deps venv collection
	BENCH_COMMAND='make bench-floor FLOOR_N=$(FLOOR_N)$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")' \
	  $(BIN)/python bench/bench.py --n $(FLOOR_N) --tools certflow-http,raw-floor --runs 1 --scale-n 0 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(COLLECTIONS) .pytest_cache
