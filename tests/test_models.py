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
    assert snap["revision_line"] == f"revision: {COMMIT}"  # ready to paste into the config
    assert ("GET", f"/api/models/{REPO_ID}/revision/main") in requests
    assert any(p.endswith("/model.safetensors") for m, p in requests if m == "GET")


def test_jobs_load_the_snapshot_offline(downloaded, monkeypatch):
    import huggingface_hub.constants as hub_constants

    from brainattr.workflow import hub_offline

    _, target, _ = downloaded
    # restored after the test: hub_offline() changes the process's state, as in a job
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: must not be used
    hub_offline()  # what every model job's script does first (setup_script(model_job=True))
    lm = load_model({"source": "huggingface", "id": REPO_ID, "snapshot": target, "layers": [1, 2]})
    assert lm.n_layers == 4 and hub_constants.HF_HUB_OFFLINE is True
    assert os.environ["HF_HUB_OFFLINE"] == "1"


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


def _tiny_config(arch: str):
    import transformers as tf

    common = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 4}
    attn = {"num_attention_heads": 4, "intermediate_size": 64}
    return {
        "llama": lambda: tf.LlamaConfig(**common, **attn, num_key_value_heads=2),
        "gemma": lambda: tf.GemmaConfig(**common, **attn, num_key_value_heads=1, head_dim=8),
        "qwen2": lambda: tf.Qwen2Config(**common, **attn, num_key_value_heads=2),
        "mamba": lambda: tf.MambaConfig(**common, state_size=4, expand=2, conv_kernel=4),
        "zamba2": lambda: tf.Zamba2Config(
            **common,
            **attn,
            num_key_value_heads=4,
            mamba_d_state=4,
            mamba_headdim=8,
            mamba_ngroups=1,
            n_mamba_heads=8,
            attention_head_dim=8,
            layers_block_type=["mamba", "hybrid", "mamba", "hybrid"],
        ),
    }[arch]()


@pytest.mark.parametrize("arch", ["llama", "gemma", "qwen2", "mamba", "zamba2"])
def test_every_paper_architecture_gives_one_hidden_state_convention(arch):
    """Falcon3 and Llama-3.2 are Llama; Gemma, Qwen2, Mamba and Zamba2 have their own code."""
    import torch
    from transformers import AutoModelForCausalLM

    from brainattr.models import (
        FINAL,
        LoadedModel,
        decoder_layers,
        final_norm,
        hidden_states,
        readout_logits,
    )

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(_tiny_config(arch)).double().eval()
    model.requires_grad_(False)
    lm = LoadedModel(model, None, torch.device("cpu"), 4)
    x = torch.randn(2, 6, 32, dtype=torch.float64, requires_grad=True)
    full = hidden_states(lm, x)
    hf = model(inputs_embeds=x, output_hidden_states=True, use_cache=False).hidden_states
    assert len(full) == 5
    torch.testing.assert_close(full[0], x, rtol=0, atol=0)
    torch.testing.assert_close(full[4], hf[-1], rtol=0, atol=0)
    for k in (1, 2, 3):
        part = hidden_states(lm, x, max_layer=k)
        assert len(part) == k + 1
        for a, b in zip(part, full, strict=False):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the LM head never runs: its logits over every position would cost GBs per batch
    head_calls = []
    handle = model.get_output_embeddings().register_forward_hook(lambda *a: head_calls.append(1))
    hidden_states(lm, x)
    handle.remove()
    assert head_calls == []
    (grad,) = torch.autograd.grad(full[2].square().sum(), x)
    gxi = (grad * x).sum(-1)
    assert torch.isfinite(gxi).all() and (gxi.abs() > 0).all()
    # the logit lens uses the model's own final norm: on the last block's raw output it gives
    # the final state, and at the final layer the readout is the model's own logits
    last = []
    handle = decoder_layers(model)[-1].register_forward_hook(
        lambda m, a, out: last.append(out[0] if isinstance(out, tuple) else out)
    )
    logits = model(inputs_embeds=x, use_cache=False).logits
    handle.remove()
    torch.testing.assert_close(final_norm(lm)(last[0]), full[4], rtol=1e-12, atol=1e-12)
    # (Mamba's head returns float32 logits)
    torch.testing.assert_close(readout_logits(lm, full, FINAL).to(logits.dtype), logits)
    lens = readout_logits(lm, full, 2)
    assert lens.shape == logits.shape and not torch.allclose(lens.to(logits.dtype), logits)


