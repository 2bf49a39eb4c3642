"""Features: hidden states of each TR's words, read after the L words that precede the TR.

Each TR's window (:class:`brainattr.windows.StoryWindows`) runs once; its pooled state per
layer is the TR's feature. Delays are added where the features are used
(:func:`brainattr.design.delay_features`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from brainattr.dataset import read_dataset
from brainattr.models import LoadedModel, hidden_states, load_model, pad_batch
from brainattr.progress import Progress
from brainattr.tables import write_features
from brainattr.windows import StoryWindows, batches, pooled_states

log = logging.getLogger(__name__)


def extract_features(
    lm: LoadedModel,
    windows: StoryWindows,
    layers: list[int],
    batch_tokens: int = 8192,
    mode: str = "exact",
    stride_words: int | None = None,
) -> dict[int, np.ndarray]:
    """TR features of every layer from the same forward passes.

    ``mode`` ``exact`` runs one window per TR (the definition); ``strided`` runs one pass per
    chunk of consecutive TRs (:meth:`StoryWindows.strided_chunks`, ``stride_words``
    defaulting to L): each TR sees at least its exact context, often more.

    Returns
    -------
    features : dict {layer: array of shape (n_trs, hidden)}
        Zero rows for TRs without words.
    """
    if mode == "strided":
        return _strided_features(lm, windows, layers, batch_tokens, stride_words)
    if mode != "exact":
        raise ValueError(f"features mode {mode!r}; allowed: exact, strided")
    by_tr = windows.tr_windows(lm)
    keys = list(by_tr)
    out = np.zeros((len(layers), windows.n_trs, lm.embedding.weight.shape[1]), dtype=np.float32)
    with torch.no_grad(), Progress(len(keys), "features", "window") as bar:
        for batch in batches([by_tr[k] for k in keys], batch_tokens):
            trs = [keys[i] for i in batch]
            states = pooled_states(lm, [by_tr[t] for t in trs], layers)
            out[:, trs] = states.float().cpu().numpy().transpose(1, 0, 2)
            bar.update(len(trs))
    return {layer: out[i] for i, layer in enumerate(layers)}


def _strided_features(lm, windows, layers, batch_tokens, stride_words) -> dict[int, np.ndarray]:
    chunks = windows.strided_chunks(lm, stride_words or windows.context_words)
    out = np.zeros((len(layers), windows.n_trs, lm.embedding.weight.shape[1]), dtype=np.float32)
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
    """Workflow stage ``features``: write ``features.h5`` (see :mod:`brainattr.tables`)."""
    ds = read_dataset(dataset_dir)
    lm = load_model(model_spec, device)
    windows = StoryWindows.of_dataset(ds, context_words)
    feats = extract_features(lm, windows, model_spec["layers"], batch_tokens, mode, stride_words)
    write_features(out_path, feats, context_words=context_words, mode=mode, n_layers=lm.n_layers)
