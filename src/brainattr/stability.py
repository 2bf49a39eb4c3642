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

from brainattr.analysis import (
    context_rng,
    important_set,
    iou,
    iou_by_distance,
    nwp_spans,
    partners_of_spans,
    position_partners,
)
from brainattr.tables import (
    NULL_SCORES,
    REPEAT_SCORES,
    SCORES,
    STABILITY,
    TARGETS_PER_CHUNK,
    concat_tables,
    empty_table,
    read_score_chunks,
    score_targets,
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
    scores: pd.DataFrame,
    repeat_scores: pd.DataFrame,
    threshold: float,
    seed: int,
    partners: dict[int, int | None] | None = None,
    targets: set[int] | None = None,
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
        Each pair's permutation baseline draws from :func:`brainattr.analysis.context_rng`.
    partners, targets : optional
        For a chunk of targets: every target's :func:`position_partners` (default: those of
        ``scores``), and the targets to compare between subjects (default: all of ``scores``;
        the others are partners, read for their scores).

    Returns
    -------
    table : DataFrame
        ``brainattr.tables.STABILITY``: ``comparison`` is ``subjects`` (``a``, ``b``
        subjects; ``subject`` "") or ``repeats`` (``a``, ``b`` repeat numbers of ``subject``).
    """
    ba = scores[scores["task"] == "ba"]
    if partners is None:
        partners = position_partners(scores, seed) if len(scores) else {}
    vectors = dict(_vectors(ba, ["layer", "layer_group", "target_tr"], "subject"))
    rows = []
    for (layer, group, t), vec in vectors.items():
        if targets is not None and t not in targets:
            continue
        partner = vectors.get((layer, group, partners.get(t)))
        for a, b in combinations(sorted(vec), 2):
            rng = context_rng(seed, ("subjects", layer, group, t, a, b))
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
                rng = context_rng(seed, ("repeats", s, layer, group, t, a, b))
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
    targets_per_chunk: int = TARGETS_PER_CHUNK,
) -> None:
    """Workflow stage ``stability``: agreement between subjects and between repeats, and
    between subjects for each brain-free null (``out_null_path``).

    The score tables are read ``targets_per_chunk`` targets at a time, with the BA rows of
    those targets' position partners (memory does not grow with the targets)."""
    targets = score_targets(scores_path)
    spans = [nwp_spans(c) for c in read_score_chunks(scores_path, SCORES, targets_per_chunk,
                                                     targets, task="nwp")]  # fmt: skip
    partners = partners_of_spans(pd.concat(spans), seed) if spans else {}
    tables, null_tables = [], []
    for start in range(0, targets.size, targets_per_chunk):
        chunk = targets[start : start + targets_per_chunk].tolist()
        need = np.unique([*chunk, *(p for t in chunk if (p := partners.get(t)) is not None)])
        ba = next(read_score_chunks(scores_path, SCORES, need.size, need, task="ba"))
        tables.append(stability_table(ba, ba.iloc[:0], threshold, seed, partners, set(chunk)))
        if null_scores_path is not None and out_null_path is not None:
            nulls = next(read_score_chunks(null_scores_path, NULL_SCORES, need.size, need))
            null_tables += [
                stability_table(t.drop(columns="null"), ba.iloc[:0], threshold, seed, partners,
                                set(chunk)).assign(null=null)
                for null, t in nulls.groupby("null", sort=True)
            ]  # fmt: skip
    for repeats in read_score_chunks(repeat_scores_path, REPEAT_SCORES, targets_per_chunk):
        tables.append(stability_table(repeats.iloc[:0], repeats, threshold, seed))
    write_table(concat_tables(tables, STABILITY), out_path, STABILITY)
    if null_scores_path is not None and out_null_path is not None:
        table = concat_tables(null_tables, [*STABILITY, "null"]).sort_values("null", kind="stable")
        write_table(table, out_null_path, [*STABILITY, "null"])
