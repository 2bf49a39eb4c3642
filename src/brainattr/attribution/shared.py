"""The shared engine: exact BA attribution with one forward pass per window for all targets.

The BA loss of target t and head h (subject x layer) is
    L_{t,h} = mean_v (sum_d W_d^T e_{t-d} + b - y_t)^2,
linear in the pooled window states e_s. Its gradient with respect to the embeddings of window
s = t-d is the vector-Jacobian product of e_s with the cotangent (2/V) W_d (y_hat - y_t). So:

1. one batched pass without gradients gives every window's pooled states (all layers);
2. they give every prediction y_hat_{t,h} and hence every cotangent;
3. one forward pass with gradients per window, and one batched VJP over all cotangents that
   reach it (``is_grads_batched``), give every (target, head) token gradient at once.

The result equals plain autograd of each literal loss (tests/attribution/test_shared.py).
Integrated Gradients repeats 1-3 at each step, on the scaled embeddings of all windows.
NWP losses are independent sequences: they run batched (:func:`nwp_scores_batched`).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch

from brainattr.attribution.core import ig_scales, scatter_words, token_scores
from brainattr.attribution.nwp import nwp_scores_batched
from brainattr.models import LoadedModel
from brainattr.readout import BAHead
from brainattr.targets import Target
from brainattr.windows import StoryWindows, batches, pooled_states, pooled_states_by_layer

log = logging.getLogger(__name__)


def ba_scores_shared(
    lm: LoadedModel,
    windows: StoryWindows,
    targets: list[Target],
    heads: list[list[BAHead]],
    method: str = "gxi",
    steps: int = 20,
    batch_tokens: int = 8192,
    vjp_batch: int = 64,
) -> list[list[np.ndarray]]:
    """BA word scores of every target and head, sharing passes across them.

    Parameters
    ----------
    lm : LoadedModel
    windows : StoryWindows
        The story's windows at the run's context length.
    targets : list of Target
    heads : list (per target) of lists of BAHead
        Every target's heads, of the same (subject, layer) in the same order
        (:meth:`brainattr.readout.Readouts.heads`).
    method : {"gxi", "ig"}
    steps : int
        IG steps (midpoint rule, zero baseline).
    batch_tokens : int
        Padded tokens per no-gradient forward batch.
    vjp_batch : int
        Cotangents per batched vector-Jacobian product (memory).

    Returns
    -------
    scores : list (per target) of lists (per head) of arrays of shape (n_span_words,)
    """
    scales = ig_scales(method, steps)
    trs = sorted({s for t in targets for s in t.delay_trs if s is not None})
    by_tr = {s: windows.window(lm, s) for s in trs}
    layers = sorted({h.layer for h in heads[0]})
    dtype = lm.embedding.weight.dtype
    embeds = {s: lm.embed(w.ids) for s, w in by_tr.items()}
    # word scores accumulate as soon as each VJP is done: token gradients are never stored
    scores = [[np.zeros(t.n_span_words) for _ in hs] for t, hs in zip(targets, heads, strict=True)]
    for a in scales:
        states = _all_states(lm, by_tr, embeds, layers, a, batch_tokens)
        cotangents = _cotangents(targets, heads, states, layers, dtype)
        for n, s in enumerate(trs):
            todo = cotangents.get(s, [])
            if not todo:
                continue
            w = by_tr[s]
            x = (embeds[s] * a).requires_grad_(True)
            # per layer: a VJP from layer l then runs through blocks 1..l only
            e = [st[0] for st in pooled_states_by_layer(lm, [w], layers, [x])]
            by_layer: dict[int, list] = defaultdict(list)
            for key, li, cot in todo:
                by_layer[li].append((key, cot))
            top = max(by_layer)
            for li, items in sorted(by_layer.items()):
                for lo in range(0, len(items), vjp_batch):
                    chunk = items[lo : lo + vjp_batch]
                    cot = torch.stack([c for _, c in chunk])  # (n_cot, H)
                    (g,) = torch.autograd.grad(
                        e[li],
                        x,
                        grad_outputs=cot,
                        is_grads_batched=True,
                        retain_graph=li != top or lo + vjp_batch < len(items),
                    )
                    # input x gradient; for IG the mean over steps of x * g(a x)
                    tok = token_scores(embeds[s], g, len(scales))
                    for ((i, j), _), ti in zip(chunk, tok, strict=True):
                        t = targets[i]
                        scatter_words(t.span_start, t.span_stop, [w.token_word_abs], [ti],
                                      out=scores[i][j])  # fmt: skip
            if (n + 1) % 50 == 0:
                log.info("BA engine: %d/%d windows (step %.2f)", n + 1, len(trs), a)
    return scores


def _all_states(lm, windows, embeds, layers, scale, batch_tokens) -> dict[int, torch.Tensor]:
    """Pooled states (n_layers, H) of every window at embeddings scaled by ``scale``."""
    keys = list(windows)
    out = {}
    with torch.no_grad():
        for batch in batches([windows[k] for k in keys], batch_tokens):
            ks = [keys[i] for i in batch]
            st = pooled_states(
                lm, [windows[k] for k in ks], layers, [embeds[k] * scale for k in ks]
            )
            out.update(zip(ks, st, strict=True))
    return out


def _cotangents(
    targets: list[Target],
    heads: list[list[BAHead]],
    states: dict[int, torch.Tensor],
    layers: list[int],
    dtype: torch.dtype,
) -> dict[int, list[tuple[tuple[int, int], int, torch.Tensor]]]:
    """Per window s: ((target, head), layer index, d L / d e_s[layer]) for every loss it feeds."""
    out: dict[int, list] = defaultdict(list)
    for i, (t, hs) in enumerate(zip(targets, heads, strict=True)):
        for j, h in enumerate(hs):
            li = layers.index(h.layer)
            hidden = states[next(s for s in t.delay_trs if s is not None)].shape[-1]
            w = h.weights.view(len(t.delay_trs), hidden, -1)  # (D, H, V)
            y_hat = h.intercept.clone()
            for d, s in enumerate(t.delay_trs):
                if s is not None:
                    y_hat = y_hat + states[s][li] @ w[d]
            resid = (2.0 / y_hat.numel()) * (y_hat - h.y)
            for d, s in enumerate(t.delay_trs):
                if s is None:
                    continue
                out[s].append(((i, j), li, (w[d] @ resid).to(dtype)))
    return out


class SharedEngine:
    """Engine ``shared`` (see the module docstring); NWP runs every target batched."""

    name = "shared"

    def ba(self, lm, windows, targets, heads, method, steps, batch_tokens, vjp_batch):
        return ba_scores_shared(lm, windows, targets, heads, method, steps, batch_tokens,
                                vjp_batch)  # fmt: skip

    def nwp(self, lm, words, targets, method, steps, batch_tokens, readouts):
        return nwp_scores_batched(lm, words, targets, method, steps, batch_tokens, readouts)
