# Two commands matter (see README): `make spec` and `make test`.
# Everything a fresh machine needs is installed here: nothing by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install lock spec safety test unit report report-check browser bench chaos clean mutants mutants-sample

# Every third-party package from requirements.lock (exact versions, hashes checked), then this
# package itself without dependencies: nothing unpinned comes in. `make lock` re-pins (README).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

install: $(STAMP) $(NODE_STAMP)

## re-pin requirements.lock from pyproject.toml's ranges with hashes (UPGRADE=--upgrade: newest allowed)
LOCK_VENV := .lock-venv
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet pip-tools==7.6.2)
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra spec --extra dev \
		--strip-extras --no-emit-index-url --no-emit-find-links $(UPGRADE) -o requirements.lock pyproject.toml

## unit and integration tests (pytest); make test's summary reads the totals from reports/pytest.xml.
## Most tests wait on loopback calls and child processes, not the CPU: 4 workers halve the time on 2 cores
## (PYTEST_WORKERS=0: one process, for a debugger)
PYTEST_WORKERS ?= 4
unit: install
	$(PY) -m pytest tests $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) --junitxml=reports/pytest.xml

## the whole specification against the embedded simulator, then the HTML report
spec: install
	$(PY) -m tools.run_spec

## only the scenarios that guard money; files in reports/safety-only/ (the full run's reports stay as they were)
safety: install
	$(PY) -m tools.run_spec --tags=@safety --out=reports/safety-only

## render the HTML report again from allure-results/ (spec and safety already do)
report: install
	$(PY) -c "from tools.run_spec import render_report; print(render_report())"

## Chromium for the report check (root here and in CI; nothing else installs it)
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

## open the rendered report in headless Chromium: its totals must match the run's JUnit results
report-check: install browser
	$(PY) -m pytest -m report tests/spec/test_report.py

test: unit spec report-check mutants-sample

## mutation testing of the safety-critical modules against the @safety scenarios (hours: docs/MUTATION.md)
mutants: install
	$(PY) -m tools.mutants --resume

## a seeded sample of the mutants (a few minutes); fails when the score drops below tools/mutants/floor.txt
mutants-sample: install
	$(PY) -m tools.mutants --sample 24 --seed 17 --floor tools/mutants/floor.txt

## benchmarks: client and bot against peers and the floor; writes bench/results/ (< 5 min)
bench: install
	$(PY) -m bench

## chaos soak: the real bot, 2,000 random operations at 15 % faults, a daily cap that binds; non-zero exit on
## any broken invariant. A random seed, printed first; CHAOS_SEED=n replays one (`make test` runs a short one too)
CHAOS_SEED ?=
chaos: install
	$(PY) -m bench.chaos --ops 2000 --fault-rate 0.15 $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

clean:
	rm -rf allure-results allure-report reports

## the last lines of `make test`: the totals, the safety verdict table and where the reports are
## (a prerequisite of test added here, after the others: it runs last)
.PHONY: summary
test: summary
summary:
	@$(PY) -m tools.test_summary
