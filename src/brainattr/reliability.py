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

No model enters a ceiling: stage ``ceiling`` computes a subject's once per dataset (for MRH one
inter-subject ceiling costs about one encoding), and stage ``noise_ceiling`` divides each
model's BA by it.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainattr.dataset import DatasetError, read_dataset, read_repeats, read_responses, roi_mask
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


def intersubject_ceiling_of(
    y: np.ndarray,
    others_kernel: np.ndarray,
    runs: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    backend: str = "numpy",
) -> np.ndarray:
    """One subject's voxels predicted from the other subjects' responses at the same TRs.

    Parameters
    ----------
    y : array of shape (n_kept, n_voxels)
        The subject's kept TRs, z-scored per run (:func:`brainattr.design.prepare_responses`),
        usually ROI voxels only.
    others_kernel : array of shape (n_kept, n_kept)
        Sum over the other subjects of z z^T, z their kept, per-run z-scored responses: z-scored
        per run, every union of whole runs is centred, so this is the linear kernel of their
        concatenated voxels, which never sit in one matrix.
    runs : array of shape (n_kept,)
        Run of each kept TR: the outer (leave-one-run-out) folds.
    alphas, inner_folds, backend
        As the encoding models (:func:`brainattr.encoding.fit_ridge_cv`).

    Returns
    -------
    ceiling : array of shape (n_voxels,)
        Held-out Pearson r; needs at least two runs.
    """
    if len(np.unique(runs)) < 2:
        raise ValueError("the inter-subject ceiling needs at least two runs")
    fold = np.searchsorted(np.unique(runs), runs)
    pred = np.zeros_like(y)
    for k in range(fold.max() + 1):
        pred[fold == k] = kernel_ridge_cv_predict(others_kernel, y, fold != k, alphas,
                                                  inner_folds, backend)  # fmt: skip
    return pearson_r(pred, y)


def intersubject_ceiling(
    responses: dict[str, np.ndarray],
    runs: np.ndarray,
    alphas: list[float],
    inner_folds: int,
    backend: str = "numpy",
) -> dict[str, np.ndarray]:
    """:func:`intersubject_ceiling_of` for every subject of ``responses`` ({subject: array
    (n_kept, n_voxels)}, every subject on the same TRs); needs two or more subjects."""
    if len(responses) < 2:
        raise ValueError("the inter-subject ceiling needs at least two subjects")
    kernels = {s: r @ r.T for s, r in responses.items()}
    total = sum(kernels.values())
    return {
        s: intersubject_ceiling_of(r, total - kernels[s], runs, alphas, inner_folds, backend)
        for s, r in sorted(responses.items())
    }


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


def subject_ceilings(
    dataset_dir: str | Path, subject: str, roi_label: str | list[str], settings: dict
) -> dict:
    """A subject's noise ceilings, which no model changes: one per repeated run (every voxel),
    and with two or more subjects the inter-subject ceiling of its ROI voxels (NaN elsewhere).

    The other subjects are read one at a time and only their kernel is kept, so memory holds one
    subject's BOLD and one (n_kept, n_kept) kernel, whatever the number of subjects.
    ``settings``: the config's ``encoding`` section (``alphas``, ``inner_folds``, ``backend``).
    Returns ``roi``, ``repeats`` ({run: (n_voxels,)}) and, with other subjects, ``intersubject``.
    """
    ds = read_dataset(dataset_dir)
    kept, runs = ds.trs["kept"].to_numpy(), ds.trs["run"].to_numpy()
    out = {"repeats": {run: noise_ceiling(rep.astype(np.float64))
                       for run, rep in read_repeats(dataset_dir, subject).items()}}  # fmt: skip
    others = [s for s in ds.subjects if s != subject]
    if not others and not out["repeats"]:
        raise DatasetError(
            f"{dataset_dir}: one subject and no repeated run (/<subject>/repeats/<run> in "
            "responses.h5): no noise ceiling can be estimated"
        )
    n_kept = int(kept.sum())
    kernel = np.zeros((n_kept, n_kept)) if others else None
    for s in [subject, *others]:
        bold, rois = read_responses(dataset_dir, s)
        roi = roi_mask(rois, roi_label, bold.shape[1], f"{dataset_dir}/responses.h5:{s}")
        z = prepare_responses(bold[:, roi], runs, kept)
        if s == subject:
            out["roi"], y = roi, z
        else:
            kernel += z @ z.T
    if kernel is not None:
        settings = {"inner_folds": 5, "backend": "numpy", **settings}
        fit = (settings["alphas"], settings["inner_folds"], settings["backend"])
        out["intersubject"] = np.full(out["roi"].shape, np.nan)
        out["intersubject"][out["roi"]] = intersubject_ceiling_of(y, kernel, runs[kept], *fit)
    return out


