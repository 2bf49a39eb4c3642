"""The paper's six models as shapes: random-initialised models built in code, no download.

For rehearsing the paper's run and timing its GPU path where the real weights cannot be
fetched: each shape is the model's own ``config.json`` architecture (layer count, widths,
heads, vocabulary; the values and where they were read are in :data:`PAPER_SHAPES`), built
with transformers' ``from_config`` and the architecture's own initialiser, seeded. Costs
(FLOPs, memory, time) equal the real model's; the values it computes mean nothing.

The tokenizer is a stand-in (:class:`ShapeTokenizer`): a deterministic hash of each word into
the model's vocabulary, one token per started ``chars_per_token`` characters (default 5, about
1.2 tokens per English word, close to these models' BPE), so token counts, and with them costs,
are realistic.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from brainattr.errors import ModelSpecError

if TYPE_CHECKING:  # Snakemake imports this module to plan: torch costs seconds there
    import torch

# config.json values of each model (model_type first); shapes only, no weights. Read from
# copies of each config.json and the model cards (Gemma, Qwen2: the configs; Llama-3.2: its
# Instruct sibling's; Falcon3 (a Llama), Mamba, Zamba2: cards and configs of their builders;
# Zamba2 from a trace of transformers on its config). Left out: what does not change a shape
# (Llama-3.2's rope scaling, exact activations).
PAPER_SHAPES: dict[str, dict] = {
    # tiiuae/Falcon3-1B-Base (a Llama architecture)
    "falcon3-1b": dict(
        model_type="llama", vocab_size=131072, hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=4, head_dim=256,
        tie_word_embeddings=False, max_position_embeddings=4096, rope_theta=1000042.0,
        rms_norm_eps=1e-6, bos_token_id=11, eos_token_id=11,
    ),
    # google/gemma-2b
    "gemma-2b": dict(
        model_type="gemma", vocab_size=256000, hidden_size=2048, intermediate_size=16384,
        num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=1, head_dim=256,
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
        max_position_embeddings=8192, rope_theta=10000.0, rms_norm_eps=1e-6,
        bos_token_id=2, eos_token_id=1, pad_token_id=0,
    ),
    # meta-llama/Llama-3.2-1B
    "llama-3.2-1b": dict(
        model_type="llama", vocab_size=128256, hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
        tie_word_embeddings=True, max_position_embeddings=131072, rope_theta=500000.0,
        rms_norm_eps=1e-5, bos_token_id=128000, eos_token_id=128001,
    ),
    # state-spaces/mamba-1.4b-hf
    "mamba-1.4b": dict(
        model_type="mamba", vocab_size=50280, hidden_size=2048, state_size=16,
        num_hidden_layers=48, expand=2, conv_kernel=4, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    ),
    # Zyphra/Zamba2-1.2B: 32 Mamba2 blocks and 6 hybrid ones (shared attention with LoRA
    # adapters); Zamba2Config derives mamba_headdim (64) from n_mamba_heads
    "zamba2-1.2b": dict(
        model_type="zamba2", vocab_size=32000, hidden_size=2048, num_hidden_layers=38,
        layers_block_type=["hybrid" if i in (5, 11, 17, 23, 29, 35) else "mamba"
                           for i in range(38)],
        num_attention_heads=32, num_key_value_heads=32, mamba_d_state=128, n_mamba_heads=64,
        mamba_ngroups=1, num_mem_blocks=1, use_shared_attention_adapter=True,
        use_shared_mlp_adapter=True, adapter_rank=128, use_mem_rope=True,
        max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    ),
    # Qwen/Qwen2-1.5B
    "qwen2-1.5b": dict(
        model_type="qwen2", vocab_size=151936, hidden_size=1536, intermediate_size=8960,
        num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
        tie_word_embeddings=True, max_position_embeddings=131072, rope_theta=1000000.0,
        rms_norm_eps=1e-6, bos_token_id=151643, eos_token_id=151643,
    ),
}  # fmt: skip
# whose tokenizer starts every sequence with BOS by default (bos: auto follows it)
ADDS_BOS = {"gemma-2b", "llama-3.2-1b"}


class ShapeTokenizer:
    """A stand-in tokenizer: each word hashed into ``vocab_size`` ids, one per started
    ``chars_per_token`` characters. Deterministic (crc32), so every job tokenizes alike."""

    def __init__(self, vocab_size: int, bos_token_id: int | None, chars_per_token: int = 5):
        self.vocab_size = vocab_size
        self.bos_token_id = bos_token_id
        self.chars_per_token = chars_per_token

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        ids = [] if not add_special_tokens or self.bos_token_id is None else [self.bos_token_id]
        for word in text.split():
            for k in range(0, len(word), self.chars_per_token):
                piece = f"{k}:{word}".encode()
                # ids 0..9 left free for special tokens
                ids.append(10 + zlib.crc32(piece) % (self.vocab_size - 10))
        return {"input_ids": ids}


def shape_config(name: str, **overrides):
    """The transformers config of a paper shape (``overrides``: e.g. fewer layers in a test)."""
    from transformers import AutoConfig

    if name not in PAPER_SHAPES:
        raise ModelSpecError(
            f"unknown shape {name!r} (config key models.<name>.shape); "
            f"known: {sorted(PAPER_SHAPES)}"
        )
    values = {**PAPER_SHAPES[name], **overrides}
    if "layers_block_type" in values:  # a hybrid's block schedule, cut to the kept blocks
        values["layers_block_type"] = values["layers_block_type"][: values["num_hidden_layers"]]
    return AutoConfig.for_model(values.pop("model_type"), **values)


def shape_model(spec: dict, dtype: torch.dtype, seed: int):
    """(model, tokenizer) of a ``source: shape`` model entry, weights seeded by ``seed``.

    ``spec["shape"]`` names the paper model; ``spec["shape_layers"]`` (optional) keeps only
    the first blocks, for a smoke scale.
    """
    import torch
    from transformers import AutoModelForCausalLM

    overrides = {}
    if spec.get("shape_layers"):
        overrides["num_hidden_layers"] = int(spec["shape_layers"])
    config = shape_config(spec["shape"], **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    bos = config.bos_token_id if spec["shape"] in ADDS_BOS else None
    return model, ShapeTokenizer(config.vocab_size, bos)


def shape_depth(spec: dict) -> int:
    """Number of blocks of a shape entry, without building it."""
    return int(spec.get("shape_layers") or PAPER_SHAPES[spec["shape"]]["num_hidden_layers"])
