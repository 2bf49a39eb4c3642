"""brainattr.shapes: the paper's models as random-initialised shapes, built without download."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainattr.errors import ModelSpecError
from brainattr.models import hidden_states, load_model, pad_batch
from brainattr.shapes import PAPER_SHAPES, ShapeTokenizer, shape_config, shape_depth

# parameter counts the model cards / hub pages give for the real models
PUBLISHED_PARAMETERS = {
    "gemma-2b": 2_506_172_416,
    "llama-3.2-1b": 1_235_814_400,
    "qwen2-1.5b": 1_543_714_304,
    "mamba-1.4b": 1_372_178_432,
}


@pytest.mark.parametrize("name", sorted(PAPER_SHAPES))
def test_full_shapes_have_the_real_models_size(name):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):  # no memory: shapes only
        model = AutoModelForCausalLM.from_config(shape_config(name))
    n = sum(p.numel() for p in model.parameters())
    if name in PUBLISHED_PARAMETERS:
        assert n == PUBLISHED_PARAMETERS[name]
    else:  # Falcon3-1B (1.67B with its untied head) and Zamba2-1.2B: the names' sizes
        assert {"falcon3-1b": 1.67e9, "zamba2-1.2b": 1.2e9}[name] == pytest.approx(n, rel=0.02)
    assert model.config.num_hidden_layers == shape_depth({"shape": name})


def test_shape_model_loads_and_reads_hidden_states():
    spec = {"source": "shape", "shape": "llama-3.2-1b", "shape_layers": 2, "layers": [1, 2],
            "init_seed": 3}  # fmt: skip
    lm = load_model(spec, "cpu")
    assert lm.n_layers == 2 and lm.bos_id == 128000  # Llama-3.2's tokenizer adds BOS
    ids, owner = lm.encode_words(["Harry", "looked", "up."])
    assert ids[0] == 128000 and owner[0] == -1 and (owner[1:] >= 0).all()
    x, mask = pad_batch([lm.embed(ids)])
    hs = hidden_states(lm, x, mask, max_layer=2)
    assert hs[2].shape == (1, len(ids), 2048)
    # seeded: the same weights again
    again = load_model(spec, "cpu")
    first = next(lm.model.parameters())
    assert torch.equal(first, next(again.model.parameters()))


def test_stand_in_tokenizer_is_deterministic_with_realistic_token_counts():
    tok = ShapeTokenizer(50280, None)
    words = "the boy who lived had never been so surprised in his whole life".split()
    ids = [tok(" " + w, add_special_tokens=False)["input_ids"] for w in words]
    assert ids == [tok(" " + w, add_special_tokens=False)["input_ids"] for w in words]
    assert all(10 <= i < 50280 for t in ids for i in t)
    assert 1.0 <= np.mean([len(t) for t in ids]) <= 1.5
    assert tok("a", add_special_tokens=True)["input_ids"][0] != 0  # no BOS: none added


def test_unknown_shape_names_the_key():
    with pytest.raises(ModelSpecError, match=r"models\.<name>\.shape"):
        shape_config("gpt-5")
