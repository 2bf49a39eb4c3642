"""benchmarks/gpu_check.py at its tiny CPU scale, so that the GPU check cannot rot unseen."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import REPO

LINES = [
    "features", "attribution_ba_per_target", "attribution_ba_shared", "attribution_nwp",
    "attribution_ig_ba", "attribution_ig_nwp",
]  # fmt: skip


def test_gpu_check_prints_every_bench_line_and_the_projection():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/gpu_check.py"), "--tiny", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    for name in LINES:
        for dtype in ("fp32", "bf16"):
            m = re.search(rf"^{name}\[{dtype}\]: s_per_\w+=([\d.e+-]+) efficiency=([\d.]+)", out,
                          re.M)  # fmt: skip
            assert m, f"no {name}[{dtype}] line in:\n{out}"
            assert float(m.group(1)) > 0 and float(m.group(2)) > 0
    for dtype in ("float64", "float32"):
        assert re.search(rf"^encoding_numpy\[{dtype}\]: s_per_fit=[\d.]+ trs=1211 ", out, re.M)
    m = re.search(r"^paper_projection: .*total_gpu_hours=([\d.]+)", out, re.M)
    assert m and float(m.group(1)) > 0


def test_gpu_check_wrapper_names_a_missing_wheel(tmp_path):
    # a Python without himalaya and an empty wheel folder: the script says what to carry
    import venv

    venv.create(tmp_path / "bare", with_pip=False)
    env = {**os.environ, "PYTHON": str(tmp_path / "bare/bin/python")}
    res = subprocess.run(["bash", str(REPO / "benchmarks/gpu_check.sh"), "--tiny"],
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert res.returncode == 2
    assert "make gpu-wheels" in res.stderr and "himalaya" in res.stderr
