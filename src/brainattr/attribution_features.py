"""Attributions as brain features (Rahimi, Daliri & Yaghoobzadeh 2025, arXiv 2502.14671).

Feature kind ``nwp_attribution``: for each word i, the gradient x input attribution of the
next-word loss (the cross-entropy of word i+1, mean over its tokens) to the last k words
i, i-1, ..., i-k+1, as a vector ordered by distance (entry d = word i-d; 0 where the window
does not reach back that far). Word i is read in its TR's exact window W_s, as its
activation is (``features.mode: exact``), and the prediction is made at each configured layer
through the logit lens (:func:`brainattr.models.readout_logits`; the model's output at the
last layer), so every layer has its own k features. Words average into their TR as
activations do; a TR without a word that has a next word in its story gets zeros. The result
is a ``features.h5`` like the activations' (:func:`brainattr.tables.write_features`), read by
the same encoding stage.

Our choices, not the cited paper's: signed GXI (not |GXI| or a normalised vector; the
encoding z-scores each feature), the logit lens as the per-layer readout, and k a config key
(``features.attribution_words``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from brainattr.attribution.nwp import nwp_scores_batched
from brainattr.dataset import read_dataset
from brainattr.models import LoadedModel, load_model
from brainattr.progress import Progress
from brainattr.tables import write_features
from brainattr.targets import Target
from brainattr.windows import StoryWindows

log = logging.getLogger(__name__)


def word_targets(windows: StoryWindows) -> list[Target]:
    """One NWP target per word whose next word is in the same story: word i predicts word
    i+1 from W_s up to word i (s = TR of word i).

    Returns
    -------
    targets : list of Target
        ``tr`` = s, ``span_start`` = the start of W_s, ``span_stop`` = ``next_word`` = i+1
        (``row``/``fold`` -1, no delays: these are not encoding targets).
    """
    # a story starts at each distinct context floor: from word order, so that words outside
    # every TR (at a run's edges) still belong to their story
    story = np.searchsorted(np.unique(windows.floor), np.arange(windows.n_words), side="right")
    out = []
    for s in windows.trs_with_words():
        start = int(windows.range(s)[0])
        for i in range(int(windows.first[s]), int(windows.stop[s])):
            if i + 1 >= windows.n_words or story[i + 1] != story[i]:
                continue  # the story ends at word i: nothing to predict
            out.append(Target(int(s), -1, -1, [], start, i + 1, i + 1))
    return out


def recent_word_vector(scores: np.ndarray, n_words: int) -> np.ndarray:
    """The last ``n_words`` word scores of a span, most recent first, zero-padded.

    Parameters
    ----------
    scores : array of shape (n_readouts, n_span_words)
    n_words : int
        k.

    Returns
    -------
    vector : array of shape (n_readouts, k)
    """
    out = np.zeros((scores.shape[0], n_words), dtype=np.float64)
    recent = scores[:, ::-1][:, :n_words]
    out[:, : recent.shape[1]] = recent
    return out


def attribution_features(
    lm: LoadedModel,
    windows: StoryWindows,
    layers: list[int],
    attribution_words: int,
    batch_tokens: int = 8192,
) -> dict[int, np.ndarray]:
    """NWP attribution features of every layer, pooled per TR.

    Targets run in chunks of about ``batch_tokens`` span words, so memory holds one chunk's
    gradients (per readout), not the story's.

    Parameters
    ----------
    lm : LoadedModel
    windows : StoryWindows
    layers : list of int
        Readouts (hidden_states indices; the last = the model's output).
    attribution_words : int
        k, the words each vector covers.
    batch_tokens : int
        Padded tokens per forward/backward batch.

    Returns
    -------
    features : dict {layer: array of shape (n_trs, k)}, float32
    """
    targets = word_targets(windows)
    sums = np.zeros((len(layers), windows.n_trs, attribution_words))
    counts = np.zeros(windows.n_trs)
    with Progress(len(targets), "attribution features", "word") as bar:
        for chunk in _chunks(targets, batch_tokens):
            scores = nwp_scores_batched(lm, windows.words, chunk, "gxi", 1, batch_tokens, layers)
            for t, s in zip(chunk, scores, strict=True):
                sums[:, t.tr] += recent_word_vector(s, attribution_words)
                counts[t.tr] += 1
            bar.update(len(chunk))
    mean = sums / np.maximum(counts, 1)[None, :, None]
    return {layer: mean[i].astype(np.float32) for i, layer in enumerate(layers)}


def _chunks(targets: list[Target], span_words: int):
    chunk, size = [], 0
    for t in targets:
        if chunk and size + t.n_span_words > span_words:
            yield chunk
            chunk, size = [], 0
        chunk.append(t)
        size += t.n_span_words
    if chunk:
        yield chunk


def run_attribution_features(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    attribution_words: int,
    out_path: str | Path,
    device: str = "auto",
    batch_tokens: int = 8192,
) -> None:
    """Workflow stage ``attribution_features``: write ``nwp_attribution/features.h5``."""
    ds = read_dataset(dataset_dir)
    lm = load_model(model_spec, device)
    windows = StoryWindows.of_dataset(ds, context_words)
    feats = attribution_features(lm, windows, model_spec["layers"], attribution_words,
                                 batch_tokens)  # fmt: skip
    write_features(out_path, feats, context_words=context_words, kind="nwp_attribution",
                   attribution_words=attribution_words, n_layers=lm.n_layers)  # fmt: skip
