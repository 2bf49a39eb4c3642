"""The masking tables from the masked variants' losses and predictions (NumPy and pandas).

:func:`per_target_table` averages each context's per-seed loss over seeds and relates it to its
unmasked loss; :func:`head_table` gives BA's r per fitted head and mask with a block-bootstrap
interval (:func:`resampled_r`), and the pooled rows per layer group; :func:`masking_summary`
gathers every model's pooled rows (stage ``masking_table``, the figure, the paper check). The
stage that runs the model is :mod:`brainattr.masking`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.tables import MASKING, MASKING_SUMMARY, MASKING_TARGETS, read_table, write_table

BA_MASKS = ["none", "ba_top", "ba_matched", "nwp_top", "nwp_matched", "random"]


def resampled_r(pred: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean over seeds and voxels of Pearson r across targets, under target resampling.

    Parameters
    ----------
    pred : array (n_seeds, n_targets, n_voxels)
    y : array (n_targets, n_voxels)
    counts : array (n_resamples, n_targets)
        How often each target is drawn (:func:`brainattr.inference.bootstrap_counts`); a row of
        ones gives the plain r.

    Returns
    -------
    r : array (n_resamples,)
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(1, keepdims=True)
    my, syy = counts @ y / n, counts @ (y * y) / n
    vy = syy - my**2
    out = np.zeros(len(counts))
    for x in pred:
        mx, sxx, sxy = counts @ x / n, counts @ (x * x) / n, counts @ (x * y) / n
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (sxy - mx * my) / np.sqrt((sxx - mx**2) * vy)
        out += np.nanmean(np.where(np.isfinite(r), r, np.nan), axis=1)
    return out / len(pred)


def per_target_table(rows: list[tuple], group_of: dict[int, str]) -> pd.DataFrame:
    """Per-(target, seed) loss rows averaged over seeds, with each context's ``relative``
    change from its unmasked loss (:data:`brainattr.tables.MASKING_TARGETS`)."""
    raw = pd.DataFrame(rows, columns=[*MASKING_TARGETS[:6], "seed", "n_masked", "loss"])
    keys = MASKING_TARGETS[:6]
    t = raw.groupby(keys, sort=False).agg(
        n_masked=("n_masked", "max"), n_seeds=("seed", "nunique"), loss=("loss", "mean")
    )
    t = t.reset_index()
    t["layer_group"] = ["final" if lay == -1 else group_of[lay] for lay in t["layer"]]
    none = t[t["mask"] == "none"]
    ba_base = none.set_index(["null", "subject", "layer", "target_tr"])["loss"]
    nwp_base = none[none["task"] == "nwp"].set_index("target_tr")["loss"]
    ref = np.where(
        t["task"] == "nwp",
        nwp_base.reindex(t["target_tr"]).to_numpy(),
        ba_base.reindex(
            pd.MultiIndex.from_frame(t[["null", "subject", "layer", "target_tr"]])
        ).to_numpy(),
    )
    t["relative"] = t["loss"] / ref - 1
    return t[MASKING_TARGETS]


def head_table(
    preds: dict[tuple, np.ndarray],
    truth: dict[tuple, np.ndarray],
    per_target: pd.DataFrame,
    target_trs: list[int],
    counts: np.ndarray,
    group_of: dict[int, str],
) -> pd.DataFrame:
    """Per fitted head and mask: BA r (:func:`resampled_r`), its change and relative change
    with the block-bootstrap 95 % interval of the relative change; NWP's mean cross-entropy
    likewise. Pooled rows (``subject`` "mean", ``layer`` -1) per layer group and over ``all``
    BA layers: the relative change of the mean over the group's heads, each resample's mean
    taken over the same targets (:data:`brainattr.tables.MASKING`)."""
    ones = np.ones((1, len(target_trs)))
    fitted = per_target[per_target["null"] == ""]
    keys = ["task", "mask", "subject", "layer"]
    masked = fitted.groupby(keys)["n_masked"].mean()
    seeds = fitted.groupby(keys)["n_seeds"].max()
    values: dict[tuple, tuple[float, np.ndarray]] = {}  # (task, mask, subject, layer)
    for key in sorted(truth):
        y = truth[key]
        for mask in BA_MASKS:
            p = preds[(mask, key)]
            values[("ba", mask, key[1], key[2])] = (resampled_r(p, y, ones)[0],
                                                    resampled_r(p, y, counts))  # fmt: skip
    col = {t: j for j, t in enumerate(target_trs)}
    for (mask, subject, layer), g in fitted[fitted["task"] == "nwp"].groupby(
        ["mask", "subject", "layer"], sort=False
    ):
        ce = np.zeros(len(target_trs))
        ce[[col[t] for t in g["target_tr"]]] = g["loss"].to_numpy()
        values[("nwp", mask, subject, layer)] = (float(ce.mean()), counts @ ce / counts.sum(1))
    rows = []

    def add(task, mask, subject, layer, group, value, boot, base, base_boot, n, n_seeds):
        rel = (boot - base_boot) / np.abs(base_boot)
        lo, hi = np.nanpercentile(rel, [2.5, 97.5]) if mask != "none" else (0.0, 0.0)
        rows.append((task, mask, subject, layer, group, value, value - base,
                     (value - base) / abs(base), lo, hi, len(target_trs), n, n_seeds))  # fmt: skip

    def base_of(task, subject, layer):
        return values[(task, "none", "", -1) if task == "nwp" else (task, "none", subject, layer)]

    for (task, mask, subject, layer), (value, boot) in values.items():
        group = "final" if layer == -1 else group_of[layer]
        add(task, mask, subject, layer, group, value, boot, *base_of(task, subject, layer),
            masked[(task, mask, subject, layer)], seeds[(task, mask, subject, layer)])  # fmt: skip
    # pooled: the mean over a group's heads, masked against unmasked
    heads = [k for k in values if k[2] and k[1] != "none"]
    groups = {
        (k[0], k[1], g)
        for k in heads
        for g in (group_of[k[3]], "all")
        if k[0] == "ba" or g != "all"
    }
    for task, mask, group in sorted(groups):
        members = [k for k in heads if k[:2] == (task, mask)
                   and (group == "all" or group_of[k[3]] == group)]  # fmt: skip
        value = np.mean([values[k][0] for k in members])
        boot = np.mean([values[k][1] for k in members], axis=0)
        base = np.mean([base_of(task, k[2], k[3])[0] for k in members])
        base_boot = np.mean([base_of(task, k[2], k[3])[1] for k in members], axis=0)
        add(task, mask, "mean", -1, group, value, boot, base, base_boot,
            np.mean([masked[k] for k in members]), max(seeds[k] for k in members))  # fmt: skip
    return pd.DataFrame(rows, columns=MASKING)


def masking_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The masking table of every model: relative change per task, layer group and mask.

    Parameters
    ----------
    tables : {model: masking table written by :func:`brainattr.masking.run_masking`}

    Returns
    -------
    table : DataFrame
        :data:`MASKING_SUMMARY` from the pooled rows (``subject`` "mean": the relative change
        of the mean over the group's subjects and layers, ``layer_group`` "all" over every BA
        layer) and NWP's own masks; ``*_percent`` = 100 x relative change and its
        block-bootstrap 95 % interval (NWP's ``ba_top`` rows: the BA layer group masked).
    """
    rows = []
    for model, t in tables.items():
        subject = t["subject"].fillna("")  # "" (NWP) reads back as NaN from a plain TSV read
        keep = (subject == "mean") | ((t["task"] == "nwp") & (subject == ""))
        t = t[keep & (t["mask"] != "none")]
        out = pd.DataFrame({"model": model, "task": t["task"], "layer_group": t["layer_group"],
                            "mask": t["mask"], "change_percent": 100 * t["relative"],
                            "ci_low_percent": 100 * t["ci_low"],
                            "ci_high_percent": 100 * t["ci_high"], "n_masked": t["n_masked"],
                            "n_targets": t["n_targets"], "n_seeds": t["n_seeds"]})  # fmt: skip
        rows.append(out)
    return pd.concat(rows, ignore_index=True)[MASKING_SUMMARY]


def run_masking_summary(paths: dict[str, str], out_path: str | Path) -> None:
    """Workflow stage ``masking_table``: one table of every model's masking results."""
    tables = {m: read_table(p, MASKING) for m, p in paths.items()}
    write_table(masking_summary(tables), out_path, MASKING_SUMMARY)
