"""Next-word prediction (NWP) attribution.

NWP target for TR t: mean cross-entropy of the tokens of the first word after TR t-1, given
the words from the start of W_{t-4} to the end of TR t-1 (the BA span). :func:`nwp_word_scores`
is the literal loss, one sequence at a time; :func:`nwp_scores_batched` runs many
(target, IG step) sequences as one right-padded batch: the sequences do not interact, so the
gradient of the sum of their losses is each one's own gradient (equal; tested).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from brainattr.attribution.core import (
    ig_scales,
    input_attributions,
    next_word_cross_entropy,
    next_word_loss,
    next_word_positions,
    scatter_words,
    token_scores,
)
from brainattr.models import LoadedModel, hidden_states, lm_logits, pad_batch
from brainattr.targets import Target
from brainattr.windows import absolute_words, batches

log = logging.getLogger(__name__)


def nwp_inputs(
    lm: LoadedModel, words: list[str], target: Target
) -> tuple[torch.Tensor, np.ndarray]:
    """Token ids of span + next word, and each token's absolute word index."""
    ids, tw = lm.encode_words(words[target.span_start : target.next_word + 1])
    return ids, absolute_words(tw, target.span_start)


def nwp_loss(
    lm: LoadedModel, embeds: torch.Tensor, ids: torch.Tensor, token_word: np.ndarray, next_word: int
) -> torch.Tensor:
    """Mean cross-entropy of the next word's tokens under teacher forcing."""
    logits = lm.model(inputs_embeds=embeds[None], use_cache=False).logits[0]
    return next_word_cross_entropy(logits, ids, token_word, next_word)


def nwp_word_scores(
    lm: LoadedModel, words: list[str], target: Target, method: str = "gxi", steps: int = 20
) -> np.ndarray:
    """NWP word scores over the target's span (the next word's own tokens excluded)."""
    ids, tw = nwp_inputs(lm, words, target)
    attrs = input_attributions(
        lambda xs: [nwp_loss(lm, xs[0], ids, tw, target.next_word)],
        [lm.embed(ids)],
        method,
        steps,
    )
    return scatter_words(target.span_start, target.span_stop, [tw], attrs[0])


class _Sequence:
    """One NWP input sequence at one IG scale (``n_tokens`` for :func:`batches`)."""

    def __init__(self, target: int, scale: float, ids: torch.Tensor, token_word: np.ndarray):
        self.target, self.scale, self.ids, self.token_word = target, scale, ids, token_word
        self.n_tokens = int(ids.shape[0])


def nwp_scores_batched(
    lm: LoadedModel,
    words: list[str],
    targets: list[Target],
    method: str = "gxi",
    steps: int = 20,
    batch_tokens: int = 8192,
) -> list[np.ndarray]:
    """NWP word scores of every target, many (target, IG step) sequences per forward pass.

    Equal to :func:`nwp_word_scores` target by target (tested).

    Parameters
    ----------
    lm : LoadedModel
    words : list of str
    targets : list of Target
    method : {"gxi", "ig"}
    steps : int
        IG steps (midpoint rule, zero baseline).
    batch_tokens : int
        Padded tokens per forward/backward batch (memory).

    Returns
    -------
    scores : list (per target) of arrays of shape (n_span_words,)
    """
    scales = ig_scales(method, steps)
    inputs = [nwp_inputs(lm, words, t) for t in targets]
    embeds = [lm.embed(ids) for ids, _ in inputs]
    seqs = [_Sequence(i, a, *inputs[i]) for i in range(len(targets)) for a in scales]
    grad_sum = [torch.zeros_like(e) for e in embeds]
    done = 0
    for batch in batches(seqs, batch_tokens):
        chunk = [seqs[k] for k in batch]
        x, mask = pad_batch([embeds[q.target] * q.scale for q in chunk])
        x.requires_grad_(True)
        final = hidden_states(lm, x, mask)[-1]  # the LM head's input, (batch, n, H)
        loss = 0.0
        for b, q in enumerate(chunk):
            # logits only where the next word's tokens are predicted: the head over every
            # position of a batch would dominate time and memory (vocabularies are large)
            pos = next_word_positions(q.token_word, targets[q.target].next_word)
            logits = lm_logits(lm, final[b, pos - 1])
            loss = loss + next_word_loss(logits, q.ids.to(logits.device)[pos])
        (g,) = torch.autograd.grad(loss, x)
        for b, q in enumerate(chunk):
            grad_sum[q.target] += g[b, : q.n_tokens]
        done += len(chunk)
        log.info("NWP engine: %d/%d sequences", done, len(seqs))
    out = []
    for t, (_, tw), e, g in zip(targets, inputs, embeds, grad_sum, strict=True):
        tok = token_scores(e, g, len(scales))
        out.append(scatter_words(t.span_start, t.span_stop, [tw], [tok]))
    return out
