"""Analyses of word scores: important sets, BA/NWP overlap, spread, positions.

Every function takes the tidy score table written by the attribution stage (columns
``task, subject, layer, layer_group, target_tr, word_index, distance, word, score``). A
*context* is one target's span for one task (BA: per subject x layer; NWP: per target).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from brainattr.tables import (
    CENTER_OF_MASS,
    CONTEXT,
    DISPERSION,
    IMPORTANT_SETS,
    IOU,
    MASKING,
    MASKING_SUMMARY,
    POSITIONS,
    SCORES,
    SPREAD,
    SPREAD_TESTS,
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


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as ``p``."""
    p = np.asarray(p, dtype=float)
    n = p.size
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


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


def ba_nwp_pairs(scores: pd.DataFrame) -> Iterator[tuple[tuple, np.ndarray, np.ndarray]]:
    """(BA context key, BA scores, NWP scores) over the same target span."""
    nwp = {k[-1]: g["score"].to_numpy() for k, g in contexts(scores[scores["task"] == "nwp"])}
    for key, g in contexts(scores[scores["task"] == "ba"]):
        yield key, g["score"].to_numpy(), nwp[key[-1]]


def iou_table(scores: pd.DataFrame, thresholds: list[float], seed: int) -> pd.DataFrame:
    """BA/NWP IoU per BA context and threshold, with the permutation baseline.

    The baseline permutes each task's scores within the context (seeded) and recomputes
    the IoU, i.e. the overlap expected from sets of the same sizes at random.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for key, ba, nwp in ba_nwp_pairs(scores):
        ba_p, nwp_p = rng.permutation(ba), rng.permutation(nwp)
        for t in thresholds:
            rows.append(
                (
                    *key[1:],
                    t,
                    iou(important_set(ba, t), important_set(nwp, t)),
                    iou(important_set(ba_p, t), important_set(nwp_p, t)),
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


def spread_tests(spread: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided t-test of BA vs NWP spread AUC per (model, layer group), BH-FDR.

    ``spread`` holds one or more models (column ``model``); a BA context (subject, layer,
    target) is paired with the NWP context of the same target.
    """
    rows = []
    for (model, group), g in spread[spread["task"] == "ba"].groupby(["model", "layer_group"]):
        nwp = spread[(spread["task"] == "nwp") & (spread["model"] == model)]
        paired = g.merge(nwp[["target_tr", "auc"]], on="target_tr", suffixes=("_ba", "_nwp"))
        res = stats.ttest_rel(paired["auc_ba"], paired["auc_nwp"])
        rows.append(
            (
                model,
                group,
                len(paired),
                paired["auc_ba"].mean(),
                paired["auc_nwp"].mean(),
                float(res.statistic),
                float(res.pvalue),
            )
        )
    out = pd.DataFrame(rows, columns=SPREAD_TESTS[:7])
    out["q"] = bh_fdr(out["p"].to_numpy())
    out["significant"] = out["q"] < alpha
    return out


def positions_table(scores: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positional distribution of important words and per-context centre of mass.

    Returns
    -------
    histogram : DataFrame
        ``task, layer_group, distance, count, share``.
    summary : DataFrame
        Per context: ``center_of_mass``, ``iqr`` (|score|-weighted), ``n_important``.
    """
    hist_rows, summ_rows = [], []
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
    hist = pd.DataFrame(hist_rows, columns=POSITIONS[:3])
    hist = hist.groupby(["task", "layer_group", "distance"]).size().rename("count").reset_index()
    hist["share"] = hist["count"] / hist.groupby(["task", "layer_group"])["count"].transform("sum")
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


def run_analyses(
    scores_path: str | Path,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
    out: dict[str, str],
) -> None:
    """Workflow stage ``analyses``: important sets, IoU, spread, positions as TSV tables."""
    scores = read_table(scores_path, SCORES)
    sets = important_sets(scores, thresholds)
    write_table(sets, out["important_sets"], IMPORTANT_SETS)
    write_table(iou_table(scores, thresholds, seed), out["iou"], IOU)
    write_table(spread_table(sets), out["spread"], SPREAD)
    hist, summary = positions_table(scores, position_threshold)
    write_table(hist, out["positions"], POSITIONS)
    com = summary.merge(dispersion_table(hist), on=["task", "layer_group"])
    write_table(com, out["center_of_mass"], CENTER_OF_MASS)


def run_spread_tests(spread_paths: dict[str, str], alpha: float, out_path: str | Path) -> None:
    """Workflow stage ``spread_tests``: BA vs NWP across models, BH-FDR over all tests."""
    spread = pd.concat([read_table(p, SPREAD).assign(model=m) for m, p in spread_paths.items()])
    write_table(spread_tests(spread, alpha), out_path, SPREAD_TESTS)


def masking_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The masking table of every model: mean relative change per task, layer group and mask.

    Parameters
    ----------
    tables : {model: masking table written by :func:`brainattr.masking.run_masking`}

    Returns
    -------
    table : DataFrame
        ``model, task, layer_group, mask, change_percent`` (mean over subjects of
        100 x relative change; for NWP, ``ba_top`` rows give the layer group whose BA-top
        words were masked), ``n_masked``, ``n_targets``.
    """
    rows = []
    for model, t in tables.items():
        t = t[t["mask"] != "none"]
        g = t.groupby(["task", "layer_group", "mask"], sort=False)
        out = g.agg(
            change_percent=("relative", "mean"),
            n_masked=("n_masked", "first"),
            n_targets=("n_targets", "first"),
        ).reset_index()
        out["change_percent"] *= 100
        rows.append(out.assign(model=model))
    return pd.concat(rows, ignore_index=True)[MASKING_SUMMARY]


def run_masking_summary(paths: dict[str, str], out_path: str | Path) -> None:
    """Workflow stage ``masking_table``: one table of every model's masking results."""
    tables = {m: read_table(p, MASKING) for m, p in paths.items()}
    write_table(masking_summary(tables), out_path, MASKING_SUMMARY)
