# Two commands do all the set-up on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt clients/python/pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt clients/python/pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: run stop test test-fast lint install install-dev bench bench-quick faults clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@if [ -f clients/python/pyproject.toml ]; then $(PY) -m pip install -q -e ./clients/python; fi
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Tests, gates and their tools (requirements-dev.txt) on top of what the service needs.
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-*; touch $(DEV_STAMP)

install-dev: $(DEV_STAMP)

## Static gates: ruff (ruff.toml), mypy (mypy.ini) and import-linter (.importlinter). mypy's Django plugin
## imports the settings, so it gets placeholder secrets and URLs: it connects to nothing.
lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	SECRET_KEY=type-check DATABASE_URL=postgres://type-check/none REDIS_URL=redis://type-check/0 $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Web (gunicorn), Celery worker and beat in the foreground; embedded PostgreSQL/Redis unless the URLs are set.
## Ctrl-C stops all of them, the embedded servers included.
run: $(STAMP)
	$(PY) -m meauxcloud.devstack run

## Stop what a `make run` of this clone left running when it was killed without its Ctrl-C clean-up.
stop:
	@$(PY) -m meauxcloud.devstack stop

## The whole suite on real PostgreSQL and Redis (the URLs when set, else embedded ones).
## Embedded servers it had to start are stopped when the suite ends.
test: $(DEV_STAMP)
	TRACKING_CHECK_REDIS=0 DEBUG=0 $(PY) -m meauxcloud.devstack exec --database meauxcloud_test -- \
	  $(PY) -m pytest --create-db $(PYTEST_ARGS)

## The suite without the slow end-to-end and browser tests.
test-fast: $(DEV_STAMP)
	TRACKING_CHECK_REDIS=0 DEBUG=0 $(PY) -m meauxcloud.devstack exec --database meauxcloud_test -- \
	  $(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

## Benchmarks on their own database, Redis DB and stream: full (< 30 min) or quick (< 3 min); see docs/benchmarks.md.
bench: $(STAMP)
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) -m meauxcloud.devstack exec -- $(PY) -m bench.run

bench-quick: $(STAMP)
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) -m meauxcloud.devstack exec -- $(PY) -m bench.run --quick

## Every fault of tests/faults under >=100,000 points and a 30-minute soak (FAULTS_SOAK_MINUTES=N shortens it), on private PostgreSQL/Redis (docs/reliability.md).
faults: $(DEV_STAMP)
	$(PY) -m tests.faults.run --json var/faults.json

clean:
	rm -rf var staticfiles
