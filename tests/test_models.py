"""Hub models: downloaded once by the download_model rule from a local Hub emulator, then
loaded with HF_HUB_OFFLINE=1 from the recorded snapshot, with the server gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from brainattr.models import ModelSpecError, load_model, read_snapshot

from .conftest import snakemake_command
from .http_server import HubServer

REPO_ID = "brainattr-test/tiny-llama"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory, tiny_model_dir):
    work = tmp_path_factory.mktemp("hub")
    config = {
        "data_dir": str(work / "data"),
        "datasets": {"demo": {"source": "demo"}},
        "models": {"hub": {"source": "huggingface", "id": REPO_ID, "layers": [1, 2, 3]}},
    }
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    target = str(work / "data/models/hub/snapshot.json")
    with HubServer(tiny_model_dir, REPO_ID, COMMIT) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
        env.pop("HF_HUB_OFFLINE", None)
        res = subprocess.run(
            snakemake_command(work, cfg, "--cores", "1", target),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        requests = list(hub.requests)
    assert res.returncode == 0, res.stderr[-3000:]
    return work, target, requests


def test_rule_records_the_resolved_commit(downloaded):
    _, target, requests = downloaded
    snap = read_snapshot(target)
    assert snap["id"] == REPO_ID and snap["revision"] == "main" and snap["commit"] == COMMIT
    assert ("GET", f"/api/models/{REPO_ID}/revision/main") in requests
    assert any(p.endswith("/model.safetensors") for m, p in requests if m == "GET")


def test_jobs_load_the_snapshot_offline(downloaded, monkeypatch):
    _, target, _ = downloaded
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: must not be used
    lm = load_model({"source": "huggingface", "id": REPO_ID, "snapshot": target, "layers": [1, 2]})
    assert lm.n_layers == 4 and os.environ["HF_HUB_OFFLINE"] == "1"


def test_model_jobs_depend_on_the_download(downloaded):
    work, _, _ = downloaded
    res = subprocess.run(
        snakemake_command(work, work / "config.yaml", "-n", "--quiet", "rules"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "download_model" not in res.stdout  # already there: not fetched again
    assert "features" in res.stdout


def test_unreachable_hub_is_a_clear_error(tmp_path):
    code = (
        "from brainattr.models import download_model\n"
        f"download_model({{'id': '{REPO_ID}'}}, {str(tmp_path)!r}, {str(tmp_path / 's.json')!r})"
    )
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2"}
    env.pop("HF_HUB_OFFLINE", None)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode != 0
    assert "ModelSpecError: could not download brainattr-test/tiny-llama@main" in res.stderr


def test_missing_snapshot_folder(tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"folder": str(tmp_path / "gone")}))
    with pytest.raises(ModelSpecError, match=r"delete .* and rerun"):
        read_snapshot(path)
