"""brainattr used as a Snakemake module by another workflow (``module`` + ``use rule *``)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_an_outer_workflow_imports_and_plans_the_demo(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config/config.yaml").read_text())
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        "module brainattr:\n"
        f'    snakefile:\n        "{REPO / "Snakefile"}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from brainattr as brainattr_*\n"
    )
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--directory", str(tmp_path),
         "--snakefile", str(tmp_path / "Snakefile")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    # every stage is planned under the importing workflow's names, paths from this module
    for rule in ("brainattr_dataset_demo", "brainattr_attribution", "brainattr_paper_check",
                 "brainattr_fig_words"):  # fmt: skip
        assert rule in out
