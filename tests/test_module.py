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


def test_an_untrained_twin_is_planned_as_another_model(tmp_path):
    """models.<name>.init: random runs the whole pipeline for the untrained architecture,
    beside the trained model (every figure then has both), seeded by the config's seed."""
    import yaml

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    trained = next(iter(config["models"]))
    config["models"][f"{trained}-untrained"] = {**config["models"][trained], "init": "random"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--directory", str(tmp_path),
         "--snakefile", str(REPO / "Snakefile"), "--configfile", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    counts = dict(
        line.split() for line in out.splitlines() if line.startswith(("features ", "attribution "))
    )
    assert counts == {"features": "4", "attribution": "4"}  # 2 models x 2 context lengths
