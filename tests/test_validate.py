"""A user's own dataset: every rule of brainattr.dataset_checks on small hand-made folders, each
error naming the file, the row or subject, and the fix; ``python -m brainattr check-dataset``."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from brainattr.cli import main
from brainattr.dataset import DatasetError, DatasetWriter, read_dataset, read_responses, roi_mask
from brainattr.sources.common import zero_nan
from brainattr.validate import validate_dataset


def _words(n=8):
    return pd.DataFrame({"word_index": range(n), "word": [f"w{i}" for i in range(n)],
                         "onset": 0.5 + np.arange(n) * 1.0, "offset": 0.9 + np.arange(n) * 1.0,
                         "run": [1] * (n // 2) + [2] * (n - n // 2)})  # fmt: skip


def _trs():
    # run 1: TRs at 0, 2 (words 0.5 ... 3.5); run 2: TRs at 4, 6 (words 4.5 ... 7.5)
    return pd.DataFrame({"tr_index": range(4), "onset": [0.0, 2.0, 4.0, 6.0],
                         "run": [1, 1, 2, 2], "kept": [1, 1, 1, 1]})  # fmt: skip


def _folder(tmp_path, words=None, trs=None, bold=None, rois=None, subjects=("s1",)):
    """A dataset folder written by hand, as a user would (no DatasetWriter)."""
    words = _words() if words is None else words
    trs = _trs() if trs is None else trs
    words.to_csv(tmp_path / "words.tsv", sep="\t", index=False)
    trs.to_csv(tmp_path / "trs.tsv", sep="\t", index=False)
    info = {"name": "mine", "tr": 2.0, "subjects": list(subjects)}
    (tmp_path / "dataset.json").write_text(json.dumps(info))
    rng = np.random.default_rng(0)
    bold = rng.standard_normal((len(trs), 3)) if bold is None else bold
    with h5py.File(tmp_path / "responses.h5", "w") as f:
        for s in subjects:
            f[f"{s}/bold"] = bold
            for label, mask in (rois or {"lang": np.array([1, 1, 0], bool)}).items():
                f[f"{s}/roi/{label}"] = mask
    return tmp_path


def test_a_good_folder_passes_with_its_summary(tmp_path, capsys):
    report = validate_dataset(_folder(tmp_path), roi="lang")
    assert report.subjects == {"s1": 3} and report.runs == [1, 2] and not report.warnings
    assert main(["check-dataset", str(tmp_path)]) == 0
    assert "8 words, 4 TRs (4 kept) in 2 runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # bold with an extra row: rows at the start would shift every response
        (lambda w, t: {"bold": np.zeros((5, 3))},
         r"responses\.h5, subject s1: bold has shape \(5, 3\) but trs\.tsv has 4 rows"),
        (lambda w, t: {"words": w.assign(onset=w["onset"] + np.r_[np.zeros(7), 9],
                                         offset=w["offset"] + np.r_[np.zeros(7), 9])},
         r"words\.tsv: word\(s\) whose onset lies outside every TR of their run at line\(s\) 9"),
        (lambda w, t: {"words": w.assign(onset=[0.5, 1.5, 1.0, 3.5, 4.5, 5.5, 6.5, 7.5])},
         r"words\.tsv: word onsets must not decrease within a run; out of order at line\(s\) 4"),
        (lambda w, t: {"words": w.assign(word=["a", " ", "c", "", "e", "f", "g", "h"])},
         r"words\.tsv: empty or blank word at line\(s\) 3, 5"),
        (lambda w, t: {"words": w.assign(run=1), "trs": t.assign(run=1)},
         r"trs\.tsv: kept TRs in 1 run\(s\).*at least two runs"),
        (lambda w, t: {"bold": np.where(np.arange(4)[:, None] == 2, np.nan, np.ones((4, 3)))},
         r"subject s1: NaN or infinite values in kept TRs \(tr_index 2; 3 voxel"),
        (lambda w, t: {"subjects": ()}, r"dataset\.json: 'subjects' is empty"),
        (lambda w, t: {"trs": t.assign(onset=[0.0, 0.0, 4.0, 6.0])},
         r"trs\.tsv: TR onsets must increase within a run; out of order at line\(s\) 3"),
    ],
)  # fmt: skip
def test_each_rule_names_the_file_the_row_and_the_fix(tmp_path, change, message):
    folder = _folder(tmp_path, **change(_words(), _trs()))
    with pytest.raises(DatasetError, match=message):
        validate_dataset(folder)


def test_read_responses_checks_each_subject_in_every_job(tmp_path):
    folder = _folder(tmp_path, bold=np.zeros((5, 3)))
    read_dataset(folder)  # the tables are fine
    with pytest.raises(DatasetError, match=r"subject s1: bold has shape \(5, 3\)"):
        read_responses(folder, "s1")


def test_latin1_words_and_empty_roi_and_missing_subject(tmp_path):
    (tmp_path / "a").mkdir()
    folder = _folder(tmp_path / "a")
    text = (folder / "words.tsv").read_text().replace("w1", "caf\u00e9")
    (folder / "words.tsv").write_bytes(text.encode("latin-1"))
    with pytest.raises(DatasetError, match=r"words\.tsv is not UTF-8 text.*save it as UTF-8"):
        read_dataset(folder)
    (tmp_path / "b").mkdir()
    folder = _folder(tmp_path / "b", rois={"lang": np.zeros(3, bool)})
    report = validate_dataset(folder)
    assert any("ROI lang holds no voxel" in w for w in report.warnings)
    _, rois = read_responses(folder, "s1")
    with pytest.raises(DatasetError, match=r"ROI 'lang' holds no voxel in subject s1"):
        roi_mask(rois, "lang", 3, "subject s1")
    (tmp_path / "c").mkdir()
    folder = _folder(tmp_path / "c")
    info = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps({**info, "subjects": ["s1", "s2"]}))
    with pytest.raises(DatasetError, match=r"subject\(s\) \['s2'\] of dataset\.json have no"):
        validate_dataset(folder)


def test_the_command_line_fails_with_the_message(tmp_path):
    folder = _folder(tmp_path, bold=np.zeros((5, 3)))
    res = subprocess.run([sys.executable, "-m", "brainattr", "check-dataset", str(folder)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 1 and "bold has shape (5, 3)" in res.stderr
    assert "Traceback" not in res.stderr


def test_writer_names_missing_columns_and_leaves_no_stale_json(tmp_path):
    with pytest.raises(
        DatasetError, match=r"words\.tsv \(DatasetWriter\) lacks column\(s\) \['run'\]"
    ):
        DatasetWriter(tmp_path, "x", 2.0, _words().drop(columns="run"), _trs())
    with DatasetWriter(tmp_path, "x", 2.0, _words(), _trs()) as w:
        w.add_subject("s1", np.random.default_rng(0).standard_normal((4, 3)))
    assert (tmp_path / "dataset.json").is_file()
    # rewriting the folder and crashing: no dataset.json from the old write beside new responses
    with (
        pytest.raises(DatasetError, match="bold has shape"),
        DatasetWriter(tmp_path, "x", 2.0, _words(), _trs()) as w,
    ):
        w.add_subject("s1", np.zeros((2, 3)))
    assert not (tmp_path / "dataset.json").exists()
    with pytest.raises(DatasetError, match="no subject was written"):
        DatasetWriter(tmp_path, "x", 2.0, _words(), _trs()).close()


def test_warnings_are_counted_and_kept_in_dataset_json(tmp_path):
    warnings: list[str] = []
    data = np.ones((4, 3))
    data[1:3, 2] = np.nan
    out = zero_nan(data, "story_01", warnings)
    assert warnings == ["story_01: 2 NaN value(s) in 1 voxel(s) set to 0"]
    assert np.isfinite(out).all() and out[1, 2] == 0
    with DatasetWriter(tmp_path, "x", 2.0, _words(), _trs()) as w:
        w.warn(warnings[0])
        w.add_subject("s1", np.ones((4, 3)))  # constant voxels: legal, suspicious
    report = validate_dataset(tmp_path)
    assert report.warnings[0] == "story_01: 2 NaN value(s) in 1 voxel(s) set to 0"
    assert any("3 voxel(s) constant over the kept TRs" in x for x in report.warnings)
