"""Input attribution of brain alignment (BA) and next-word prediction (NWP).

BA target for TR t of subject s, with the ridge of the fold holding t out:
    y_hat_t = sum_d W_d^T e_{t-d} + b,   L_t = mean over ROI voxels of (y_hat_t - y_t)^2,
where e_{t-d} is the pooled state of window W_{t-d}. The gradient reaches every token
embedding of the four windows; token scores are summed per absolute story word.

NWP target for TR t: mean cross-entropy of the tokens of the first word after TR t-1,
given the words from the start of W_{t-4} to the end of TR t-1.

Scores: gradient x input (GXI) summed over the embedding dimension, or Integrated
Gradients with an all-zero baseline (midpoint rule). Distance 0 = last word of TR t-1.

This is the plain reference implementation: one forward pass per target, one backward
pass per subject x layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainattr.dataset import (
    Dataset,
    read_dataset,
    read_repeats,
    read_responses,
    tr_word_ranges,
)
from brainattr.encoding import prepare_responses, read_encoding, roi_weights, zscore_per_run
from brainattr.features import Window, pooled_states_by_layer, window_range
from brainattr.layers import selected_layers
from brainattr.models import LoadedModel, load_model
from brainattr.workflow import Progress


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
    if method == "gxi":
        scales = [1.0]
    elif method == "ig":
        scales = ((np.arange(steps) + 0.5) / steps).tolist()
    else:
        raise ValueError(f"unknown attribution method {method!r}; allowed: gxi, ig")
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
        [
            (x.detach() * g / len(scales)).sum(-1).double().cpu().numpy()
            for x, g in zip(inputs, per_loss, strict=True)
        ]
        for per_loss in grad_sum
    ]


@dataclass
class Target:
    """One attribution target: TR t and the words its two losses depend on."""

    tr: int
    row: int  # index among kept TRs (rows of the encoding model)
    fold: int
    delay_trs: list[int | None]  # TR t-d for d = 1..D, None where it has no words
    span_start: int
    span_stop: int  # one past the last word of TR t-1 (distance 0)
    next_word: int

    def distance(self, word_index: np.ndarray) -> np.ndarray:
        return self.span_stop - 1 - word_index


def eligible_targets(
    ds: Dataset, context_words: int, n_delays: int, fold: np.ndarray
) -> list[Target]:
    """Kept TRs whose D delays stay in the run, whose TR t-1 has words and a next word.

    ``fold`` is the outer fold of each kept TR (from the encoding stage).
    """
    n_trs, n_words = len(ds.trs), len(ds.words)
    first, stop = tr_word_ranges(ds.word_tr, n_trs)
    floor = ds.context_floor
    runs = ds.trs["run"].to_numpy()
    kept_rows = np.flatnonzero(ds.trs["kept"].to_numpy())
    out = []
    for row, t in enumerate(kept_rows):
        if t - n_delays < 0 or runs[t - n_delays] != runs[t]:
            continue
        if stop[t - 1] == first[t - 1] or stop[t - 1] >= n_words:
            continue
        delay_trs = [t - d if stop[t - d] > first[t - d] else None for d in range(1, n_delays + 1)]
        starts = [
            window_range(first[s], stop[s], context_words, floor[s])[0]
            for s in delay_trs
            if s is not None
        ]
        out.append(
            Target(
                int(t),
                row,
                int(fold[row]),
                delay_trs,
                min(starts),
                int(stop[t - 1]),
                int(stop[t - 1]),
            )
        )
    return out


def sample_targets(targets: list[Target], n_targets: int, seed: int) -> list[Target]:
    """A seeded sample of ``n_targets`` targets in TR order (all when 0 or too few)."""
    if n_targets == 0 or n_targets >= len(targets):
        return targets
    pick = np.sort(np.random.default_rng(seed).choice(len(targets), n_targets, replace=False))
    return [targets[i] for i in pick]


@dataclass
class BAHead:
    """The frozen readout of one subject x layer for one target's fold."""

    subject: str
    layer: int
    weights: torch.Tensor  # (D * hidden, n_roi)
    intercept: torch.Tensor  # (n_roi,)
    y: torch.Tensor  # (n_roi,) BOLD at the target
    repeat: int = 0  # 0: y is the (mean) bold; k >= 1: y is the k-th repeat's BOLD


