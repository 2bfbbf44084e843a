# Two commands do everything: `make run` (a working portal with demo data) and `make test`.
# PostgreSQL and Redis must listen on localhost (or set DATABASE_URL / REDIS_URL).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
PYTEST_WORKERS ?= 2

export DATABASE_URL ?= postgres://postgres@localhost:5432/airline_crm
export REDIS_URL ?= redis://localhost:6379/0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run test lint format migrations-check bench-search bench-booking bench-loyalty lock clean

help:
	@echo "make run           set up everything and run the portal, a Celery worker and Celery beat"
	@echo "make test          ruff, import contracts, migrations check and the whole pytest suite (browser tests included)"
	@echo "make install       create $(VENV) and install the pinned dependencies"
	@echo "make lint          ruff check, ruff format --check and the import contracts (lint-imports)"
	@echo "make format        ruff format and ruff check --fix"
	@echo "make bench-search  customer search at 1,000,000 customers: API beside raw SQL"
	@echo "make bench-booking bookings per second through the API beside a minimal endpoint; SQL per booking"
	@echo "make bench-loyalty the miles ledger at 10,000,000 entries: accrual, statement, balances beside raw SQL"
	@echo "make lock          re-pin requirements.lock from pyproject.toml in a clean virtualenv"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the declared or pinned dependencies change.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock '.[dev]'
	@touch $@

install: $(STAMP)

run: install
	@$(PY) manage.py check_services
	@$(PY) manage.py ensure_database
	@$(PY) manage.py migrate --noinput -v 0
	@if command -v msgfmt >/dev/null 2>&1; then $(PY) manage.py compilemessages --ignore '$(VENV)' --ignore 'node_modules' -v 0; fi
	@DEBUG=true $(PY) manage.py seed_demo
	@DEBUG=true $(PY) manage.py collectstatic --noinput -v 0
	@echo
	@echo "Airline CRM portal on http://localhost:$(PORT)"
	@echo "  passenger portal   http://localhost:$(PORT)/"
	@echo "  back-office        http://localhost:$(PORT)/office/"
	@echo "  API docs           http://localhost:$(PORT)/api/docs/"
	@echo "  health             http://localhost:$(PORT)/healthz"
	@echo "Demo logins, all with the password airline-demo:"
	@echo "  office: agent, supervisor, marketer, analyst, admin    portal: passenger@example.com"
	@echo "Web server, Celery workers (queue default; queue campaigns) and Celery beat start now; Ctrl-C stops them all."
	@echo
	@DEBUG=true PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile --port $(PORT)

test: install
	@$(PY) manage.py check_services
	@$(PY) manage.py ensure_database
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(PYTEST_WORKERS) --timeout=900 --durations=10 --ignore=tests/e2e
	@# Browser tests, one at a time (Chromium is heavy on 2 cores); "no tests" (exit 5) is not a failure.
	$(BIN)/pytest --timeout=900 tests/e2e; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-search: install
	$(PY) bench/search.py

bench-booking: install
	$(PY) bench/booking.py

bench-loyalty: install
	$(PY) bench/loyalty.py

# Pins every dependency (runtime and dev) as resolved today, from a clean virtualenv.
lock:
	@tmp=$$(mktemp -d) && $(PYTHON) -m venv $$tmp && \
	$$tmp/bin/pip install --quiet --upgrade pip && \
	$$tmp/bin/pip install --quiet '.[dev]' && \
	{ echo "# Pinned versions of every dependency (runtime and dev), used as constraints:"; \
	  echo "#   pip install -c requirements.lock '.[dev]'"; \
	  echo "# Regenerate with 'make lock' after changing pyproject.toml (a clean virtualenv, then pip freeze)."; \
	  $$tmp/bin/pip freeze --exclude-editable | grep -v -E '^(pip|setuptools|wheel|airline-crm)=='; } > requirements.lock && \
	rm -rf $$tmp && echo "requirements.lock updated"

clean:
	rm -rf $(VENV) staticfiles *.egg-info