def test_bos_follows_the_tokenizer_and_is_never_a_word(tiny_model_dir, tmp_path):
    """SmolLM2's tokenizer adds no BOS; saved with add_bos_token it does, and ``auto`` follows.
    The BOS token then starts every encoded sequence, owned by no word."""
    import dataclasses
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from brainattr.models import BOS_WORD, ModelSpecError, bos_token, load_model
    from brainattr.windows import absolute_words, pooling_weights

    plain = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert bos_token(plain, "auto", "m") is None and bos_token(plain, False, "m") is None
    assert bos_token(plain, True, "m") == plain.bos_token_id
    plain.add_bos_token = True
    plain.save_pretrained(tmp_path)  # the tiny model's weights with a BOS-adding tokenizer
    for f in tiny_model_dir.iterdir():
        if not (tmp_path / f.name).exists():
            (tmp_path / f.name).symlink_to(f)
    lm = load_model({"source": "local", "path": str(tmp_path), "layers": [1]}, "cpu")
    assert lm.bos_id == plain.bos_token_id
    ids, tw = lm.encode_words(["the", "fog"])
    no_bos = dataclasses.replace(lm, bos_id=None, _cache={})
    ids0, tw0 = no_bos.encode_words(["the", "fog"])
    assert ids[0] == lm.bos_id and tw[0] == BOS_WORD
    assert ids[1:].tolist() == ids0.tolist() and tw[1:].tolist() == tw0.tolist()
    assert pooling_weights(tw, 0)[0] == 0  # read, never pooled
    assert absolute_words(tw, 10).tolist() == [BOS_WORD, *(tw0 + 10).tolist()]
    with pytest.raises(ModelSpecError, match="bos: true, but its tokenizer has no BOS token"):
        bos_token(SimpleNamespace(bos_token_id=None), True, "m")


def test_a_model_in_the_users_hugging_face_cache_is_not_downloaded_again(tmp_path, tiny_model_dir):
    from huggingface_hub import snapshot_download

    from brainattr.models import HUB_PATTERNS

    user_cache = tmp_path / "hf-home"
    with HubServer(tiny_model_dir, REPO_ID, COMMIT) as hub:
        snapshot_download(REPO_ID, cache_dir=str(user_cache), endpoint=hub.url,
                          allow_patterns=HUB_PATTERNS)  # fmt: skip
    # the hub is gone: only the user's cache can provide the model
    code = (
        "from brainattr.models import download_model\n"
        f"s = download_model({{'id': '{REPO_ID}'}}, {str(tmp_path / 'data')!r}, "
        f"{str(tmp_path / 's.json')!r}, user_cache={str(user_cache)!r})\n"
        "print(s['commit'], s['folder'])"
    )
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2"}
    env.pop("HF_HUB_OFFLINE", None)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    commit, folder = res.stdout.split()
    assert commit == COMMIT and folder.startswith(str(user_cache))
    assert not (tmp_path / "data").exists()  # nothing downloaded into the workflow's cache


def test_an_untrained_twin_has_the_architecture_and_seeded_fresh_weights(tiny_spec):
    """init: random keeps the tokenizer and architecture, replaces the trained weights by the
    architecture's own initialisation, the same for the same seed."""
    import torch

    trained = load_model(tiny_spec, "cpu")
    a = load_model({**tiny_spec, "init": "random", "init_seed": 0}, "cpu")
    b = load_model({**tiny_spec, "init": "random", "init_seed": 0}, "cpu")
    c = load_model({**tiny_spec, "init": "random", "init_seed": 1}, "cpu")
    assert a.n_layers == trained.n_layers and a.model.dtype == trained.model.dtype
    assert (
        a.encode_words(["the", "fog"])[0].tolist()
        == trained.encode_words(["the", "fog"])[0].tolist()
    )
    wa, wb, wc, wt = (dict(m.model.named_parameters()) for m in (a, b, c, trained))
    assert wa.keys() == wt.keys()
    name = next(k for k in wa if "layers.0" in k and k.endswith("weight") and wa[k].ndim == 2)
    torch.testing.assert_close(wa[name], wb[name])
    assert not torch.equal(wa[name], wc[name]) and not torch.equal(wa[name], wt[name])
    assert not any(p.requires_grad for p in a.model.parameters())  # frozen like the trained


def test_a_hub_model_shallower_than_its_layers_fails_when_loaded(tiny_spec):
    """Checked at planning for local and embedded models (tests/test_plan_checks.py); a hub
    model's depth is known once downloaded, so its first job names the key."""
    with pytest.raises(
        ModelSpecError, match=r"layer 9 requested .* has 4 layers .*models\.<name>\.layers"
    ):
        load_model({**tiny_spec, "layers": [1, 9]}, "cpu")


def test_an_unpacked_gguf_model_reads_as_the_gguf(tmp_path):
    """unpack_gguf's folder (what model jobs load) gives the GGUF's tokens, BOS and hidden
    states: the de-quantised float32 weights, saved and read back."""
    import torch

    from brainattr.models import hidden_states, unpack_gguf

    from .conftest import SMOLLM2

    record = unpack_gguf(SMOLLM2, tmp_path / "weights", tmp_path / "unpacked.json")
    assert record["gguf"].endswith(SMOLLM2["gguf_file"])
    assert json.loads((tmp_path / "unpacked.json").read_text()) == record
    direct = load_model(SMOLLM2, "cpu")
    unpacked = load_model({**SMOLLM2, "snapshot": str(tmp_path / "unpacked.json")}, "cpu")
    words = "Marta walked to the harbour at Saltmere before dawn , humming .".split()
    (ids, owner), (ids_u, owner_u) = direct.encode_words(words), unpacked.encode_words(words)
    assert ids.tolist() == ids_u.tolist() and owner.tolist() == owner_u.tolist()
    assert unpacked.bos_id == direct.bos_id and unpacked.n_layers == direct.n_layers == 30
    with torch.no_grad():
        a = hidden_states(direct, direct.embed(ids)[None])
        b = hidden_states(unpacked, unpacked.embed(ids_u)[None])
    for layer in (0, 4, 15, 30):
        torch.testing.assert_close(b[layer], a[layer], rtol=0, atol=0)
