#!/usr/bin/env bash
# Run by Snakemake after it creates envs/analysis.yaml (--sdm conda): brainattr itself,
# editable from the workflow that created the env (the Snakefile sets BRAINATTR_ROOT), so that
# jobs run that workflow's code; its dependencies are in the yaml.
set -euo pipefail
: "${BRAINATTR_ROOT:?run by the brainattr Snakefile, which sets BRAINATTR_ROOT}"
python -m pip install --no-deps -e "$BRAINATTR_ROOT"
