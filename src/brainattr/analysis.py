"""Analyses of word scores: important sets, BA/NWP overlap, spread, positions.

Every function takes the tidy score table written by the attribution stage (columns
``task, subject, layer, layer_group, target_tr, word_index, distance, word, score``). A
*context* is one target's span for one task (BA: per subject x layer; NWP: per readout, i.e.
the model's output or a layer's logit lens). A BA context at layer l is paired with NWP read at l
where it was (:func:`paired_nwp`), else with NWP(final), the paper's pairing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.tables import (
    CENTER_OF_MASS,
    CONTEXT,
    DISPERSION,
    FINAL,
    IMPORTANT_SETS,
    IOU,
    NULL_SCORES,
    POSITIONS,
    SCORES,
    SPREAD,
    empty_table,
    read_table,
    write_table,
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
    mag = np.abs(np.asarray(scores, dtype=float))
    total = mag.sum()
    mask = np.zeros(mag.shape, dtype=bool)
    if total == 0:
        return mask
    order = np.argsort(-mag, kind="stable")
    share = np.cumsum(mag[order]) / total
    n = int(np.searchsorted(share, threshold - 1e-12, side="left")) + 1
    mask[order[: min(n, mag.size)]] = True
    return mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two boolean masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


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


def important_sets(scores: pd.DataFrame, thresholds: list[float]) -> pd.DataFrame:
    """Size of every context's important set at every threshold.

    Returns
    -------
    table : DataFrame
        ``CONTEXT`` + ``threshold``, ``n_important``, ``n_words``, ``words`` (the set's
        word indices, space separated).
    """
    rows = []
    for key, g in contexts(scores):
        s, idx = g["score"].to_numpy(), g["word_index"].to_numpy()
        for t in thresholds:
            m = important_set(s, t)
            rows.append((*key, t, int(m.sum()), len(s), " ".join(map(str, idx[m]))))
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
    nwp = scores[scores["task"] == "nwp"].groupby("target_tr")["word_index"].agg(["min", "max"])
    rng = np.random.default_rng(seed)
    out: dict[int, int | None] = {}
    for t, (lo, hi) in nwp.iterrows():
        apart = nwp.index[(nwp["max"] < lo) | (nwp["min"] > hi)].to_numpy()
        out[int(t)] = int(rng.choice(apart)) if apart.size else None
    return out


def iou_by_distance(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two important sets ordered by word (distance descending), compared at the
    distances both spans reach (the last ``min(len)`` positions)."""
    n = min(len(a), len(b))
    return iou(a[len(a) - n :], b[len(b) - n :])


def iou_table(scores: pd.DataFrame, thresholds: list[float], seed: int) -> pd.DataFrame:
    """BA/NWP IoU per BA context and threshold, with two chance baselines.

    ``iou`` pairs BA(l) with NWP(l) where NWP was read at l (:func:`paired_nwp`), and so do
    the baselines; ``iou_final`` pairs it with NWP(final), the paper's pairing (NaN without).

    ``iou_random`` permutes each task's scores within the context (seeded): the overlap of
    sets of the same sizes at random positions. ``iou_position`` compares the BA set with the
    NWP set of another target whose span shares no word (:func:`position_partners`), at the
    same distances: the overlap that both tasks' positional preferences (recency) give
    without any shared word. NaN when no such target exists.
    """
    rng = np.random.default_rng(seed)
    partners = position_partners(scores, seed)
    nwp_of = nwp_scores_by_context(scores)
    rows = []
    for key, g in contexts(scores[scores["task"] == "ba"]):
        layer, target = key[2], key[-1]
        ba, nwp = g["score"].to_numpy(), paired_nwp(nwp_of, layer, target)
        final = nwp_of.get((FINAL, target))
        ba_p, nwp_p = rng.permutation(ba), rng.permutation(nwp)
        partner = partners[target]
        other = None if partner is None else paired_nwp(nwp_of, layer, partner)
        for t in thresholds:
            ba_set = important_set(ba, t)
            position = (
                iou_by_distance(ba_set, important_set(other, t))
                if other is not None
                else float("nan")
            )
            rows.append(
                (
                    *key[1:],
                    t,
                    iou(ba_set, important_set(nwp, t)),
                    iou(important_set(ba_p, t), important_set(nwp_p, t)),
                    position,
                    iou(ba_set, important_set(final, t)) if final is not None else float("nan"),
                )
            )
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
    hist_rows, summ_rows, reach = [], [], {}
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
        hist_rows.extend((key[0], key[3], int(x)) for x in d[m])
        reach.setdefault((key[0], key[3]), []).append(int(d.max()))
    hist = pd.DataFrame(hist_rows, columns=POSITIONS[:3])
    hist = hist.groupby(["task", "layer_group", "distance"]).size().rename("count").reset_index()
    hist["share"] = hist["count"] / hist.groupby(["task", "layer_group"])["count"].transform("sum")
    # contexts whose span reaches each distance: short spans (a story's start) reach less far
    far = {k: np.sort(v) for k, v in reach.items()}  # farthest distance of each context
    keys = zip(hist["task"], hist["layer_group"], hist["distance"], strict=True)
    hist["n_contexts"] = [int(far[t, g].size - np.searchsorted(far[t, g], d)) for t, g, d in keys]
    hist["rate"] = hist["count"] / hist["n_contexts"]
    summary = pd.DataFrame(summ_rows, columns=CENTER_OF_MASS[:-1])  # entropy merged later
    return hist, summary


