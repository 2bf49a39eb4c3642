"""Measurement: the workflow's BA against a plain Toneva-style ridge on the same features.

Run after `make demo`. For each subject and the selected layers of the demo at L = 32, the
reference is written from scratch in NumPy, as the Toneva lab's HP code does it: the same
delayed TR features and z-scored BOLD, leave-one-run-out, and per voxel a penalty from
10^-6 ... 10^9 chosen by an unshuffled inner 10-fold split of the training runs (lowest
squared error), solved by SVD. Prints per layer

    toneva_ridge: layer=<l> workflow=<mean r> reference=<mean r> diff=<workflow - reference>

over the ROI voxels, the subjects averaged; the goal is diff >= -0.005.
"""

from __future__ import annotations

import argparse

import numpy as np

from brainattr.dataset import read_dataset, read_responses, roi_mask
from brainattr.design import delayed_design, pearson_r, prepare_responses
from brainattr.encoding import read_encoding
from brainattr.tables import read_features

GRID = 10.0 ** np.arange(-6, 10)


def ridge_predictions(x_train, y_train, x_test, alphas):
    """Predictions of every alpha, (n_alphas, n_test, n_voxels), from one SVD."""
    u, s, vt = np.linalg.svd(x_train, full_matrices=False)
    uy = u.T @ y_train
    out = []
    for a in alphas:
        out.append(x_test @ (vt.T @ ((s / (s**2 + a))[:, None] * uy)))
    return np.stack(out)


def toneva_ridge(x, y, runs, inner_folds=10):
    """Held-out predictions (n, n_voxels) of a per-voxel-alpha ridge, leave-one-run-out."""
    pred = np.zeros_like(y)
    for run in np.unique(runs):
        train, test = runs != run, runs == run
        xt, yt = x[train], y[train]
        mu, sd = xt.mean(0), xt.std(0)
        sd[sd == 0] = 1
        xs, xtest = (xt - mu) / sd, (x[test] - mu) / sd
        ym = yt.mean(0)
        err = np.zeros((len(GRID), y.shape[1]))
        for inner in np.array_split(np.arange(len(xs)), inner_folds):
            fit = np.setdiff1d(np.arange(len(xs)), inner)
            p = ridge_predictions(xs[fit], yt[fit] - ym, xs[inner], GRID) + ym
            err += ((p - yt[inner]) ** 2).sum(1)
        best = err.argmin(0)
        full = ridge_predictions(xs, yt - ym, xtest, GRID) + ym
        pred[test] = np.take_along_axis(full, best[None, None, :], 0)[0]
    return pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="results/demo/smollm2-135m/ctx32")
    parser.add_argument("--data", default="resources/demo")
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 12, 24])
    args = parser.parse_args()
    ds = read_dataset(args.data)
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    for layer in args.layers:
        x = delayed_design(read_features(f"{args.run}/features.h5", layer), runs, kept, 4)
        ours, ref = [], []
        for subject in ds.subjects:
            bold, rois = read_responses(args.data, subject)
            roi = roi_mask(rois, "language", bold.shape[1])
            y = prepare_responses(bold, runs, kept)[:, roi]
            pred = toneva_ridge(x, y, runs[kept])
            ref.append(pearson_r(pred, y).mean())
            enc = read_encoding(f"{args.run}/encoding/layer{layer}/{subject}.h5")
            ours.append(enc["r"][enc["roi"]].mean())
        print(
            f"toneva_ridge: layer={layer} workflow={np.mean(ours):.4f} "
            f"reference={np.mean(ref):.4f} diff={np.mean(ours) - np.mean(ref):+.4f} "
            f"(subjects={len(ds.subjects)}, alphas 1e-6..1e9, inner 10-fold unshuffled)"
        )


if __name__ == "__main__":
    main()
