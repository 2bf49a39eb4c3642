"""Next-word prediction (NWP) attribution.

NWP target for TR t: mean cross-entropy of the tokens of the first word after TR t-1, given
the words from the start of W_{t-4} to the end of TR t-1 (the BA span), read at one or more
``readouts``: :data:`brainattr.models.FINAL` (the model's output, the paper's NWP) or a layer l
(the logit lens, :func:`brainattr.models.readout_logits`), each attributed separately from one
shared forward pass. :func:`nwp_word_scores` is the literal loss, one sequence at a time;
:func:`nwp_scores_batched` runs many (target, IG step) sequences as one right-padded batch: the
sequences do not interact, so the gradient of the sum of their losses is each one's own
gradient (equal; tested).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from brainattr.attribution.core import (
    ig_scales,
    input_attributions,
    next_word_loss,
    next_word_positions,
    scatter_words,
    token_scores,
)
from brainattr.models import FINAL, LoadedModel, hidden_states, pad_batch, readout_logits
from brainattr.targets import Target
from brainattr.windows import absolute_words, batches

log = logging.getLogger(__name__)


def nwp_inputs(
    lm: LoadedModel, words: list[str], target: Target
) -> tuple[torch.Tensor, np.ndarray]:
    """Token ids of span + next word, and each token's absolute word index."""
    ids, tw = lm.encode_words(words[target.span_start : target.next_word + 1])
    return ids, absolute_words(tw, target.span_start)


def deepest_layer(lm: LoadedModel, readouts: Sequence[int]) -> int:
    """The deepest hidden state the readouts need (the forward pass stops there)."""
    return lm.n_layers if FINAL in readouts else max(readouts)


def nwp_losses(
    lm: LoadedModel,
    embeds: torch.Tensor,
    ids: torch.Tensor,
    token_word: np.ndarray,
    next_word: int,
    readouts: Sequence[int] = (FINAL,),
) -> list[torch.Tensor]:
    """Mean cross-entropy of the next word's tokens under teacher forcing, per readout."""
    states = [h[0] for h in hidden_states(lm, embeds[None], None, deepest_layer(lm, readouts))]
    pos = next_word_positions(token_word, next_word)
    target_ids = ids.to(embeds.device)[pos]
    return [next_word_loss(readout_logits(lm, states, r, (pos - 1,)), target_ids)
            for r in readouts]  # fmt: skip


def nwp_word_scores(
    lm: LoadedModel,
    words: list[str],
    target: Target,
    method: str = "gxi",
    steps: int = 20,
    readouts: Sequence[int] = (FINAL,),
) -> np.ndarray:
    """NWP word scores over the target's span (the next word's own tokens excluded).

    Returns
    -------
    scores : array of shape (n_readouts, n_span_words)
    """
    ids, tw = nwp_inputs(lm, words, target)
    attrs = input_attributions(
        lambda xs: nwp_losses(lm, xs[0], ids, tw, target.next_word, readouts),
        [lm.embed(ids)],
        method,
        steps,
    )
    return np.stack([scatter_words(target.span_start, target.span_stop, [tw], a) for a in attrs])


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
    readouts: Sequence[int] = (FINAL,),
) -> list[np.ndarray]:
    """NWP word scores of every target, many (target, IG step) sequences per forward pass.

    Equal to :func:`nwp_word_scores` target by target (tested). The readouts share each
    batch's forward pass; each takes its own backward pass.

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
    readouts : sequence of int
        :data:`brainattr.models.FINAL` and/or layers (logit lens).

    Returns
    -------
    scores : list (per target) of arrays of shape (n_readouts, n_span_words)
    """
    scales = ig_scales(method, steps)
    inputs = [nwp_inputs(lm, words, t) for t in targets]
    embeds = [lm.embed(ids) for ids, _ in inputs]
    seqs = [_Sequence(i, a, *inputs[i]) for i in range(len(targets)) for a in scales]
    grad_sum = [[torch.zeros_like(e) for e in embeds] for _ in readouts]
    deepest = deepest_layer(lm, readouts)
    done = 0
    for batch in batches(seqs, batch_tokens):
        chunk = [seqs[k] for k in batch]
        x, mask = pad_batch([embeds[q.target] * q.scale for q in chunk])
        x.requires_grad_(True)
        states = hidden_states(lm, x, mask, deepest)
        positions = [next_word_positions(q.token_word, targets[q.target].next_word) for q in chunk]
        for r, readout in enumerate(readouts):
            loss = 0.0
            for b, (q, pos) in enumerate(zip(chunk, positions, strict=True)):
                logits = readout_logits(lm, states, readout, (b, pos - 1))
                loss = loss + next_word_loss(logits, q.ids.to(logits.device)[pos])
            (g,) = torch.autograd.grad(loss, x, retain_graph=r < len(readouts) - 1)
            for b, q in enumerate(chunk):
                grad_sum[r][q.target] += g[b, : q.n_tokens]
        done += len(chunk)
        log.info("NWP engine: %d/%d sequences", done, len(seqs))
    out = []
    for i, (t, (_, tw), e) in enumerate(zip(targets, inputs, embeds, strict=True)):
        per_readout = [token_scores(e, g[i], len(scales)) for g in grad_sum]
        out.append(np.stack([scatter_words(t.span_start, t.span_stop, [tw], [tok])
                             for tok in per_readout]))  # fmt: skip
    return out
