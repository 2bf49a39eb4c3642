"""Features: hidden states of each TR's words, read after the L words that precede the TR.

For TR s with words w_a..w_b, the window W_s is the L words before w_a followed by
w_a..w_b (one forward pass). A word's state is the mean of its tokens' states, a TR's the
mean of its words'. Row t of the delayed matrix is [TR t-1, ..., TR t-D] concatenated,
zero where a delay leaves the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import torch

from brainattr.dataset import read_dataset, tr_word_ranges
from brainattr.models import LoadedModel, hidden_states, load_model, pad_batch
from brainattr.workflow import Progress

log = logging.getLogger(__name__)


def window_range(
    first_word: int, stop_word: int, context_words: int, floor: int = 0
) -> tuple[int, int]:
    """Word range [start, stop) of the window of a TR whose words are [first_word, stop_word).

    ``floor`` is the first word the context may reach back to (the start of the TR's story
    when a dataset's runs are separate texts; see ``Dataset.context_floor``).
    """
    return max(floor, first_word - context_words), stop_word


def pooling_weights(
    token_word: np.ndarray, first_pooled: int, stop_pooled: int | None = None
) -> np.ndarray:
    """Token weights that average tokens into words, then words into one vector.

    Parameters
    ----------
    token_word : array of int, shape (n_tokens,)
        Word position of each token in its window.
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


def delay_features(features: np.ndarray, runs: np.ndarray, n_delays: int) -> np.ndarray:
    """Concatenate delayed copies of TR features, zero-filled across run borders.

    Parameters
    ----------
    features : array of shape (n_trs, n_features)
    runs : array of shape (n_trs,)
    n_delays : int

    Returns
    -------
    delayed : array of shape (n_trs, n_delays * n_features)
        Row t = [features[t-1], ..., features[t-n_delays]].
    """
    n_trs, h = features.shape
    out = np.zeros((n_trs, n_delays * h), dtype=features.dtype)
    runs = np.asarray(runs)
    for d in range(1, n_delays + 1):
        same_run = np.zeros(n_trs, dtype=bool)
        same_run[d:] = runs[d:] == runs[:-d]
        rows = np.flatnonzero(same_run)
        out[rows, (d - 1) * h : d * h] = features[rows - d]
    return out


class Window:
    """One forward-pass window: its word range, tokens and TR pooling weights."""

    def __init__(self, lm: LoadedModel, words: list[str], start: int, stop: int, first: int):
        self.start, self.stop = start, stop
        self.ids, self.token_word = lm.encode_words(words[start:stop])
        self.weights = pooling_weights(self.token_word, first - start)

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


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


def tr_windows(
    lm: LoadedModel,
    words: list[str],
    word_tr: np.ndarray,
    n_trs: int,
    context_words: int,
    floor: np.ndarray | None = None,
) -> dict[int, Window]:
    """The window of every TR that has words (``floor``: per TR, see :func:`window_range`)."""
    first, stop = tr_word_ranges(word_tr, n_trs)
    floor = np.zeros(n_trs, dtype=np.int64) if floor is None else floor
    return {
        t: Window(lm, words, *window_range(first[t], stop[t], context_words, floor[t]), first[t])
        for t in range(n_trs)
        if stop[t] > first[t]
    }


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


def strided_chunks(
    lm: LoadedModel,
    words: list[str],
    word_tr: np.ndarray,
    n_trs: int,
    context_words: int,
    stride_words: int,
    floor: np.ndarray | None = None,
) -> list[Chunk]:
    """Group consecutive TRs into passes of at most ``context_words + stride_words`` words.

    Each chunk starts ``context_words`` words (or the floor) before its first TR's first word,
    so every TR sees at least the context of its exact window; later TRs in a chunk see more.
    A chunk never spans two floors (two separate stories).
    """
    first, stop = tr_word_ranges(word_tr, n_trs)
    floor = np.zeros(n_trs, dtype=np.int64) if floor is None else floor
    trs = [t for t in range(n_trs) if stop[t] > first[t]]
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
        start = window_range(first[t0], stop[t0], context_words, floor[t0])[0]
        chunks.append(Chunk(lm, words, int(start), members))
        i = j + 1
    return chunks


def extract_features(
    lm: LoadedModel,
    words: list[str],
    word_tr: np.ndarray,
    n_trs: int,
    layers: list[int],
    context_words: int,
    batch_tokens: int = 8192,
    floor: np.ndarray | None = None,
    mode: str = "exact",
    stride_words: int | None = None,
) -> dict[int, np.ndarray]:
    """TR features of every layer from the same forward passes.

    ``mode`` ``exact`` runs one window per TR (the definition); ``strided`` runs one pass per
    chunk of consecutive TRs (:func:`strided_chunks`, ``stride_words`` defaulting to
    ``context_words``): each TR sees at least its exact context, often more.

    Returns
    -------
    features : dict {layer: array of shape (n_trs, hidden)}
        Zero rows for TRs without words.
    """
    if mode == "strided":
        return _strided_features(
            lm, words, word_tr, n_trs, layers, context_words, batch_tokens, floor, stride_words
        )
    if mode != "exact":
        raise ValueError(f"features mode {mode!r}; allowed: exact, strided")
    windows = tr_windows(lm, words, word_tr, n_trs, context_words, floor)
    keys = list(windows)
    h = lm.embedding.weight.shape[1]
    out = np.zeros((len(layers), n_trs, h), dtype=np.float32)
    with torch.no_grad(), Progress(len(keys), "features", "window") as bar:
        for batch in batches([windows[k] for k in keys], batch_tokens):
            trs = [keys[i] for i in batch]
            states = pooled_states(lm, [windows[t] for t in trs], layers)
            out[:, trs] = states.float().cpu().numpy().transpose(1, 0, 2)
            bar.update(len(trs))
    return {layer: out[i] for i, layer in enumerate(layers)}


def _strided_features(
    lm, words, word_tr, n_trs, layers, context_words, batch_tokens, floor, stride_words
) -> dict[int, np.ndarray]:
    chunks = strided_chunks(
        lm, words, word_tr, n_trs, context_words, stride_words or context_words, floor
    )
    h = lm.embedding.weight.shape[1]
    out = np.zeros((len(layers), n_trs, h), dtype=np.float32)
    with torch.no_grad(), Progress(len(chunks), "features (strided)", "chunk") as bar:
        for batch in batches(chunks, batch_tokens):
            embeds = [lm.embed(chunks[i].ids) for i in batch]
            x, mask = pad_batch(embeds)
            hs = hidden_states(lm, x, mask, max_layer=max(layers))
            for b, i in enumerate(batch):
                n = chunks[i].n_tokens
                for t, w in chunks[i].weights.items():
                    wt = torch.as_tensor(w, dtype=x.dtype, device=x.device)
                    for li, layer in enumerate(layers):
                        out[li, t] = (wt @ hs[layer][b, :n].to(x.dtype)).float().cpu().numpy()
            bar.update(len(batch))
    return {layer: out[i] for i, layer in enumerate(layers)}


def run_features(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    out_path: str | Path,
    device: str = "auto",
    batch_tokens: int = 8192,
    mode: str = "exact",
    stride_words: int | None = None,
) -> None:
    """Workflow stage ``features``: write ``layer_<l>`` arrays (n_trs, hidden) to HDF5."""
    ds = read_dataset(dataset_dir)
    lm = load_model(model_spec, device)
    feats = extract_features(
        lm,
        ds.words["word"].tolist(),
        ds.word_tr,
        len(ds.trs),
        model_spec["layers"],
        context_words,
        batch_tokens,
        ds.context_floor,
        mode,
        stride_words,
    )
    with h5py.File(out_path, "w") as f:
        for layer, x in feats.items():
            f.create_dataset(f"layer_{layer}", data=x)
        f.attrs["context_words"] = context_words
        f.attrs["mode"] = mode
        f.attrs["n_layers"] = lm.n_layers


def read_features(path: str | Path, layer: int) -> np.ndarray:
    """TR features (n_trs, hidden) of one layer."""
    with h5py.File(path, "r") as f:
        key = f"layer_{layer}"
        if key not in f:
            raise KeyError(f"{path} has no {key}; layers there: {sorted(f)}")
        return f[key][()]
