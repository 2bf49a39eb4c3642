"""Modules that the analysis conda environment (no torch) runs must import without torch."""

import subprocess
import sys

import pytest

ANALYSIS_MODULES = [
    "brainattr.analysis",
    "brainattr.analysis_stage",
    "brainattr.workflow",
    "brainattr.brainmap",
    "brainattr.figures",
    "brainattr.linguistic",
    "brainattr.reliability",
    "brainattr.stability",
    "brainattr.demo",
    "brainattr.sources",
    "brainattr.design",
    "brainattr.tables",
    "brainattr.targets",
    "brainattr.encoding",
    "brainattr.figure_registry",
    "brainattr.progress",
]


@pytest.mark.parametrize("module", ANALYSIS_MODULES)
def test_analysis_module_imports_without_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "False", f"{module} imports torch"
