import dataclasses

import numpy as np
import pytest
import torch

from brainattr.attribution.per_target import ba_word_scores
from brainattr.dataset import tr_word_ranges
from brainattr.readout import BAHead

from .toy import CONTEXT, WORD_TR, WORDS, story_windows, target_6


def _naive_ba(lm, target, layer, weights, intercept, y, scale=1.0):
    """The literal loss for one target and one subject, built from scratch; its gradient at
    the embeddings scaled by ``scale``, times the unscaled embeddings, summed per word (a BOS
    token, where the model takes one, starts each window and belongs to no word)."""
    emb = lm.model.get_input_embeddings()
    first, stop = tr_word_ranges(WORD_TR, 8)
    leaves, owners, preds = [], [], []
    for s in target.delay_trs:
        start = max(0, first[s] - CONTEXT)
        ids = [] if lm.bos_id is None else [lm.bos_id]
        owner = [] if lm.bos_id is None else [-1]
        for i in range(start, stop[s]):
            t = lm.tokenizer(" " + WORDS[i], add_special_tokens=False)["input_ids"]
            ids += t
            owner += [i] * len(t)
        x = (emb(torch.tensor([ids])) * scale).detach().requires_grad_(True)
        hs = lm.model(inputs_embeds=x, output_hidden_states=True).hidden_states[layer][0]
        owner = np.array(owner)
        word_states = [hs[owner == i].mean(0) for i in range(first[s], stop[s])]
        preds.append(torch.stack(word_states).mean(0))
        leaves.append(x)
        owners.append(owner)
    y_hat = torch.cat(preds) @ weights + intercept
    loss = ((y_hat - y) ** 2).mean()
    grads = torch.autograd.grad(loss, leaves)
    scores = np.zeros(len(WORDS))
    for x, g, owner in zip(leaves, grads, owners, strict=True):
        word = owner >= 0
        np.add.at(scores, owner[word], (x / scale * g).sum(-1)[0].detach().numpy()[word])
    return scores[target.span_start : target.span_stop]


@pytest.mark.parametrize("bos", [False, True])
def test_ba_gxi_equals_naive_autograd(tiny_lm, bos):
    """Also with a BOS token at the start of every window: read, never pooled, never scored."""
    if bos:
        tiny_lm = dataclasses.replace(tiny_lm, bos_id=tiny_lm.tokenizer.bos_token_id, _cache={})
    rng = np.random.default_rng(0)
    h = tiny_lm.embedding.weight.shape[1]
    heads = []
    for layer in (1, 3):
        heads.append(
            BAHead(
                "s1",
                layer,
                torch.tensor(rng.standard_normal((4 * h, 6))),
                torch.tensor(rng.standard_normal(6)),
                torch.tensor(rng.standard_normal(6)),
            )
        )
    tgt = target_6()
    fast = ba_word_scores(tiny_lm, story_windows(), tgt, heads, "gxi")
    for head, got in zip(heads, fast, strict=True):
        ref = _naive_ba(tiny_lm, tgt, head.layer, head.weights, head.intercept, head.y)
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("batch_tokens", [None, 1])  # all steps in one pass; one step per pass
def test_ba_ig_with_batched_steps_equals_naive_autograd(tiny_lm, batch_tokens):
    rng = np.random.default_rng(1)
    h = tiny_lm.embedding.weight.shape[1]
    heads = [
        BAHead("s1", layer, *(torch.tensor(rng.standard_normal(sh)) for sh in ((4 * h, 5), 5, 5)))
        for layer in (2, 3)
    ]
    tgt, steps = target_6(), 4
    got = ba_word_scores(tiny_lm, story_windows(), tgt, heads, "ig", steps, batch_tokens)
    for head, scores in zip(heads, got, strict=True):
        ref = np.mean(
            [
                _naive_ba(tiny_lm, tgt, head.layer, head.weights, head.intercept, head.y, a)
                for a in (np.arange(steps) + 0.5) / steps
            ],
            axis=0,
        )
        np.testing.assert_allclose(scores, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())
