"""The one on-disk dataset format shared by every source (demo, HP, MRH, your own).

A dataset is a folder::

    dataset.json    {"name", "tr", "subjects": [...], "runs_continue", "source", ...}
                    (runs_continue: true when runs continue one text, false for separate
                    stories, whose context windows then stop at the story's start)
    words.tsv       word_index, word, onset, offset, run      (one row per presented word;
                    optional stimulus_index = the word's slot in the source stimulus)
    trs.tsv         tr_index, onset, run, kept                (one row per acquired volume)
    responses.h5    /<subject>/bold (n_trs, n_voxels) float32, every TR of trs.tsv
                    /<subject>/roi/<label> (n_voxels,) bool   (optional voxel ROI masks)
                    /<subject>/repeats/<run> (n_repeats, n_kept_trs_of_run, n_voxels)
                        (optional: separate presentations of a repeated run; bold = mean)
                    /<subject>/voxel_ijk (n_voxels, 3) int, attrs["affine"] (4, 4)
                        (optional: 0-based voxel indices and their affine to MNI mm)
    word_groups.tsv word_index, <group>, ...  (optional: 1 where the word carries an
                    annotation group, e.g. HP's semantic / syntactic / discourse features)

Times are seconds from the start of the session; ``run`` is the run (HP) or story (MRH)
used as a cross-validation fold; ``kept`` marks TRs used for encoding (the others, e.g.
trimmed rest, are still acquired and keep the timing honest; their bold rows may be NaN
when the source only provides trimmed responses).

The format's file names, columns, writer, readers and checks stay together in this one module
(about 470 lines), so that the format is defined in one place.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainattr.dataset_checks import DatasetError, check_bold, check_rois, check_tables

log = logging.getLogger(__name__)

DATASET_JSON, WORDS_TSV, TRS_TSV, RESPONSES_H5 = (
    "dataset.json",
    "words.tsv",
    "trs.tsv",
    "responses.h5",
)
WORD_GROUPS_TSV = "word_groups.tsv"
# every dataset has these (the workflow's dataset rules declare them as outputs)
COMMON_FILES = (DATASET_JSON, WORDS_TSV, TRS_TSV, RESPONSES_H5)
WORD_COLUMNS = ["word_index", "word", "onset", "offset", "run"]
TR_COLUMNS = ["tr_index", "onset", "run", "kept"]
# stimulus_index: the word's slot in the source's stimulus (HP: aligns story_features.mat rows)
OPTIONAL_WORD_COLUMNS = ["stimulus_index"]


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
    def runs_continue(self) -> bool:
        """Whether each run continues the previous run's text (HP's chapter, the demo story)
        rather than starting a new one (MRH's stories); ``dataset.json`` key ``runs_continue``."""
        return bool(self.meta.get("runs_continue", False))

    @property
    def context_floor(self) -> np.ndarray:
        """First word a TR's context window may reach, shape (n_trs,): 0 when runs continue
        one text, else the first word of the TR's run (a story's context is that story)."""
        floor = np.zeros(len(self.trs), dtype=np.int64)
        if self.runs_continue:
            return floor
        word_runs = self.words["run"].to_numpy()
        tr_runs = self.trs["run"].to_numpy()
        for run in np.unique(tr_runs):
            idx = np.flatnonzero(word_runs == run)
            floor[tr_runs == run] = idx[0] if idx.size else 0
        return floor

    @property
    def word_tr(self) -> np.ndarray:
        """TR index of each word (see :func:`assign_words_to_trs`), shape (n_words,)."""
        return assign_words_to_trs(
            self.words["onset"].to_numpy(),
            self.words["run"].to_numpy(),
            self.trs["onset"].to_numpy(),
            self.trs["run"].to_numpy(),
            self.tr,
            self.tr_assignment,
        )

    @property
    def tr_assignment(self) -> str:
        """Word -> TR convention (:data:`TR_ASSIGNMENTS`; ``dataset.json`` key
        ``tr_assignment``, "window" when absent)."""
        return str(self.meta.get("tr_assignment", "window"))


# word -> TR conventions (dataset.json key tr_assignment): "window", a word belongs to the TR
# whose window [onset, onset + tr) holds its onset; "toneva", to the last TR whose onset lies
# strictly before it, i.e. (onset, onset + tr] (the Toneva lab's HP code,
# ``np.where(time_words[i] > time)[0][-1]``): a word at a TR onset goes to the previous TR
TR_ASSIGNMENTS = ("window", "toneva")


def assign_words_to_trs(
    word_onsets: np.ndarray,
    word_runs: np.ndarray,
    tr_onsets: np.ndarray,
    tr_runs: np.ndarray,
    tr: float,
    convention: str = "window",
) -> np.ndarray:
    """Assign each word to a TR by ``convention`` (:data:`TR_ASSIGNMENTS`): the TR whose
    window [onset, onset + tr) holds its onset, or (``toneva``) (onset, onset + tr].

    Parameters
    ----------
    word_onsets : array of shape (n_words,)
    word_runs : array of shape (n_words,)
    tr_onsets : array of shape (n_trs,)
        Sorted within each run.
    tr_runs : array of shape (n_trs,)
    tr : float
    convention : str

    Returns
    -------
    word_tr : array of int, shape (n_words,)
        TR index, or -1 for a word outside every TR of its run.
    """
    if convention not in TR_ASSIGNMENTS:
        raise ValueError(f"tr_assignment {convention!r}; allowed: {', '.join(TR_ASSIGNMENTS)}")
    # tolerance: onsets are often written with a few decimals
    eps = 1e-6 if convention == "window" else -1e-6
    word_onsets = np.asarray(word_onsets, dtype=float)
    tr_onsets = np.asarray(tr_onsets, dtype=float)
    out = np.full(word_onsets.shape, -1, dtype=np.int64)
    for run in np.unique(word_runs):
        tr_idx = np.flatnonzero(np.asarray(tr_runs) == run)
        w_idx = np.flatnonzero(np.asarray(word_runs) == run)
        if tr_idx.size == 0:
            continue
        onsets = tr_onsets[tr_idx]
        pos = np.searchsorted(onsets, word_onsets[w_idx] + eps, side="right") - 1
        ok = (pos >= 0) & (word_onsets[w_idx] < onsets[np.clip(pos, 0, None)] + tr - eps)
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


class DatasetWriter:
    """Write a dataset folder one subject at a time (responses of many subjects need not fit
    in memory together). ``dataset.json`` is written last, by :meth:`close`.

    Parameters
    ----------
    folder : str or Path
    name : str
    tr : float
    words, trs : DataFrame
        ``WORD_COLUMNS`` (plus an optional ``stimulus_index``) and ``TR_COLUMNS``.
    meta : dict, optional
        Extra entries of ``dataset.json`` (source, description, ...).
    runs_continue : bool
        True when each run continues the previous run's text (one chapter read in runs),
        False when runs are separate texts (stories): contexts then stop at a run's start.
    """

    def __init__(self, folder, name, tr, words, trs, meta=None, runs_continue=False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # a folder being rewritten is incomplete until close(): no old dataset.json beside it
        (self.folder / DATASET_JSON).unlink(missing_ok=True)
        for table, cols, fname in ((words, WORD_COLUMNS, WORDS_TSV), (trs, TR_COLUMNS, TRS_TSV)):
            _require_columns(table, cols, f"{self.folder / fname} (DatasetWriter)")
        extra = [c for c in OPTIONAL_WORD_COLUMNS if c in words.columns]
        words = words[WORD_COLUMNS + extra]
        self.words = words
        self.trs = trs[TR_COLUMNS].astype({"kept": int})
        check_tables(words, self.trs, float(tr), str(self.folder))
        self.warnings: list[str] = []
        words.to_csv(self.folder / WORDS_TSV, sep="\t", index=False)
        self.trs.to_csv(self.folder / TRS_TSV, sep="\t", index=False)
        self.info = {
            "name": name,
            "tr": tr,
            "subjects": [],
            "runs_continue": bool(runs_continue),
            **(meta or {}),
        }
        self.h5 = h5py.File(self.folder / RESPONSES_H5, "w")

    def add_word_groups(self, groups: pd.DataFrame) -> None:
        """Write ``word_groups.tsv`` (see :func:`write_word_groups`)."""
        write_word_groups(self.folder, groups)

    def add_subject(
        self,
        subject: str,
        bold: np.ndarray,
        rois: dict[str, np.ndarray] | None = None,
        repeats: dict[int, np.ndarray] | None = None,
        voxel_ijk: np.ndarray | None = None,
        affine: np.ndarray | None = None,
    ) -> None:
        """Add one subject.

        Parameters
        ----------
        bold : array of shape (n_trs, n_voxels)
            Every TR of trs.tsv; rows of TRs not kept may be NaN.
        rois : {label: bool array (n_voxels,)}
        repeats : {run: array (n_repeats, n_kept_trs_of_run, n_voxels)}
            Separate presentations of a repeated run (noise ceiling); ``bold`` holds their mean.
        voxel_ijk : int array (n_voxels, 3), optional
            0-based voxel indices in the volume that ``affine`` maps to MNI millimetres.
        affine : array (4, 4), optional
        """
        where = f"{self.folder}/responses.h5, subject {subject}"
        kept = self.trs["kept"].to_numpy().astype(bool)
        self.warnings += check_bold(np.shape(bold), len(self.trs), where, bold, kept)
        n_vox = bold.shape[1]
        self.warnings += check_rois(rois or {}, n_vox, where)
        g = self.h5.create_group(subject)
        g.create_dataset("bold", data=np.asarray(bold, dtype=np.float32))
        for label, mask in (rois or {}).items():
            g.create_dataset(f"roi/{label}", data=np.asarray(mask, dtype=bool))
        runs = self.trs["run"].to_numpy()
        for run, rep in (repeats or {}).items():
            n_kept = int((kept & (runs == run)).sum())
            if rep.ndim != 3 or rep.shape[1:] != (n_kept, n_vox):
                raise DatasetError(
                    f"{where}: repeats of run {run} have shape {rep.shape}, "
                    f"expected (n_repeats, {n_kept}, {n_vox})"
                )
            g.create_dataset(f"repeats/{run}", data=np.asarray(rep, dtype=np.float32))
        if voxel_ijk is not None:
            g.create_dataset("voxel_ijk", data=np.asarray(voxel_ijk, dtype=np.int32))
        if affine is not None:
            g.attrs["affine"] = np.asarray(affine, dtype=np.float64)
        self.info["subjects"].append(subject)

    def warn(self, message: str) -> None:
        """Record something legal but suspicious (e.g. NaN voxels a source zeroed): logged and
        kept in ``dataset.json`` (``warnings``)."""
        self.warnings.append(message)

    def close(self) -> None:
        self.h5.close()
        if not self.info["subjects"]:
            raise DatasetError(f"{self.folder}: no subject was written (add_subject)")
        for message in self.warnings:
            log.warning(message)
        info = {**self.info, **({"warnings": self.warnings} if self.warnings else {})}
        (self.folder / DATASET_JSON).write_text(json.dumps(info, indent=2))

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()
        else:
            self.h5.close()


def write_dataset(
    folder: str | Path,
    name: str,
    tr: float,
    words: pd.DataFrame,
    trs: pd.DataFrame,
    responses: dict[str, np.ndarray],
    rois: dict[str, dict[str, np.ndarray]] | None = None,
    meta: dict | None = None,
    runs_continue: bool = False,
) -> None:
    """Write a dataset folder whose responses fit in memory (see :class:`DatasetWriter`)."""
    with DatasetWriter(folder, name, tr, words, trs, meta, runs_continue) as writer:
        for subject, bold in responses.items():
            writer.add_subject(subject, bold, (rois or {}).get(subject))


def write_word_groups(folder: str | Path, groups: pd.DataFrame) -> None:
    """Write ``word_groups.tsv``: one row per word of words.tsv, one 0/1 column per group.

    Parameters
    ----------
    folder : path of the dataset folder
    groups : DataFrame
        Column ``word_index`` (0..n_words-1 in order) and one boolean column per group.
    """
    path = Path(folder) / WORD_GROUPS_TSV
    if "word_index" not in groups.columns or len(groups.columns) < 2:
        raise DatasetError(f"{path}: needs word_index and at least one group column")
    if not np.array_equal(groups["word_index"].to_numpy(), np.arange(len(groups))):
        raise DatasetError(f"{path}: word_index must be 0..n_words-1 in order")
    groups.astype({c: int for c in groups.columns}).to_csv(path, sep="\t", index=False)


def read_word_groups(folder: str | Path, n_words: int) -> pd.DataFrame:
    """``word_groups.tsv`` of a dataset folder as booleans (see :func:`write_word_groups`)."""
    path = Path(folder) / WORD_GROUPS_TSV
    if not path.is_file():
        raise DatasetError(
            f"{path} does not exist: the linguistic analysis needs per-word annotation groups "
            "(README, 'On-disk format'); HP sources and the demo write it"
        )
    groups = pd.read_csv(path, sep="\t")
    if "word_index" not in groups.columns or len(groups) != n_words:
        raise DatasetError(
            f"{path}: expected word_index and {n_words} rows (one per word of words.tsv), "
            f"found columns {list(groups.columns)} and {len(groups)} rows"
        )
    bad = [c for c in groups.columns[1:] if not groups[c].isin([0, 1]).all()]
    if bad:
        raise DatasetError(f"{path}: group column(s) {bad} must hold 0 or 1")
    return groups.astype({c: bool for c in groups.columns[1:]})


def read_repeats(folder: str | Path, subject: str) -> dict[int, np.ndarray]:
    """Separate presentations of repeated runs: {run: (n_repeats, n_kept_trs_of_run, n_voxels)}."""
    with h5py.File(Path(folder) / RESPONSES_H5, "r") as f:
        g = f[subject].get("repeats", {})
        return {int(run): g[run][()] for run in g}


def repeated_runs(folder: str | Path, subject: str) -> list[int]:
    """Runs of a subject stored with separate repeats (without reading them)."""
    with h5py.File(Path(folder) / RESPONSES_H5, "r") as f:
        return sorted(int(run) for run in f[subject].get("repeats", {}))


def read_voxel_coords(folder: str | Path, subject: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(voxel_ijk (n_voxels, 3), affine (4, 4)) of a subject, or None when not stored."""
    with h5py.File(Path(folder) / RESPONSES_H5, "r") as f:
        g = f[subject]
        if "voxel_ijk" not in g or "affine" not in g.attrs:
            return None
        return g["voxel_ijk"][()], np.asarray(g.attrs["affine"], dtype=float)


def _require_columns(table: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DatasetError(f"{where} lacks column(s) {missing}; it needs {columns} (README, "
                           "'On-disk format')")  # fmt: skip


def _read_tsv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", **kwargs)
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}): "
                           "save it as UTF-8") from None  # fmt: skip


def read_dataset(folder: str | Path) -> Dataset:
    """Read a dataset folder written by :func:`write_dataset`; responses stay on disk."""
    folder = Path(folder)
    for required in COMMON_FILES:
        if not (folder / required).is_file():
            raise DatasetError(
                f"dataset folder {folder} lacks {required}; see the README section 'On-disk format'"
            )
    try:
        info = json.loads((folder / DATASET_JSON).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetError(f"{folder / DATASET_JSON} is not valid UTF-8 JSON: {err}") from None
    missing = [k for k in ("name", "tr", "subjects") if k not in info]
    if missing:
        raise DatasetError(f"{folder / DATASET_JSON} lacks key(s) {missing}")
    if not info["subjects"]:
        raise DatasetError(f"{folder / DATASET_JSON}: 'subjects' is empty; list the subjects "
                           "whose responses are in responses.h5")  # fmt: skip
    words = _read_tsv(folder / WORDS_TSV, keep_default_na=False, dtype={"word": str})
    trs = _read_tsv(folder / TRS_TSV)
    for table, cols, fname in ((words, WORD_COLUMNS, WORDS_TSV), (trs, TR_COLUMNS, TRS_TSV)):
        _require_columns(table, cols, str(folder / fname))
    check_tables(words, trs, float(info["tr"]), str(folder))
    trs["kept"] = trs["kept"].astype(bool)
    meta = {k: v for k, v in info.items() if k not in ("name", "tr", "subjects")}
    if not isinstance(meta.get("runs_continue", False), bool):
        raise DatasetError(f"{folder}/dataset.json: runs_continue must be true or false")
    if meta.get("tr_assignment", "window") not in TR_ASSIGNMENTS:
        raise DatasetError(f"{folder}/dataset.json: tr_assignment {meta['tr_assignment']!r}; "
                           f"allowed: {', '.join(TR_ASSIGNMENTS)}")  # fmt: skip
    return Dataset(info["name"], float(info["tr"]), words, trs, list(info["subjects"]), meta)


def read_responses(folder: str | Path, subject: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """BOLD (n_trs, n_voxels) and ROI masks {label: (n_voxels,) bool} of one subject."""
    path = Path(folder) / RESPONSES_H5
    with h5py.File(path, "r") as f:
        if subject not in f:
            raise DatasetError(f"{path} has no subject '{subject}'; subjects: {list(f)}")
        bold = f[subject]["bold"][()]
        rois = {k: v[()] for k, v in f[subject].get("roi", {}).items()}
    kept = _read_tsv(Path(folder) / TRS_TSV)["kept"].to_numpy().astype(bool)
    check_bold(bold.shape, len(kept), f"{path}, subject {subject}", bold, kept)
    check_rois(rois, bold.shape[1], f"{path}, subject {subject}")
    return bold, rois


def roi_mask(
    rois: dict[str, np.ndarray], label: str | list[str], n_voxels: int, where: str = ""
) -> np.ndarray:
    """The boolean voxel mask of an ROI label, or the union of a list of labels.

    ``"all"`` selects every voxel.
    """
    labels = [label] if isinstance(label, str) else list(label)
    if "all" in labels:
        return np.ones(n_voxels, dtype=bool)
    missing = [lab for lab in labels if lab not in rois]
    if missing:
        raise DatasetError(
            f"ROI {', '.join(map(repr, missing))} not found{' in ' + where if where else ''}; "
            f"available: {[*sorted(rois), 'all']} (config key datasets.<name>.roi)"
        )
    mask = np.logical_or.reduce([np.asarray(rois[lab], dtype=bool) for lab in labels])
    if not mask.any():
        raise DatasetError(
            f"ROI {label!r} holds no voxel{' in ' + where if where else ''}: BA would be "
            "undefined; choose another ROI (config key datasets.<name>.roi) or drop the subject"
        )
    return mask
