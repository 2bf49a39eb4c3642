"""The per-target engine: the four delay windows once per target, one backward pass per head.

The plain reference: BA target t runs its windows W_{t-1..t-D} as one batch and takes one
gradient per (subject x layer) head of its loss; IG runs its steps as batches of scaled copies
of the windows. NWP runs the target's span and next word once (GXI) or its IG steps as one
batch (:mod:`brainattr.attribution.nwp`).
"""

from __future__ import annotations

import numpy as np
import torch

from brainattr.attribution.core import (
    ba_loss,
    ig_scales,
    input_attributions,
    scatter_words,
    token_scores,
)
from brainattr.attribution.nwp import nwp_scores_batched, nwp_word_scores
from brainattr.models import LoadedModel
from brainattr.progress import Progress
from brainattr.readout import BAHead, ba_predictions, readout
from brainattr.targets import Target
from brainattr.windows import StoryWindows, Window, pooled_states_by_layer


def ba_word_scores(
    lm: LoadedModel,
    windows: StoryWindows,
    target: Target,
    heads: list[BAHead],
    method: str = "gxi",
    steps: int = 20,
    batch_tokens: int | None = None,
) -> list[np.ndarray]:
    """BA word scores over the target's span, one array (n_span_words,) per head.

    IG runs its steps as batches of scaled copies of the four windows, as many steps per
    forward pass as ``batch_tokens`` padded tokens allow (None: all steps in one pass), with
    one backward pass per head and batch (:func:`ba_ig_batched`)."""
    delay = windows.delay_windows(lm, target.delay_trs)
    present = [w for w in delay if w is not None]
    layers = sorted({h.layer for h in heads})
    embeds = [lm.embed(w.ids) for w in present]
    token_words = [w.token_word_abs for w in present]
    if method == "ig":
        attrs = ba_ig_batched(lm, delay, heads, layers, embeds, steps, batch_tokens)
    else:

        def losses(xs: list[torch.Tensor]) -> list[torch.Tensor]:
            preds = ba_predictions(lm, delay, heads, layers, xs)
            return [ba_loss(p, h.y) for p, h in zip(preds, heads, strict=True)]

        attrs = input_attributions(losses, embeds, method, steps)
    return [scatter_words(target.span_start, target.span_stop, token_words, a) for a in attrs]


def ba_ig_batched(
    lm: LoadedModel,
    windows: list[Window | None],
    heads: list[BAHead],
    layers: list[int],
    embeds: list[torch.Tensor],
    steps: int,
    batch_tokens: int | None = None,
) -> list[list[np.ndarray]]:
    """Integrated Gradients of every head's BA loss, IG steps batched.

    The scaled copies a x of the present windows run as one right-padded batch; the gradient
    of the sum over a batch's steps of a head's loss gives each step's own gradient (the
    copies do not interact), so one backward pass per head and batch serves all its steps.
    Equal to :func:`brainattr.attribution.core.input_attributions` (tested).

    Parameters
    ----------
    windows : list of Window or None (per delay)
    heads : list of BAHead
    layers : sorted layers of the heads
    embeds : list of tensors (n_tokens_i, hidden), one per present window
    steps : int
    batch_tokens : int or None
        Padded tokens per forward pass; None = every step in one pass.

    Returns
    -------
    attributions : list (per head) of lists (per present window) of arrays (n_tokens_i,)
    """
    present = [w for w in windows if w is not None]
    n_p = len(present)
    per_step = max(w.n_tokens for w in present) * n_p
    k = steps if batch_tokens is None else max(1, min(steps, batch_tokens // per_step))
    scales = ig_scales("ig", steps)
    grad_sum = [[torch.zeros_like(x) for x in embeds] for _ in heads]
    for lo in range(0, steps, k):
        chunk = scales[lo : lo + k]
        xs = [(x.detach() * float(a)).requires_grad_(True) for a in chunk for x in embeds]
        by_layer = pooled_states_by_layer(lm, present * len(chunk), layers, xs)
        for j, h in enumerate(heads):
            states = by_layer[layers.index(h.layer)]
            loss = sum(
                ba_loss(readout(windows, states[c * n_p : (c + 1) * n_p], h), h.y)
                for c in range(len(chunk))
            )
            grads = torch.autograd.grad(loss, xs, retain_graph=j < len(heads) - 1)
            for c in range(len(chunk)):
                for i in range(n_p):
                    grad_sum[j][i] += grads[c * n_p + i]
    return [
        [token_scores(x, g, steps) for x, g in zip(embeds, per, strict=True)] for per in grad_sum
    ]


class PerTargetEngine:
    """Engine ``per_target`` (see the module docstring)."""

    name = "per_target"

    def ba(self, lm, windows, targets, heads, method, steps, batch_tokens, vjp_batch):
        out = []
        with Progress(len(targets), f"BA {method}", "target") as bar:
            for t, hs in zip(targets, heads, strict=True):
                out.append(ba_word_scores(lm, windows, t, hs, method, steps, batch_tokens))
                bar.update()
        return out

    def nwp(self, lm, words, targets, method, steps, batch_tokens, readouts):
        out = []
        with Progress(len(targets), f"NWP {method}", "target") as bar:
            for t in targets:
                if method == "ig":  # the target's IG steps batched
                    out += nwp_scores_batched(lm, words, [t], method, steps, batch_tokens,
                                              readouts)  # fmt: skip
                else:
                    out.append(nwp_word_scores(lm, words, t, method, steps, readouts))
                bar.update()
        return out
