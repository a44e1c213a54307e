PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo docs install clean bench mutants

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2

# a subset for the edit-test loop (under a minute on 2 cores): the core maths, the layer rules, the
# result model, the report and the file writers; no subprocess, training or memory-growth tests
FAST = tests/core tests/test_architecture.py tests/test_registry.py tests/test_reporting.py tests/test_io.py
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow" --ignore=tests/core/test_solution_memory.py $(FAST)

# the documentation site, built offline into runs/site (mkdocs.yml; docs/)
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir runs/site

demo: $(STAMP)
	$(VENV)/bin/hjdl reproduce --preset quick --out runs/latest

bench: $(STAMP)
	$(PY) bench/bench_core.py

# mutation testing of core, attribution, bifurcation, robustness and scaling (a report, not a
# gate; not part of test): see tools/mutants.py
mutants: $(STAMP)
	mkdir -p runs
	nice $(PY) tools/mutants.py --verify --json runs/mutants.json --markdown runs/mutants.md

clean:
	rm -rf $(VENV) runs
