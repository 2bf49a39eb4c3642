"""Encoding models: ridge from delayed features to voxels, cross-validated by run/story.

Per subject x layer: outer folds leave one run (HP) or story (MRH) out; features are
z-scored on the training rows; each voxel's alpha is chosen by an inner CV of contiguous
blocks of the training rows (himalaya); BA = Pearson r per voxel between held-out
predictions (concatenated over folds) and BOLD.

Stored per fold: each voxel's alpha. Attribution refits the ROI voxels' weights of the few
layers it uses from those alphas (:func:`roi_weights`), instead of every layer's 4H x V
weights being written to disk; the refit weights have the z-scoring (and a control's PCA
or property removal, :mod:`brainattr.controls`) folded in, so that prediction =
delayed_features @ weights + intercept on raw features (minus a removal's per-TR offset).

The solvers (himalaya's CV, the closed-form refit every kernel ridge here shares) and the stage
stay in this one module (about 380 lines), so that one definition serves all three fits.

Precision: float64 by default (the reference). ``dtype="float32"`` (config ``encoding.dtype``)
fits the encodings in single precision, as himalaya does on GPUs: the solver's arrays halve
(the host's responses and predictions stay float64), 1.4-1.5x faster on CPU at HP's shape, many
times faster on GPUs with slow float64 (workstation cards); the ROI refit that attribution
differentiates stays in float64.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
from sklearn.model_selection import KFold

from brainattr.controls import FeatureControl, control_label, feature_control, fold_readout
from brainattr.dataset import read_dataset, read_responses, repeated_runs, roi_mask
from brainattr.design import delayed_design, pearson_r, zscore_per_run
from brainattr.tables import read_features

log = logging.getLogger(__name__)


def resolve_backend(backend: str) -> str:
    """``auto`` = himalaya's torch_cuda when a CUDA device is visible, else numpy."""
    if backend not in ("auto", "torch_cuda"):
        return backend
    import torch

    if backend == "torch_cuda" and not torch.cuda.is_available():
        raise ValueError("encoding.backend = 'torch_cuda' but no CUDA device is visible to this "
                         "job: use auto (torch_cuda where a GPU is visible) or numpy")  # fmt: skip
    return "torch_cuda" if torch.cuda.is_available() else "numpy"


