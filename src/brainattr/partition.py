"""Variance partitioning of two feature spaces with himalaya's banded ridge.

For feature spaces A (activations) and B (NWP attributions) of one subject and layer, each
outer fold (run/story left out, as in :mod:`brainattr.encoding`) fits:

- a banded (multiple-kernel) ridge on [A, B]: one linear kernel per space, each space
  z-scored on the fold's training rows and its kernel scaled to unit mean diagonal, the
  kernel weights (:func:`kernel_weights`) and alpha chosen per voxel with contiguous inner CV
  (``MultipleKernelRidgeCV``, Dupré la Tour et al. 2022);
- a kernel ridge on A alone and on B alone (:func:`brainattr.encoding.kernel_ridge_cv_predict`).

Held-out predictions are concatenated over folds and scored by R^2 per voxel. The unique
variance of A is R^2(A, B) - R^2(B), of B R^2(A, B) - R^2(A), and the shared variance
R^2(A) + R^2(B) - R^2(A, B) (de Heer et al. 2017). The banded model's prediction split per
space gives the product-measure split (:func:`r2_split`), which sums to R^2(A, B).

Null: each space is in turn rolled in time within every run by a seeded offset (keeping its
autocorrelation, breaking its alignment with the BOLD) and the joint model refit; its
"unique variance" then is what the extra fit alone gains on held-out data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from brainattr.dataset import read_dataset, read_responses, roi_mask
from brainattr.design import delayed_design, fold_design, prepare_responses
from brainattr.encoding import kernel_ridge_cv_predict, resolve_backend
from brainattr.tables import UNIQUE_VARIANCE, read_features, write_table

log = logging.getLogger(__name__)

SPACES = ("activations", "attributions")


def r2_per_target(prediction: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R^2 of each column against zero-mean ``y``: 1 - SS_res / SS_y (0 where y is 0).

    Parameters
    ----------
    prediction, y : arrays of shape (n_samples, n_targets)

    Returns
    -------
    r2 : array of shape (n_targets,)
    """
    ss = (y * y).sum(axis=0)
    res = ((y - prediction) ** 2).sum(axis=0)
    return np.where(ss > 0, 1.0 - res / np.where(ss > 0, ss, 1.0), 0.0)


