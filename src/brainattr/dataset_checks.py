"""The rules a dataset folder must follow, each failing with a message that names the file, the
row or subject, and the fix (:class:`DatasetError`); what is legal but suspicious is returned as
warnings. Used by :func:`brainattr.dataset.read_dataset` (tables), :class:`DatasetWriter`
(tables and every subject's responses) and :func:`brainattr.validate.validate_dataset`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainattr.errors import DatasetError

MAX_LISTED = 5  # rows or TRs named in a message


def _rows(mask: np.ndarray, offset: int = 2) -> str:
    """The first flagged rows as file line numbers (header = line 1)."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i + offset) for i in idx[:MAX_LISTED])
    return shown + (f" (and {idx.size - MAX_LISTED} more)" if idx.size > MAX_LISTED else "")


def check_tables(words: pd.DataFrame, trs: pd.DataFrame, tr: float, where: str) -> None:
    """``words.tsv`` and ``trs.tsv`` rules (``where``: the dataset folder).

    Raises
    ------
    DatasetError
        Indices not 0..n-1; a word's offset before its onset; an empty or blank word; word onsets
        out of order within a run; TR onsets not increasing within a run; a word in a run without
        TRs or outside every TR of its run; ``kept`` not 0/1; fewer than two runs with kept TRs.
    """
    w, t = f"{where}/words.tsv", f"{where}/trs.tsv"
    if not np.array_equal(words["word_index"].to_numpy(), np.arange(len(words))):
        raise DatasetError(f"{w}: word_index must be 0..n_words-1 in order")
    if not np.array_equal(trs["tr_index"].to_numpy(), np.arange(len(trs))):
        raise DatasetError(f"{t}: tr_index must be 0..n_trs-1 in order")
    if (words["offset"] < words["onset"]).any():
        raise DatasetError(f"{w}: a word's offset precedes its onset, line(s) "
                           f"{_rows((words['offset'] < words['onset']).to_numpy())}")  # fmt: skip
    blank = words["word"].astype(str).str.strip().eq("").to_numpy()
    if blank.any():
        raise DatasetError(f"{w}: empty or blank word at line(s) {_rows(blank)}: remove those "
                           "rows (and renumber word_index) or give the word's text")  # fmt: skip
    if not trs["kept"].isin([0, 1, True, False]).all():
        raise DatasetError(f"{t}: kept must be 0 or 1 (1 = the TR is used for encoding)")
    for table, name, label in ((words, w, "word"), (trs, t, "TR")):
        onset, run = table["onset"].to_numpy(float), table["run"].to_numpy()
        step = np.diff(onset)
        back = np.r_[False, (run[1:] == run[:-1]) & ((step <= 0) if label == "TR" else (step < 0))]
        if back.any():
            raise DatasetError(
                f"{name}: {label} onsets must {'increase' if label == 'TR' else 'not decrease'} "
                f"within a run; out of order at line(s) {_rows(back)}: sort the rows by run and "
                "onset (and renumber the index column)"
            )
    _check_word_runs(words, trs, tr, w)
    kept_runs = np.unique(trs.loc[trs["kept"].astype(bool), "run"])
    if kept_runs.size < 2:
        raise DatasetError(
            f"{t}: kept TRs in {kept_runs.size} run(s); BA is cross-validated leaving one run "
            "(or story) out, so at least two runs need kept TRs: split a long run into two "
            "runs at a pause"
        )


def _check_word_runs(words: pd.DataFrame, trs: pd.DataFrame, tr: float, where: str) -> None:
    runs = set(trs["run"])
    orphan = ~words["run"].isin(runs).to_numpy()
    if orphan.any():
        raise DatasetError(f"{where}: word(s) of a run without TRs in trs.tsv at line(s) "
                           f"{_rows(orphan)}; runs with TRs: {sorted(runs)}")  # fmt: skip
    first = trs.groupby("run")["onset"].min()
    last = trs.groupby("run")["onset"].max() + tr
    onset, run = words["onset"].to_numpy(float), words["run"]
    outside = (onset < first.reindex(run).to_numpy() - 1e-6) | (
        onset >= last.reindex(run).to_numpy() - 1e-6
    )
    if outside.any():
        raise DatasetError(
            f"{where}: word(s) whose onset lies outside every TR of their run at line(s) "
            f"{_rows(outside)}: such words would get no feature but still be scored; add the "
            "TRs that were acquired then to trs.tsv (kept = 0 if their BOLD is missing) or "
            "drop the words"
        )


def check_bold(
    bold_shape: tuple[int, ...], n_trs: int, where: str, bold: np.ndarray | None = None,
    kept: np.ndarray | None = None,
) -> list[str]:  # fmt: skip
    """A subject's ``bold``: one row per TR of trs.tsv, finite on kept TRs; returns warnings
    (constant voxels on the kept TRs)."""
    if len(bold_shape) != 2 or bold_shape[0] != n_trs:
        raise DatasetError(
            f"{where}: bold has shape {tuple(bold_shape)} but trs.tsv has {n_trs} rows: bold "
            "needs exactly one row per TR of trs.tsv, in that order (rows of TRs not kept may "
            "be NaN)"
        )
    if bold is None or kept is None:
        return []
    kept = np.asarray(kept, bool)
    rows = np.asarray(bold[kept])
    finite = np.isfinite(rows)
    if not finite.all():
        bad_trs = np.isin(np.arange(n_trs), np.flatnonzero(kept)[~finite.all(axis=1)])
        bad_vox = np.flatnonzero(~finite.all(axis=0))
        raise DatasetError(
            f"{where}: NaN or infinite values in kept TRs (tr_index {_rows(bad_trs, 0)}; "
            f"{bad_vox.size} voxel(s), e.g. {bad_vox[:MAX_LISTED].tolist()}): set kept = 0 for "
            "those TRs, or drop (or zero) those voxels before writing"
        )
    constant = int((rows.std(axis=0) == 0).sum()) if len(rows) else 0
    if not constant:
        return []
    return [f"{where}: {constant} voxel(s) constant over the kept TRs (their BA r is 0)"]


def check_rois(rois: dict[str, np.ndarray], n_voxels: int, where: str) -> list[str]:
    """ROI masks: one entry per voxel; returns warnings (empty masks)."""
    warnings = []
    for label, mask in rois.items():
        if len(mask) != n_voxels:
            raise DatasetError(f"{where}: ROI {label} has {len(mask)} voxels, bold {n_voxels}")
        if not np.asarray(mask, bool).any():
            warnings.append(f"{where}: ROI {label} holds no voxel")
    return warnings
