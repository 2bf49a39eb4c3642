"""Analyses of word scores: important sets, BA/NWP overlap, spread, positions.

Every function takes the tidy score table written by the attribution stage (columns
``task, subject, layer, layer_group, target_tr, word_index, distance, word, score``). A
*context* is one target's span for one task (BA: per subject x layer; NWP: per readout, i.e.
the model's output or a layer's logit lens). A BA context at layer l is paired with NWP read at l
where it was (:func:`paired_nwp`), else with NWP(final), the paper's pairing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
import pandas as pd

from brainattr.tables import (
    CENTER_OF_MASS,
    CONTEXT,
    DISPERSION,
    FINAL,
    IMPORTANT_SETS,
    IOU,
    POSITIONS,
    SPREAD,
)


def important_set(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Smallest set of words, by |score| descending, holding ``threshold`` of the total |score|.

    Parameters
    ----------
    scores : array of shape (n_words,)
    threshold : float in (0, 1]

    Returns
    -------
    mask : bool array of shape (n_words,)
        Empty when every score is zero. Ties are broken by word order.
    """
    return important_masks(scores, np.array([threshold]))[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two boolean masks (1 when both are empty)."""
    return float(ious(a, b))


def important_masks(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """:func:`important_set` at every threshold from one sort.

    Parameters
    ----------
    scores : array of shape (n_words,)
    thresholds : array of shape (n_thresholds,)

    Returns
    -------
    masks : bool array of shape (n_thresholds, n_words)
    """
    mag = np.abs(np.asarray(scores, dtype=float))
    th = np.asarray(thresholds, dtype=float)
    total = mag.sum()
    if total == 0:
        return np.zeros((th.size, mag.size), dtype=bool)
    order = np.argsort(-mag, kind="stable")
    n = np.searchsorted(np.cumsum(mag[order]) / total, th - 1e-12, side="left") + 1
    rank = np.empty(mag.size, dtype=np.int64)
    rank[order] = np.arange(mag.size)
    return rank[None, :] < np.minimum(n, mag.size)[:, None]


def ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`iou` of each row of two mask arrays (n_thresholds, n_words): (n_thresholds,)."""
    union = np.logical_or(a, b).sum(axis=-1)
    inter = np.logical_and(a, b).sum(axis=-1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def center_of_mass(distance: np.ndarray, scores: np.ndarray, mask: np.ndarray) -> float:
    """sum d |a_d| / sum |a_d| over the words in ``mask`` (NaN if empty)."""
    w = np.abs(scores[mask])
    return float((distance[mask] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")


def normalized_entropy(counts: np.ndarray) -> float:
    """Shannon entropy of a histogram divided by log(n_bins): 0 = one bin, 1 = flat."""
    p = np.asarray(counts, dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts))) if len(counts) > 1 else 0.0


def weighted_iqr(values: np.ndarray, weights: np.ndarray) -> float:
    """Interquartile range of ``values`` weighted by ``weights``."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    q1, q3 = np.interp([0.25, 0.75], cdf, v)
    return float(q3 - q1)


def auc(thresholds: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``thresholds`` (fractions in [0, 1])."""
    order = np.argsort(thresholds)
    x, y = np.asarray(thresholds, float)[order], np.asarray(values, float)[order]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def contexts(scores: pd.DataFrame) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(key, rows sorted by word) for every context of the score table."""
    for key, g in scores.groupby(CONTEXT, sort=True):
        yield key, g.sort_values("word_index")


def important_sets(
    scores: pd.DataFrame, thresholds: list[float], words: bool = True
) -> pd.DataFrame:
    """Size of every context's important set at every threshold.

    Returns
    -------
    table : DataFrame
        ``CONTEXT`` + ``threshold``, ``n_important``, ``n_words``, ``words`` (the set's
        word indices, space separated; "" unless ``words``).
    """
    rows = []
    for key, g in contexts(scores):
        idx = g["word_index"].to_numpy().astype(str)
        masks = important_masks(g["score"].to_numpy(), thresholds)
        rows.extend((*key, t, int(m.sum()), len(idx), " ".join(idx[m]) if words else "")
                    for t, m in zip(thresholds, masks, strict=True))  # fmt: skip
    return pd.DataFrame(rows, columns=IMPORTANT_SETS)


NwpScores = dict[tuple[int, int], np.ndarray]


def nwp_scores_by_context(scores: pd.DataFrame) -> NwpScores:
    """Each NWP context's word scores in word order, keyed (readout layer, target TR); the
    readout layer is :data:`brainattr.tables.FINAL` for the model's output."""
    return {(k[2], k[-1]): g["score"].to_numpy()
            for k, g in contexts(scores[scores["task"] == "nwp"])}  # fmt: skip


def paired_nwp(nwp: NwpScores, layer: int, target: int, readout: str = "layer") -> np.ndarray:
    """The NWP scores a BA context at ``layer`` is compared with: ``readout`` "layer" = NWP
    read at the same layer (logit lens) where it was, else NWP(final); "final" = NWP(final)."""
    if readout == "layer" and (layer, target) in nwp:
        return nwp[layer, target]
    if (FINAL, target) not in nwp:
        raise KeyError(f"no NWP scores of target TR {target} at layer {layer} or final")
    return nwp[FINAL, target]


def ba_nwp_pairs(
    scores: pd.DataFrame, readout: str = "layer"
) -> Iterator[tuple[tuple, np.ndarray, np.ndarray]]:
    """(BA context key, BA scores, paired NWP scores (:func:`paired_nwp`)) over one span."""
    nwp = nwp_scores_by_context(scores)
    for key, g in contexts(scores[scores["task"] == "ba"]):
        yield key, g["score"].to_numpy(), paired_nwp(nwp, key[2], key[-1], readout)


def position_partners(scores: pd.DataFrame, seed: int) -> dict[int, int | None]:
    """For each target, another target whose span shares no word with its own (seeded).

    Its NWP scores, compared at the same distances from the most recent word, give the
    overlap that position alone produces (the position-keeping baseline of the IoU).
    """
    return partners_of_spans(nwp_spans(scores), seed)


def nwp_spans(scores: pd.DataFrame) -> pd.DataFrame:
    """First and last word (``min``, ``max``) of each target's NWP span, indexed by target."""
    return scores[scores["task"] == "nwp"].groupby("target_tr")["word_index"].agg(["min", "max"])


def partners_of_spans(spans: pd.DataFrame, seed: int) -> dict[int, int | None]:
    """:func:`position_partners` from :func:`nwp_spans` (of every target, in target order)."""
    rng = np.random.default_rng(seed)
    lo_all, hi_all, index = spans["min"].to_numpy(), spans["max"].to_numpy(), spans.index
    out: dict[int, int | None] = {}
    for t, lo, hi in zip(index, lo_all, hi_all, strict=True):
        apart = index[(hi_all < lo) | (lo_all > hi)].to_numpy()
        out[int(t)] = int(rng.choice(apart)) if apart.size else None
    return out


def iou_by_distance(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """IoU of two important sets ordered by word (distance descending), compared at the
    distances both spans reach (the last ``min(n_words)`` positions); masks of shape
    (n_words,) give a float, (n_thresholds, n_words) an array (n_thresholds,)."""
    n = min(a.shape[-1], b.shape[-1])
    out = ious(a[..., a.shape[-1] - n :], b[..., b.shape[-1] - n :])
    return float(out) if out.ndim == 0 else out


def context_rng(seed: int, key: tuple) -> np.random.Generator:
    """A generator seeded by the config's seed and a context's key, so that a context's draws
    do not depend on which other contexts are analysed with it (chunks of targets)."""
    return np.random.default_rng([seed, zlib.crc32(repr(tuple(map(str, key))).encode())])


def iou_table(
    scores: pd.DataFrame,
    thresholds: list[float],
    seed: int,
    nwp_of: NwpScores | None = None,
    partners: dict[int, int | None] | None = None,
) -> pd.DataFrame:
    """BA/NWP IoU per BA context and threshold, with two chance baselines.

    ``iou`` pairs BA(l) with NWP(l) where NWP was read at l (:func:`paired_nwp`), and so do
    the baselines; ``iou_final`` pairs it with NWP(final), the paper's pairing (NaN without).

    ``iou_random`` permutes each task's scores within the context (seeded per context,
    :func:`context_rng`): the overlap of sets of the same sizes at random positions.
    ``iou_position`` compares the BA set with the NWP set of another target whose span shares
    no word (:func:`position_partners`), at the same distances: the overlap that both tasks'
    positional preferences (recency) give without any shared word. NaN when no such target
    exists. ``nwp_of`` and ``partners`` (every target's, when ``scores`` holds a chunk of
    targets) default to those of ``scores``.
    """
    nwp_of = nwp_scores_by_context(scores) if nwp_of is None else nwp_of
    partners = position_partners(scores, seed) if partners is None else partners
    th = np.asarray(thresholds, dtype=float)
    nan = np.full(th.size, np.nan)
    rows = []
    for key, g in contexts(scores[scores["task"] == "ba"]):
        layer, target = key[2], key[-1]
        ba, nwp = g["score"].to_numpy(), paired_nwp(nwp_of, layer, target)
        final = nwp_of.get((FINAL, target))
        rng = context_rng(seed, key)
        ba_p, nwp_p = rng.permutation(ba), rng.permutation(nwp)
        ba_sets = important_masks(ba, th)
        other = None if partners[target] is None else paired_nwp(nwp_of, layer, partners[target])
        position = nan if other is None else iou_by_distance(ba_sets, important_masks(other, th))
        columns = (
            th,
            ious(ba_sets, important_masks(nwp, th)),
            ious(important_masks(ba_p, th), important_masks(nwp_p, th)),
            position,
            ious(ba_sets, important_masks(final, th)) if final is not None else nan,
        )
        rows.extend((*key[1:], *values) for values in zip(*columns, strict=True))
    return pd.DataFrame(rows, columns=IOU)


def spread_table(sets: pd.DataFrame) -> pd.DataFrame:
    """Per context: AUC of words needed over thresholds (from :func:`important_sets`)."""
    rows = []
    for key, g in sets.groupby(CONTEXT, sort=True):
        rows.append(
            (
                *key,
                auc(g["threshold"].to_numpy(), g["n_important"].to_numpy()),
                int(g["n_words"].iloc[0]),
            )
        )
    return pd.DataFrame(rows, columns=SPREAD)


def position_parts(
    scores: pd.DataFrame, threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What :func:`positions_table` sums over contexts, so that chunks of targets add up.

    Returns
    -------
    counts : DataFrame
        ``task, layer_group, distance, count``: important words at each distance.
    reach : DataFrame
        ``task, layer_group, reach``: per context, the farthest distance its span reaches.
    summary : DataFrame
        Per context: ``center_of_mass``, ``iqr`` (|score|-weighted), ``n_important``.
    """
    tasks, groups, distances, reach, summ_rows = [], [], [], [], []
    for key, g in contexts(scores):
        s, d = g["score"].to_numpy(), g["distance"].to_numpy()
        m = important_set(s, threshold)
        summ_rows.append(
            (
                *key,
                center_of_mass(d, s, m),
                weighted_iqr(d[m], np.abs(s[m])) if m.any() else float("nan"),
                int(m.sum()),
            )
        )
        tasks.append(key[0])
        groups.append(key[3])
        distances.append(d[m].astype(np.int64))
        reach.append(int(d.max()))  # the farthest distance the span reaches
    n = [x.size for x in distances]
    hist = pd.DataFrame(
        {
            "task": np.repeat(np.array(tasks, dtype=object), n),
            "layer_group": np.repeat(np.array(groups, dtype=object), n),
            "distance": np.concatenate(distances) if distances else np.zeros(0, np.int64),
        }
    )
    counts = hist.groupby(POSITIONS[:3]).size().rename("count").reset_index()
    reaches = pd.DataFrame({"task": tasks, "layer_group": groups,
                            "reach": np.array(reach, dtype=np.int64)})  # fmt: skip
    return counts, reaches, pd.DataFrame(summ_rows, columns=CENTER_OF_MASS[:-1])


def positions_from_parts(counts: pd.DataFrame, reach: pd.DataFrame) -> pd.DataFrame:
    """The positional histogram of :func:`positions_table` from :func:`position_parts`'
    ``counts`` and ``reach`` (of one chunk, or concatenated over chunks)."""
    keys = POSITIONS[:3]
    hist = counts.groupby(keys)["count"].sum().reset_index() if len(counts) else counts
    hist["count"] = hist["count"].astype(np.int64)
    hist["distance"] = hist["distance"].astype(np.int64)
    hist["share"] = hist["count"] / hist.groupby(["task", "layer_group"])["count"].transform("sum")
    # contexts whose span reaches each distance: short spans (a story's start) reach less far
    far = {k: np.sort(g.to_numpy()) for k, g in reach.groupby(["task", "layer_group"])["reach"]}
    rows = zip(hist["task"], hist["layer_group"], hist["distance"], strict=True)
    hist["n_contexts"] = [int(far[t, g].size - np.searchsorted(far[t, g], d)) for t, g, d in rows]
    hist["rate"] = hist["count"] / hist["n_contexts"]
    return hist


def positions_table(scores: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positional distribution of important words and per-context centre of mass.

    Returns
    -------
    histogram : DataFrame
        ``task, layer_group, distance, count, share`` (of the important words),
        ``n_contexts`` (contexts whose span reaches the distance) and ``rate`` = count /
        n_contexts (the chance that a context that reaches the distance has an important word
        there: normalised for spans shorter than L + 4 TRs).
    summary : DataFrame
        Per context: ``center_of_mass``, ``iqr`` (|score|-weighted), ``n_important``.
    """
    counts, reach, summary = position_parts(scores, threshold)
    return positions_from_parts(counts, reach), summary  # entropy merged later


def dispersion_table(hist: pd.DataFrame) -> pd.DataFrame:
    """Normalised entropy of each positional distribution (task x layer group)."""
    rows = []
    for (task, group), g in hist.groupby(["task", "layer_group"]):
        span = int(g["distance"].max()) + 1
        counts = np.zeros(span)
        counts[g["distance"].to_numpy()] = g["count"].to_numpy()
        rows.append((task, group, normalized_entropy(counts)))
    return pd.DataFrame(rows, columns=DISPERSION)