def r2_split(split: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Product-measure split of the joint R^2 over feature spaces (himalaya's
    ``r2_score_split``, in NumPy): space i gets (2 y.p_i - p_i.sum_j p_j) / y.y, and the
    spaces sum to the joint R^2 (0 where y is 0).

    Parameters
    ----------
    split : array of shape (n_spaces, n_samples, n_targets)
        Each space's part of the joint prediction.
    y : array of shape (n_samples, n_targets), zero-mean

    Returns
    -------
    r2 : array of shape (n_spaces, n_targets)
    """
    ss = (y * y).sum(axis=0)
    joint = split.sum(axis=0)
    num = 2 * (y[None] * split).sum(axis=1) - (split * joint[None]).sum(axis=1)
    return np.where(ss > 0, num / np.where(ss > 0, ss, 1.0), 0.0)


def kernel_weights(n_iter: int, seed: int) -> np.ndarray:
    """Kernel weights the banded ridge tries for two spaces: each space alone, equal weights,
    and ``n_iter`` seeded Dirichlet draws (concentration 0.1 and 1 in turn, as himalaya's own
    search), so the joint model can always fall back on either space.

    Returns
    -------
    weights : array of shape (n_iter + 3, 2), rows summing to 1
    """
    rng = np.random.default_rng(seed)
    draws = [rng.dirichlet([c, c]) for c in np.resize([0.1, 1.0], n_iter)]
    return np.vstack([np.eye(2), [[0.5, 0.5]], *draws])


def roll_within_runs(features: np.ndarray, runs: np.ndarray, min_shift: int, seed: int):
    """Each run's rows rolled by a seeded offset of at least ``min_shift`` TRs and an eighth of
    the run from either end (autocorrelated features stay misaligned).

    Parameters
    ----------
    features : array of shape (n_trs, n_features)
    runs : array of shape (n_trs,)
    min_shift : int
        Smallest shift in TRs (more than the delays, so no delay re-aligns a row).
    seed : int

    Returns
    -------
    rolled : array of shape (n_trs, n_features)
    """
    rng = np.random.default_rng(seed)
    out = features.copy()
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        if len(rows) <= 2 * min_shift:
            raise ValueError(f"run {run} has {len(rows)} TRs: too short to roll by at least "
                             f"{min_shift} TRs for the null")  # fmt: skip
        low = max(min_shift, len(rows) // 8)
        out[rows] = np.roll(features[rows], int(rng.integers(low, len(rows) - low + 1)), 0)
    return out


def fold_kernels(xs: list[np.ndarray], train: np.ndarray) -> np.ndarray:
    """One linear kernel per space, each space z-scored on the training rows and its kernel
    scaled to unit mean diagonal over the training rows.

    Parameters
    ----------
    xs : list of arrays of shape (n_samples, n_features_i)
    train : bool array of shape (n_samples,)

    Returns
    -------
    kernels : array of shape (n_spaces, n_samples, n_samples)
    """
    out = []
    for x in xs:
        _, _, mu, sd, _ = fold_design(x, x[:, :1], train)
        z = (x - mu) / sd
        k = z @ z.T
        out.append(k / max(float(np.trace(k[train][:, train])) / train.sum(), 1e-12))
    return np.stack(out)


def banded_predict(
    kernels: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    n_iter: int,
    seed: int,
    backend: str = "numpy",
) -> np.ndarray:
    """Multiple-kernel ridge (random search over kernel weights and alpha, contiguous inner
    CV) on the ``train`` rows; per-space predictions of the other rows.

    Parameters
    ----------
    kernels : array of shape (n_spaces, n_samples, n_samples)
    y : array of shape (n_samples, n_targets), centred
    train : bool array of shape (n_samples,)
    alphas : list of float
    inner_folds, n_iter, seed : int
    backend : str

    Returns
    -------
    split : array of shape (n_spaces, n_test, n_targets)
        Summed over spaces: the joint prediction.
    """
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import MultipleKernelRidgeCV

    bk = set_backend(resolve_backend(backend), on_error="raise")
    params = {"n_iter": kernel_weights(n_iter, seed), "progress_bar": False,
              "alphas": np.asarray(alphas, dtype=np.float64)}  # fmt: skip
    model = MultipleKernelRidgeCV(kernels="precomputed", solver="random_search",
                                  solver_params=params, random_state=seed,
                                  cv=KFold(n_splits=inner_folds, shuffle=False))  # fmt: skip
    k = bk.asarray(kernels, dtype=bk.float64)
    with np.errstate(divide="ignore"):  # a space alone has weight 0 on the other: log(0)
        model.fit(k[:, train][:, :, train], bk.asarray(y[train], dtype=bk.float64))
    return bk.to_numpy(model.predict(k[:, ~train][:, :, train], split=True))


def partition_subject(
    spaces: list[np.ndarray],
    y: np.ndarray,
    fold: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    n_iter: int,
    seed: int,
    nulls: list[np.ndarray] | None = None,
    backend: str = "numpy",
) -> dict[str, np.ndarray]:
    """Unique and shared variance of two feature spaces, cross-validated by ``fold``.

    Parameters
    ----------
    spaces : [A, B], arrays of shape (n_samples, n_features_a), (n_samples, n_features_b)
        Delayed designs of the kept TRs.
    y : array of shape (n_samples, n_targets)
        BOLD z-scored per run.
    fold : array of int, shape (n_samples,)
        Outer fold of each row.
    alphas, inner_folds, n_iter, seed, backend
        As :func:`banded_predict`.
    nulls : [A_null, B_null] or None
        Rolled spaces; each replaces its space in one more joint fit.

    Returns
    -------
    result : dict of arrays of shape (n_targets,)
        ``r2_joint``, ``r2_<space>`` (alone), ``unique_<space>``, ``shared``,
        ``split_<space>`` (product measure), and with ``nulls`` ``unique_<space>_null``.
    """
    # each fit's spaces, as indices into spaces + nulls: the joint one, then a null per space
    fits = {"joint": [0, 1]}
    for i in range(len(nulls or [])):
        fits[f"null_{SPACES[i]}"] = [2 + i if j == i else j for j in range(2)]
    split = {name: np.zeros((2, *y.shape)) for name in fits}
    alone = np.zeros((2, *y.shape))
    for k in np.unique(fold):
        train, test = fold != k, fold == k
        kernels = fold_kernels([*spaces, *(nulls or [])], train)  # each space's kernel once
        for name, idx in fits.items():
            split[name][:, test] = banded_predict(kernels[idx], y, train, alphas, inner_folds,
                                                  n_iter, seed, backend)  # fmt: skip
        for i in range(2):
            alone[i, test] = kernel_ridge_cv_predict(kernels[i], y, train, alphas, inner_folds,
                                                     backend)  # fmt: skip
    r2_joint = r2_per_target(split["joint"].sum(0), y)
    r2_alone = [r2_per_target(alone[i], y) for i in range(2)]
    prod = r2_split(split["joint"], y)
    out = {"r2_joint": r2_joint, "shared": r2_alone[0] + r2_alone[1] - r2_joint}
    for i, name in enumerate(SPACES):
        out[f"r2_{name}"] = r2_alone[i]
        out[f"unique_{name}"] = r2_joint - r2_alone[1 - i]
        out[f"split_{name}"] = prod[i]
        if f"null_{name}" in split:
            r2_null = r2_per_target(split[f"null_{name}"].sum(0), y)
            out[f"unique_{name}_null"] = r2_null - r2_alone[1 - i]
    return out


def run_partition(
    dataset_dir: str | Path,
    activations_path: str | Path,
    attributions_path: str | Path,
    subject: str,
    layer: int,
    roi_label: str,
    n_delays: int,
    alphas: list[float],
    inner_folds: int,
    n_iter: int,
    seed: int,
    out_path: str | Path,
    backend: str = "numpy",
) -> None:
    """Workflow stage ``partition``: one subject x layer, per voxel, written to HDF5."""
    ds = read_dataset(dataset_dir)
    bold, rois = read_responses(dataset_dir, subject)
    roi = roi_mask(rois, roi_label, bold.shape[1], f"{dataset_dir}/responses.h5:{subject}")
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    rows = np.flatnonzero(kept)
    raw = [read_features(p, layer) for p in (activations_path, attributions_path)]
    spaces = [delayed_design(f, runs, kept, n_delays) for f in raw]
    nulls = [delayed_design(roll_within_runs(f, runs, n_delays + 1, seed + i), runs, kept,
                            n_delays) for i, f in enumerate(raw)]  # fmt: skip
    y = prepare_responses(bold, runs, kept)
    fold = np.searchsorted(np.unique(runs[rows]), runs[rows])
    res = partition_subject(spaces, y, fold, alphas, inner_folds, n_iter, seed, nulls, backend)
    with h5py.File(out_path, "w") as f:
        for key, value in res.items():
            f.create_dataset(key, data=value.astype(np.float32))
        f.create_dataset("roi", data=roi)
        f.attrs.update(subject=subject, layer=layer, roi_label=roi_label,
                       **{f"mean_{k}": float(v[roi].mean()) for k, v in res.items()})  # fmt: skip
    means = [res[k][roi].mean() for k in ("r2_joint", "unique_activations", "unique_attributions")]
    log.info("%s layer %d (%s): R2 joint %.4f, unique activations %.4f, unique attributions "
             "%.4f", subject, layer, roi_label, *means)  # fmt: skip


def run_unique_variance(partition_paths: list[str], out_path: str | Path) -> None:
    """Workflow stage ``unique_variance``: the ROI means of every subject x layer's partition
    (:func:`run_partition`), one row each, sorted by layer and subject."""
    rows = []
    for p in partition_paths:
        with h5py.File(p, "r") as f:
            a = dict(f.attrs)
        row = {"subject": str(a["subject"]), "layer": int(a["layer"]),
               "roi_label": str(a["roi_label"])}  # fmt: skip
        row.update({c: float(a[f"mean_{c}"]) for c in UNIQUE_VARIANCE[3:]})
        rows.append(row)
    table = pd.DataFrame(rows, columns=UNIQUE_VARIANCE).sort_values(["layer", "subject"])
    write_table(table, out_path, UNIQUE_VARIANCE)