def fit_ridge_cv(
    x: np.ndarray,
    y: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    backend: str = "numpy",
    targets_batch: int = 0,
    alphas_batch: int = 0,
    dtype: str = "float64",
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with one alpha per target chosen by contiguous K-fold CV (himalaya); ``x`` and
    ``y`` centred (no intercept). Kernel ridge when features outnumber samples.

    Parameters
    ----------
    x : array of shape (n_samples, n_features)
    y : array of shape (n_samples, n_targets)
    alphas : list of float
    inner_folds : int
    backend : str
        himalaya backend: numpy, torch, torch_cuda, or auto (see :func:`resolve_backend`).
    targets_batch, alphas_batch : int
        Voxels and alphas solved together (0 = all): the memory bound of himalaya's CV, whose
        largest array is about n_alphas_batch x n_samples / inner_folds x n_targets_batch.
    dtype : {"float64", "float32"}
        Precision of the fit (see the module's docstring).

    Returns
    -------
    coef : array of shape (n_features, n_targets), of ``dtype``
    best_alphas : array of shape (n_targets,)
    """
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV

    bk = set_backend(resolve_backend(backend), on_error="raise")
    xb, yb = bk.asarray(x, dtype=dtype), bk.asarray(y, dtype=dtype)
    params = {"n_targets_batch": targets_batch or None, "n_alphas_batch": alphas_batch or None}
    if x.shape[1] <= x.shape[0]:
        cv = KFold(n_splits=inner_folds, shuffle=False)
        model = RidgeCV(alphas=np.asarray(alphas, dtype=dtype), cv=cv, solver_params=params)
        model.fit(xb, yb)
        coef = bk.to_numpy(model.coef_).reshape(x.shape[1], -1)
        return coef, bk.to_numpy(model.best_alphas_).ravel()
    kernel = xb @ xb.T
    best = _kernel_cv_alphas(kernel, yb, alphas, inner_folds, params)
    return bk.to_numpy(xb.T @ _kernel_dual(kernel, yb, best)), bk.to_numpy(best).ravel()


def _kernel_cv_alphas(kernel, y, alphas, inner_folds: int, params: dict):
    """Each target's alpha by himalaya's contiguous K-fold CV on a linear kernel (arrays of
    the current backend), without KernelRidgeCV's refit of every used alpha for every target
    (an (alphas, n, targets) array: 42 GB at MRH's shape); :func:`_kernel_dual` refits."""
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import solve_multiple_kernel_ridge_random_search

    bk = get_backend()
    return solve_multiple_kernel_ridge_random_search(
        kernel[None], y, n_iter=bk.ones_like(kernel, shape=(1, 1)), concentration=None,
        alphas=bk.asarray_like(np.asarray(alphas), kernel), return_weights=None,
        cv=KFold(n_splits=inner_folds, shuffle=False), return_alphas=True, progress_bar=False,
        **params,
    )[-1]  # fmt: skip


def _kernel_dual(kernel, y, alphas):
    """Dual coefficients Q diag(1 / (lambda + alpha_t)) Q^T y_t of kernel = Q diag(lambda) Q^T,
    one alpha per target (arrays of the current backend): one decomposition for all."""
    from himalaya.backend import get_backend

    eigenvalues, q = get_backend().eigh(kernel)
    eigenvalues = get_backend().clip(eigenvalues, 0, None)[:, None]  # rounding: 0, as himalaya
    return q @ ((q.T @ y) / (eigenvalues + alphas[None, :]))


def kernel_ridge_cv_predict(
    kernel: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    backend: str = "numpy",
) -> np.ndarray:
    """Kernel ridge on a precomputed linear kernel, one alpha per target by contiguous K-fold
    CV on the ``train`` rows; predictions of the other rows (no intercept: centred data).

    Parameters
    ----------
    kernel : array (n_samples, n_samples)
        X X^T of the (centred) features; the features themselves need not fit in memory.
    y : array (n_samples, n_targets)
    train : bool array (n_samples,)
    alphas, inner_folds, backend : as :func:`fit_ridge_cv`

    Returns
    -------
    prediction : array (n_test, n_targets) of the rows where ``train`` is False
    """
    from himalaya.backend import set_backend

    bk = set_backend(resolve_backend(backend), on_error="raise")
    k = bk.asarray(kernel, dtype=bk.float64)
    k_train, y_train = k[train][:, train], bk.asarray(y[train], dtype=bk.float64)
    best = _kernel_cv_alphas(k_train, y_train, alphas, inner_folds, {})
    return bk.to_numpy(k[~train][:, train] @ _kernel_dual(k_train, y_train, best))


def solve_ridge(x: np.ndarray, y: np.ndarray, alphas: np.ndarray, backend: str = "numpy"):
    """Ridge with a given alpha per target: the solution RidgeCV/KernelRidgeCV refit with.

    One decomposition serves every target: X = U diag(s) V^T gives V diag(s / (s^2 +
    alpha_t)) U^T y_t; with more features than samples, the dual is Q diag(1 / (lambda +
    alpha_t)) Q^T y_t of X X^T = Q diag(lambda) Q^T. (himalaya's per-target solvers stack
    (n_targets, n, n): 2.5 GB for 400 voxels and 900 TRs; these products need (n, n_targets).)

    Parameters
    ----------
    x : array of shape (n_samples, n_features), centred
    y : array of shape (n_samples, n_targets), centred
    alphas : array of shape (n_targets,)
    backend : str

    Returns
    -------
    coef : array of shape (n_features, n_targets)
    """
    from himalaya.backend import set_backend

    bk = set_backend(resolve_backend(backend), on_error="raise")
    xb, yb = bk.asarray(x, dtype=bk.float64), bk.asarray(y, dtype=bk.float64)
    alpha = bk.asarray(np.asarray(alphas, dtype=np.float64))
    if x.shape[1] > x.shape[0]:
        return bk.to_numpy(xb.T @ _kernel_dual(xb @ xb.T, yb, alpha))
    u, s, vt = bk.svd(xb, full_matrices=False)
    return bk.to_numpy(vt.T @ ((u.T @ yb) * (s[:, None] / (s[:, None] ** 2 + alpha[None, :]))))


def roi_weights(
    features: np.ndarray,
    bold: np.ndarray,
    runs: np.ndarray,
    kept: np.ndarray,
    n_delays: int,
    encoding: dict,
    backend: str = "numpy",
    control: FeatureControl | None = None,
) -> dict[str, np.ndarray]:
    """Refit the ROI voxels' weights of every fold from the alphas an encoding stored.

    Parameters
    ----------
    features, bold, runs, kept, n_delays, control
        As given to :func:`encode_subject`.
    encoding : dict
        :func:`brainattr.tables.read_encoding` of that subject and layer (``roi``,
        ``fold``, ``alphas_k``).

    Returns
    -------
    weights : dict
        Per fold k ``weights_k`` (n_delays*hidden, n_roi) and ``intercept_k`` (n_roi,),
        float32, equal to those :func:`encode_subject` predicted with; with property removal
        also ``removal_k`` (n_properties, n_delays*hidden) and ``property_mean_k``: the
        readout of kept row t is ``x_t @ w + b - (P_t - property_mean_k) @ removal_k @ w``
        for any ``w`` (fitted or null), P = ``control.properties``.
    """
    rows = np.flatnonzero(kept)
    roi = encoding["roi"]
    x = delayed_design(features, runs, kept, n_delays)
    y = zscore_per_run(bold[rows][:, roi].astype(np.float64), runs[rows])
    out = {}
    for k in range(int(encoding["fold"].max()) + 1):

        def solve(xd, yc, alphas=encoding[f"alphas_{k}"][roi]):
            return solve_ridge(xd, yc, alphas, backend), alphas

        fit = fold_readout(x, y, encoding["fold"] != k, control, solve)
        out[f"weights_{k}"] = fit.weights.astype(np.float32)
        out[f"intercept_{k}"] = fit.intercept.astype(np.float32)
        if fit.fold_map.removal is not None:
            out[f"removal_{k}"] = fit.fold_map.removal * fit.sd[None, :]
            out[f"property_mean_{k}"] = fit.fold_map.property_mean
    return out


def encode_subject(
    features: np.ndarray,
    bold: np.ndarray,
    runs: np.ndarray,
    kept: np.ndarray,
    n_delays: int,
    alphas: list[float],
    inner_folds: int,
    roi: np.ndarray,
    backend: str = "numpy",
    targets_batch: int = 0,
    alphas_batch: int = 0,
    r_runs: list[int] = (),
    control: FeatureControl | None = None,
    keep_weights: bool = True,
    dtype: str = "float64",
) -> dict[str, np.ndarray]:
    """Cross-validated encoding model of one subject and layer.

    Parameters
    ----------
    features : array of shape (n_trs, hidden)
        Undelayed TR features.
    bold : array of shape (n_trs, n_voxels)
    runs : array of shape (n_trs,)
        Run/story of each TR: the outer folds.
    kept : bool array of shape (n_trs,)
    n_delays : int
    alphas : list of float
    inner_folds : int
    roi : bool array of shape (n_voxels,)
        Voxels whose weights are kept for attribution.
    backend, targets_batch, alphas_batch : see :func:`fit_ridge_cv`
    r_runs : list of int
        Runs whose held-out r is also returned on their own (``r_run_<run>``, (n_voxels,)).
    control : FeatureControl or None
        PCA or property removal, fit within each fold (:mod:`brainattr.controls`).
    keep_weights : bool
        Return each fold's ROI weights (3 GB at MRH's shape; run_encoding needs none).
    dtype : {"float64", "float32"}
        Precision of the ridge fits (:func:`fit_ridge_cv`).

    Returns
    -------
    result : dict
        ``r`` (n_voxels,), ``rows`` kept TR indices (n_kept,), ``fold`` per kept row,
        ``prediction`` (n_kept, n_voxels) held-out, per fold k ``alphas_k`` (n_voxels,) and
        with ``keep_weights`` ``weights_k`` (n_delays*hidden, n_roi), ``intercept_k`` (n_roi,).
    """
    rows = np.flatnonzero(kept)
    x = delayed_design(features, runs, kept, n_delays)
    y = zscore_per_run(bold[rows].astype(np.float64), runs[rows])
    fold_ids = np.unique(runs[rows])
    fold = np.searchsorted(fold_ids, runs[rows])
    pred = np.zeros_like(y)
    out: dict[str, np.ndarray] = {"rows": rows, "fold": fold}
    props = control.properties if control is not None else None
    for k in range(len(fold_ids)):
        train, test = fold != k, fold == k
        fit = fold_readout(x, y, train, control, lambda xd, yc: fit_ridge_cv(
            xd, yc, alphas, inner_folds, backend, targets_batch, alphas_batch, dtype))  # fmt: skip
        pred[test] = fit.predict(x[test], props[test] if props is not None else None)
        out[f"alphas_{k}"] = fit.alphas
        if keep_weights:
            out[f"weights_{k}"] = fit.weights[:, roi].astype(np.float32)
            out[f"intercept_{k}"] = fit.intercept[roi].astype(np.float32)
    out["r"] = pearson_r(pred, y)
    row_runs = runs[rows]
    for run in r_runs:
        out[f"r_run_{run}"] = pearson_r(pred[row_runs == run], y[row_runs == run])
    out["prediction"] = pred
    return out


def run_encoding(
    dataset_dir: str | Path,
    features_path: str | Path,
    subject: str,
    layer: int,
    roi_label: str,
    n_delays: int,
    alphas: list[float],
    inner_folds: int,
    out_path: str | Path,
    backend: str = "numpy",
    targets_batch: int = 0,
    alphas_batch: int = 0,
    model: dict | None = None,
    seed: int = 0,
    dtype: str = "float64",
) -> None:
    """Workflow stage ``encoding``: fit one subject x layer (with the control keys of the
    config entry ``model``, if any, and a removal's seeded null) in ``dtype`` and write it to
    HDF5."""
    ds = read_dataset(dataset_dir)
    control = feature_control(model or {}, dataset_dir, ds, n_delays)
    bold, rois = read_responses(dataset_dir, subject)
    roi = roi_mask(rois, roi_label, bold.shape[1], f"{dataset_dir}/responses.h5:{subject}")
    feats = read_features(features_path, layer)
    repeated = repeated_runs(dataset_dir, subject)
    args = (feats, bold, ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy(), n_delays, alphas,
            inner_folds, roi, backend, targets_batch, alphas_batch)  # fmt: skip
    res = encode_subject(*args, repeated, control, keep_weights=False, dtype=dtype)
    if control is not None and control.properties is not None:
        null = feature_control(model or {}, dataset_dir, ds, n_delays, null_seed=seed)
        res["r_removal_null"] = encode_subject(*args, control=null, keep_weights=False,
                                               dtype=dtype)["r"]  # fmt: skip
    grid = np.asarray(alphas, dtype=np.float64)
    n_folds = int(res["fold"].max() + 1)
    # weights are refit for the layers attribution uses (roi_weights); each voxel's alpha is
    # stored as its index in the grid (one byte per voxel and fold)
    with h5py.File(out_path, "w") as f:
        f.create_dataset("r", data=res["r"].astype(np.float32))
        f.create_dataset("rows", data=res["rows"].astype(np.int32))
        f.create_dataset("fold", data=res["fold"].astype(np.int16))
        f.create_dataset("roi", data=roi)
        f.create_dataset("alpha_grid", data=grid)
        for k in range(n_folds):
            f.create_dataset(f"alpha_index_{k}", data=alpha_indices(res[f"alphas_{k}"], grid))
        if "r_removal_null" in res:
            f.create_dataset("r_removal_null", data=res["r_removal_null"].astype(np.float32))
            f.attrs["mean_ba_null"] = float(res["r_removal_null"][roi].mean())
        for run in repeated:  # BA normalised by the run's noise ceiling
            f.create_dataset(f"r_repeated_{run}", data=res[f"r_run_{run}"].astype(np.float32))
        f.attrs.update(
            subject=subject,
            layer=layer,
            n_delays=n_delays,
            n_folds=n_folds,
            mean_ba=float(res["r"][roi].mean()),
            roi_label=roi_label,
            control=control_label(model or {}),
            dtype=dtype,
        )
    log.info("%s layer %d: mean BA (%s) = %.4f", subject, layer, roi_label, res["r"][roi].mean())


def alpha_indices(best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of each chosen alpha in the grid, as uint8 (the grid has at most 256 values)."""
    if len(grid) > 256:
        raise ValueError("encoding.alphas: at most 256 values")
    idx = np.abs(np.log(best)[:, None] - np.log(grid)[None, :]).argmin(axis=1)
    # a float32 fit's alphas carry float32's rounding (~1e-7), far below a grid's spacing
    if not np.allclose(grid[idx], best, rtol=1e-6):
        raise ValueError("a chosen alpha is not in the grid")
    return idx.astype(np.uint8)
