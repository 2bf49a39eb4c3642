"""Noise ceiling from repeated presentations, and BA normalised by it.

With n repeats y_k = s + e_k (independent noise of equal variance), the mean pairwise
Pearson r between repeats estimates the split reliability rho = var(s) / (var(s) + var(e)).
The mean of the n repeats has reliability SB(rho, n) = n rho / (1 + (n - 1) rho)
(Spearman-Brown), and no prediction can correlate with that mean better than with s itself:
the noise ceiling is corr(s, mean) = sqrt(SB(rho, n)). It is undefined (NaN) where
rho <= 0. BA on the repeated run divided by the ceiling is the normalised BA.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.dataset import DatasetError, read_dataset, read_repeats
from brainattr.design import pearson_r
from brainattr.encoding import read_encoding
from brainattr.tables import NOISE_CEILING


def repeat_reliability(repeats: np.ndarray) -> np.ndarray:
    """Mean pairwise Pearson r between repeats, per voxel.

    Parameters
    ----------
    repeats : array of shape (n_repeats, n_trs, n_voxels), n_repeats >= 2

    Returns
    -------
    rho : array of shape (n_voxels,)
    """
    if repeats.ndim != 3 or repeats.shape[0] < 2:
        raise ValueError(
            f"repeats of shape {repeats.shape}: need (n_repeats >= 2, n_trs, n_voxels)"
        )
    pairs = combinations(range(repeats.shape[0]), 2)
    return np.mean([pearson_r(repeats[a], repeats[b]) for a, b in pairs], axis=0)


def spearman_brown(rho: np.ndarray, n: int) -> np.ndarray:
    """Reliability of the mean of ``n`` measurements of single reliability ``rho``."""
    rho = np.asarray(rho, dtype=float)
    return n * rho / (1 + (n - 1) * rho)


def noise_ceiling(repeats: np.ndarray) -> np.ndarray:
    """Highest Pearson r any prediction can reach against the mean of the repeats.

    Parameters
    ----------
    repeats : array of shape (n_repeats, n_trs, n_voxels)

    Returns
    -------
    ceiling : array of shape (n_voxels,)
        sqrt(SB(rho, n_repeats)); NaN where the repeats do not correlate (rho <= 0).
    """
    rho = repeat_reliability(repeats)
    sb = spearman_brown(np.where(rho > 0, rho, np.nan), repeats.shape[0])
    return np.sqrt(sb)


def normalized_ba_table(
    encodings: dict[tuple[str, int], dict], ceilings: dict[tuple[str, int], np.ndarray]
) -> pd.DataFrame:
    """BA on each repeated run against its noise ceiling, per subject x layer x run.

    Parameters
    ----------
    encodings : {(subject, layer): encoding result (:func:`read_encoding`)}
        Each holds ``roi`` and ``r_repeated_<run>`` (n_voxels,).
    ceilings : {(subject, run): noise ceiling (n_voxels,)}

    Returns
    -------
    table : DataFrame
        ``subject, layer, run, n_roi_voxels, n_reliable`` (ROI voxels with a ceiling),
        ``noise_ceiling`` and ``ba_repeated`` (means over those voxels) and
        ``ba_normalized`` = ba_repeated / noise_ceiling.
    """
    rows = []
    for (subject, layer), enc in sorted(encodings.items()):
        for (subj, run), nc in sorted(ceilings.items()):
            if subj != subject:
                continue
            key = f"r_repeated_{run}"
            if key not in enc:
                raise DatasetError(
                    f"encoding result of {subject} layer {layer} has no r on repeated run {run}; "
                    "rerun its encoding job (results written before repeats were stored)"
                )
            ok = enc["roi"] & np.isfinite(nc)
            ceiling = float(nc[ok].mean()) if ok.any() else float("nan")
            ba = float(enc[key][ok].mean()) if ok.any() else float("nan")
            rows.append(
                (
                    subject,
                    layer,
                    run,
                    int(enc["roi"].sum()),
                    int(ok.sum()),
                    ceiling,
                    ba,
                    ba / ceiling,
                )
            )
    return pd.DataFrame(
        rows,
        columns=NOISE_CEILING,
    )


def run_noise_ceiling(
    dataset_dir: str | Path, encoding_paths: dict[tuple[str, int], str], out_path: str | Path
) -> None:
    """Workflow stage ``noise_ceiling``: ceiling per repeated run and the normalised BA."""
    ds = read_dataset(dataset_dir)
    ceilings = {}
    for subject in sorted({s for s, _ in encoding_paths}):
        reps = read_repeats(dataset_dir, subject)
        if not reps:
            raise DatasetError(
                f"{dataset_dir}/responses.h5: subject {subject} has no repeated run "
                "(/<subject>/repeats/<run>); the noise ceiling needs one"
            )
        for run, rep in reps.items():
            ceilings[(subject, run)] = noise_ceiling(rep.astype(np.float64))
    encodings = {k: read_encoding(p) for k, p in encoding_paths.items()}
    table = normalized_ba_table(encodings, ceilings)
    table.insert(0, "dataset", ds.name)
    table.to_csv(out_path, sep="\t", index=False)
