"""The one on-disk dataset format shared by every source (demo, HP, MRH, your own).

A dataset is a folder::

    dataset.json    {"name", "tr", "subjects": [...], "source", "description"}
    words.tsv       word_index, word, onset, offset, run      (one row per presented word)
    trs.tsv         tr_index, onset, run, kept                (one row per acquired volume)
    responses.h5    /<subject>/bold (n_trs, n_voxels) float32, every TR of trs.tsv
                    /<subject>/roi/<label> (n_voxels,) bool   (optional voxel ROI masks)

Times are seconds from the start of the session; ``run`` is the run (HP) or story (MRH)
used as a cross-validation fold; ``kept`` marks TRs used for encoding (the others, e.g.
trimmed rest, are still acquired and keep the timing honest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

WORD_COLUMNS = ["word_index", "word", "onset", "offset", "run"]
TR_COLUMNS = ["tr_index", "onset", "run", "kept"]


class DatasetError(ValueError):
    """A dataset folder is missing a file or holds inconsistent values."""


@dataclass
class Dataset:
    """A naturalistic fMRI dataset in the common format.

    Attributes
    ----------
    name : str
    tr : float
        Repetition time in seconds.
    words : DataFrame
        Columns ``WORD_COLUMNS``, sorted by ``word_index`` = 0..n_words-1.
    trs : DataFrame
        Columns ``TR_COLUMNS``, sorted by ``tr_index`` = 0..n_trs-1.
    subjects : list of str
    meta : dict
        Everything else from ``dataset.json``.
    """

    name: str
    tr: float
    words: pd.DataFrame
    trs: pd.DataFrame
    subjects: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def word_tr(self) -> np.ndarray:
        """TR index of each word (see :func:`assign_words_to_trs`), shape (n_words,)."""
        return assign_words_to_trs(
            self.words["onset"].to_numpy(),
            self.words["run"].to_numpy(),
            self.trs["onset"].to_numpy(),
            self.trs["run"].to_numpy(),
            self.tr,
        )


def assign_words_to_trs(
    word_onsets: np.ndarray,
    word_runs: np.ndarray,
    tr_onsets: np.ndarray,
    tr_runs: np.ndarray,
    tr: float,
) -> np.ndarray:
    """Assign each word to the TR whose acquisition window [onset, onset + tr) holds its onset.

    Parameters
    ----------
    word_onsets : array of shape (n_words,)
    word_runs : array of shape (n_words,)
    tr_onsets : array of shape (n_trs,)
        Sorted within each run.
    tr_runs : array of shape (n_trs,)
    tr : float

    Returns
    -------
    word_tr : array of int, shape (n_words,)
        TR index, or -1 for a word outside every TR of its run.
    """
    word_onsets = np.asarray(word_onsets, dtype=float)
    tr_onsets = np.asarray(tr_onsets, dtype=float)
    out = np.full(word_onsets.shape, -1, dtype=np.int64)
    for run in np.unique(word_runs):
        tr_idx = np.flatnonzero(np.asarray(tr_runs) == run)
        w_idx = np.flatnonzero(np.asarray(word_runs) == run)
        if tr_idx.size == 0:
            continue
        onsets = tr_onsets[tr_idx]
        # tolerance: onsets are often written with a few decimals
        pos = np.searchsorted(onsets, word_onsets[w_idx] + 1e-6, side="right") - 1
        ok = (pos >= 0) & (word_onsets[w_idx] < onsets[np.clip(pos, 0, None)] + tr - 1e-6)
        out[w_idx[ok]] = tr_idx[pos[ok]]
    return out


def tr_word_ranges(word_tr: np.ndarray, n_trs: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last word index of each TR (words are contiguous in a TR).

    Returns
    -------
    first, stop : arrays of int, shape (n_trs,)
        ``first == stop`` for a TR without words.
    """
    first = np.zeros(n_trs, dtype=np.int64)
    stop = np.zeros(n_trs, dtype=np.int64)
    for t in range(n_trs):
        idx = np.flatnonzero(word_tr == t)
        if idx.size:
            if idx[-1] - idx[0] + 1 != idx.size:
                raise DatasetError(f"words of TR {t} are not contiguous in word order")
            first[t], stop[t] = idx[0], idx[-1] + 1
    return first, stop


