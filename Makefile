# Two commands for a fresh clone: `make run` and `make test`. Python 3.11+ is the only
# prerequisite besides a reachable RabbitMQ (and PostgreSQL for the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Where the PostgreSQL half of the test suite makes its own test database.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PYTEST_ARGS ?=

.PHONY: install run test test-sqlite test-postgres lint format bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Sets up and starts the whole system (web on localhost:8000 and the worker); Ctrl-C stops
## it. The first run also creates a local demo administrator and API token (kept in var/).
## Ctrl-C makes honcho exit 130 after both processes stopped cleanly: that is success here.
run: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=1 PORT=$${PORT:-8000} $(PY) manage.py ensure_demo
	@trap 'true' INT TERM; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DJANGO_DEBUG=1 PORT=$${PORT:-8000} \
		WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} $(VENV)/bin/honcho start; \
	rc=$$?; if [ $$rc -eq 130 ] || [ $$rc -eq 143 ]; then echo "stopped"; else exit $$rc; fi

## Sets up and runs the whole test suite: lint, then every test on SQLite and on PostgreSQL.
test: install lint test-sqlite test-postgres

test-sqlite: install
	DATABASE_URL= $(PY) -m pytest tests/unit tests/integration $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest tests $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3

## Pipeline benchmark (bench/README.md): its own stack, database and vhost; prints the table
## and writes bench-results/latest.json. Needs wrk (apt-get install wrk). BENCH_ARGS=--help
bench: install
	$(PY) -m bench $(BENCH_ARGS)

## The same with small counts, in under ~2 minutes: a smoke run of the harness (CI).
bench-quick: install
	$(PY) -m bench --quick $(BENCH_ARGS)
