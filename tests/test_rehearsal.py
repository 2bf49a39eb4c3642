"""brainattr.rehearsal and the demo's paper layouts: HP's and MRH's exact timings."""

from __future__ import annotations

import numpy as np
import pytest

from brainattr.dataset import read_dataset, read_responses
from brainattr.demo import make_demo_dataset
from brainattr.rehearsal import layout_tables

from .conftest import shared_path

TEXT = "the boy who lived had never been so surprised".split()
PARAMS = dict(n_subjects=2, n_voxels=400, driver_voxel_fraction=0.25, snr=1.0, n_repeats=0,
              max_words=0, n_runs=3, tr=2.0, word_seconds=0.5, rest_before_seconds=20.0,
              rest_after_seconds=10.0)  # fmt: skip


def test_hp_layout_equals_the_real_hp_timing():
    words, trs = layout_tables("hp", TEXT, np.random.default_rng(0))
    np.testing.assert_array_equal(trs["onset"], np.load(shared_path("data/hp/time_fmri.npy")))
    np.testing.assert_array_equal(trs["run"], np.load(shared_path("data/hp/runs_fmri.npy")))
    np.testing.assert_array_equal(
        words["onset"], np.load(shared_path("data/hp/time_words_fmri.npy"))
    )


def test_hp_and_mrh_layouts_have_the_papers_counts():
    words, trs = layout_tables("hp", TEXT, np.random.default_rng(0))
    assert (len(words), len(trs), int(trs["kept"].sum())) == (5176, 1351, 1211)
    assert words["word"].tolist()[:12] == (TEXT + TEXT)[:12]  # the text cycled
    words, trs = layout_tables("mrh", TEXT, np.random.default_rng(0))
    kept = trs[trs["kept"]].groupby("run").size()
    assert kept.iloc[:10].sum() == 3737 and kept.iloc[10] == 291
    # speech-like: about 2.5 words per second; words from the sound onset (10.023 s after
    # the story's first TR, within the trimmed TRs, as in the real data) to its last kept TR
    rate = len(words) / (trs["kept"].sum() * 2.0045)
    assert 2.0 < rate < 3.0
    for run, w in words.groupby("run"):
        story = trs[trs["run"] == run]
        assert w["onset"].min() == pytest.approx(story["onset"].min() + 10.023)
        assert w["offset"].max() <= story[story["kept"]]["onset"].max() + 2.0045


def test_layout_dataset_reads_back_with_planted_drivers(tmp_path):
    make_demo_dataset(tmp_path, {**PARAMS, "layout": "hp"}, seed=4)
    ds = read_dataset(tmp_path)
    assert len(ds.trs) == 1351 and ds.subjects == ["sub-01", "sub-02"]
    bold, rois = read_responses(tmp_path, "sub-01")
    assert bold.shape == (1351, 400) and rois["language"].sum() == 100
    control = bold[:, rois["control"]]
    bold = bold[:, rois["language"]]
    # the driven voxels follow the drivers: the planted signal explains much of their variance
    lag = np.corrcoef(bold[1:].T, bold[:-1].T).diagonal(offset=bold.shape[1])
    lag_control = np.corrcoef(control[1:].T, control[:-1].T).diagonal(offset=control.shape[1])
    assert lag.mean() > 0.3 > lag_control.mean() + 0.2
    again = tmp_path / "again"
    make_demo_dataset(again, {**PARAMS, "layout": "hp"}, seed=4)
    np.testing.assert_array_equal(read_responses(again, "sub-01")[0][:, rois["language"]], bold)


def test_unknown_layout_is_a_schema_error():
    from brainattr.config import ConfigError, validate_config

    from .conftest import REPO

    model = {"source": "shape", "shape": "mamba-1.4b", "layers": [1, 2, 3]}
    cfg = {
        "datasets": {"d": {"source": "demo", "demo": {"layout": "moth"}}},
        "models": {"m": model},
    }
    with pytest.raises(ConfigError, match="layout"):
        validate_config(cfg, REPO / "workflow/schemas/config.schema.yaml")


def test_rehearsal_smoke_runs_the_paper_shapes_and_writes_the_costs(tmp_path):
    """`make rehearse-smoke` as CI runs it: HP's layout and a paper shape (Qwen2-1.5B's width
    and 152k vocabulary, 3 blocks) through the workflow up to attribution, then cost.tsv."""
    import subprocess
    import sys

    import pandas as pd

    from .conftest import REPO, snakemake_command

    config = REPO / "config/rehearsal-smoke.yaml"
    run = subprocess.run(
        snakemake_command(tmp_path, config, "--cores", "2", "--resources", "gpu=1",
                          "--until", "attribution"),
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    out = tmp_path / "results/rehearsal-smoke"
    costs = subprocess.run(
        [sys.executable, "-m", "brainattr", "costs", "--configfile", str(config),
         "--directory", str(tmp_path), "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )  # fmt: skip
    assert costs.returncode == 0, costs.stderr[-3000:]
    table = pd.read_csv(out / "cost.tsv", sep="\t").set_index("rule")
    assert {"dataset_demo", "features", "encoding", "layer_selection", "attribution"} <= set(
        table.index
    )
    assert table.loc["encoding", "jobs_measured"] == 6
    assert table.loc["encoding", "paper_jobs"] > 5000  # projected onto the paper's DAG
    # every measured peak within the rule's declared memory
    assert table["mem_ok"].dropna().astype(bool).all(), table[["max_rss_mb", "declared_mem_mb"]]
    assert (out / "cost.png").stat().st_size > 10_000
