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

# The suite on SQLite and, when ORIS_TEST_POSTGRES_URL is set, on PostgreSQL too
# (tests marked `postgres` run only there): the two passes run side by side, each
# in its own process and database, and each one's report is printed when both end.
test: install
	$(PY) manage.py makemigrations --check --dry-run
	@if [ -n "$$ORIS_TEST_POSTGRES_URL" ]; then \
		mkdir -p var; \
		echo "== SQLite and PostgreSQL ($$ORIS_TEST_POSTGRES_URL), side by side"; \
		$(PY) -m pytest > var/test-sqlite.log 2>&1 & lite=$$!; \
		DATABASE_URL="$$ORIS_TEST_POSTGRES_URL" $(PY) -m pytest > var/test-postgres.log 2>&1; \
		pg=$$?; wait $$lite; sq=$$?; \
		echo "== SQLite"; cat var/test-sqlite.log; \
		echo "== PostgreSQL: $$ORIS_TEST_POSTGRES_URL"; cat var/test-postgres.log; \
		test $$sq -eq 0 -a $$pg -eq 0; \
	else \
		$(PY) -m pytest; sq=$$?; \
		echo "== ORIS_TEST_POSTGRES_URL is not set: PostgreSQL pass skipped"; \
		exit $$sq; \
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
