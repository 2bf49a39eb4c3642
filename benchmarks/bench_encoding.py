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
    kernel_ridge_cv: ratio=<himalaya s / ours s>x memory_ratio=<...> max_rel_err=<...> ...

roi_refit: the ROI weights attribution and masking refit from the stored alphas (one alpha per
voxel), at the rehearsal's HP shape (900 training TRs, 4 x 1536 features, 400 ROI voxels),
:func:`brainattr.encoding.solve_ridge` against himalaya's ``solve_kernel_ridge_eigenvalues``
(which stacks an (n_voxels, n, n) array for per-voxel alphas).
kernel_ridge_cv: one outer fold of an encoding at HP's paper shape, our fit (himalaya's CV,
then solve_ridge) against himalaya's KernelRidgeCV (its CV and its refit of every used alpha).

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
    kernel_ridge_cv()


def kernel_ridge_cv(n_train: int = 908, p: int = 4 * 2048, n_voxels: int = 27000) -> None:
    """One outer fold of an encoding at HP's paper shape (3 runs' kept TRs, 4 delays of a
    2,048-wide model, every voxel, the paper's 16 alphas, 5 inner folds): fit_ridge_cv against
    himalaya's KernelRidgeCV, which refits every used alpha for every voxel. Peak memory of
    each by tracemalloc (NumPy reports its buffers to it)."""
    import tracemalloc

    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV

    from brainattr.encoding import fit_ridge_cv

    rng = np.random.default_rng(2)
    x = rng.standard_normal((n_train, p))
    # weak to strong voxels: most of the grid is used
    y = x[:, :64] @ rng.standard_normal((64, n_voxels)) * np.logspace(-3, 0, n_voxels)
    y += rng.standard_normal((n_train, n_voxels))
    x, y = x - x.mean(0), y - y.mean(0)
    alphas = [10.0**k for k in range(-6, 10)]
    runs = {}
    for way in ("himalaya", "ours"):
        tracemalloc.start()
        t0 = time.perf_counter()
        if way == "ours":
            coef, best = fit_ridge_cv(x, y, alphas, 5)
        else:
            set_backend("numpy")
            ref = KernelRidgeCV(alphas=np.asarray(alphas), kernel="linear", cv=KFold(5)).fit(x, y)
            coef, best = x.T @ ref.dual_coef_, ref.best_alphas_
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        runs[way] = (seconds, peak, coef, best)
    (t_ref, m_ref, c_ref, a_ref), (t_ours, m_ours, c_ours, a_ours) = runs.values()
    err = np.abs(c_ours - c_ref).max() / np.abs(c_ref).max()
    # himalaya's alphas come back through exp(-log(1 / alpha)): equal to rounding
    mismatches = int((~np.isclose(a_ours, a_ref, rtol=1e-12)).sum())
    print(f"# {n_train} training TRs, {p} features, {n_voxels} voxels, {len(alphas)} alphas "
          f"({len(np.unique(a_ref))} used), 5 inner folds; seconds: himalaya {t_ref:.1f}, ours "
          f"{t_ours:.1f}; peak MB: himalaya {m_ref:.0f}, ours {m_ours:.0f}")  # fmt: skip
    print(f"kernel_ridge_cv: ratio={t_ref / t_ours:.1f}x memory_ratio={m_ref / m_ours:.1f}x "
          f"max_rel_err={err:.1e} alpha_mismatches={mismatches}")  # fmt: skip


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
