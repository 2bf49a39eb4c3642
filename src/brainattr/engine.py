"""Exact BA attribution with shared work: one forward pass per window serves every target.

The BA loss of target t and head h (subject x layer) is
    L_{t,h} = mean_v (sum_d W_d^T e_{t-d} + b - y_t)^2,
linear in the pooled window states e_s. Its gradient with respect to the embeddings of window
s = t-d is the vector-Jacobian product of e_s with the cotangent (2/V) W_d (y_hat - y_t). So:

1. one batched pass without gradients gives every window's pooled states (all layers);
2. they give every prediction y_hat_{t,h} and hence every cotangent;
3. one forward pass with gradients per window, and one batched VJP over all cotangents that
   reach it (``is_grads_batched``), give every (target, head) token gradient at once.

The result equals plain autograd of each literal loss (tests/test_engine.py). Integrated
Gradients repeats 1-3 at each step, on the scaled embeddings of all windows together.

NWP losses are independent sequences, so :func:`nwp_scores_batched` runs many (target, IG step)
sequences as one right-padded batch: the gradient of the sum of their losses is each one's
own gradient.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch

from brainattr.attribution import BAHead, Target, nwp_inputs
from brainattr.features import Window, batches, pooled_states, pooled_states_by_layer, window_range
from brainattr.models import LoadedModel, hidden_states, lm_logits, pad_batch

log = logging.getLogger(__name__)


def ba_scores_shared(
    lm: LoadedModel,
    words: list[str],
    targets: list[Target],
    heads_for,
    context_words: int,
    first: np.ndarray,
    stop: np.ndarray,
    method: str = "gxi",
    steps: int = 20,
    batch_tokens: int = 8192,
    vjp_batch: int = 64,
    floor: np.ndarray | None = None,
) -> list[list[np.ndarray]]:
    """BA word scores of every target and head, sharing passes across them.

    Parameters
    ----------
    lm : LoadedModel
    words : list of str
        The story's words.
    targets : list of Target
    heads_for : callable
        ``heads_for(target) -> list[BAHead]`` (the fold's readouts and the target's BOLD);
        every target must get heads of the same (subject, layer) in the same order.
    context_words : int
    first, stop : arrays of int, shape (n_trs,)
        Word range of each TR.
    method : {"gxi", "ig"}
    steps : int
        IG steps (midpoint rule, zero baseline).
    batch_tokens : int
        Padded tokens per no-gradient forward batch.
    vjp_batch : int
        Cotangents per batched vector-Jacobian product (memory).
    floor : array of int, shape (n_trs,), optional
        First word each TR's context may reach (``Dataset.context_floor``); 0 by default.

    Returns
    -------
    scores : list (per target) of lists (per head) of arrays of shape (n_span_words,)
    """
    trs = sorted({s for t in targets for s in t.delay_trs if s is not None})
    floor = np.zeros(len(first), dtype=np.int64) if floor is None else floor
    windows = {
        s: Window(
            lm, words, *window_range(first[s], stop[s], context_words, floor[s]), int(first[s])
        )
        for s in trs
    }
    heads = [heads_for(t) for t in targets]
    layers = sorted({h.layer for h in heads[0]})
    dtype = lm.embedding.weight.dtype
    embeds = {s: lm.embed(w.ids) for s, w in windows.items()}
    scales = [1.0] if method == "gxi" else ((np.arange(steps) + 0.5) / steps).tolist()
    if method not in ("gxi", "ig"):
        raise ValueError(f"unknown attribution method {method!r}; allowed: gxi, ig")
    # word scores accumulate as soon as each VJP is done: token gradients are never stored
    scores = [
        [np.zeros(t.span_stop - t.span_start) for _ in hs]
        for t, hs in zip(targets, heads, strict=True)
    ]
    for a in scales:
        states = _all_states(lm, windows, embeds, layers, a, batch_tokens)
        cotangents = _cotangents(targets, heads, states, layers, dtype)
        for n, s in enumerate(trs):
            todo = cotangents.get(s, [])
            if not todo:
                continue
            w = windows[s]
            x = (embeds[s] * a).requires_grad_(True)
            # per layer: a VJP from layer l then runs through blocks 1..l only
            e = [st[0] for st in pooled_states_by_layer(lm, [w], layers, [x])]
            word_abs = w.start + w.token_word
            # one batched VJP per layer: a cotangent then back-propagates only through the
            # blocks below its own layer
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
                    tok = ((embeds[s] * g).sum(-1) / len(scales)).double().cpu().numpy()
                    for ((i, j), _), ti in zip(chunk, tok, strict=True):
                        t = targets[i]
                        inside = (word_abs >= t.span_start) & (word_abs < t.span_stop)
                        np.add.at(scores[i][j], word_abs[inside] - t.span_start, ti[inside])
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

    Equal to :func:`brainattr.attribution.nwp_word_scores` target by target (tested).

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
    if method not in ("gxi", "ig"):
        raise ValueError(f"unknown attribution method {method!r}; allowed: gxi, ig")
    scales = [1.0] if method == "gxi" else ((np.arange(steps) + 0.5) / steps).tolist()
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
            pos = np.flatnonzero(q.token_word == targets[q.target].next_word)
            logits = lm_logits(lm, final[b, pos - 1])
            loss = loss + torch.nn.functional.cross_entropy(
                logits.float(), q.ids.to(logits.device)[pos]
            )
        (g,) = torch.autograd.grad(loss, x)
        for b, q in enumerate(chunk):
            grad_sum[q.target] += g[b, : q.n_tokens]
        done += len(chunk)
        log.info("NWP engine: %d/%d sequences", done, len(seqs))
    out = []
    for t, (_, tw), e, g in zip(targets, inputs, embeds, grad_sum, strict=True):
        tok = ((e * g).sum(-1) / len(scales)).double().cpu().numpy()
        scores = np.zeros(t.span_stop - t.span_start)
        inside = (tw >= t.span_start) & (tw < t.span_stop)
        np.add.at(scores, tw[inside] - t.span_start, tok[inside])
        out.append(scores)
    return out
