# Two entry points on a fresh machine (Python 3.11 with venv):
#   make run   - set up .venv and run the real experiment (config.yaml)
#   make test  - set up .venv and run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: run test venv lint format docs clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config.yaml

test: $(STAMP)
	bash tests/system-deps.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check scripts tests perf
	$(BIN)/ruff format --check scripts tests perf
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --configfile config/test.yaml
	PYTHONPATH=scripts $(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix scripts tests perf
	$(BIN)/ruff format scripts tests perf
	$(BIN)/snakefmt Snakefile rules/

docs: $(STAMP)
	PYTHONPATH=scripts $(BIN)/python -m fmeval.configdoc

clean:
	rm -rf results logs benchmarks .snakemake