def dispersion_table(hist: pd.DataFrame) -> pd.DataFrame:
    """Normalised entropy of each positional distribution (task x layer group)."""
    rows = []
    for (task, group), g in hist.groupby(["task", "layer_group"]):
        span = int(g["distance"].max()) + 1
        counts = np.zeros(span)
        counts[g["distance"].to_numpy()] = g["count"].to_numpy()
        rows.append((task, group, normalized_entropy(counts)))
    return pd.DataFrame(rows, columns=DISPERSION)


ANALYSIS_TABLES = {
    "important_sets": IMPORTANT_SETS,
    "iou": IOU,
    "spread": SPREAD,
    "positions": POSITIONS,
    "center_of_mass": CENTER_OF_MASS,
}


def analysis_tables(
    scores: pd.DataFrame, thresholds: list[float], position_threshold: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Important sets, IoU, spread, positions and centre of mass of a score table."""
    sets = important_sets(scores, thresholds)
    hist, summary = positions_table(scores, position_threshold)
    return {
        "important_sets": sets,
        "iou": iou_table(scores, thresholds, seed),
        "spread": spread_table(sets),
        "positions": hist,
        "center_of_mass": summary.merge(dispersion_table(hist), on=["task", "layer_group"]),
    }


def null_analysis_tables(
    scores: pd.DataFrame,
    null_scores: pd.DataFrame,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The same tables for each brain-free null's BA scores (column ``null``), paired with
    the same NWP scores; empty tables (with the columns) where there are no nulls."""
    nwp = scores[scores["task"] == "nwp"]
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ANALYSIS_TABLES}
    for null, ba in null_scores.groupby("null", sort=True):
        combined = pd.concat([ba.drop(columns="null"), nwp], ignore_index=True)
        for name, t in analysis_tables(combined, thresholds, position_threshold, seed).items():
            ba_rows = t[t["task"] == "ba"] if "task" in t else t  # NWP rows are the observed
            parts[name].append(ba_rows.assign(null=null))
    return {
        name: pd.concat(p, ignore_index=True) if p else empty_table([*cols, "null"])
        for (name, cols), p in zip(ANALYSIS_TABLES.items(), parts.values(), strict=True)
    }


def run_analyses(
    scores_path: str | Path,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
    out: dict[str, str],
    null_scores_path: str | Path | None = None,
) -> None:
    """Workflow stage ``analyses``: important sets, IoU, spread, positions as TSV tables
    (``out[name]`` for each of :data:`ANALYSIS_TABLES`) and, from ``null_scores_path``, the
    same tables of the brain-free nulls (``out["null_" + name]``, column ``null``)."""
    scores = read_table(scores_path, SCORES)
    for name, t in analysis_tables(scores, thresholds, position_threshold, seed).items():
        write_table(t, out[name], ANALYSIS_TABLES[name])
    if null_scores_path is not None:
        nulls = read_table(null_scores_path, NULL_SCORES)
        tables = null_analysis_tables(scores, nulls, thresholds, position_threshold, seed)
        for name, t in tables.items():
            write_table(t, out[f"null_{name}"], [*ANALYSIS_TABLES[name], "null"])
