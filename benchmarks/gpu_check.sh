#!/usr/bin/env bash
# The GPU check on one CUDA GPU with torch and transformers preinstalled and no internet
# (README, "Paper scale"): installs the carried wheels of what that Python lacks, then runs
# benchmarks/gpu_check.py (8 minutes at most) with any arguments given here.
#
# Carry: this checkout plus benchmarks/wheels/, filled beforehand on a machine with internet by
#   make gpu-wheels GPU_PYTHON=3.11          (the GPU machine's Python version)
# Only the wheels of missing packages are installed (--no-index --no-deps), so a machine that
# already has pandas or scikit-learn keeps its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
missing=$("$PY" - <<'PY'
import importlib.util
need = {"himalaya": "himalaya", "h5py": "h5py", "pandas": "pandas", "sklearn": "scikit-learn",
        "scipy": "scipy", "yaml": "pyyaml", "joblib": "joblib",
        "threadpoolctl": "threadpoolctl", "dateutil": "python-dateutil", "pytz": "pytz",
        "tzdata": "tzdata"}
print(" ".join(d for m, d in need.items() if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  echo "[gpu-check] installing carried wheels for: $missing" >&2
  for dist in $missing; do
    wheel=$(ls benchmarks/wheels/"${dist//-/_}"-*.whl benchmarks/wheels/"$dist"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
      echo "[gpu-check] no wheel of $dist in benchmarks/wheels/: run 'make gpu-wheels' where there is internet and carry the folder" >&2
      exit 2
    fi
    "$PY" -m pip install --quiet --no-index --no-deps "$wheel"
  done
fi
PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" timeout 480 "$PY" benchmarks/gpu_check.py "$@"
