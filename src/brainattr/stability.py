"""Stability of BA attributions: the same target's word scores across subjects and across
the separate presentations of a repeated run.

Agreement of two score vectors over the same span: Spearman rank correlation, and the IoU
of their important sets at a threshold, beside two chance baselines: the IoU of the same sets
after permuting each vector within the span (seeded), and, between subjects, the IoU of one
subject's set with the other's set for another target whose span shares no word, at the same
distances (``iou_position``: the agreement that a shared positional preference gives alone).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from brainattr.analysis import important_set, iou, iou_by_distance, position_partners
from brainattr.tables import (
    NULL_SCORES,
    REPEAT_SCORES,
    SCORES,
    STABILITY,
    empty_table,
    read_table,
    write_table,
)


def agreement(
    a: np.ndarray, b: np.ndarray, threshold: float, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(Spearman rho, IoU of the important sets, IoU after permuting each) of two score vectors.

    Parameters
    ----------
    a, b : arrays of shape (n_words,)
        Scores of the same words.
    threshold : float
        Cumulative-mass threshold of the important sets.
    rng : Generator
        For the permutation baseline.
    """
    if a.shape != b.shape:
        raise ValueError(f"score vectors of shapes {a.shape} and {b.shape} cover different spans")
    rho = float(stats.spearmanr(a, b).statistic) if a.size > 1 else float("nan")
    overlap = iou(important_set(a, threshold), important_set(b, threshold))
    chance = iou(
        important_set(rng.permutation(a), threshold), important_set(rng.permutation(b), threshold)
    )
    return rho, overlap, chance


def _vectors(table: pd.DataFrame, by: list[str], member: str):
    for key, g in table.groupby(by, sort=True):
        yield (
            key,
            {m: x.sort_values("word_index")["score"].to_numpy() for m, x in g.groupby(member)},
        )


def stability_table(
    scores: pd.DataFrame, repeat_scores: pd.DataFrame, threshold: float, seed: int
) -> pd.DataFrame:
    """Pairwise agreement of BA attributions between subjects and between repeats.

    Parameters
    ----------
    scores : DataFrame
        The attribution score table (BA rows are used).
    repeat_scores : DataFrame
        BA scores per presentation of a repeated run (column ``repeat``); may be empty.
    threshold : float
    seed : int

    Returns
    -------
    table : DataFrame
        ``brainattr.tables.STABILITY``: ``comparison`` is ``subjects`` (``a``, ``b``
        subjects; ``subject`` "") or ``repeats`` (``a``, ``b`` repeat numbers of ``subject``).
    """
    rng = np.random.default_rng(seed)
    ba = scores[scores["task"] == "ba"]
    partners = position_partners(scores, seed) if len(scores) else {}
    vectors = dict(_vectors(ba, ["layer", "layer_group", "target_tr"], "subject"))
    rows = []
    for (layer, group, t), vec in vectors.items():
        partner = vectors.get((layer, group, partners.get(t)))
        for a, b in combinations(sorted(vec), 2):
            position = (
                iou_by_distance(important_set(vec[a], threshold),
                                important_set(partner[b], threshold))
                if partner is not None and b in partner
                else float("nan")
            )  # fmt: skip
            rows.append(
                ("subjects", "", layer, group, t, a, b,
                 *agreement(vec[a], vec[b], threshold, rng), position)
            )  # fmt: skip
    if len(repeat_scores):
        by = ["subject", "layer", "layer_group", "target_tr"]
        for (s, layer, group, t), vec in _vectors(repeat_scores, by, "repeat"):
            for a, b in combinations(sorted(vec), 2):
                rows.append(
                    (
                        "repeats",
                        s,
                        layer,
                        group,
                        t,
                        str(a),
                        str(b),
                        *agreement(vec[a], vec[b], threshold, rng),
                        float("nan"),
                    )
                )
    return pd.DataFrame(rows, columns=STABILITY)


def null_stability_table(
    scores: pd.DataFrame, null_scores: pd.DataFrame, threshold: float, seed: int
) -> pd.DataFrame:
    """Agreement between subjects of each brain-free null's BA attributions (column ``null``):
    how much of the observed stability the architecture gives without brain data."""
    nwp = scores[scores["task"] == "nwp"]
    parts = [
        stability_table(pd.concat([t.drop(columns="null"), nwp]), t.iloc[:0], threshold, seed)
        .assign(null=null)
        for null, t in null_scores.groupby("null", sort=True)
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else empty_table([*STABILITY, "null"])


def run_stability(
    scores_path: str | Path,
    repeat_scores_path: str | Path,
    threshold: float,
    seed: int,
    out_path: str | Path,
    null_scores_path: str | Path | None = None,
    out_null_path: str | Path | None = None,
) -> None:
    """Workflow stage ``stability``: agreement between subjects and between repeats, and
    between subjects for each brain-free null (``out_null_path``)."""
    scores = read_table(scores_path, SCORES)
    repeats = read_table(repeat_scores_path, REPEAT_SCORES)
    write_table(stability_table(scores, repeats, threshold, seed), out_path, STABILITY)
    if null_scores_path is not None and out_null_path is not None:
        nulls = read_table(null_scores_path, NULL_SCORES)
        write_table(null_stability_table(scores, nulls, threshold, seed), out_null_path,
                    [*STABILITY, "null"])  # fmt: skip
