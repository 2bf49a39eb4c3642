"""brainattr.costs: a rehearsal's benchmarks gathered per rule and projected to the paper."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from brainattr.costs import cost_table, read_benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(folder, rule, stem, s, rss, io_out=1.0):
    path = folder / rule / f"{stem}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{s}\t0:00:01\t{rss}\t0\t0\t0\t0\t{io_out}\t50\t{s}\n")


def test_jobs_are_assigned_to_the_longest_matching_dataset(tmp_path):
    _bench(tmp_path, "encoding", "hp_rehearsal_qwen_ctx8_layer1_sub-01", 10, 900)
    _bench(tmp_path, "encoding", "hp_qwen_ctx8_layer1_sub-01", 3, 100)  # another dataset
    _bench(tmp_path, "dataset_demo", "hp_rehearsal", 5, 400)
    _bench(tmp_path, "features", "demo_smollm2_ctx8", 7, 700)  # not asked for
    jobs = read_benchmarks(tmp_path, ["hp", "hp_rehearsal"])
    got = dict(zip(jobs["job"], jobs["dataset"], strict=True))
    assert got == {
        "hp_rehearsal_qwen_ctx8_layer1_sub-01": "hp_rehearsal",
        "hp_qwen_ctx8_layer1_sub-01": "hp",
        "hp_rehearsal": "hp_rehearsal",
    }


def test_projection_scales_jobs_and_targets_and_checks_memory():
    jobs = pd.DataFrame(
        {
            "rule": ["encoding", "encoding", "attribution", "features", "analyses"],
            "dataset": ["hp", "hp", "hp", "hp", "hp"],
            "job": ["e1", "e2", "a1", "f1", "n1"],
            "s": [10.0, 30.0, 100.0, 360.0, 2.0],
            "max_rss_mb": [500.0, 9000.0, 1000.0, 2000.0, 300.0],
            "io_out_mb": [1.0, 1.0, 2.0, 3.0, 1.0],
        }
    )
    paper = Counter(encoding=360, attribution=4, features=2, analyses=6)
    declared = {"encoding": 8000, "attribution": 16000, "features": None, "analyses": 4000}
    t = cost_table(jobs, paper, declared, {"hp": 300.0}, cpu_peak=1e11,
                   gpu_peak={"fp32": 1e13})  # fmt: skip
    t = t.set_index("rule")
    # encoding: mean 20 s x 360 jobs = 2 h; one job above its declared 8000 MB
    assert t.loc["encoding", "projected_cpu_hours"] == pytest.approx(2.0)
    assert not t.loc["encoding", "mem_ok"] and t.loc["encoding", "max_rss_mb"] == 9000
    # attribution: 100 s per job for the rehearsed targets, x 300 for every target, x 4 jobs
    hours = 100 * 300 * 4 / 3600
    assert t.loc["attribution", "projected_cpu_hours"] == pytest.approx(hours, abs=0.01)
    assert t.loc["attribution", "mem_ok"]
    # the analyses read every target's scores: scaled likewise (2 s x 300 x 6 jobs = 1 h)
    assert t.loc["analyses", "projected_cpu_hours"] == pytest.approx(1.0)
    assert np.isnan(t.loc["analyses", "projected_gpu_hours_fp32"])
    # a model rule's GPU-hours: CPU-hours x CPU peak / GPU peak; none for the others
    gpu = 0.2 * 1e11 / 1e13
    assert t.loc["features", "projected_gpu_hours_fp32"] == pytest.approx(gpu, abs=1e-3)
    assert np.isnan(t.loc["encoding", "projected_gpu_hours_fp32"])
    assert t.loc["features", "mem_ok"] is None  # no declared memory: the profile's default


def test_memory_declared_per_dataset_is_checked_per_dataset():
    """encoding declares its dataset's encoding_resources.mem_mb: an MRH job's 20 GB is within
    MRH's 24 GB, an HP job's 9 GB is not within HP's 8 GB."""
    jobs = pd.DataFrame({"rule": ["encoding"] * 3, "dataset": ["hp", "mrh", "hp"],
                         "job": ["e1", "e2", "e3"], "s": [1.0, 2.0, 3.0],
                         "max_rss_mb": [5000.0, 20000.0, 7000.0],
                         "io_out_mb": [1.0, 1.0, 1.0]})  # fmt: skip
    declared = {"encoding": {"hp": 8000, "mrh": 24000}}
    t = cost_table(jobs, Counter(encoding=3), declared, {}, cpu_peak=1e11).set_index("rule")
    assert t.loc["encoding", "mem_ok"] and t.loc["encoding", "declared_mem_mb"] == 24000
    jobs.loc[2, "max_rss_mb"] = 9000.0
    t = cost_table(jobs, Counter(encoding=3), declared, {}, cpu_peak=1e11).set_index("rule")
    assert not t.loc["encoding", "mem_ok"]
