"""Masking: replace a context's most important words and measure what BA and NWP lose.

For each target, the top ``mask_fraction`` of the span's words (at least one) by a task's
|score| are replaced with words drawn (seeded) from the stimulus vocabulary; the BA
prediction is recomputed through the same four windows and the fixed ridge, and the NWP
cross-entropy through the same span. Controls: the same number of random span words
(``random``), and cross-task masks (BA-top words scored on NWP, NWP-top words on BA).
Each span position gets one replacement word per target, shared by every mask, so the
masks differ only in *which* words are replaced.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainattr.attribution.core import next_word_cross_entropy
from brainattr.attribution.nwp import nwp_inputs
from brainattr.dataset import read_dataset
from brainattr.design import pearson_r
from brainattr.models import load_model, pad_batch
from brainattr.progress import Progress
from brainattr.readout import Readouts, ba_predictions
from brainattr.tables import MASKING, SCORES, read_table, write_table
from brainattr.targets import read_targets
from brainattr.windows import StoryWindows, pooled_states


def top_words(scores: np.ndarray, n: int) -> np.ndarray:
    """Span positions of the ``n`` largest |scores| (ties by position)."""
    return np.argsort(-np.abs(scores), kind="stable")[:n]


def masked_words(words: list[str], positions: np.ndarray, replacements: list[str]) -> list[str]:
    """A copy of ``words`` with ``words[p] = replacements[p]`` for p in ``positions``."""
    out = list(words)
    for p in positions:
        out[int(p)] = replacements[int(p)]
    return out


def run_masking(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    scores_path: str | Path,
    targets_path: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    mask_fraction: float,
    seed: int,
    out_path: str | Path,
    device: str = "auto",
) -> None:
    """Workflow stage ``masking``: write the tidy masking table (see module docstring).

    Columns: ``task`` (ba: mean r over ROI voxels across targets; nwp: mean
    cross-entropy), ``mask`` (none, ba_top, nwp_top, random), ``subject``, ``layer``,
    ``layer_group``, ``value``, ``delta`` (value - unmasked), ``relative`` (delta / |unmasked|),
    ``n_targets``, ``n_masked`` (words per context).
    """
    ds = read_dataset(dataset_dir)
    scores = read_table(scores_path, SCORES)
    targets = read_targets(targets_path)
    lm = load_model(model_spec, device)
    layers_used = sorted(scores.loc[scores["task"] == "ba", "layer"].unique().tolist())
    paths = {k: v for k, v in encoding_paths.items() if k[1] in layers_used}
    readouts = Readouts(paths, features_path, dataset_dir, ds, lm.embedding.weight.dtype, lm.device)
    group_of = dict(zip(scores["layer"], scores["layer_group"], strict=False))
    windows = StoryWindows.of_dataset(ds, context_words)
    words = windows.words
    vocab = sorted(set(words))
    rng = np.random.default_rng(seed)
    by_ctx = {
        k: g.sort_values("word_index")["score"].to_numpy()
        for k, g in scores.groupby(["task", "subject", "layer", "target_tr"])
    }
    masks = ["none", "ba_top", "nwp_top", "random"]
    head_keys = readouts.keys
    layers = sorted({k[1] for k in head_keys})
    pred: dict[tuple, list[np.ndarray]] = {(m, k): [] for m in masks for k in head_keys}
    truth: dict[tuple, list[np.ndarray]] = {k: [] for k in head_keys}
    nwp_key = ("", -1)
    ce: dict[tuple, list[float]] = {(m, nwp_key): [] for m in ("none", "nwp_top", "random")}
    ce.update({("ba_top", k): [] for k in head_keys})
    n_masked = 0
    with torch.no_grad(), Progress(len(targets), "masking", "target") as bar:
        for tgt in targets:
            t = tgt.tr
            n_span = tgt.span_stop - tgt.span_start
            n_masked = max(1, math.ceil(mask_fraction * n_span - 1e-9))
            replacements = rng.choice(vocab, n_span).tolist()
            # variant name, the heads it is scored on, masked span positions
            variants = [
                ("none", nwp_key, np.array([], dtype=int)),
                ("nwp_top", nwp_key, top_words(by_ctx[("nwp", "", -1, t)], n_masked)),
                ("random", nwp_key, rng.choice(n_span, n_masked, replace=False)),
            ] + [
                ("ba_top", k, top_words(by_ctx[("ba", k[0], k[1], t)], n_masked)) for k in head_keys
            ]
            texts = []
            for _, _, pos in variants:
                span = masked_words(words[tgt.span_start : tgt.span_stop], pos, replacements)
                texts.append(words[: tgt.span_start] + span + words[tgt.span_stop :])
            # one batched BA pass and one batched NWP pass over every variant
            wins = [windows.delay_windows(lm, tgt.delay_trs, ws) for ws in texts]
            flat = [w for ws in wins for w in ws if w is not None]
            states = pooled_states(lm, flat, layers)
            heads = readouts.heads(tgt)
            offset = 0
            for (m, key, _), ws in zip(variants, wins, strict=True):
                n_present = sum(w is not None for w in ws)
                chosen = [
                    h for k, h in zip(head_keys, heads, strict=True) if key == nwp_key or k == key
                ]
                preds = ba_predictions(
                    lm, ws, chosen, layers, states=states[offset : offset + n_present]
                )
                offset += n_present
                for h, p in zip(chosen, preds, strict=True):
                    pred[(m, (h.subject, h.layer))].append(p.double().cpu().numpy())
            inputs = [nwp_inputs(lm, ws, tgt) for ws in texts]
            batch, mask = pad_batch([lm.embed(ids) for ids, _ in inputs])
            logits = lm.model(inputs_embeds=batch, attention_mask=mask, use_cache=False).logits
            for j, ((m, key, _), (ids, tw)) in enumerate(zip(variants, inputs, strict=True)):
                ce[(m, key)].append(
                    float(
                        next_word_cross_entropy(logits[j, : ids.shape[0]], ids, tw, tgt.next_word)
                    )
                )
            for k, h in zip(head_keys, heads, strict=True):
                truth[k].append(h.y.double().cpu().numpy())
            bar.update()
    rows = []
    for k in head_keys:
        y = np.stack(truth[k])
        base = float(pearson_r(np.stack(pred[("none", k)]), y).mean())
        for m in masks:
            v = float(pearson_r(np.stack(pred[(m, k)]), y).mean())
            rows.append(("ba", m, k[0], k[1], group_of[k[1]], v, v - base))
    base_ce = float(np.mean(ce[("none", nwp_key)]))
    for (m, k), vals in ce.items():
        v = float(np.mean(vals))
        rows.append(
            ("nwp", m, k[0], k[1], "final" if k[1] == -1 else group_of[k[1]], v, v - base_ce)
        )
    out = pd.DataFrame(rows, columns=MASKING[:7])
    base_of = out[out["mask"] == "none"].set_index(["task", "subject", "layer"])["value"]
    ref = [
        base_of.get((t, s, lay), base_ce)
        for t, s, lay in zip(out["task"], out["subject"], out["layer"], strict=True)
    ]
    out["relative"] = out["delta"] / np.abs(ref)
    out["n_targets"] = len(targets)
    out["n_masked"] = n_masked
    write_table(out, out_path, MASKING)
