"""Helpers shared by the dataset sources."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.dataset import TR_COLUMNS, WORD_COLUMNS, DatasetError

# What a pickled .npy of arrays and dicts may reference (nothing that executes code).
_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("collections", "OrderedDict"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def load_npy(path: str | Path) -> np.ndarray:
    """Load a .npy file; object arrays (pickled dicts/strings) go through a restricted unpickler."""
    path = Path(path)
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if reader is None:
            raise DatasetError(f"{path}: unsupported .npy version {version}")
        _, _, dtype = reader(f)
        if not dtype.hasobject:
            return np.load(path, allow_pickle=False)
        try:
            obj = _ArrayUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError) as err:
            raise DatasetError(f"{path}: not a plain array file ({err})") from err
    return np.asarray(obj) if not isinstance(obj, np.ndarray) else obj


def trim_kept(runs: np.ndarray, first: int, last: int) -> np.ndarray:
    """Mark all TRs kept except the first ``first`` and last ``last`` of each run.

    Parameters
    ----------
    runs : array of shape (n_trs,)
        Run (or story) of each TR; each run's TRs are contiguous.
    first, last : int

    Returns
    -------
    kept : bool array of shape (n_trs,)
    """
    kept = np.zeros(len(runs), dtype=bool)
    for run in pd.unique(runs):
        idx = np.flatnonzero(runs == run)
        kept[idx[first : len(idx) - last]] = True
    return kept


def run_of_times(times: np.ndarray, tr_onsets: np.ndarray, tr_runs: np.ndarray) -> np.ndarray:
    """Run of the TR whose onset is the last one at or before each time (first TR's run before)."""
    pos = np.searchsorted(tr_onsets, np.asarray(times, dtype=float) + 1e-6, side="right") - 1
    return np.asarray(tr_runs)[np.clip(pos, 0, None)]


def zero_nan(data: np.ndarray, where: str, warnings: list[str]) -> np.ndarray:
    """``data`` with NaN set to 0 (sources store voxels outside a subject's brain mask as NaN);
    how many values and voxels (last axis) is appended to ``warnings``, never silent."""
    bad = np.isnan(data)
    if bad.any():
        n_vox = int(bad.reshape(-1, data.shape[-1]).any(axis=0).sum())
        warnings.append(f"{where}: {int(bad.sum())} NaN value(s) in {n_vox} voxel(s) set to 0")
    return np.where(bad, 0, data).astype(data.dtype, copy=False)


def fill_kept(data: np.ndarray, kept: np.ndarray, where: str, warnings: list[str]) -> np.ndarray:
    """Responses for kept TRs only -> (n_trs, n_voxels) with NaN rows for trimmed TRs."""
    if data.shape[0] != kept.sum():
        raise DatasetError(
            f"{where}: {data.shape[0]} rows, but the timing keeps {int(kept.sum())} TRs"
        )
    out = np.full((len(kept), data.shape[1]), np.nan, dtype=np.float32)
    out[kept] = zero_nan(data, where, warnings)
    return out


def story_tables(
    stories: list[tuple[str, int, pd.DataFrame]],
    tr: float,
    sound_onset: float,
    trim: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Word and TR tables of stories played one after another (one run per story).

    Parameters
    ----------
    stories : list of (name, n_raw_trs, words)
        ``words`` has columns word, onset, offset in seconds from the story's sound onset.
    tr : float
    sound_onset : float
        Seconds from a story's first volume to its sound onset.
    trim : int
        TRs dropped at each end of every story.

    Returns
    -------
    words, trs : DataFrames in the common format; ``run`` = 1-based story number.
    """
    word_rows, tr_rows, start = [], [], 0.0
    for run, (_, n_trs, words) in enumerate(stories, start=1):
        for k in range(n_trs):
            tr_rows.append((len(tr_rows), start + k * tr, run, trim <= k < n_trs - trim))
        for w in words.itertuples():
            on = start + sound_onset + w.onset
            word_rows.append((len(word_rows), w.word, on, start + sound_onset + w.offset, run))
        start += n_trs * tr
    words_df = pd.DataFrame(word_rows, columns=WORD_COLUMNS)
    trs_df = pd.DataFrame(tr_rows, columns=TR_COLUMNS)
    return words_df, trs_df


def with_base(spec: dict, path: str, canonical: str) -> str:
    """``<base_url>/<path>`` when the dataset has a base_url, else the canonical URL."""
    base = spec.get("base_url")
    return f"{base.rstrip('/')}/{path}" if base else canonical
