# One command per job. Each target sets up .venv first (nothing to install by hand).
VENV ?= .venv
PY   := $(VENV)/bin/python
TERM_ID ?= 2026-fall

.PHONY: demo test test-fast lint release bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	scripts/install_sandbox_tools.sh
	touch $@

demo: $(VENV)/.installed          ## the main job: release, grade and report a synthetic class
	$(VENV)/bin/commslab demo

test: $(VENV)/.installed          ## the whole suite, slow tests included
	$(VENV)/bin/pytest -n 2

test-fast: $(VENV)/.installed
	$(VENV)/bin/pytest -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy comms_core commslab

release: $(VENV)/.installed
	$(VENV)/bin/commslab release --term $(TERM_ID)

bench: $(VENV)/.installed
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
