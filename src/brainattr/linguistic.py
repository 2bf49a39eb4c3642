"""Linguistic features of the important words: which annotation groups BA and NWP pick.

HP's ``story_features.mat`` annotates each of the 5176 word slots with ten feature types.
Groups (science.md): semantic = NNSE; syntactic = part of speech + dependency role;
discourse = speech, motion, emotion, verbs, characters. A word carries a group when any of
its values in the group is non-zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.analysis import ba_nwp_pairs, important_set
from brainattr.dataset import DatasetError, read_dataset, read_word_groups

STORY_FEATURE_GROUPS = {
    "semantic": ("NNSE",),
    "syntactic": ("Part_of_speech", "Dependency_role"),
    "discourse": ("Speech", "Motion", "Emotion", "Verbs", "Characters"),
}
CATEGORIES = ("ba_only", "both", "nwp_only")


def story_feature_groups(mat_path: str | Path, stimulus_index: np.ndarray) -> pd.DataFrame:
    """Per-word group membership from HP's ``story_features.mat``.

    Parameters
    ----------
    mat_path : path of ``story_features.mat`` (variable ``features``: struct with fields
        ``type`` and ``values`` of shape (n_slots, k))
    stimulus_index : int array of shape (n_words,)
        Each presented word's slot (row of ``values``), from words.tsv.

    Returns
    -------
    groups : DataFrame
        ``word_index`` and one boolean column per group of ``STORY_FEATURE_GROUPS``.
    """
    from scipy.io import loadmat

    mat = loadmat(mat_path, simplify_cells=True)
    if "features" not in mat:
        raise DatasetError(f"{mat_path} lacks the variable 'features'")
    values = {
        str(f["type"]): np.asarray(f["values"]).reshape(len(f["values"]), -1)
        for f in np.atleast_1d(mat["features"])
    }
    missing = sorted({t for ts in STORY_FEATURE_GROUPS.values() for t in ts} - set(values))
    if missing:
        raise DatasetError(f"{mat_path}: feature type(s) {missing} not found; has {list(values)}")
    idx = np.asarray(stimulus_index, dtype=int)
    n_slots = min(len(v) for v in values.values())
    if idx.size and idx.max() >= n_slots:
        raise DatasetError(f"{mat_path}: {n_slots} rows, but a word has stimulus_index {idx.max()}")
    out = {"word_index": np.arange(len(idx))}
    for group, types in STORY_FEATURE_GROUPS.items():
        out[group] = np.logical_or.reduce([(values[t][idx] != 0).any(axis=1) for t in types])
    return pd.DataFrame(out)


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
        ``subject, layer, layer_group, target_tr, threshold, group, n_group_words`` and the
        shares ``ba_only, both, nwp_only`` (NaN when the span has no word of the group).
    """
    names = [c for c in groups.columns if c != "word_index"]
    member = groups[names].to_numpy(bool)
    spans = {
        t: np.sort(g["word_index"].to_numpy())
        for t, g in scores[scores["task"] == "nwp"].groupby("target_tr")
    }
    rows = []
    for key, ba, nwp in ba_nwp_pairs(scores):
        in_group = member[spans[key[-1]]]
        n = in_group.sum(axis=0)
        for t in thresholds:
            a, b = important_set(ba, t), important_set(nwp, t)
            cats = {"ba_only": a & ~b, "both": a & b, "nwp_only": ~a & b}
            counts = {c: (m[:, None] & in_group).sum(axis=0) for c, m in cats.items()}
            for j, group in enumerate(names):
                shares = [counts[c][j] / n[j] if n[j] else np.nan for c in CATEGORIES]
                rows.append((*key[1:], t, group, int(n[j]), *shares))
    return pd.DataFrame(
        rows,
        columns=[
            "subject",
            "layer",
            "layer_group",
            "target_tr",
            "threshold",
            "group",
            "n_group_words",
            *CATEGORIES,
        ],
    )


def run_linguistic(
    dataset_dir: str | Path, scores_path: str | Path, thresholds: list[float], out_path: str | Path
) -> None:
    """Workflow stage ``linguistic``: group shares of the important words as a TSV table."""
    ds = read_dataset(dataset_dir)
    groups = read_word_groups(dataset_dir, len(ds.words))
    scores = pd.read_parquet(scores_path)
    linguistic_table(scores, groups, thresholds).to_csv(out_path, sep="\t", index=False)
