# Two commands matter (see README): `make spec` and `make test`.
# Everything a fresh machine needs is installed here: nothing by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install spec safety test unit report bench chaos clean

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

install: $(STAMP) $(NODE_STAMP)

## unit and integration tests (pytest)
unit: install
	$(PY) -m pytest tests

## the whole specification against the embedded simulator, then the HTML report
spec: install
	$(PY) -m tools.run_spec

## only the scenarios that guard money
safety: install
	$(PY) -m tools.run_spec --tags=@safety

test: unit spec

## benchmarks: client and bot against peers and the floor; writes bench/results/ (< 5 min)
bench: install
	$(PY) -m bench

clean:
	rm -rf allure-results allure-report reports
