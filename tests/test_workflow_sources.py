"""Every downloadable source, from a local HTTP server through encoding, run by Snakemake.

The server on 127.0.0.1 serves small files in the sources' exact formats (see
``fake_sources``): HP as the raw CMU MATLAB files and as Toneva's bundle, MRH reading (GIN
HDF5 + TextGrids), MRH listening (ds003020 .hf5 + TextGrids). Then: a failed download
keeps every finished file, and a rerun neither re-downloads nor recomputes anything.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from brainattr.dataset import read_dataset

from . import fake_sources as fs
from .conftest import snakemake_command
from .http_server import FileServer

LEBEL_STORIES = ["avatar", "legacy", "wheretheressmoke"]
SUBJECTS = {"hp": "F", "hpcmu": "1", "mrh": "01", "lebel": "UTS01"}


def _run(work: Path, cfg: Path, *targets: str, check: bool = True) -> subprocess.CompletedProcess:
    # --cores takes one value: what follows it are targets, not more --resources/--configfile
    cmd = snakemake_command(work, cfg, "--resources", "gpu=1", "--cores", "2", *targets)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if check and res.returncode != 0:
        logs = "\n".join(
            f"== {p}\n{p.read_text()[-2000:]}" for p in (work / "results/logs").rglob("*.log")
        )
        pytest.fail(f"snakemake failed:\n{res.stderr[-4000:]}\n{logs[-8000:]}")
    return res


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    fs.write_hp_toneva(root / "hp", ["F"], n_voxels=24)
    fs.write_hp_cmu(root / "hpcmu", ["1"], n_voxels=24)
    fs.write_mrh(root / "mrh", ["01"], n_voxels=12)
    fs.write_lebel(root / "lebel", ["UTS01"], LEBEL_STORIES, 12, [70, 80, 60])
    with FileServer(root) as server:
        yield root, server


@pytest.fixture(scope="module")
def sources_run(served, tmp_path_factory, tiny_model_dir):
    root, server = served
    work = tmp_path_factory.mktemp("work")
    datasets = {
        "hp": {"source": "hp_toneva", "roi": "language"},
        "hpcmu": {"source": "hp_cmu", "roi": ["Temporal_Sup_L", "Angular_L"]},
        "mrh": {
            "source": "mrh",
            "roi": "Broca",
            "manifest": str(fs.write_manifest(root / "mrh", work / "mrh_manifest.tsv")),
        },
        "lebel": {
            "source": "lebel",
            "stories": LEBEL_STORIES,
            "manifest": str(fs.write_manifest(root / "lebel", work / "lebel_manifest.tsv")),
        },
    }
    for name, spec in datasets.items():
        spec.update(base_url=f"{server.url}/{name}", subjects=[SUBJECTS[name]])
    config = {
        "data_dir": str(work / "shared_fs/data"),
        "device": "cpu",
        "datasets": datasets,
        "models": {"tiny": {"source": "local", "path": str(tiny_model_dir), "layers": [1, 2, 3]}},
        "features": {"context_words": [8]},
        # single precision through the config (encoding.dtype; float64 elsewhere in the tests)
        "encoding": {"alphas": [1, 100, 10000], "inner_folds": 3, "dtype": "float32"},
    }
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    targets = [
        f"results/{name}/tiny/ctx8/encoding/layer{layer}/{subject}.h5"
        for name, subject in SUBJECTS.items()
        for layer in (1, 2, 3)
    ]
    # First run: one of HP's files is missing on the server; the rest must survive.
    server.faults["hpcmu/story_features.mat"] = "404"
    failed = _run(work, cfg, "--keep-going", *targets, check=False)
    del server.faults["hpcmu/story_features.mat"]
    failed_log = (work / "results/logs/download/hpcmu/story_features.mat.log").read_text()
    gets_before = list(server.requests)
    _run(work, cfg, *targets)
    return work, cfg, targets, (failed, failed_log), gets_before


def test_failed_download_reports_and_keeps_finished_files(sources_run, served):
    _, _, _, (failed, log), gets_before = sources_run
    _, server = served
    assert failed.returncode != 0
    assert "HTTP 404" in log and "story_features.mat" in log and "by hand" in log
    assert "Traceback" not in log
    # files finished during the failed run were not fetched again
    first = {p for m, p, _ in gets_before if m == "GET"}
    again = [p for m, p, _ in server.requests[len(gets_before) :] if m == "GET"]
    assert "hpcmu/subject_1.mat" in first
    assert again == ["hpcmu/story_features.mat"]


def test_every_source_reaches_encoding(sources_run):
    work, _, targets, _, _ = sources_run
    for target in targets:
        with h5py.File(work / target, "r") as f:
            r, dtype = f["r"][()], f.attrs["dtype"]
        assert r.ndim == 1 and np.isfinite(r).all() and dtype == "float32"
    data = work / "shared_fs/data"
    expected_kept = {"hp": 4 * 10, "hpcmu": 4 * 10, "mrh": 3737 + 291, "lebel": 50 + 60 + 40}
    for name, kept in expected_kept.items():
        ds = read_dataset(data / name)
        assert ds.trs["kept"].sum() == kept, name
        # each source's word -> TR convention (tr_assignment: auto), written at preparation
        assert ds.tr_assignment == ("toneva" if name.startswith("hp") else "window"), name
        assert (data / "downloads" / name / "recorded_manifest.tsv").is_file() or name in ("lebel",)


def test_rerun_has_nothing_to_do(sources_run):
    work, cfg, targets, _, _ = sources_run
    res = _run(work, cfg, "-n", *targets)
    assert "Nothing to be done" in res.stdout + res.stderr
