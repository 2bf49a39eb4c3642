"""Linguistic features of the important words: which annotation groups BA and NWP pick.

A dataset's ``word_groups.tsv`` marks the words that carry each annotation group (HP's,
parsed from ``story_features.mat`` by :func:`brainattr.sources.hp.story_feature_groups`;
the demo's; a user's own). The table gives, per BA context and threshold, the share of the
group's span words that are BA-only, both, or NWP-only important (the paper's measure), and
each task's enrichment, which does not grow with the size of the important sets. Each pairing
of :func:`nwp_readouts` (BA(l) with NWP(l), the logit lens; BA(l) with NWP(final), the paper's)
has its rows (column ``nwp_readout``); :func:`primary_rows` selects the first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.analysis import ba_nwp_pairs, important_set
from brainattr.dataset import read_dataset, read_word_groups
from brainattr.tables import (
    FINAL,
    LINGUISTIC,
    NULL_SCORES,
    SCORES,
    TARGETS_PER_CHUNK,
    concat_tables,
    empty_table,
    read_score_chunks,
    score_targets,
    write_table,
)
from brainattr.tables import LINGUISTIC_CATEGORIES as CATEGORIES


def nwp_readouts(scores: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, :func:`brainattr.analysis.paired_nwp` readout) of each pairing the NWP rows
    allow: the logit lens first where NWP was read at a layer, then NWP(final)."""
    layers = set(scores.loc[scores["task"] == "nwp", "layer"])
    lens = [("logit_lens", "layer")] if layers - {FINAL} else []
    return lens + ([("final", "final")] if FINAL in layers else [])


def primary_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the main pairing: BA(l) with NWP(l) where present, else with NWP(final)."""
    if table.empty:
        return table
    present = set(table["nwp_readout"])
    return table[table["nwp_readout"] == ("logit_lens" if "logit_lens" in present else "final")]


def linguistic_table(
    scores: pd.DataFrame, groups: pd.DataFrame, thresholds: list[float]
) -> pd.DataFrame:
    """Share of each group's words that BA only, NWP only or both find important.

    For a BA context and the NWP context of the same target, at threshold t: of the span's
    words carrying group g, the fraction in the BA set only, in both sets, in the NWP set only.

    Parameters
    ----------
    scores : DataFrame
        The attribution score table.
    groups : DataFrame
        ``word_index`` + one boolean column per group (:func:`read_word_groups`).
    thresholds : list of float

    Returns
    -------
    table : DataFrame
        ``subject, layer, layer_group, target_tr, nwp_readout, threshold, group,
        n_group_words``, the
        shares ``ba_only, both, nwp_only`` and ``enrichment_ba``, ``enrichment_nwp`` (the
        group's share among the task's important words / its share of the span words; 1 =
        no preference), NaN when the span has no word of the group.
    """
    names = [c for c in groups.columns if c != "word_index"]
    member = groups[names].to_numpy(bool)
    spans = {
        t: np.unique(g["word_index"].to_numpy())  # one span per target, every readout
        for t, g in scores[scores["task"] == "nwp"].groupby("target_tr")
    }
    rows = []
    for label, readout in nwp_readouts(scores):
        for key, ba, nwp in ba_nwp_pairs(scores, readout):
            rows += _context_rows(key, label, ba, nwp, member[spans[key[-1]]], names, thresholds)
    return pd.DataFrame(rows, columns=LINGUISTIC)


def _context_rows(key, label, ba, nwp, in_group, names, thresholds) -> list[tuple]:
    """One BA context's rows: per threshold and group (``in_group``: span words x groups)."""
    rows = []
    n = in_group.sum(axis=0)
    base = n / max(len(in_group), 1)  # the group's share of the span
    for t in thresholds:
        a, b = important_set(ba, t), important_set(nwp, t)
        cats = {"ba_only": a & ~b, "both": a & b, "nwp_only": ~a & b}
        counts = {c: (m[:, None] & in_group).sum(axis=0) for c, m in cats.items()}
        # enrichment: the group's share among a task's important words / its span share
        with np.errstate(invalid="ignore", divide="ignore"):
            enrich = [(m[:, None] & in_group).sum(axis=0) / max(m.sum(), 1) / base
                      for m in (a, b)]  # fmt: skip
        for j, group in enumerate(names):
            shares = [counts[c][j] / n[j] if n[j] else np.nan for c in CATEGORIES]
            ratios = [e[j] if n[j] else np.nan for e in enrich]
            rows.append((*key[1:], label, t, group, int(n[j]), *shares, *ratios))
    return rows


def null_linguistic_table(
    scores: pd.DataFrame, nulls: pd.DataFrame, groups: pd.DataFrame, thresholds: list[float]
) -> pd.DataFrame:
    """:func:`linguistic_table` of each brain-free null's BA (``nulls``: the null score table)
    against the same NWP contexts, with a ``null`` column."""
    nwp = scores[scores["task"] == "nwp"]
    tables = [
        linguistic_table(pd.concat([nwp, t.drop(columns="null")]), groups, thresholds).assign(
            null=null
        )
        for null, t in nulls.groupby("null", sort=True)
    ]
    return pd.concat(tables, ignore_index=True) if tables else empty_table([*LINGUISTIC, "null"])


def run_linguistic(
    dataset_dir: str | Path,
    scores_path: str | Path,
    thresholds: list[float],
    out_path: str | Path,
    null_scores_path: str | Path | None = None,
    out_null_path: str | Path | None = None,
    targets_per_chunk: int = TARGETS_PER_CHUNK,
) -> None:
    """Workflow stage ``linguistic``: group shares of the important words as a TSV table and,
    from ``null_scores_path``, those of the brain-free nulls' BA (``out_null_path``).

    Every row is one BA context's, paired with NWP of the same target, so the score tables
    are read a chunk of ``targets_per_chunk`` targets at a time (memory does not grow with
    the targets)."""
    ds = read_dataset(dataset_dir)
    groups = read_word_groups(dataset_dir, len(ds.words))
    targets = score_targets(scores_path)
    chunks = read_score_chunks(scores_path, SCORES, targets_per_chunk, targets)
    tables = [linguistic_table(chunk, groups, thresholds) for chunk in chunks]
    write_table(concat_tables(tables, LINGUISTIC), out_path, LINGUISTIC)
    if null_scores_path is not None and out_null_path is not None:
        nwp = read_score_chunks(scores_path, SCORES, targets_per_chunk, targets, task="nwp")
        nulls = read_score_chunks(null_scores_path, NULL_SCORES, targets_per_chunk, targets)
        tables = [null_linguistic_table(n, b, groups, thresholds)
                  for n, b in zip(nwp, nulls, strict=True)]  # fmt: skip
        table = concat_tables(tables, [*LINGUISTIC, "null"])
        write_table(table.sort_values("null", kind="stable"), out_null_path, [*LINGUISTIC, "null"])