def write_ceilings(path: str | Path, ceilings: dict, **attrs) -> None:
    """``noise_ceiling/<subject>.h5``: ``roi``, ``intersubject`` and ``repeats/<run>``
    (n_voxels,) float32 as :func:`subject_ceilings` returns them, and ``attrs``."""
    with h5py.File(path, "w") as f:
        f.create_dataset("roi", data=ceilings["roi"])
        if "intersubject" in ceilings:
            f.create_dataset("intersubject", data=ceilings["intersubject"].astype(np.float32))
        for run, c in ceilings["repeats"].items():
            f.create_dataset(f"repeats/{run}", data=c.astype(np.float32))
        f.attrs.update(attrs)


def read_ceilings(path: str | Path) -> dict:
    """A file of :func:`write_ceilings` as :func:`subject_ceilings` returns it, plus ``attrs``."""
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in ("roi", "intersubject") if k in f}
        out["repeats"] = {int(run): c[()] for run, c in f.get("repeats", {}).items()}
        out["attrs"] = dict(f.attrs)
    return out


def run_subject_ceiling(
    dataset_dir: str | Path,
    subject: str,
    roi_label: str | list[str],
    out_path: str | Path,
    encoding_settings: dict,
) -> None:
    """Workflow stage ``ceiling``: one subject's noise ceilings (:func:`subject_ceilings`), once
    per dataset, whatever the models."""
    ceilings = subject_ceilings(dataset_dir, subject, roi_label, encoding_settings)
    write_ceilings(out_path, ceilings, dataset=read_dataset(dataset_dir).name, subject=subject)


def run_noise_ceiling(
    encoding_paths: dict[tuple[str, int], str],
    ceiling_paths: list[str | Path],
    out_path: str | Path,
) -> None:
    """Workflow stage ``noise_ceiling``: each encoding's BA against its subject's ceilings (stage
    ``ceiling``): per repeated run, and against the inter-subject ceiling."""
    ceilings = {}
    for path in ceiling_paths:
        c = read_ceilings(path)
        ceilings[c["attrs"]["subject"]] = c | {"path": path}
    encodings = {}
    for (subject, layer), path in encoding_paths.items():
        if subject not in ceilings:
            raise DatasetError(f"{path}: no ceiling file of {subject} among {ceiling_paths} "
                               "(stage ceiling writes noise_ceiling/<subject>.h5)")  # fmt: skip
        enc, c = read_encoding(path), ceilings[subject]
        if not np.array_equal(enc["roi"], c["roi"]):
            raise DatasetError(
                f"{path} and {c['path']} hold different ROIs of {subject}: one was computed "
                "before the dataset or its ROI (config key datasets.<name>.roi) changed; "
                "delete the older one and rerun"
            )
        # r and the ROI only: every alpha of a model's 48 layers x 9 subjects would take GBs
        keep = [k for k in enc if k in ("roi", "r") or k.startswith("r_repeated_")]
        encodings[(subject, layer)] = {k: enc[k] for k in keep}
    repeats = {(s, run): r for s, c in ceilings.items() for run, r in c["repeats"].items()}
    inter = {s: c["intersubject"][c["roi"]] for s, c in ceilings.items() if "intersubject" in c}
    tables = [normalized_ba_table(encodings, repeats)]
    tables += [intersubject_ba_table(encodings, inter)] if inter else []
    table = pd.concat([t for t in tables if len(t)], ignore_index=True)
    table.insert(0, "dataset", next(iter(ceilings.values()))["attrs"]["dataset"])
    table.to_csv(out_path, sep="\t", index=False)
