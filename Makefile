# Oris: `make run` starts everything on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: install run test lint format bench clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

$(BENCH_INSTALLED): $(INSTALLED)
	$(PIP) install -q -c constraints.txt -e '.[dev,bench]'
	touch $@

install: $(INSTALLED)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py oris_serve --bootstrap

# The suite on SQLite, then on PostgreSQL when ORIS_TEST_POSTGRES_URL is set
# (tests marked `postgres` run only there). TEST_WORKERS pytest-xdist processes
# share each pass, a module per process at a time (its live servers start once).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope

test: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PYTEST)
	@if [ -n "$$ORIS_TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL: $$ORIS_TEST_POSTGRES_URL"; \
		DATABASE_URL="$$ORIS_TEST_POSTGRES_URL" $(PYTEST); \
	else \
		echo "== ORIS_TEST_POSTGRES_URL is not set: PostgreSQL pass skipped"; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy graphs agents runtime oris_site

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(BENCH_INSTALLED)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var *.egg-info
