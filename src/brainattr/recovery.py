"""Demo recovery: do the attributions find the planted driver words?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.analysis import contexts, important_set
from brainattr.dataset import read_dataset
from brainattr.demo import normalize_word
from brainattr.tables import NULL_SCORES, RECOVERY, SCORES, read_table, write_table


def recovery_table(scores: pd.DataFrame, driver_words: list[str], threshold: float) -> pd.DataFrame:
    """Share of driver words among important words vs among all span words.

    Returns
    -------
    table : DataFrame
        Per task x layer group: ``share_in_top`` (pooled over contexts), ``base_rate``
        (driver share of all span words), ``ratio``, ``n_top_words``, ``n_contexts``.
    """
    drivers = set(driver_words)
    acc: dict[tuple, list[int]] = {}
    for key, g in contexts(scores):
        is_driver = g["word"].map(normalize_word).isin(drivers).to_numpy()
        m = important_set(g["score"].to_numpy(), threshold)
        a = acc.setdefault((key[0], key[3]), [0, 0, 0, 0, 0])
        a[0] += int(is_driver[m].sum())
        a[1] += int(m.sum())
        a[2] += int(is_driver.sum())
        a[3] += len(is_driver)
        a[4] += 1
    rows = []
    for (task, group), (hit, top, drv, n, nctx) in sorted(acc.items()):
        share, base = hit / max(top, 1), drv / max(n, 1)
        rows.append(
            (task, group, threshold, share, base, share / base if base > 0 else np.nan, top, nctx)
        )
    return pd.DataFrame(
        rows,
        columns=RECOVERY,
    )


def run_recovery(
    dataset_dir: str | Path,
    scores_paths: dict[str, str],
    threshold: float,
    out_path: str | Path,
    null_scores_paths: dict[str, str] | None = None,
) -> None:
    """Workflow stage ``demo_recovery``: one table over models (column ``model``); the BA of
    each brain-free null in ``null_scores_paths`` gets its own rows (column ``null``, "" for
    the fitted readouts): how much of the recovery the architecture gives without brain data."""
    ds = read_dataset(dataset_dir)
    if "driver_words" not in ds.meta:
        raise ValueError(f"{dataset_dir}/dataset.json has no planted 'driver_words' (not a demo)")
    drivers = ds.meta["driver_words"]
    tables = []
    for m, p in scores_paths.items():
        observed = recovery_table(read_table(p, SCORES), drivers, threshold)
        tables.append(observed.assign(model=m, null=""))
        if null_scores_paths:
            nulls = read_table(null_scores_paths[m], NULL_SCORES)
            for null, t in nulls.groupby("null", sort=True):
                tables.append(recovery_table(t, drivers, threshold).assign(model=m, null=null))
    write_table(pd.concat(tables, ignore_index=True), out_path, [*RECOVERY, "model", "null"])
