"""Measurement: the workflow's BA against a plain Toneva-style ridge on the same features.

Run after `make demo`. For each subject and the selected layers of the demo at L = 32, the
reference is written from scratch in NumPy, as the Toneva lab's HP code does it: the same
delayed TR features and z-scored BOLD, leave-one-run-out, and per voxel a penalty from
10^-6 ... 10^9 chosen by an unshuffled inner 10-fold split of the training runs (lowest
squared error), solved by SVD. Prints per layer

    toneva_ridge: layer=<l> workflow=<mean r> reference=<mean r> diff=<workflow - reference>

over the ROI voxels, the subjects averaged; the goal is diff >= -0.005.

``--synthetic-hp`` needs no demo run: HP's real run lengths (``../shared/data/hp/runs_fmri.npy``,
1351 TRs, 20 / 15 TRs trimmed per run as in Toneva & Wehbe's bundle: 1211 kept), TR features of
a paper model's width (2048) from a smooth low-rank process plus noise, and voxels whose delayed
responses mix that process with voxel-specific SNR (held-out r about 0 ... 0.4, as in HP). The
workflow's ridge (``encode_subject``) runs with the paper's grid and the demo's, each against the
reference; prints ``toneva_ridge_hp: grid=<name> ...`` lines.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from brainattr.dataset import read_dataset, read_responses, roi_mask
from brainattr.design import delayed_design, pearson_r, prepare_responses, zscore_per_run
from brainattr.encoding import encode_subject
from brainattr.tables import read_encoding, read_features

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


DEMO_GRID = [0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000]  # the schema's default
HP_RUNS = Path(__file__).resolve().parents[2] / "shared/data/hp/runs_fmri.npy"


def hp_shaped(n_voxels: int, hidden: int, seed: int):
    """Synthetic TR features (n_trs, hidden), BOLD (n_trs, n_voxels), runs and kept TRs with HP's
    run lengths; the responses are delayed mixtures of a smooth rank-32 process (t-1 ... t-4)."""
    runs = np.load(HP_RUNS).astype(int)
    kept = np.zeros(len(runs), bool)
    for r in np.unique(runs):
        idx = np.flatnonzero(runs == r)
        kept[idx[20 : len(idx) - 15]] = True  # Toneva & Wehbe's trim
    rng = np.random.default_rng(seed)
    latent = np.zeros((len(runs), 32))
    for t in range(1, len(runs)):  # smooth, as LM features averaged over TRs are
        latent[t] = 0.8 * latent[t - 1] + rng.standard_normal(32)
    features = latent @ rng.standard_normal((32, hidden)) + 3 * rng.standard_normal(
        (len(runs), hidden)
    )
    delayed = np.concatenate([np.roll(latent, d, axis=0) for d in range(1, 5)], axis=1)
    signal = zscore_per_run(delayed @ rng.standard_normal((delayed.shape[1], n_voxels)), runs)
    snr = rng.uniform(0.0, 0.5, n_voxels)
    bold = snr * signal + rng.standard_normal(signal.shape)
    return features, bold, runs, kept


def synthetic_hp(n_voxels: int, hidden: int, seed: int) -> None:
    features, bold, runs, kept = hp_shaped(n_voxels, hidden, seed)
    x = delayed_design(features, runs, kept, 4)
    y = prepare_responses(bold, runs, kept)
    ref = pearson_r(toneva_ridge(x, y, runs[kept]), y).mean()
    for name, grid in (("paper 1e-6..1e9, 5 inner folds", GRID), ("demo 1e-2..1e6", DEMO_GRID)):
        ours = encode_subject(features, bold, runs, kept, 4, list(grid), 5,
                              np.ones(n_voxels, bool))["r"].mean()  # fmt: skip
        print(
            f"toneva_ridge_hp: grid={name} workflow={ours:.4f} reference={ref:.4f} "
            f"diff={ours - ref:+.4f} ({kept.sum()} TRs in 4 runs, {4 * hidden} features, "
            f"{n_voxels} voxels, seed {seed})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="results/demo/smollm2-135m/ctx32")
    parser.add_argument("--data", default="resources/demo")
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 12, 24])
    parser.add_argument("--synthetic-hp", action="store_true")
    parser.add_argument("--voxels", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.synthetic_hp:
        synthetic_hp(args.voxels, args.hidden, args.seed)
        return
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
