"""Windows: which words each forward pass reads, and how its tokens pool into a TR state.

For TR s with words w_a..w_b, the window W_s is the L words before w_a (never before the
TR's context floor, the start of its story where runs are separate texts) followed by
w_a..w_b. A word's state is the mean of its tokens' states, a TR's the mean of its words'.
Every stage that runs a model over a story (features, attribution, masking) asks
:class:`StoryWindows` for its windows, so the definition lives here once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from brainattr.dataset import Dataset, tr_word_ranges
from brainattr.models import BOS_WORD, LoadedModel, hidden_states, pad_batch


def window_range(
    first_word: int, stop_word: int, context_words: int, floor: int = 0
) -> tuple[int, int]:
    """Word range [start, stop) of the window of a TR whose words are [first_word, stop_word).

    ``floor`` is the first word the context may reach back to (the start of the TR's story
    when a dataset's runs are separate texts; see ``Dataset.context_floor``).
    """
    return max(floor, first_word - context_words), stop_word


def absolute_words(token_word: np.ndarray, start: int) -> np.ndarray:
    """Story word of each token of a pass that starts at word ``start``; the BOS token keeps
    :data:`brainattr.models.BOS_WORD`, so it is never scored as a word."""
    return np.where(token_word == BOS_WORD, BOS_WORD, token_word + start)


def pooling_weights(
    token_word: np.ndarray, first_pooled: int, stop_pooled: int | None = None
) -> np.ndarray:
    """Token weights that average tokens into words, then words into one vector.

    Parameters
    ----------
    token_word : array of int, shape (n_tokens,)
        Word position of each token in its window (the BOS token, -1, is never pooled).
    first_pooled : int
        Window position of the first word pooled (the TR's first word).
    stop_pooled : int, optional
        One past the last word pooled; the window's end by default.

    Returns
    -------
    weights : array of shape (n_tokens,)
        Sums to 1 over the pooled tokens, 0 elsewhere.
    """
    weights = np.zeros(token_word.shape[0])
    pooled = token_word >= first_pooled
    if stop_pooled is not None:
        pooled &= token_word < stop_pooled
    words, counts = np.unique(token_word[pooled], return_counts=True)
    per_word = dict(zip(words.tolist(), counts.tolist(), strict=True))
    for i in np.flatnonzero(pooled):
        weights[i] = 1.0 / (len(words) * per_word[int(token_word[i])])
    return weights


class Window:
    """One forward-pass window: its word range, tokens and TR pooling weights."""

    def __init__(self, lm: LoadedModel, words: list[str], start: int, stop: int, first: int):
        self.start, self.stop = start, stop
        self.ids, self.token_word = lm.encode_words(words[start:stop])
        self.weights = pooling_weights(self.token_word, first - start)

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])

    @property
    def token_word_abs(self) -> np.ndarray:
        """Absolute story word of each token, shape (n_tokens,) (BOS stays ``BOS_WORD``)."""
        return absolute_words(self.token_word, self.start)


class Chunk:
    """A strided-mode pass: L context words, then the words of several consecutive TRs."""

    def __init__(self, lm: LoadedModel, words: list[str], start: int, trs: dict[int, tuple]):
        self.start = start
        self.stop = max(b for _, b in trs.values())
        self.ids, self.token_word = lm.encode_words(words[start : self.stop])
        self.weights = {
            t: pooling_weights(self.token_word, a - start, b - start) for t, (a, b) in trs.items()
        }

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


class StoryWindows:
    """Every window of one story at one context length L.

    Parameters
    ----------
    words : list of str
        The story's words (all runs).
    word_tr : array of int, shape (n_words,)
        TR of each word.
    n_trs : int
    context_words : int
        L, the words read before a TR's first word.
    floor : array of int, shape (n_trs,), optional
        First word each TR's context may reach (``Dataset.context_floor``); 0 by default.
    """

    def __init__(
        self,
        words: list[str],
        word_tr: np.ndarray,
        n_trs: int,
        context_words: int,
        floor: np.ndarray | None = None,
    ):
        self.words = words
        self.context_words = context_words
        self.first, self.stop = tr_word_ranges(word_tr, n_trs)
        self.floor = np.zeros(n_trs, dtype=np.int64) if floor is None else np.asarray(floor)

    @classmethod
    def of_dataset(cls, ds: Dataset, context_words: int) -> StoryWindows:
        return cls(
            ds.words["word"].tolist(), ds.word_tr, len(ds.trs), context_words, ds.context_floor
        )

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_trs(self) -> int:
        return len(self.first)

    def has_words(self, s: int) -> bool:
        return bool(self.stop[s] > self.first[s])

    def trs_with_words(self) -> list[int]:
        return [s for s in range(len(self.first)) if self.has_words(s)]

    def range(self, s: int) -> tuple[int, int]:
        """Word range [start, stop) of W_s."""
        return window_range(self.first[s], self.stop[s], self.context_words, self.floor[s])

    def window(self, lm: LoadedModel, s: int, words: list[str] | None = None) -> Window:
        """W_s, tokenised; ``words`` replaces the story's text (masking), same positions."""
        return Window(lm, self.words if words is None else words, *self.range(s), self.first[s])

    def tr_windows(self, lm: LoadedModel) -> dict[int, Window]:
        """The window of every TR that has words."""
        return {s: self.window(lm, s) for s in self.trs_with_words()}

    def delay_windows(
        self, lm: LoadedModel, delay_trs: Sequence[int | None], words: list[str] | None = None
    ) -> list[Window | None]:
        """W_{t-d} for each delay (None where TR t-d has no words)."""
        return [None if s is None else self.window(lm, s, words) for s in delay_trs]

    def strided_chunks(self, lm: LoadedModel, stride_words: int) -> list[Chunk]:
        """Consecutive TRs grouped into passes of at most ``L + stride_words`` words.

        Each chunk starts L words (or the floor) before its first TR's first word, so every
        TR sees at least the context of its exact window; later TRs in a chunk see more. A
        chunk never spans two floors (two separate stories).
        """
        first, stop, floor = self.first, self.stop, self.floor
        trs = self.trs_with_words()
        chunks, i = [], 0
        while i < len(trs):
            t0 = trs[i]
            j = i
            while (
                j + 1 < len(trs)
                and stop[trs[j + 1]] - first[t0] <= stride_words
                and floor[trs[j + 1]] == floor[t0]
            ):
                j += 1
            members = {t: (int(first[t]), int(stop[t])) for t in trs[i : j + 1]}
            chunks.append(Chunk(lm, self.words, int(self.range(t0)[0]), members))
            i = j + 1
        return chunks


def batches(windows: list, batch_tokens: int) -> Iterator[list[int]]:
    """Group window indices so that padded tokens per batch stay within ``batch_tokens``."""
    order = sorted(range(len(windows)), key=lambda i: windows[i].n_tokens)
    batch: list[int] = []
    for i in order:
        longest = max([windows[j].n_tokens for j in batch] + [windows[i].n_tokens])
        if batch and longest * (len(batch) + 1) > batch_tokens:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def pooled_states_by_layer(
    lm: LoadedModel,
    windows: list[Window],
    layers: list[int],
    embeds: list[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Pooled TR states of windows run as one right-padded batch, one tensor per layer.

    Kept apart per layer so that a gradient taken from one layer's states flows back only
    through the blocks below it (stacking would send zero gradients through every layer).

    Returns
    -------
    states : list (per layer) of tensors of shape (n_windows, hidden)
        Differentiable with respect to ``embeds`` when given.
    """
    if embeds is None:
        embeds = [lm.embed(w.ids) for w in windows]
    batch, mask = pad_batch(embeds)
    hs = hidden_states(lm, batch, mask, max_layer=max(layers))
    weights = torch.zeros(mask.shape, dtype=batch.dtype, device=batch.device)
    for i, w in enumerate(windows):
        weights[i, : w.n_tokens] = torch.as_tensor(w.weights, dtype=batch.dtype)
    return [torch.einsum("nt,nth->nh", weights, hs[layer].to(batch.dtype)) for layer in layers]


def pooled_states(
    lm: LoadedModel,
    windows: list[Window],
    layers: list[int],
    embeds: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """:func:`pooled_states_by_layer` stacked, shape (n_windows, n_layers, hidden)."""
    return torch.stack(pooled_states_by_layer(lm, windows, layers, embeds), dim=1)