def write_dataset(
    folder: str | Path,
    name: str,
    tr: float,
    words: pd.DataFrame,
    trs: pd.DataFrame,
    responses: dict[str, np.ndarray],
    rois: dict[str, dict[str, np.ndarray]] | None = None,
    meta: dict | None = None,
) -> None:
    """Write a dataset folder (see the module docstring for the layout)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = words[WORD_COLUMNS]
    trs = trs[TR_COLUMNS].astype({"kept": int})
    _check_tables(words, trs, str(folder))
    words.to_csv(folder / "words.tsv", sep="\t", index=False)
    trs.to_csv(folder / "trs.tsv", sep="\t", index=False)
    with h5py.File(folder / "responses.h5", "w") as f:
        for subject, bold in responses.items():
            if bold.shape[0] != len(trs):
                raise DatasetError(
                    f"responses of subject {subject}: {bold.shape[0]} rows, trs.tsv has {len(trs)}"
                )
            g = f.create_group(subject)
            g.create_dataset("bold", data=np.asarray(bold, dtype=np.float32))
            for label, mask in (rois or {}).get(subject, {}).items():
                g.create_dataset(f"roi/{label}", data=np.asarray(mask, dtype=bool))
    info = {"name": name, "tr": tr, "subjects": list(responses), **(meta or {})}
    (folder / "dataset.json").write_text(json.dumps(info, indent=2))


def _check_tables(words: pd.DataFrame, trs: pd.DataFrame, where: str) -> None:
    if not np.array_equal(words["word_index"].to_numpy(), np.arange(len(words))):
        raise DatasetError(f"{where}/words.tsv: word_index must be 0..n_words-1 in order")
    if not np.array_equal(trs["tr_index"].to_numpy(), np.arange(len(trs))):
        raise DatasetError(f"{where}/trs.tsv: tr_index must be 0..n_trs-1 in order")
    if (words["offset"] < words["onset"]).any():
        raise DatasetError(f"{where}/words.tsv: a word's offset precedes its onset")


def read_dataset(folder: str | Path) -> Dataset:
    """Read a dataset folder written by :func:`write_dataset`; responses stay on disk."""
    folder = Path(folder)
    for required in ("dataset.json", "words.tsv", "trs.tsv", "responses.h5"):
        if not (folder / required).is_file():
            raise DatasetError(
                f"dataset folder {folder} lacks {required}; see the README section 'On-disk format'"
            )
    info = json.loads((folder / "dataset.json").read_text())
    words = pd.read_csv(folder / "words.tsv", sep="\t", keep_default_na=False, dtype={"word": str})
    trs = pd.read_csv(folder / "trs.tsv", sep="\t")
    for table, cols, fname in ((words, WORD_COLUMNS, "words.tsv"), (trs, TR_COLUMNS, "trs.tsv")):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise DatasetError(f"{folder / fname} lacks column(s) {missing}")
    trs["kept"] = trs["kept"].astype(bool)
    _check_tables(words, trs, str(folder))
    meta = {k: v for k, v in info.items() if k not in ("name", "tr", "subjects")}
    return Dataset(info["name"], float(info["tr"]), words, trs, list(info["subjects"]), meta)


def read_responses(folder: str | Path, subject: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """BOLD (n_trs, n_voxels) and ROI masks {label: (n_voxels,) bool} of one subject."""
    path = Path(folder) / "responses.h5"
    with h5py.File(path, "r") as f:
        if subject not in f:
            raise DatasetError(f"{path} has no subject '{subject}'; subjects: {list(f)}")
        bold = f[subject]["bold"][()]
        rois = {k: v[()] for k, v in f[subject].get("roi", {}).items()}
    return bold, rois


def roi_mask(rois: dict[str, np.ndarray], label: str, n_voxels: int, where: str = "") -> np.ndarray:
    """The boolean voxel mask for ``label``; ``"all"`` selects every voxel."""
    if label == "all":
        return np.ones(n_voxels, dtype=bool)
    if label not in rois:
        raise DatasetError(
            f"ROI '{label}' not found{' in ' + where if where else ''}; "
            f"available: {[*sorted(rois), 'all']} (config key datasets.<name>.roi)"
        )
    return rois[label]