def delay_windows(
    lm: LoadedModel,
    words: list[str],
    target: Target,
    context_words: int,
    first: np.ndarray,
    stop: np.ndarray,
    floor: np.ndarray | None = None,
) -> list[Window | None]:
    """The window W_{t-d} of each delay (None where TR t-d has no words)."""
    return [
        None
        if s is None
        else Window(
            lm,
            words,
            *window_range(first[s], stop[s], context_words, 0 if floor is None else floor[s]),
            int(first[s]),
        )
        for s in target.delay_trs
    ]


def ba_predictions(
    lm: LoadedModel,
    windows: list[Window | None],
    heads: list[BAHead],
    layers: list[int],
    embeds: list[torch.Tensor] | None = None,
    states: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Predicted ROI BOLD of each head from the delay windows, each (n_roi,).

    ``states`` (n_present_windows, n_layers, hidden) may be given when the windows were
    run as part of a larger batch; otherwise they are computed here.
    """
    if states is None:
        present = [w for w in windows if w is not None]
        by_layer = pooled_states_by_layer(lm, present, layers, embeds)
    else:
        by_layer = [states[:, li] for li in range(len(layers))]
    return [readout(windows, by_layer[layers.index(head.layer)], head) for head in heads]


def readout(windows: list[Window | None], states: torch.Tensor, head: BAHead) -> torch.Tensor:
    """Predicted ROI BOLD (n_roi,) of one head from its layer's pooled states of the present
    windows (n_present, hidden); a delay whose TR has no words contributes zeros."""
    parts, k = [], 0
    for w in windows:
        if w is None:
            parts.append(states.new_zeros(states.shape[-1]))
        else:
            parts.append(states[k])
            k += 1
    return torch.cat(parts) @ head.weights + head.intercept


def scatter_words(
    target: Target, token_word_abs: list[np.ndarray], attrs: list[np.ndarray]
) -> np.ndarray:
    """Sum token scores per absolute word of the target's span, shape (n_span_words,)."""
    scores = np.zeros(target.span_stop - target.span_start)
    for tw, a in zip(token_word_abs, attrs, strict=True):
        inside = (tw >= target.span_start) & (tw < target.span_stop)
        np.add.at(scores, tw[inside] - target.span_start, a[inside])
    return scores


def ba_word_scores(
    lm: LoadedModel,
    words: list[str],
    target: Target,
    heads: list[BAHead],
    context_words: int,
    first: np.ndarray,
    stop: np.ndarray,
    method: str = "gxi",
    steps: int = 20,
    floor: np.ndarray | None = None,
    batch_tokens: int | None = None,
) -> list[np.ndarray]:
    """BA word scores over the target's span, one array per head (``floor``: see
    :func:`brainattr.features.window_range`).

    IG runs its steps as batches of scaled copies of the four windows, as many steps per
    forward pass as ``batch_tokens`` padded tokens allow (None: all steps in one pass), with
    one backward pass per head and batch (:func:`ba_ig_batched`)."""
    windows = delay_windows(lm, words, target, context_words, first, stop, floor)
    present = [w for w in windows if w is not None]
    layers = sorted({h.layer for h in heads})
    embeds = [lm.embed(w.ids) for w in present]
    token_words = [w.start + w.token_word for w in present]
    if method == "ig":
        attrs = ba_ig_batched(lm, windows, heads, layers, embeds, steps, batch_tokens)
        return [scatter_words(target, token_words, a) for a in attrs]

    def losses(xs: list[torch.Tensor]) -> list[torch.Tensor]:
        preds = ba_predictions(lm, windows, heads, layers, xs)
        return [((p - h.y) ** 2).mean() for p, h in zip(preds, heads, strict=True)]

    attrs = input_attributions(losses, embeds, method, steps)
    return [scatter_words(target, token_words, a) for a in attrs]


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

    The scaled copies a x of the present windows (midpoint rule, a = (k + 0.5) / steps) run as
    one right-padded batch; the gradient of the sum over a batch's steps of a head's loss
    gives each step's own gradient (the copies do not interact), so one backward pass per
    head and batch serves all its steps. Equal to :func:`input_attributions` (tested).

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
    scales = (np.arange(steps) + 0.5) / steps
    grad_sum = [[torch.zeros_like(x) for x in embeds] for _ in heads]
    for lo in range(0, steps, k):
        chunk = scales[lo : lo + k]
        xs = [(x.detach() * float(a)).requires_grad_(True) for a in chunk for x in embeds]
        by_layer = pooled_states_by_layer(lm, present * len(chunk), layers, xs)
        for j, h in enumerate(heads):
            states = by_layer[layers.index(h.layer)]
            loss = sum(
                ((readout(windows, states[c * n_p : (c + 1) * n_p], h) - h.y) ** 2).mean()
                for c in range(len(chunk))
            )
            grads = torch.autograd.grad(loss, xs, retain_graph=j < len(heads) - 1)
            for c in range(len(chunk)):
                for i in range(n_p):
                    grad_sum[j][i] += grads[c * n_p + i]
    return [
        [
            (x.detach() * g / steps).sum(-1).double().cpu().numpy()
            for x, g in zip(embeds, per, strict=True)
        ]
        for per in grad_sum
    ]


def nwp_inputs(
    lm: LoadedModel, words: list[str], target: Target
) -> tuple[torch.Tensor, np.ndarray]:
    """Token ids of span + next word, and each token's absolute word index."""
    ids, tw = lm.encode_words(words[target.span_start : target.next_word + 1])
    return ids, tw + target.span_start


def nwp_loss(
    lm: LoadedModel, embeds: torch.Tensor, ids: torch.Tensor, token_word: np.ndarray, next_word: int
) -> torch.Tensor:
    """Mean cross-entropy of the next word's tokens under teacher forcing."""
    logits = lm.model(inputs_embeds=embeds[None], use_cache=False).logits[0]
    return next_word_cross_entropy(logits, ids, token_word, next_word)


def next_word_cross_entropy(
    logits: torch.Tensor, ids: torch.Tensor, token_word: np.ndarray, next_word: int
) -> torch.Tensor:
    """Mean cross-entropy of the tokens of ``next_word`` from (n_tokens, vocab) logits."""
    pos = torch.as_tensor(np.flatnonzero(token_word == next_word), device=logits.device)
    return torch.nn.functional.cross_entropy(logits[pos - 1].float(), ids.to(logits.device)[pos])


def nwp_word_scores(
    lm: LoadedModel, words: list[str], target: Target, method: str = "gxi", steps: int = 20
) -> np.ndarray:
    """NWP word scores over the target's span (the next word's own tokens excluded)."""
    ids, tw = nwp_inputs(lm, words, target)
    attrs = input_attributions(
        lambda xs: [nwp_loss(lm, xs[0], ids, tw, target.next_word)],
        [lm.embed(ids)],
        method,
        steps,
    )
    return scatter_words(target, [tw], attrs[0])


def repeat_targets(
    kept_runs: np.ndarray, repeats: dict[int, np.ndarray], roi: np.ndarray
) -> dict[int, np.ndarray]:
    """Each presentation's ROI BOLD at every kept TR of a repeated run.

    Parameters
    ----------
    kept_runs : array of shape (n_kept,)
        Run of each kept TR (the rows of the encoding model).
    repeats : {run: array (n_repeats, n_kept_trs_of_run, n_voxels)}
    roi : bool array of shape (n_voxels,)

    Returns
    -------
    targets : {kept row: array (n_repeats, n_roi)}
        Each presentation z-scored over its run, as the mean BOLD is for encoding.
    """
    out = {}
    for run, rep in repeats.items():
        rows = np.flatnonzero(kept_runs == run)
        if rep.shape[1] != rows.size:
            raise ValueError(f"run {run}: {rep.shape[1]} repeated TRs but {rows.size} kept TRs")
        z = np.stack([zscore_per_run(r.astype(np.float64), np.zeros(len(r))) for r in rep])
        out.update({int(row): z[:, i, roi] for i, row in enumerate(rows)})
    return out


def load_heads(
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    dataset_dir: str | Path,
    ds: Dataset,
    dtype: torch.dtype,
    device: torch.device,
    backend: str = "numpy",
    repeats: bool = False,
):
    """Per (subject, layer): the encoding result with its ROI weights refit from the stored
    alphas (:func:`brainattr.encoding.roi_weights`), and the ROI BOLD (n_kept, n_roi).

    ``heads_for(target)`` gives one head per (subject, layer), in ``encoding_paths`` order;
    with ``repeats``, a target in a repeated run also gets one head per repeat (``repeat``
    = 1, 2, ...; its BOLD is that presentation's, z-scored over the run), after those.
    """
    from brainattr.features import read_features

    enc, ys, bolds, rep_ys = {}, {}, {}, {}
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    for (subject, layer), path in encoding_paths.items():
        e = read_encoding(path)
        if subject not in bolds:
            bolds[subject], _ = read_responses(dataset_dir, subject)
            ys[subject] = prepare_responses(bolds[subject], runs, kept)[:, e["roi"]]
            reps = read_repeats(dataset_dir, subject) if repeats else {}
            rep_ys[subject] = repeat_targets(runs[kept], reps, e["roi"])
        feats = read_features(features_path, layer)
        n_delays = int(e["attrs"]["n_delays"])
        e.update(roi_weights(feats, bolds[subject], runs, kept, n_delays, e, backend))
        enc[(subject, layer)] = e

    def head(s: str, lay: int, e: dict, k: int, y: np.ndarray, repeat: int = 0) -> BAHead:
        def t(a):
            return torch.as_tensor(a, dtype=dtype, device=device)

        return BAHead(s, lay, t(e[f"weights_{k}"]), t(e[f"intercept_{k}"]), t(y), repeat)

    def heads_for(target: Target) -> list[BAHead]:
        k = target.fold
        out = [head(s, lay, e, k, ys[s][target.row]) for (s, lay), e in enc.items()]
        for (s, lay), e in enc.items():
            for j, y in enumerate(rep_ys[s].get(target.row, [])):
                out.append(head(s, lay, e, k, y, repeat=j + 1))
        return out

    return enc, heads_for


def run_attribution(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    layers_path: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    n_delays: int,
    method: str,
    ig_steps: int,
    n_targets: int,
    seed: int,
    out_scores: str | Path,
    out_targets: str | Path,
    device: str = "auto",
    batch_tokens: int = 8192,
    vjp_batch: int = 64,
    engine: str = "per_target",
    repeats: bool = True,
    out_repeat_scores: str | Path | None = None,
) -> None:
    """Workflow stage ``attribution``: BA (selected layers x subjects) and NWP word scores.

    BA comes from ``engine``: ``per_target`` (:func:`ba_word_scores`: the four windows once per
    target, one backward pass per subject x layer; IG steps batched within ``batch_tokens``)
    or ``shared`` (:mod:`brainattr.engine`: one forward pass per window for all targets,
    batched VJPs); both give the same scores to float precision (tests/test_engine.py). NWP
    IG batches each target's steps under either engine.

    Writes a tidy Parquet table with one row per (task, subject, layer, target, word):
    ``task`` (ba/nwp), ``method``, ``subject`` ("" for nwp), ``layer`` (-1 for nwp, read
    from the final head), ``layer_group``, ``target_tr``, ``fold``, ``word_index``,
    ``distance``, ``word``, ``score``; and a TSV of the targets. With ``repeats``, the BA
    scores of targets in a repeated run are also computed against each presentation's BOLD
    and written to ``out_repeat_scores`` (same columns plus ``repeat``; no rows when the
    dataset has no repeats).
    """
    from brainattr.engine import ba_scores_shared, nwp_scores_batched  # it builds on this module

    ds = read_dataset(dataset_dir)
    chosen = selected_layers(layers_path)
    group_of = {lay: g for g, lay in chosen.items()}
    paths = {k: v for k, v in encoding_paths.items() if k[1] in group_of}
    lm = load_model(model_spec, device)
    dtype = lm.embedding.weight.dtype
    enc, heads_for = load_heads(
        paths, features_path, dataset_dir, ds, dtype, lm.device, repeats=repeats
    )
    fold = next(iter(enc.values()))["fold"]
    targets = sample_targets(eligible_targets(ds, context_words, n_delays, fold), n_targets, seed)
    if not targets:
        raise ValueError(f"{dataset_dir}: no eligible attribution target (see eligible_targets)")
    words = ds.words["word"].tolist()
    first, stop = tr_word_ranges(ds.word_tr, len(ds.trs))
    floor = ds.context_floor
    target_heads = [heads_for(t) for t in targets]  # built once, used by both stages
    if engine == "shared":
        ba_all = ba_scores_shared(
            lm,
            words,
            targets,
            heads_for,
            context_words,
            first,
            stop,
            method,
            ig_steps,
            batch_tokens,
            vjp_batch,
            floor,
        )
        nwp_all = nwp_scores_batched(lm, words, targets, method, ig_steps, batch_tokens)
    else:
        ba_all, nwp_all = [], []
        with Progress(len(targets), f"BA {method}", "target") as bar:
            for t, heads in zip(targets, target_heads, strict=True):
                ba_all.append(
                    ba_word_scores(
                        lm,
                        words,
                        t,
                        heads,
                        context_words,
                        first,
                        stop,
                        method,
                        ig_steps,
                        floor,
                        batch_tokens,
                    )
                )
                bar.update()
        with Progress(len(targets), f"NWP {method}", "target") as bar:
            for t in targets:
                if method == "ig":  # the target's IG steps batched
                    nwp_all += nwp_scores_batched(lm, words, [t], method, ig_steps, batch_tokens)
                else:
                    nwp_all.append(nwp_word_scores(lm, words, t, method, ig_steps))
                bar.update()
    frames, repeat_frames = [], []
    for i, (tgt, heads) in enumerate(zip(targets, target_heads, strict=True)):
        span = np.arange(tgt.span_start, tgt.span_stop)
        base = {
            "target_tr": tgt.tr,
            "fold": tgt.fold,
            "word_index": span,
            "distance": tgt.distance(span),
            "word": [words[j] for j in span],
            "method": method,
        }
        for h, sc in zip(heads, ba_all[i], strict=True):
            frame = pd.DataFrame(
                {
                    **base,
                    "task": "ba",
                    "subject": h.subject,
                    "layer": h.layer,
                    "layer_group": group_of[h.layer],
                    "score": sc,
                }
            )
            if h.repeat:
                repeat_frames.append(frame.assign(repeat=h.repeat))
            else:
                frames.append(frame)
        nwp = nwp_all[i]
        frames.append(
            pd.DataFrame(
                {
                    **base,
                    "task": "nwp",
                    "subject": "",
                    "layer": -1,
                    "layer_group": "final",
                    "score": nwp,
                }
            )
        )
    cols = [
        "task",
        "method",
        "subject",
        "layer",
        "layer_group",
        "target_tr",
        "fold",
        "word_index",
        "distance",
        "word",
        "score",
    ]
    pd.concat(frames, ignore_index=True)[cols].to_parquet(out_scores, index=False)
    if out_repeat_scores is not None:
        rep = pd.concat(repeat_frames, ignore_index=True) if repeat_frames else None
        if rep is None:
            rep = pd.DataFrame({c: pd.Series(dtype=float) for c in [*cols, "repeat"]})
        rep[[*cols, "repeat"]].to_parquet(out_repeat_scores, index=False)
    pd.DataFrame(
        [
            {
                "target_tr": t.tr,
                "fold": t.fold,
                "span_start": t.span_start,
                "span_stop": t.span_stop,
                "next_word": t.next_word,
            }
            for t in targets
        ]
    ).to_csv(out_targets, sep="\t", index=False)
