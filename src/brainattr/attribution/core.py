"""The maths every attribution engine shares, each defined once.

- IG step scales: the midpoint rule from an all-zero baseline, a_k = (k + 0.5) / steps
  (GXI is the single scale 1).
- Token scores: sum over the hidden dimension of input x (mean over scales of) gradient.
- Token -> word: token scores summed per absolute story word inside a target's span.
- Losses: BA = mean over ROI voxels of (y_hat - y)^2; NWP = mean cross-entropy of the next
  word's tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

METHODS = ("gxi", "ig")


def ig_scales(method: str, steps: int = 20) -> list[float]:
    """The input scales at which gradients are taken and averaged.

    Parameters
    ----------
    method : {"gxi", "ig"}
    steps : int
        IG steps (midpoint rule, zero baseline).

    Returns
    -------
    scales : list of float
        ``[1.0]`` for GXI; ``(k + 0.5) / steps`` for k < steps for IG.
    """
    if method == "gxi":
        return [1.0]
    if method == "ig":
        return ((np.arange(steps) + 0.5) / steps).tolist()
    raise ValueError(f"unknown attribution method {method!r}; allowed: {', '.join(METHODS)}")


def token_scores(x: torch.Tensor, grad_sum: torch.Tensor, n_scales: int) -> np.ndarray:
    """Input x mean gradient summed over the hidden dimension, (..., n_tokens) as float64."""
    return ((x.detach() * grad_sum).sum(-1) / n_scales).double().cpu().numpy()


def scatter_words(
    span_start: int,
    span_stop: int,
    token_word_abs: Sequence[np.ndarray],
    attrs: Sequence[np.ndarray],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Sum token scores per absolute word of a span, shape (span_stop - span_start,).

    Parameters
    ----------
    span_start, span_stop : int
        The span's absolute word range.
    token_word_abs : list of arrays of int, shape (n_tokens_i,)
        Absolute word of each token of each input.
    attrs : list of arrays of shape (n_tokens_i,)
        Token scores; tokens outside the span are ignored.
    out : array, optional
        Added into (engines that accumulate input by input).
    """
    scores = np.zeros(span_stop - span_start) if out is None else out
    for tw, a in zip(token_word_abs, attrs, strict=True):
        inside = (tw >= span_start) & (tw < span_stop)
        np.add.at(scores, tw[inside] - span_start, a[inside])
    return scores


def ba_loss(prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The BA loss: mean over ROI voxels of the squared error at the target."""
    return ((prediction - y) ** 2).mean()


def next_word_cross_entropy(
    logits: torch.Tensor, ids: torch.Tensor, token_word: np.ndarray, next_word: int
) -> torch.Tensor:
    """Mean cross-entropy of the tokens of ``next_word`` from (n_tokens, vocab) logits."""
    pos = torch.as_tensor(next_word_positions(token_word, next_word), device=logits.device)
    return next_word_loss(logits[pos - 1], ids.to(logits.device)[pos])


def next_word_loss(logits: torch.Tensor, next_ids: torch.Tensor) -> torch.Tensor:
    """The NWP loss: mean cross-entropy of the next word's tokens from the logits that
    predict them, (n_next_tokens, vocab) and (n_next_tokens,)."""
    return torch.nn.functional.cross_entropy(logits.float(), next_ids)


def next_word_positions(token_word: np.ndarray, next_word: int) -> np.ndarray:
    """Token positions of the next word's tokens (each predicted from the position before)."""
    return np.flatnonzero(token_word == next_word)


def input_attributions(
    loss_fn: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    inputs: Sequence[torch.Tensor],
    method: str = "gxi",
    steps: int = 20,
) -> list[list[np.ndarray]]:
    """Per-token attributions of several scalar losses that share one forward pass.

    Parameters
    ----------
    loss_fn : callable
        Maps a list of input tensors (each (n_tokens_i, hidden)) to a list of scalar losses.
    inputs : list of tensors of shape (n_tokens_i, hidden)
    method : {"gxi", "ig"}
        Gradient x input, or Integrated Gradients from an all-zero baseline.
    steps : int
        IG steps (midpoint rule).

    Returns
    -------
    attributions : list (per loss) of lists (per input) of arrays of shape (n_tokens_i,)
        Sum over the hidden dimension of input x (average) gradient.
    """
    scales = ig_scales(method, steps)
    grad_sum: list[list[torch.Tensor]] | None = None
    for a in scales:
        xs = [(x.detach() * a).requires_grad_(True) for x in inputs]
        losses = loss_fn(xs)
        if grad_sum is None:
            grad_sum = [[torch.zeros_like(x) for x in inputs] for _ in losses]
        for j, loss in enumerate(losses):
            grads = torch.autograd.grad(
                loss, xs, retain_graph=j < len(losses) - 1, allow_unused=True
            )
            for i, g in enumerate(grads):
                if g is not None:
                    grad_sum[j][i] += g
    assert grad_sum is not None
    return [
        [token_scores(x, g, len(scales)) for x, g in zip(inputs, per_loss, strict=True)]
        for per_loss in grad_sum
    ]
