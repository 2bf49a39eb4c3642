"""Layer selection: in each third of the model's depth, the layer with the highest mean BA."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainattr.tables import read_encoding

GROUPS = ("early", "middle", "late")


def layer_group(layer: int, n_layers: int) -> str:
    """``early``, ``middle`` or ``late``: the third of 1..n_layers that holds ``layer``."""
    if not 1 <= layer <= n_layers:
        raise ValueError(f"layer {layer} outside 1..{n_layers}")
    if 3 * layer <= n_layers:
        return "early"
    return "middle" if 3 * layer <= 2 * n_layers else "late"


def select_layers(ba: pd.DataFrame, n_layers: int) -> pd.DataFrame:
    """Mark the best layer of each third.

    Parameters
    ----------
    ba : DataFrame
        Columns ``layer``, ``subject``, ``mean_ba`` (mean r over ROI voxels).
    n_layers : int

    Returns
    -------
    table : DataFrame
        One row per layer: ``layer``, ``group``, ``mean_ba`` (over subjects), ``sem_ba``,
        ``n_subjects``, ``selected``, ``n_layers`` and ``mean_ba_null`` (the mean over
        subjects of ``ba``'s column ``null_ba`` where given, else NaN).
    """
    g = ba.groupby("layer")["mean_ba"]
    table = pd.DataFrame(
        {
            "mean_ba": g.mean(),
            "sem_ba": g.std(ddof=1) / np.sqrt(g.count()),
            "n_subjects": g.count(),
        }
    ).reset_index()
    table["group"] = [layer_group(int(lay), n_layers) for lay in table["layer"]]
    missing = [grp for grp in GROUPS if grp not in set(table["group"])]
    if missing:
        raise ValueError(
            f"no configured layer falls in the {missing} third(s) of {n_layers} layers; add one to "
            "config key models.<name>.layers"
        )
    best = table.loc[table.groupby("group")["mean_ba"].idxmax(), "layer"]
    table["selected"] = table["layer"].isin(best)
    table["n_layers"] = n_layers
    # a removal control's null (brainattr.controls): NaN for every other model
    null = ba.groupby("layer")["null_ba"].mean() if "null_ba" in ba else pd.Series(dtype=float)
    table["mean_ba_null"] = table["layer"].map(null).astype(float)
    return table[["layer", "group", "mean_ba", "sem_ba", "n_subjects", "selected", "n_layers",
                  "mean_ba_null"]]  # fmt: skip


def run_layer_selection(
    encoding_paths: list[str], features_path: str | Path, out_path: str | Path
) -> None:
    """Workflow stage ``layer_selection``: read every encoding file, write the layer table."""
    with h5py.File(features_path, "r") as f:
        n_layers = int(f.attrs["n_layers"])
    rows = []
    for p in encoding_paths:
        attrs = read_encoding(p)["attrs"]
        rows.append(
            {
                "layer": int(attrs["layer"]),
                "subject": str(attrs["subject"]),
                "mean_ba": float(attrs["mean_ba"]),
                "null_ba": float(attrs.get("mean_ba_null", np.nan)),
            }
        )
    select_layers(pd.DataFrame(rows), n_layers).to_csv(out_path, sep="\t", index=False)


def selected_layers(path: str | Path) -> dict[str, int]:
    """{group: layer} from a layer table written by :func:`run_layer_selection`."""
    t = pd.read_csv(path, sep="\t")
    t = t[t["selected"]]
    return dict(zip(t["group"], t["layer"].astype(int), strict=True))
