"""Training checkpoints through the workflow: a local model saved at two "steps" runs as two
models, and the training figure draws both; the faithfulness curves and the attribution
features (with their variance partition) of the same run."""

from __future__ import annotations

import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from .conftest import snakemake_command


@pytest.mark.slow
def test_checkpoints_run_as_models_and_draw_the_training_figure(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    checkpoints = tmp_path / "tiny-ck"
    shutil.copytree(tiny_model_dir, checkpoints / "step0")
    later = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(1)
    with torch.no_grad():  # "training": every weight moved
        for p in later.parameters():
            p.add_(0.05 * torch.randn_like(p))
    shutil.copytree(tiny_model_dir, checkpoints / "step100")  # the tokenizer, then new weights
    later.save_pretrained(checkpoints / "step100")
    config = {
        "seed": 2,
        "device": "cpu",
        "datasets": {"demo": {"source": "demo", "roi": "language",
                              "demo": {"n_subjects": 1, "n_voxels": 30, "n_runs": 3,
                                       "max_words": 400}}},
        "models": {"tiny": {"source": "local", "path": str(checkpoints), "layers": [1, 2, 3],
                            "revisions": ["step0", "step100"]}},
        # attribution features ride along too: the same model jobs' next-word gradients
        "features": {"context_words": [8], "kinds": ["activations", "nwp_attribution"],
                     "attribution_words": 4},
        "encoding": {"alphas": [1, 100, 10000], "inner_folds": 2, "banded_iterations": 5},
        "attribution": {"n_targets": 8, "nulls": []},
        # faithfulness curves ride along: small, and the same model jobs
        "analysis": {"mask_seeds": 1, "faithfulness_words": [1, 3]},
    }  # fmt: skip
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    plan = subprocess.run(snakemake_command(tmp_path, cfg, "-n", "--quiet", "rules"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-3000:]
    for rule in ("fig_training", "fig_faithfulness", "fig_feature_kinds", "partition"):
        assert rule in plan.stdout
    figure = "results/demo/ctx8/gxi/figures/training.png"
    faithful = "results/demo/ctx8/gxi/figures/faithfulness.png"
    kinds = "results/demo/ctx8/figures/feature_kinds.png"
    # targets last, after an option of one value (--quiet and --resources take lists)
    cmd = snakemake_command(tmp_path, cfg, "--quiet", "rules", "--resources", "gpu=1",
                            "--cores", "2", figure, faithful, kinds)  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-5000:]
    assert (tmp_path / figure).stat().st_size > 1000
    r = {}
    for step in ("step0", "step100"):
        with h5py.File(tmp_path / f"results/demo/tiny-{step}/ctx8/encoding/layer2/sub-01.h5") as f:
            r[step] = f["r"][:]
    assert not np.allclose(r["step0"], r["step100"])  # two models, not one run twice
    assert (tmp_path / faithful).stat().st_size > 1000
    run = tmp_path / "results/demo/tiny-step100/ctx8/gxi/analysis"
    per_target = pd.read_csv(run / "faithfulness_targets.tsv", sep="\t")
    masked = per_target[per_target["mask"] != "none"]
    assert sorted(masked["n_masked"].unique()) == [1, 3]  # exactly k words, not the fraction
    aopc = pd.read_csv(run / "aopc.tsv", sep="\t")
    assert set(aopc["control"]) == {"ba_matched", "nwp_matched", "random"}
    assert (aopc["ci_low"] <= aopc["aopc"]).all() and (aopc["aopc"] <= aopc["ci_high"]).all()
    assert (tmp_path / kinds).stat().st_size > 1000
    for step in ("step0", "step100"):
        kind = tmp_path / f"results/demo/tiny-{step}/ctx8/nwp_attribution"
        with h5py.File(kind / "features.h5") as f:
            assert f["layer_2"].shape[1] == 4  # k attribution features, not the hidden size
        assert list(pd.read_csv(kind / "layers.tsv", sep="\t")["layer"]) == [1, 2, 3]
        table = pd.read_csv(kind / "unique_variance.tsv", sep="\t")
        assert list(table["layer"]) == [1, 2, 3] and table["r2_joint"].notna().all()
    # the figure is in the report with its caption, rendered with this run's config
    report = tmp_path / "report.zip"
    res = subprocess.run(snakemake_command(tmp_path, cfg, "--report", str(report), kinds),
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    import zipfile

    with zipfile.ZipFile(report) as z:
        html = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                       if n.endswith(".html"))  # fmt: skip
    assert "NWP attributions as brain features" in html and "k = 4 words" in html
