"""Demo recovery: do the attributions find the planted driver words?

Per task and layer group: the share of driver words among the important words pooled over
contexts against their share of all span words (``ratio``); and per target, the driver share
of the important set minus the span's driver share (BA averaged over subjects and the group's
layers first), tested with the dependence-aware block test (``effect, ci_low, ci_high, p``).
Each brain-free null gets rows of its own (column ``null``) and, target by target, the fitted
readouts' enrichment minus the null's (``brain_*``): what the brain data add.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.analysis import contexts, important_set
from brainattr.dataset import read_dataset
from brainattr.demo import normalize_word
from brainattr.inference import block_test
from brainattr.statistics import StoryBlocks
from brainattr.tables import (
    NULL_SCORES,
    RECOVERY,
    RECOVERY_CONTEXT,
    SCORES,
    read_table,
    write_table,
)


def context_recovery(
    scores: pd.DataFrame, driver_words: list[str], threshold: float
) -> pd.DataFrame:
    """One row per context: ``task, subject, layer, layer_group, target_tr``, ``hits``
    (driver words in the important set), ``n_top``, ``drivers`` (driver words in the span),
    ``n_words``, and ``enrichment`` (hits / n_top - drivers / n_words)."""
    drivers = set(driver_words)
    rows = []
    for key, g in contexts(scores):
        is_driver = g["word"].map(normalize_word).isin(drivers).to_numpy()
        m = important_set(g["score"].to_numpy(), threshold)
        rows.append((*key, int(is_driver[m].sum()), int(m.sum()), int(is_driver.sum()), len(m)))
    out = pd.DataFrame(rows, columns=RECOVERY_CONTEXT)
    out["enrichment"] = out["hits"] / out["n_top"].clip(lower=1) - out["drivers"] / out["n_words"]
    return out


def recovery_table(
    scores: pd.DataFrame,
    driver_words: list[str],
    threshold: float,
    blocks: StoryBlocks | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Share of driver words among important words vs among all span words (``scores``: the
    score table, or its :func:`context_recovery`).

    Returns
    -------
    table : DataFrame
        Per task x layer group: ``share_in_top`` (pooled over contexts), ``base_rate``
        (driver share of all span words), ``ratio``, ``n_top_words``, ``n_contexts``, and the
        per-target block test of ``enrichment`` (:func:`context_recovery`) when ``blocks``
        are given (``effect, ci_low, ci_high, p``; NaN otherwise).
    """
    ctx = scores if "enrichment" in scores else context_recovery(scores, driver_words, threshold)
    rows = []
    for (task, group), g in ctx.groupby(["task", "layer_group"], sort=True):
        share, base = (
            g["hits"].sum() / max(g["n_top"].sum(), 1),
            g["drivers"].sum() / max(g["n_words"].sum(), 1),
        )
        test = _per_target(g, blocks, n_resamples, seed)
        rows.append((task, group, threshold, share, base, share / base if base > 0 else np.nan,
                     int(g["n_top"].sum()), len(g), *test))  # fmt: skip
    return pd.DataFrame(rows, columns=RECOVERY[: -len(BRAIN)])


BRAIN = ["brain_effect", "brain_ci_low", "brain_ci_high", "brain_p"]


def _per_target(g: pd.DataFrame, blocks, n_resamples, seed, value="enrichment") -> tuple:
    if blocks is None:
        return (np.nan,) * 4
    per_target = g.groupby("target_tr")[value].mean()
    res = block_test(per_target.to_numpy(), blocks.labels(per_target.index.to_numpy()),
                     n_resamples, seed)  # fmt: skip
    return res.effect, res.ci_low, res.ci_high, res.p


def brain_minus_null(observed, null, driver_words, threshold, blocks, n_resamples, seed):
    """Per BA layer group: the fitted readouts' enrichment minus the null's, context by context
    (same subject, layer, target), block-tested: {layer_group: (effect, ci_low, ci_high, p)}.
    ``observed``: the score table, or its :func:`context_recovery` (computed once per model)."""
    keys = ["subject", "layer", "layer_group", "target_tr"]
    obs = observed if "enrichment" in observed else context_recovery(
        observed, driver_words, threshold)  # fmt: skip
    obs = obs[obs["task"] == "ba"]
    nul = context_recovery(null, driver_words, threshold)
    m = obs[[*keys, "enrichment"]].merge(nul[[*keys, "enrichment"]], on=keys,
                                         suffixes=("", "_null"))  # fmt: skip
    m["gap"] = m["enrichment"] - m["enrichment_null"]
    return {g: _per_target(t, blocks, n_resamples, seed, "gap")
            for g, t in m.groupby("layer_group")}  # fmt: skip


def run_recovery(
    dataset_dir: str | Path,
    scores_paths: dict[str, str],
    threshold: float,
    out_path: str | Path,
    null_scores_paths: dict[str, str] | None = None,
    context_words: int | None = None,
    n_delays: int = 4,
    inference: dict | None = None,
    seed: int = 0,
) -> None:
    """Workflow stage ``demo_recovery``: one table over models (column ``model``); the BA of
    each brain-free null in ``null_scores_paths`` gets its own rows (column ``null``, "" for
    the fitted readouts) with the fitted readouts' per-target gap over it (``brain_*``).
    ``context_words`` and ``inference`` (``block_spans``, ``n_resamples``) set the blocks of
    the per-target tests; without ``context_words`` the tests are left out (NaN)."""
    ds = read_dataset(dataset_dir)
    if "driver_words" not in ds.meta:
        raise ValueError(f"{dataset_dir}/dataset.json has no planted 'driver_words' (not a demo)")
    drivers = ds.meta["driver_words"]
    settings = {"block_spans": 0, "n_resamples": 2000, **(inference or {})}
    blocks = None
    if context_words is not None:
        blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays,
                                        settings["block_spans"])  # fmt: skip
    args = (blocks, settings["n_resamples"], seed)
    tables = []
    for m, p in scores_paths.items():
        # the fitted readouts' contexts, once for their own rows and every null's gap
        observed_contexts = context_recovery(read_table(p, SCORES), drivers, threshold)
        observed = recovery_table(observed_contexts, drivers, threshold, *args)
        tables.append(observed.assign(model=m, null="", **dict.fromkeys(BRAIN, np.nan)))
        if null_scores_paths:
            nulls = read_table(null_scores_paths[m], NULL_SCORES)
            for null, t in nulls.groupby("null", sort=True):
                rows = recovery_table(t, drivers, threshold, *args).assign(model=m, null=null)
                gap = brain_minus_null(observed_contexts, t, drivers, threshold, *args)
                brain = [gap.get(g, (np.nan,) * 4) for g in rows["layer_group"]]
                rows[BRAIN] = pd.DataFrame(brain, index=rows.index, columns=BRAIN)
                tables.append(rows)
    write_table(pd.concat(tables, ignore_index=True), out_path, [*RECOVERY, "model", "null"])
