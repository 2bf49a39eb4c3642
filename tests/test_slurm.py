"""The workflow through the SLURM profile on a real single-node SLURM on 127.0.0.1.

Starts the cluster with .ci/slurm/start-cluster.sh (root and Debian packages needed; skipped
otherwise, with the reason) and always stops it by the pids it recorded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO, snakemake_command

START = REPO / ".ci/slurm/start-cluster.sh"
STOP = REPO / ".ci/slurm/stop-cluster.sh"


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("starting a local SLURM needs root")
    if not (shutil.which("slurmctld") or shutil.which("apt-get")):
        pytest.skip("no SLURM installed and no apt-get to install it")
    try:
        subprocess.run(["bash", str(START)], check=True, timeout=600)
        yield
    finally:
        subprocess.run(["bash", str(STOP)], timeout=120)


def _config(work: Path, model_dir: Path, layers: list[int]) -> Path:
    cfg = {
        "seed": 2,
        "device": "cpu",
        # the test node has one GPU GRES (/dev/null as its device): model jobs ask for it,
        # torch runs on the CPU
        "resources": {"model_gpus": 1},
        "datasets": {
            "demo": {
                "source": "demo",
                "roi": "language",
                "demo": {"n_subjects": 2, "n_voxels": 30, "max_words": 400},
            }
        },
        "models": {"tiny": {"source": "local", "path": str(model_dir), "layers": layers}},
        "features": {"context_words": [8]},
        "encoding": {"alphas": [1, 100, 10000], "inner_folds": 3},
        # the other engine end to end, with both methods
        "attribution": {
            "n_targets": 8,
            "engine": "shared",
            "methods": ["gxi", "ig"],
            "ig_steps": 2,
        },
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _snakemake(
    work: Path,
    cfg: Path,
    *extra: str,
    targets: tuple[str, ...] = (),
    limit: int = 900,
    groups: tuple[str, ...] = ("encoding=encoding",),
):
    cmd = [
        "timeout",
        "-k",
        "10",
        str(limit),
        *snakemake_command(
            work,
            cfg,
            "--profile",
            str(REPO / "profiles/slurm"),
            # this cluster has no accounting database: poll with squeue, and soon
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "2",
            # more jobs in flight than CPUs: SLURM starts the next one when one ends, without
            # waiting for the executor's next status check (its interval grows to ~30 s)
            "--jobs",
            "4",
            # only the encodings grouped (the profile's other groups run their jobs in series
            # on this 2-CPU node: minutes longer for the same checks)
            "--groups",
            *groups,
            # a group job runs at most this many of its jobs at once: the node has 2 CPUs
            # (a one-value option last: the targets follow)
            "--cores",
            "2",
            *extra,
            *targets,
        ),
    ]
    return subprocess.run(cmd, capture_output=True, text=True)


def _job_ids(log: str) -> list[str]:
    """SLURM job ids from the executor's 'has been submitted with SLURM jobid N' lines (a group
    job is one id)."""
    return sorted(set(re.findall(r"submitted with SLURM jobid (\d+)", log)), key=int)


# every kind of job SLURM runs: the model rules (GPU), grouped encodings, an analysis, the
# summaries and a local figure, and the other method's scores (the rest of the DAG runs the
# same way through the profile: tests/test_workflow.py runs all of it)
TARGETS = (
    "results/demo/ctx8/gxi/figures/fig2_iou.png",
    "results/demo/ctx8/gxi/masking_table.tsv",
    "results/demo/ctx8/gxi/spread_tests.tsv",
    "results/demo/ctx8/gxi/demo_recovery.tsv",
    "results/demo/tiny/ctx8/ig/attribution/scores.parquet",
)


def _submitted(log: str, capsys) -> tuple[dict[str, str], dict[str, str]]:
    """(scontrol's record, rule) of each job a run submitted; a group job's rule is its group's
    name (profiles/slurm: encoding, analysis, summary)."""
    ids = _job_ids(log)
    assert ids, log[-4000:]
    jobs = {}
    for jid in ids:
        out = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True)
        jobs[jid] = out.stdout
    # the executor's --comment is rule_<name>[_wildcards_<values>]; a group job's is
    # rule_<group>_<its rules>
    names = {
        jid: re.search(r"Comment=rule_(\S+)", s).group(1).split("_wildcards_")[0]
        for jid, s in jobs.items()
    }
    rules = {jid: "encoding" if n.startswith("encoding_") else n for jid, n in names.items()}
    with capsys.disabled():
        print(f"\nSLURM job ids: {' '.join(ids)}")
        for jid, rule in rules.items():
            fields = re.findall(
                r"(JobState=\S+|NumCPUs=\S+|TimeLimit=\S+|mem=\S+?[,\s]|TresPerJob=\S+)",
                jobs[jid],
            )
            print(f"  {jid} {rule}: {' '.join(f.strip(', ') for f in fields)}")
    return jobs, rules


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory, tiny_model_dir) -> tuple[Path, str]:
    """The demo's DAG through the profile, once for this module's tests: (folder, log)."""
    work = tmp_path_factory.mktemp("slurm")
    res = _snakemake(work, _config(work, tiny_model_dir, [1, 2, 3]), targets=TARGETS)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-8000:]
    return work, log


def test_workflow_runs_through_slurm(slurm_run, capsys):
    tmp_path, log = slurm_run
    jobs, rules = _submitted(log, capsys)
    submitted = set(rules.values())
    # every non-local rule went through sbatch, the encodings in a group; plotting stayed on
    # the submitting node
    assert {
        "dataset_demo",
        "features",
        "encoding",
        "layer_selection",
        "attribution",
        "analyses",
        "masking",
        "spread_tests",
        "demo_recovery",
    } <= submitted
    assert not any(r.startswith("fig_") for r in submitted)
    assert all("JobState=COMPLETED" in s for s in jobs.values())
    features = next(s for j, s in jobs.items() if rules[j] == "features")
    assert "NumCPUs=2" in features and "mem=8000M" in features
    assert "TimeLimit=02:00:00" in features
    # the model rules ask SLURM for the GPU (--gpus=1); no other job does
    for j, s in jobs.items():
        asks_gpu = re.search(r"TresPerJob=gres[:/]gpu:1", s) is not None
        assert asks_gpu == (rules[j] in {"features", "attribution", "masking"}), s
    # the six encodings (2 subjects x 3 layers) ran in one group job, two at a time (--cores 2):
    # 2 CPUs, 2 x 8000 MB, 3 rounds x 60 min
    (group,) = [s for j, s in jobs.items() if rules[j] == "encoding"]
    assert "NumCPUs=2" in group and "mem=16000M" in group and "TimeLimit=03:00:00" in group
    assert len(list((tmp_path / "results/demo/tiny/ctx8/encoding").glob("layer*/*.h5"))) == 6
    assert (tmp_path / "results/demo/ctx8/gxi/figures/fig2_iou.png").stat().st_size > 1000
    for method in ("gxi", "ig"):
        scores = pd.read_parquet(
            tmp_path / f"results/demo/tiny/ctx8/{method}/attribution/scores.parquet"
        )
        assert set(scores["method"]) == {method}


def test_gpu_encodings_run_one_at_a_time_on_their_groups_gpu(slurm_run, capsys):
    """resources.encoding_gpus: the encodings and noise ceilings ask for a GPU, and a group job
    of them asks for one GPU (not one per parallel job) and runs them in rounds of one."""
    work, _ = slurm_run
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["resources"]["encoding_gpus"] = 1  # backend auto: numpy on this GPU-less node
    path = work / "gpu_encodings.yaml"
    path.write_text(yaml.safe_dump(cfg))
    encodings = [f"results/demo/tiny/ctx8/encoding/layer1/sub-0{s}.h5" for s in (1, 2)]
    ceilings = [f"results/demo/noise_ceiling/sub-0{s}.h5" for s in (1, 2)]
    before = {f: (work / f).stat().st_mtime for f in encodings}
    # --cores again after --forcerun's list: the targets follow
    res = _snakemake(work, path, "--forcerun", "encoding", "ceiling", "--cores", "2",
                     targets=(*encodings, *ceilings), limit=600,
                     groups=("encoding=encoding", "ceiling=encoding"))  # fmt: skip
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-8000:]
    jobs, rules = _submitted(log, capsys)
    assert set(rules.values()) == {"encoding"}, rules  # features were kept: one group job
    (group,) = jobs.values()
    # each job takes the group's 2 cores, so 4 rounds of one (2 encodings + 2 ceilings) of
    # 60 min each, on one GPU: two at a time would have asked for gpu:2, 2 h and 16 GB
    assert re.search(r"TresPerJob=gres[:/]gpu:1\b", group), group
    assert "NumCPUs=2" in group and "mem=8000M" in group and "TimeLimit=04:00:00" in group
    assert "JobState=COMPLETED" in group
    assert all((work / f).stat().st_mtime > before[f] for f in encodings)
    assert all((work / f).is_file() for f in ceilings)


def test_failing_job_is_reported_not_hung(cluster, tmp_path, tiny_model_dir):
    # the nodes have no GPU: the first model job (features) fails on the cluster with the
    # config key named (the device is checked in the job: the planning node may differ)
    cfg = _config(tmp_path, tiny_model_dir, [1, 2, 3])
    cfg.write_text(cfg.read_text().replace("device: cpu", "device: cuda"))
    res = _snakemake(tmp_path, cfg, "--retries", "0", limit=300)
    log = res.stdout + res.stderr
    assert res.returncode not in (0, 124, 137), log[-5000:]
    assert "Error in rule features" in log
    err = next((tmp_path / "results/logs/features").glob("*.log")).read_text()
    assert "config key device = 'cuda' but no CUDA device is visible" in err
