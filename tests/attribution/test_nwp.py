import dataclasses

import numpy as np
import pytest
import torch

from brainattr.attribution.nwp import nwp_scores_batched, nwp_word_scores
from brainattr.models import FINAL

from .toy import WORDS, overlapping_targets, target_6


@pytest.mark.parametrize("bos", [False, True])
def test_nwp_gxi_equals_naive_autograd(tiny_lm, bos):
    """Also with a BOS token first: its gradient reaches no word."""
    if bos:
        tiny_lm = dataclasses.replace(tiny_lm, bos_id=tiny_lm.tokenizer.bos_token_id, _cache={})
    tgt = target_6()
    got = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")[0]
    ids = [] if tiny_lm.bos_id is None else [tiny_lm.bos_id]
    owner = [] if tiny_lm.bos_id is None else [-1]
    for i in range(tgt.span_start, tgt.next_word + 1):
        t = tiny_lm.tokenizer(" " + WORDS[i], add_special_tokens=False)["input_ids"]
        ids += t
        owner += [i] * len(t)
    owner = np.array(owner)
    x = tiny_lm.model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    logits = tiny_lm.model(inputs_embeds=x).logits[0]
    pos = np.flatnonzero(owner == tgt.next_word)
    loss = torch.stack(
        [torch.nn.functional.cross_entropy(logits[p - 1], torch.tensor(ids[p])) for p in pos]
    ).mean()
    (g,) = torch.autograd.grad(loss, x)
    tok = (x * g).sum(-1)[0].detach().numpy()
    ref = np.zeros(len(WORDS))
    np.add.at(ref, owner[owner >= 0], tok[owner >= 0])
    ref = ref[tgt.span_start : tgt.span_stop]
    # the cross-entropy is taken in float32 (core.next_word_loss), the reference in float64
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_ig_scores_differ_from_gxi_but_share_the_span(tiny_lm):
    tgt = target_6()
    gxi = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")[0]
    ig = nwp_word_scores(tiny_lm, WORDS, tgt, "ig", steps=4)[0]
    assert gxi.shape == ig.shape and not np.allclose(gxi, ig)


@pytest.mark.parametrize("method", ["gxi", "ig"])
@pytest.mark.parametrize("batch_tokens", [10_000, 60])
@pytest.mark.parametrize("bos", [False, True])
def test_batched_nwp_equals_one_target_at_a_time(tiny_lm, method, batch_tokens, bos):
    """Targets of different lengths (padding) and IG steps share batches exactly."""
    if bos:
        tiny_lm = dataclasses.replace(tiny_lm, bos_id=tiny_lm.tokenizer.bos_token_id, _cache={})
    targets = overlapping_targets()
    readouts = (FINAL, 1, 3)
    fast = nwp_scores_batched(tiny_lm, WORDS, targets, method, 4, batch_tokens, readouts)
    for t, f in zip(targets, fast, strict=True):
        ref = nwp_word_scores(tiny_lm, WORDS, t, method, 4, readouts)
        assert f.shape == ref.shape == (3, t.span_stop - t.span_start)
        np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("layer", [1, 2])
def test_logit_lens_nwp_equals_naive_autograd(tiny_lm, layer):
    """NWP read at a layer: the model's own final norm and head on that layer's hidden state
    (transformers' ``hidden_states[layer]``), the literal loss differentiated by autograd."""
    tgt = target_6()
    got = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi", readouts=(FINAL, layer))
    ids, owner = [], []
    for i in range(tgt.span_start, tgt.next_word + 1):
        t = tiny_lm.tokenizer(" " + WORDS[i], add_special_tokens=False)["input_ids"]
        ids += t
        owner += [i] * len(t)
    owner = np.array(owner)
    model = tiny_lm.model
    x = model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    h = model(inputs_embeds=x, output_hidden_states=True).hidden_states[layer][0]
    logits = model.lm_head(model.model.norm(h))
    pos = np.flatnonzero(owner == tgt.next_word)
    loss = torch.nn.functional.cross_entropy(logits[pos - 1], torch.tensor(ids)[pos])
    (g,) = torch.autograd.grad(loss, x)
    tok = (x * g).sum(-1)[0].detach().numpy()
    ref = np.zeros(len(WORDS))
    np.add.at(ref, owner, tok)
    ref = ref[tgt.span_start : tgt.span_stop]
    assert tiny_lm.model.dtype == torch.float64
    np.testing.assert_allclose(got[1], ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    # the layer's readout is its own: not the final readout's scores
    assert not np.allclose(got[0], got[1], rtol=1e-3)


def test_logit_lens_at_the_last_layer_is_the_final_readout(tiny_lm):
    tgt = target_6()
    n = tiny_lm.n_layers
    got = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi", readouts=(FINAL, n))
    np.testing.assert_array_equal(got[0], got[1])
