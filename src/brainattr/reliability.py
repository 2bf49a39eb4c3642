"""Noise ceilings (from repeated presentations, or between subjects) and BA normalised by them.

With n repeats y_k = s + e_k (independent noise of equal variance), the mean pairwise
Pearson r between repeats estimates the split reliability rho = var(s) / (var(s) + var(e)).
The mean of the n repeats has reliability SB(rho, n) = n rho / (1 + (n - 1) rho)
(Spearman-Brown), and no prediction can correlate with that mean better than with s itself:
the noise ceiling is corr(s, mean) = sqrt(SB(rho, n)). It is undefined (NaN) where
rho <= 0. BA on the repeated run divided by the ceiling is the normalised BA.

Without repeats (HP), the **inter-subject ceiling** of a voxel is the held-out r with which the
other subjects' ROI responses, at the same TRs, predict it (ridge, one alpha per voxel by inner
CV, leave-one-run-out as the encoding models; voxels need not be shared). With y_s = a s + e_s
(a stimulus-locked signal s shared across subjects, subject noise e_s), no stimulus model can
correlate with y_s better than s itself, and the other subjects can only recover s up to their
own noise: the inter-subject r is a lower bound of that ceiling, close to it with many subjects
and TRs, and it leaves out stimulus responses a subject does not share. BA over all held-out
TRs divided by it is the normalised BA (``ceiling`` = ``intersubject``, ``run`` = -1).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.dataset import DatasetError, read_dataset, read_repeats, read_responses
from brainattr.design import pearson_r, prepare_responses
from brainattr.encoding import kernel_ridge_cv_predict
from brainattr.tables import NOISE_CEILING, read_encoding


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


def intersubject_ceiling(
    responses: dict[str, np.ndarray],
    runs: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    backend: str = "numpy",
) -> dict[str, np.ndarray]:
    """Each subject's voxels predicted from the other subjects' responses at the same TRs.

    Parameters
    ----------
    responses : {subject: array (n_kept, n_voxels)}
        Kept TRs, z-scored per run (:func:`brainattr.design.prepare_responses`), usually ROI
        voxels only; every subject on the same TRs. Memory: one (n_kept, n_kept) kernel per
        subject, whatever the voxel counts.
    runs : array (n_kept,)
        Run of each kept TR: the outer (leave-one-run-out) folds.
    alphas, inner_folds, backend
        As the encoding models (:func:`brainattr.encoding.fit_ridge_cv`).

    Returns
    -------
    ceiling : {subject: array (n_voxels,)}
        Held-out Pearson r; needs at least two subjects and two runs.
    """
    subjects = sorted(responses)
    if len(subjects) < 2 or len(np.unique(runs)) < 2:
        raise ValueError("the inter-subject ceiling needs at least two subjects and two runs")
    fold = np.searchsorted(np.unique(runs), runs)
    # z-scored per run, so every union of whole runs is centred: the linear kernel of the
    # other subjects is the sum of their kernels, and their voxels never sit in one matrix
    kernels = {s: responses[s] @ responses[s].T for s in subjects}
    total = sum(kernels.values())
    out = {}
    for s in subjects:
        y, others = responses[s], total - kernels[s]
        pred = np.zeros_like(y)
        for k in range(fold.max() + 1):
            pred[fold == k] = kernel_ridge_cv_predict(others, y, fold != k, alphas, inner_folds,
                                                      backend)  # fmt: skip
        out[s] = pearson_r(pred, y)
    return out


def intersubject_ba_table(
    encodings: dict[tuple[str, int], dict], ceilings: dict[str, np.ndarray]
) -> pd.DataFrame:
    """BA over all held-out TRs against the inter-subject ceiling, per subject x layer
    (:data:`brainattr.tables.NOISE_CEILING`; ``ceilings[subject]`` covers the ROI voxels)."""
    rows = []
    for (subject, layer), enc in sorted(encodings.items()):
        nc = np.full(enc["roi"].shape, np.nan)
        nc[enc["roi"]] = ceilings[subject]
        ok = enc["roi"] & (nc > 0)
        ceiling = float(nc[ok].mean()) if ok.any() else float("nan")
        ba = float(enc["r"][ok].mean()) if ok.any() else float("nan")
        rows.append((subject, layer, -1, int(enc["roi"].sum()), int(ok.sum()), ceiling, ba,
                     ba / ceiling, "intersubject"))  # fmt: skip
    return pd.DataFrame(rows, columns=NOISE_CEILING)


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
                    "repeats",
                )
            )
    return pd.DataFrame(rows, columns=NOISE_CEILING)


def run_noise_ceiling(
    dataset_dir: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    out_path: str | Path,
    encoding_settings: dict | None = None,
) -> None:
    """Workflow stage ``noise_ceiling``: the ceiling of each repeated run and, with two or more
    subjects, the inter-subject ceiling (``encoding_settings``: the config's ``encoding``
    section, ``alphas``, ``inner_folds``, ``backend``), each with the normalised BA."""
    ds = read_dataset(dataset_dir)
    subjects = sorted({s for s, _ in encoding_paths})
    encodings = {k: read_encoding(p) for k, p in encoding_paths.items()}
    ceilings = {}
    for subject in subjects:
        for run, rep in read_repeats(dataset_dir, subject).items():
            ceilings[(subject, run)] = noise_ceiling(rep.astype(np.float64))
    tables = [normalized_ba_table(encodings, ceilings)]
    if len(subjects) >= 2:
        settings = {"inner_folds": 5, "backend": "numpy", **(encoding_settings or {})}
        kept, runs = ds.trs["kept"].to_numpy(), ds.trs["run"].to_numpy()
        roi = {s: next(e["roi"] for (s_, _), e in encodings.items() if s_ == s) for s in subjects}
        responses = {s: prepare_responses(read_responses(dataset_dir, s)[0], runs, kept)[:, roi[s]]
                     for s in subjects}  # fmt: skip
        inter = intersubject_ceiling(responses, runs[kept], settings["alphas"],
                                     settings["inner_folds"], settings["backend"])  # fmt: skip
        tables.append(intersubject_ba_table(encodings, inter))
    elif not ceilings:
        raise DatasetError(
            f"{dataset_dir}: one subject and no repeated run (/<subject>/repeats/<run> in "
            "responses.h5): no noise ceiling can be estimated"
        )
    table = pd.concat([t for t in tables if len(t)], ignore_index=True)
    table.insert(0, "dataset", ds.name)
    table.to_csv(out_path, sep="\t", index=False)
