"""Benchmark: our encoding model (himalaya, all voxels at once) against scikit-learn.

Run with `make bench`. One process, same inputs: TR features the size of the demo's delayed
SmolLM2 features (4 x 576 = 2304 columns, 3 runs of 200 TRs), voxels with a planted linear
signal. Both sides do the same thing: leave-one-run-out, features z-scored on the training
runs, one alpha per voxel by 5 contiguous inner folds (mean squared error), Pearson r on the
held-out run.
scikit-learn has no per-target alpha with K-fold CV (``alpha_per_target`` needs leave-one-out),
so the reference is ``RidgeCV(cv=KFold(5))`` fitted voxel by voxel. Prints

    encoding: ratio=<sklearn s / ours s>x max_abs_err_r=<...> efficiency=<...>
    roi_refit: ratio=<himalaya s / ours s>x max_rel_err=<...>

roi_refit: the ROI weights attribution and masking refit from the stored alphas (one alpha per
voxel), at the rehearsal's HP shape (900 training TRs, 4 x 1536 features, 400 ROI voxels),
:func:`brainattr.encoding.solve_ridge` against himalaya's ``solve_kernel_ridge_eigenvalues``
(which stacks an (n_voxels, n, n) array for per-voxel alphas).

efficiency = FLOPs of the kernel ridge solution (Gram matrices 2 n^2 p, eigendecompositions
~ 9 n^3 per training set, 2 n^2 V per alpha) / seconds / fp32 matmul FLOP/s measured here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from brainattr.design import delay_features, pearson_r, zscore_per_run
from brainattr.encoding import encode_subject, solve_ridge

ALPHAS = [0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000]


def sklearn_reference(x, y, runs, inner_folds):
    """Held-out predictions with scikit-learn, one RidgeCV per voxel and outer fold."""
    pred = np.zeros_like(y)
    for run in np.unique(runs):
        train, test = runs != run, runs == run
        mu, sd = x[train].mean(0), x[train].std(0)
        sd = np.where(sd > 0, sd, 1.0)
        xt, xs = (x[train] - mu) / sd, (x[test] - mu) / sd
        y_mean = y[train].mean(0)
        for v in range(y.shape[1]):
            model = RidgeCV(
                alphas=ALPHAS,
                fit_intercept=False,
                cv=KFold(inner_folds),
                scoring="neg_mean_squared_error",  # himalaya's inner-CV score
            )
            model.fit(xt, y[train, v] - y_mean[v])
            pred[test, v] = model.predict(xs) + y_mean[v]
    return pred


def main() -> None:
    from bench_attribution import matmul_flops

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voxels", type=int, default=16)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_runs, n_per, p = 3, 200, 2304
    runs = np.repeat(np.arange(1, n_runs + 1), n_per)
    x = rng.standard_normal((n_runs * n_per, p))
    # encode_subject builds the delayed matrix itself; the reference gets it ready-made
    xd = delay_features(x, runs, 1)
    w = rng.standard_normal((p, args.voxels)) / np.sqrt(p)
    snr = np.linspace(0.05, 1.0, args.voxels)  # weak to strong voxels: alphas differ
    y = xd @ w * snr + rng.standard_normal((n_runs * n_per, args.voxels))
    y = zscore_per_run(y, runs)
    kept = np.ones(len(runs), dtype=bool)

    t0 = time.perf_counter()
    ours = encode_subject(x, y, runs, kept, 1, ALPHAS, 5, np.ones(args.voxels, bool))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_pred = sklearn_reference(xd, y, runs, 5)
    t_ref = time.perf_counter() - t0
    r_ref = pearson_r(ref_pred, y)
    err = np.abs(ours["r"] - r_ref).max()

    n_train = (n_runs - 1) * n_per
    n_inner = n_train * 4 // 5
    flops = n_runs * (
        2 * n_train**2 * p + 9 * n_train**3 + 2 * n_train**2 * args.voxels * len(ALPHAS)
    )
    flops += n_runs * 5 * (2 * n_inner**2 * p + 9 * n_inner**3)
    peak = matmul_flops()
    print(
        f"# {args.voxels} voxels, {n_runs} runs x {n_per} TRs, {p} features, {len(ALPHAS)} "
        f"alphas; seconds: sklearn {t_ref:.1f}, ours {t_ours:.2f}; mean r ours "
        f"{ours['r'].mean():.4f}, sklearn {r_ref.mean():.4f}"
    )
    print(
        f"encoding: ratio={t_ref / t_ours:.1f}x max_abs_err_r={err:.1e} "
        f"efficiency={flops / t_ours / peak:.2f}"
    )

    roi_refit()


def roi_refit(n_train: int = 900, p: int = 4 * 1536, n_roi: int = 400) -> None:
    """Per-voxel-alpha ridge at the rehearsal's shape: ours against himalaya's solver."""
    from himalaya.kernel_ridge import solve_kernel_ridge_eigenvalues

    rng = np.random.default_rng(1)
    x = rng.standard_normal((n_train, p))
    y = x[:, :50] @ rng.standard_normal((50, n_roi)) + 30 * rng.standard_normal((n_train, n_roi))
    x, y = x - x.mean(0), y - y.mean(0)
    alphas = 10.0 ** rng.integers(0, 6, n_roi)
    t0 = time.perf_counter()
    ours = solve_ridge(x, y, alphas)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = x.T @ solve_kernel_ridge_eigenvalues(x @ x.T, y, alpha=alphas)
    t_ref = time.perf_counter() - t0
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    print(f"# {n_train} training TRs, {p} features, {n_roi} voxels with their own alphas; "
          f"seconds: himalaya {t_ref:.1f}, ours {t_ours:.2f}")  # fmt: skip
    print(f"roi_refit: ratio={t_ref / t_ours:.1f}x max_rel_err={err:.1e}")


if __name__ == "__main__":
    main()
