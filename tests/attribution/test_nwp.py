import numpy as np
import pytest
import torch

from brainattr.attribution.nwp import nwp_scores_batched, nwp_word_scores

from .toy import WORDS, overlapping_targets, target_6


def test_nwp_gxi_equals_naive_autograd(tiny_lm):
    tgt = target_6()
    got = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")
    ids, owner = [], []
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
    np.add.at(ref, owner, tok)
    np.testing.assert_allclose(got, ref[tgt.span_start : tgt.span_stop], rtol=1e-6)


def test_ig_scores_differ_from_gxi_but_share_the_span(tiny_lm):
    tgt = target_6()
    gxi = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")
    ig = nwp_word_scores(tiny_lm, WORDS, tgt, "ig", steps=4)
    assert gxi.shape == ig.shape and not np.allclose(gxi, ig)


@pytest.mark.parametrize("method", ["gxi", "ig"])
@pytest.mark.parametrize("batch_tokens", [10_000, 60])
def test_batched_nwp_equals_one_target_at_a_time(tiny_lm, method, batch_tokens):
    """Targets of different lengths (padding) and IG steps share batches exactly."""
    targets = overlapping_targets()
    fast = nwp_scores_batched(tiny_lm, WORDS, targets, method, 4, batch_tokens)
    for t, f in zip(targets, fast, strict=True):
        ref = nwp_word_scores(tiny_lm, WORDS, t, method, 4)
        assert f.shape == ref.shape
        np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
