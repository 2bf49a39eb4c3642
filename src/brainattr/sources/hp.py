"""HP: 8 subjects reading Harry Potter chapter 9 (Wehbe et al. 2014), two sources.

``hp_cmu``
    The raw per-subject MATLAB files of the CMU data page: responses (1351 TRs, raw
    intensities), TR times and runs, the 5176 presented word slots, voxel coordinates, the
    MNI affine and AAL labels. Prepared here: trim 20 / 15 TRs per run (Toneva's
    convention), then detrend and z-score each run's kept TRs (nilearn ``signal.clean``).
``hp_toneva``
    Toneva & Wehbe's preprocessed bundle (Google Drive; subjects F, H-N): 1211 kept TRs,
    detrended, smoothed, trimmed; timing and word arrays; the language-ROI masks from
    awwkl/brain_language_summarization (their ``all`` = union of the language ROIs is
    stored as ``language``).

Word slots: ``+`` marks a fixation/paragraph slot, not a word, and is dropped (its time
slot stays empty); a leading ``@`` marks italics and is stripped. ``stimulus_index`` keeps
each word's slot (row of ``story_features.mat``). The chapter's words come from the
downloaded files only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.dataset import DatasetError, DatasetWriter
from brainattr.download import RemoteFile
from brainattr.sources.common import fill_kept, load_npy, run_of_times, trim_kept, with_base

log = logging.getLogger(__name__)

TR = 2.0
WORD_SECONDS = 0.5
TRIM_FIRST, TRIM_LAST = 20, 15
N_TRS, N_SLOTS = 1351, 5176
CMU_BASE = "http://www.cs.cmu.edu/~fmri/plosone/files"
CMU_PAGE = "http://www.cs.cmu.edu/afs/cs/project/theo-73/www/plosone/"
DRIVE_FOLDER = "1Q6zVCAJtKuLOh-zWpkS3lH8LBvHcEOE8"
DRIVE_PAGE = f"https://drive.google.com/drive/folders/{DRIVE_FOLDER}"
ROI_MASKS_URL = (
    "https://raw.githubusercontent.com/awwkl/brain_language_summarization/"
    "9983f91b46c6c3a823d748993842a6cf12791fc7/data/HP_subj_roi_inds.npy"
)
STORY_FEATURES = "story_features.mat"


STORY_FEATURE_GROUPS = {
    "semantic": ("NNSE",),
    "syntactic": ("Part_of_speech", "Dependency_role"),
    "discourse": ("Speech", "Motion", "Emotion", "Verbs", "Characters"),
}
# groups that select words (the paper's three above cover 61-100 % of HP's words, so their
# shares mostly measure set sizes): by part-of-speech tag (Penn Treebank) and annotation column
CONTENT_TAGS = {"CD", "JJ", "NN", "NNP", "NNS", "RB", "UH", "VB", "VBD", "VBG", "VBN", "VBP",
                "VBZ"}  # fmt: skip
FUNCTION_TAGS = {"CC", "DT", "IN", "MD", "POS", "PRP", "PRP$", "RP", "TO", "WDT", "WP", "WRB"}
SELECTIVE_GROUPS = {
    # (feature types, which of their columns); a word carries the group if any is non-zero
    "content": (("Part_of_speech",), lambda name: name in CONTENT_TAGS),
    "function": (("Part_of_speech",), lambda name: name in FUNCTION_TAGS),
    # sparse per-word annotations (speak, move and manipulate mark 16-39 % of the words)
    "characters": (("Characters",), lambda name: True),
    "emotion_words": (("Emotion",), lambda name: not name.endswith("_sticky")),
    "story_verbs": (("Verbs",), lambda name: True),  # be, hear, know, see, tell
}


def story_feature_groups(mat_path: str | Path, stimulus_index: np.ndarray) -> pd.DataFrame:
    """Per-word group membership from HP's ``story_features.mat``.

    Parameters
    ----------
    mat_path : path of ``story_features.mat`` (variable ``features``: struct with fields
        ``type`` and ``values`` of shape (n_slots, k))
    stimulus_index : int array of shape (n_words,)
        Each presented word's slot (row of ``values``), from words.tsv.

    Returns
    -------
    groups : DataFrame
        ``word_index`` and one boolean column per group of ``STORY_FEATURE_GROUPS`` (the
        paper's) and of ``SELECTIVE_GROUPS``.
    """
    from scipy.io import loadmat

    mat = loadmat(mat_path, simplify_cells=True)
    if "features" not in mat:
        raise DatasetError(f"{mat_path} lacks the variable 'features'")
    feats = np.atleast_1d(mat["features"])
    values = {str(f["type"]): np.asarray(f["values"]).reshape(len(f["values"]), -1) for f in feats}
    names = {str(f["type"]): [str(n) for n in np.atleast_1d(f["names"])] for f in feats}
    missing = sorted({t for ts in STORY_FEATURE_GROUPS.values() for t in ts} - set(values))
    if missing:
        raise DatasetError(f"{mat_path}: feature type(s) {missing} not found; has {list(values)}")
    idx = np.asarray(stimulus_index, dtype=int)
    n_slots = min(len(v) for v in values.values())
    if idx.size and idx.max() >= n_slots:
        raise DatasetError(f"{mat_path}: {n_slots} rows, but a word has stimulus_index {idx.max()}")
    out = {"word_index": np.arange(len(idx))}
    for group, types in STORY_FEATURE_GROUPS.items():
        out[group] = np.logical_or.reduce([(values[t][idx] != 0).any(axis=1) for t in types])
    for group, (types, keep) in SELECTIVE_GROUPS.items():
        cols = [values[t][idx][:, [keep(n) for n in names[t]]] for t in types]
        out[group] = np.logical_or.reduce([(c != 0).any(axis=1) for c in cols])
    # a function word has no content tag too (a slot may carry several tags)
    out["function"] &= ~out["content"]
    return pd.DataFrame(out)


def hp_words(
    texts: list[str], onsets: np.ndarray, tr_onsets: np.ndarray, tr_runs: np.ndarray
) -> pd.DataFrame:
    """The presented words of HP's word slots in the common format.

    Parameters
    ----------
    texts : list of str, length n_slots
    onsets : array (n_slots,)
        Slot onsets in seconds (session time, as the TR onsets).
    tr_onsets, tr_runs : arrays (n_trs,)

    Returns
    -------
    words : DataFrame with WORD_COLUMNS and ``stimulus_index``
    """
    if len(texts) != len(onsets):
        raise DatasetError(f"{len(texts)} word texts but {len(onsets)} word onsets")
    texts = [str(t).strip() for t in texts]
    slots = np.array([i for i, t in enumerate(texts) if t and t != "+"])
    onsets = np.asarray(onsets, dtype=float)[slots]
    return pd.DataFrame(
        {
            "word_index": np.arange(len(slots)),
            "word": [texts[i].lstrip("@") for i in slots],
            "onset": onsets,
            "offset": onsets + WORD_SECONDS,
            "run": run_of_times(onsets, tr_onsets, tr_runs),
            "stimulus_index": slots,
        }
    )


def hp_trs(tr_onsets: np.ndarray, tr_runs: np.ndarray) -> pd.DataFrame:
    """TR table with Toneva's trimming (first 20 and last 15 TRs of each run not kept)."""
    runs = np.asarray(tr_runs).astype(int)
    return pd.DataFrame(
        {
            "tr_index": np.arange(len(runs)),
            "onset": np.asarray(tr_onsets, dtype=float),
            "run": runs,
            "kept": trim_kept(runs, TRIM_FIRST, TRIM_LAST),
        }
    )


class _CMU:
    """Source ``hp_cmu``."""

    DEFAULT_SUBJECTS = tuple(str(i) for i in range(1, 9))

    def remote_files(self, spec: dict) -> list[RemoteFile]:
        names = [f"subject_{s}.mat" for s in spec["subjects"]] + [STORY_FEATURES]
        return [
            RemoteFile(n, with_base(spec, n, f"{CMU_BASE}/{n}"), kind="mat", manual=CMU_PAGE)
            for n in names
        ]

    def prepare(self, spec: dict, download_dir: Path, out_dir: Path, name: str) -> None:
        from nilearn import signal
        from scipy.io import loadmat

        writer = None
        for subject in spec["subjects"]:
            path = download_dir / f"subject_{subject}.mat"
            mat = loadmat(path, simplify_cells=True)
            missing = [k for k in ("data", "time", "words", "meta") if k not in mat]
            if missing:
                raise DatasetError(f"{path} lacks variable(s) {missing}")
            time = np.asarray(mat["time"], dtype=float)
            data = np.asarray(mat["data"], dtype=np.float64)
            if data.shape[0] != time.shape[0]:
                raise DatasetError(f"{path}: data has {data.shape[0]} rows, time {time.shape[0]}")
            trs = hp_trs(time[:, 0], time[:, 1])
            if writer is None:
                words = mat["words"]
                words = hp_words(
                    [w["text"] for w in words], [w["start"] for w in words], time[:, 0], time[:, 1]
                )
                meta = {"source": "hp_cmu", "url": CMU_PAGE}
                writer = DatasetWriter(out_dir, name, TR, words, trs, meta, runs_continue=True)
            elif not np.array_equal(trs["onset"], writer.trs["onset"]):
                raise DatasetError(f"{path}: TR times differ from the first subject's")
            kept, runs = trs["kept"].to_numpy(), trs["run"].to_numpy()
            bold = np.full(data.shape, np.nan, dtype=np.float32)
            for run in np.unique(runs):
                rows = np.flatnonzero(kept & (runs == run))
                bold[rows] = signal.clean(
                    data[rows], detrend=True, standardize="zscore_sample", t_r=TR
                )
            meta = mat["meta"]
            ijk = np.asarray(meta["colToCoord"], dtype=np.int64).reshape(-1, 3)[: data.shape[1]]
            # MATLAB indices are 1-based: shift so that the affine maps 0-based indices
            affine = np.asarray(meta["matrix"], dtype=float) @ _shift(1.0)
            writer.add_subject(
                subject, bold, _aal_rois(meta, data.shape[1]), voxel_ijk=ijk - 1, affine=affine
            )
            log.info("%s: %d TRs x %d voxels", path, *data.shape)
        writer.add_word_groups(
            story_feature_groups(download_dir / STORY_FEATURES, writer.words["stimulus_index"])
        )
        writer.close()


def _shift(d: float) -> np.ndarray:
    out = np.eye(4)
    out[:3, 3] = d
    return out


def _aal_rois(meta: dict, n_voxels: int) -> dict[str, np.ndarray]:
    """One mask per AAL region (``colToROInum`` indexes ``ROInumToName`` from 1; 0 = none)."""
    labels = np.asarray(meta["colToROInum"], dtype=np.int64).ravel()[:n_voxels]
    names = [str(n) for n in np.atleast_1d(meta["ROInumToName"])]
    return {names[k - 1]: labels == k for k in np.unique(labels) if 1 <= k <= len(names)}


class _Toneva:
    """Source ``hp_toneva``."""

    DEFAULT_SUBJECTS = ("F", "H", "I", "J", "K", "L", "M", "N")
    TIMING = ("fMRI/time_fmri.npy", "fMRI/runs_fmri.npy", "fMRI/time_words_fmri.npy")

    def remote_files(self, spec: dict) -> list[RemoteFile]:
        bundle = [*self.TIMING, "fMRI/words_fmri.npy"]
        bundle += [f"fMRI/data_subject_{s}.npy" for s in spec["subjects"]]
        out = [
            RemoteFile(
                p,
                with_base(spec, p, f"gdrive://{DRIVE_FOLDER}/{p}"),
                kind="pickle_npy" if p.endswith("words_fmri.npy") else "npy",
                manual=DRIVE_PAGE,
            )
            for p in bundle
        ]
        out.append(
            RemoteFile(
                "HP_subj_roi_inds.npy",
                with_base(spec, "HP_subj_roi_inds.npy", ROI_MASKS_URL),
                kind="pickle_npy",
                manual=ROI_MASKS_URL,
            )
        )
        out.append(
            RemoteFile(
                STORY_FEATURES,
                with_base(spec, STORY_FEATURES, f"{CMU_BASE}/{STORY_FEATURES}"),
                kind="mat",
                manual=CMU_PAGE,
            )
        )
        return out

    def prepare(self, spec: dict, download_dir: Path, out_dir: Path, name: str) -> None:
        tr_onsets, tr_runs, word_onsets = (load_npy(download_dir / p) for p in self.TIMING)
        texts = load_npy(download_dir / "fMRI/words_fmri.npy")
        trs = hp_trs(tr_onsets, tr_runs)
        words = hp_words(list(texts), word_onsets, tr_onsets, tr_runs)
        masks_path = download_dir / "HP_subj_roi_inds.npy"
        masks = load_npy(masks_path)
        masks = masks.item() if masks.shape == () else masks
        kept = trs["kept"].to_numpy()
        meta = {"source": "hp_toneva", "url": DRIVE_PAGE, "roi_masks": ROI_MASKS_URL}
        with DatasetWriter(out_dir, name, TR, words, trs, meta, runs_continue=True) as writer:
            for subject in spec["subjects"]:
                path = download_dir / f"fMRI/data_subject_{subject}.npy"
                data = np.load(path, mmap_mode="r")
                if subject not in masks:
                    raise DatasetError(f"{masks_path} has no masks for subject {subject}")
                rois = {
                    ("language" if roi == "all" else roi): np.asarray(m).ravel() == 1
                    for roi, m in masks[subject].items()
                }
                bold = fill_kept(np.asarray(data), kept, str(path), writer.warnings)
                writer.add_subject(subject, bold, rois)
                log.info("%s: %d TRs x %d voxels", path, *data.shape)
            writer.add_word_groups(
                story_feature_groups(download_dir / STORY_FEATURES, words["stimulus_index"])
            )


CMU = _CMU()
TONEVA = _Toneva()
