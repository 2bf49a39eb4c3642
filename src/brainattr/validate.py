"""Check a dataset folder before a long run: ``python -m brainattr check-dataset PATH``.

Every rule of :mod:`brainattr.dataset_checks` on the tables and on every subject's responses,
and the warnings a prepared dataset recorded; a :class:`~brainattr.dataset.DatasetError` names
the file, the row or subject, and the fix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from brainattr.dataset import (
    RESPONSES_H5,
    WORD_GROUPS_TSV,
    DatasetError,
    read_dataset,
    read_word_groups,
    roi_mask,
)
from brainattr.dataset_checks import check_bold, check_rois


@dataclass
class DatasetReport:
    """What :func:`validate_dataset` found: sizes, and warnings (legal but suspicious)."""

    name: str
    n_words: int
    n_trs: int
    n_kept: int
    runs: list
    subjects: dict[str, int]  # subject: voxels
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        subjects = ", ".join(f"{s} ({v} voxels)" for s, v in self.subjects.items())
        lines = [
            f"dataset {self.name!r}: {self.n_words} words, {self.n_trs} TRs ({self.n_kept} kept) "
            f"in {len(self.runs)} runs {self.runs}; subjects {subjects}",
            *(f"warning: {w}" for w in self.warnings),
        ]
        return "\n".join(lines)


def validate_dataset(folder: str | Path, roi: str | list[str] | None = None) -> DatasetReport:
    """Every rule on a dataset folder; ``roi``: also check that label (or labels) selects
    voxels in every subject (config key ``datasets.<name>.roi``).

    Raises
    ------
    DatasetError
    """
    folder = Path(folder)
    ds = read_dataset(folder)
    kept = ds.trs["kept"].to_numpy()
    warnings = [str(w) for w in ds.meta.get("warnings", [])]
    word_tr = ds.word_tr
    context_only = int(((word_tr >= 0) & ~kept[np.clip(word_tr, 0, None)]).sum())
    if (word_tr < 0).any():  # "toneva": a word exactly at a run's first TR onset
        warnings.append(f"{folder}/words.tsv: {int((word_tr < 0).sum())} word(s) belong to no "
                        f"TR under tr_assignment {ds.tr_assignment!r}")  # fmt: skip
    if context_only:
        warnings.append(f"{folder}/words.tsv: {context_only} word(s) fall in TRs not kept: "
                        "they are read as context but no BOLD is predicted there")  # fmt: skip
    path = folder / RESPONSES_H5
    voxels = {}
    with h5py.File(path, "r") as f:
        absent = [s for s in ds.subjects if s not in f]
        if absent:
            raise DatasetError(f"{path}: subject(s) {absent} of dataset.json have no responses; "
                               f"it holds {sorted(f)}")  # fmt: skip
        extra = sorted(set(f) - set(ds.subjects))
        if extra:
            warnings.append(f"{path}: subject(s) {extra} are not in dataset.json (not used)")
        for s in ds.subjects:
            where = f"{path}, subject {s}"
            bold = f[s]["bold"][()]
            rois = {k: v[()] for k, v in f[s].get("roi", {}).items()}
            warnings += check_bold(bold.shape, len(kept), where, bold, kept)
            warnings += check_rois(rois, bold.shape[1], where)
            if roi is not None:
                roi_mask(rois, roi, bold.shape[1], where)
            voxels[s] = int(bold.shape[1])
    if (folder / WORD_GROUPS_TSV).is_file():
        read_word_groups(folder, len(ds.words))
    runs = np.unique(ds.trs["run"]).tolist()
    return DatasetReport(ds.name, len(ds.words), len(kept), int(kept.sum()), runs, voxels,
                         warnings)  # fmt: skip


def main(args) -> int:
    """``python -m brainattr check-dataset PATH [--roi ...]`` (:mod:`brainattr.cli`)."""
    try:
        report = validate_dataset(args.path, args.roi)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    print("ok")
    return 0
