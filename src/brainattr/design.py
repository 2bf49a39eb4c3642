"""The regression design shared by encoding and the BA readouts (NumPy only, no torch).

Rows are kept TRs; row t of the delayed design is [TR t-1, ..., TR t-D] concatenated, zero
where a delay leaves the run. The BOLD is z-scored per run; each outer fold's design is
z-scored with its training rows' statistics.
"""

from __future__ import annotations

import numpy as np


def delay_features(features: np.ndarray, runs: np.ndarray, n_delays: int) -> np.ndarray:
    """Concatenate delayed copies of TR features, zero-filled across run borders.

    Parameters
    ----------
    features : array of shape (n_trs, n_features)
    runs : array of shape (n_trs,)
    n_delays : int

    Returns
    -------
    delayed : array of shape (n_trs, n_delays * n_features)
        Row t = [features[t-1], ..., features[t-n_delays]].
    """
    n_trs, h = features.shape
    out = np.zeros((n_trs, n_delays * h), dtype=features.dtype)
    runs = np.asarray(runs)
    for d in range(1, n_delays + 1):
        same_run = np.zeros(n_trs, dtype=bool)
        same_run[d:] = runs[d:] == runs[:-d]
        rows = np.flatnonzero(same_run)
        out[rows, (d - 1) * h : d * h] = features[rows - d]
    return out


def zscore_per_run(y: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Z-score each column within each run (constant columns become 0)."""
    out = np.zeros_like(y, dtype=np.float64)
    for run in np.unique(runs):
        rows = runs == run
        mu, sd = y[rows].mean(axis=0), y[rows].std(axis=0)
        out[rows] = (y[rows] - mu) / np.where(sd > 0, sd, 1.0)
    return out


def prepare_responses(bold: np.ndarray, runs: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The BOLD the encoding model is fit to: kept TRs, z-scored per run, (n_kept, n_voxels)."""
    rows = np.flatnonzero(kept)
    return zscore_per_run(bold[rows].astype(np.float64), runs[rows])


def delayed_design(features: np.ndarray, runs: np.ndarray, kept: np.ndarray, n_delays: int):
    """The delayed features of the kept TRs as float64, shape (n_kept, n_delays * hidden)."""
    return delay_features(features, runs, n_delays)[np.flatnonzero(kept)].astype(np.float64)


def fold_design(x: np.ndarray, y: np.ndarray, train: np.ndarray):
    """Training rows z-scored with training statistics (what every fold fit sees).

    Returns
    -------
    xs : array (n_train, n_features), z-scored training design
    yc : array (n_train, n_targets), centred training BOLD
    mu, sd : arrays (n_features,), the training statistics (sd 1 where constant)
    y_mean : array (n_targets,)
    """
    mu = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    y_mean = y[train].mean(axis=0)
    return (x[train] - mu) / sd, y[train] - y_mean, mu, sd, y_mean


def pearson_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns.

    Parameters
    ----------
    a, b : arrays of shape (n_samples, n_targets)

    Returns
    -------
    r : array of shape (n_targets,)
        0 where a column is constant.
    """
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / den
    return np.where(den > 0, r, 0.0)
