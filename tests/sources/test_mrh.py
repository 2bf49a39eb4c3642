"""MRH reading (GIN) and listening (ds003020) loaders, and the facts they must meet."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from brainattr.dataset import DatasetError, read_dataset, read_responses
from brainattr.download import read_manifest
from brainattr.sources import mrh, prepare, remote_files
from brainattr.sources.common import story_tables
from brainattr.textgrid import textgrid_words

from .. import fake_sources as fs
from ..conftest import REPO, shared_path


@pytest.fixture(scope="module")
def mrh_prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mrh")
    fs.write_mrh(tmp / "raw", ["01", "04"], n_voxels=9)
    spec = {"source": "mrh", "subjects": ["01", "04"], "manifest": str(tmp / "m.tsv")}
    fs.write_manifest(tmp / "raw", tmp / "m.tsv")
    prepare(spec, tmp / "raw", tmp / "mrh", "mrh")
    return tmp


def test_trimmed_lengths_and_story_order(mrh_prepared):
    ds = read_dataset(mrh_prepared / "mrh")
    kept = ds.trs[ds.trs["kept"]]
    assert len(kept) == 3737 + 291
    assert (kept["run"] <= 10).sum() == 3737 and (kept["run"] == 11).sum() == 291
    raw = ds.trs.groupby("run").size().tolist()
    assert raw == mrh.RAW_TRS
    assert ds.tr == pytest.approx(2.0045)
    assert ds.meta["licence"] == "CC BY 4.0"
    assert ds.tr_assignment == "window"  # prepare() writes the source's convention


def test_word_times_follow_the_sound_onset(mrh_prepared):
    ds = read_dataset(mrh_prepared / "mrh")
    tg = textgrid_words(mrh_prepared / "raw" / mrh.textgrid_path("avatar"))
    story = ds.words[ds.words["run"] == 2]
    start = ds.trs.loc[ds.trs["run"] == 2, "onset"].min()
    assert list(story["word"]) == list(tg["word"])
    np.testing.assert_allclose(story["onset"] - start, tg["onset"] + 5 * 2.0045)
    assert (ds.word_tr >= 0).all()
    # a story is its own text: no TR's context reaches into the previous story
    assert not ds.runs_continue
    assert ds.context_floor[ds.trs["run"].to_numpy() == 2].min() == story["word_index"].min()


def test_quirk_repeats_and_rois(mrh_prepared):
    ds = read_dataset(mrh_prepared / "mrh")
    for subject in ("01", "04"):  # 04 stores some stories as (1, T, V)
        bold, rois = read_responses(mrh_prepared / "mrh", subject)
        assert bold.shape == (sum(mrh.RAW_TRS), 9)
        # roi_mask_* keys (01) and bare names (04); language: the union of the language ROIs
        # the mapper has (here Broca only; AC is auditory, not one of them)
        assert sorted(rois) == ["AC", "Broca", "language"]
        assert rois["Broca"].sum() == 3
        np.testing.assert_array_equal(rois["language"], rois["Broca"])
    with h5py.File(mrh_prepared / "raw/responses/subject04_reading_fmri_data_trn.hdf") as f:
        assert f["story_01"].ndim == 3
        first = f["story_01"][0]
    bold, _ = read_responses(mrh_prepared / "mrh", "04")
    np.testing.assert_allclose(bold[: mrh.RAW_TRS[0]], first)
    with h5py.File(mrh_prepared / "mrh/responses.h5") as f:
        reps = f["04/repeats/11"][()]
    assert reps.shape == (2, 291, 9)
    val = ds.trs["kept"].to_numpy() & (ds.trs["run"] == 11).to_numpy()
    np.testing.assert_allclose(bold[val], reps.mean(0), rtol=1e-5, atol=1e-5)


def test_wrong_story_length_names_the_file(tmp_path):
    fs.write_mrh(tmp_path / "raw", ["02"], n_voxels=4)
    with h5py.File(tmp_path / "raw/responses/subject02_reading_fmri_data_trn.hdf", "a") as f:
        del f["story_03"]
        f["story_03"] = np.zeros((370, 4), dtype=np.float32)
    with pytest.raises(
        DatasetError, match=r"trn.hdf:story_03 has shape \(370, 4\); expected \(374"
    ):
        mrh.DENIZ.prepare({"subjects": ["02"]}, tmp_path / "raw", tmp_path / "out", "mrh")


def test_story_tables_trim_and_offsets():
    import pandas as pd

    w = pd.DataFrame({"word": ["a", "b"], "onset": [0.0, 1.0], "offset": [0.5, 1.5]})
    words, trs = story_tables([("s1", 30, w), ("s2", 25, w)], 2.0, 10.0, 10)
    assert trs["kept"].sum() == 10 + 5
    assert words["onset"].tolist() == [10.0, 11.0, 70.0, 71.0]
    assert words["run"].tolist() == [1, 1, 2, 2]


def test_default_files_are_in_the_real_manifest():
    """Every OpenNeuro file the defaults ask for exists in the ds003020 manifest, with md5."""
    shared = read_manifest(shared_path("data", "mrh_lebel", "ds003020_manifest.tsv"))
    assert read_manifest(REPO / "resources/manifests/ds003020.tsv") == shared
    lebel = remote_files({"source": "lebel", "subjects": mrh.LEBEL.DEFAULT_SUBJECTS})
    deniz = remote_files({"source": "mrh", "subjects": ["01"]})
    opn = [f for f in lebel + deniz if "openneuro" in f.url]
    assert len(opn) == 3 * 11 + 11 + 1 + 11
    assert [f.path for f in deniz if "gin.g-node.org" in f.url][:2] == [
        "datacite.yml",
        "responses/subject01_reading_fmri_data_trn.hdf",
    ]
    for f in opn:
        assert f.checksum.startswith("md5:") and f.size > 0, f.path


def test_real_respdict_and_split():
    respdict = json.loads(shared_path("data", "mrh_lebel", "respdict.json").read_text())
    split = json.loads(shared_path("data", "mrh_lebel", "sess_to_story.json").read_text())
    assert [respdict[s] for s in mrh.STORIES] == mrh.RAW_TRS
    assert all(test == mrh.TEST_STORY for _, test in split.values())
    assert mrh.STORIES[-1] == mrh.TEST_STORY


def test_lebel_prepared(tmp_path):
    stories = ["avatar", "legacy", "wheretheressmoke"]
    fs.write_lebel(tmp_path / "raw", ["UTS02"], stories, 6, [40, 45, 35])
    spec = {"source": "lebel", "subjects": ["UTS02"], "stories": stories}
    mrh.LEBEL.prepare(spec, tmp_path / "raw", tmp_path / "out", "lebel")
    ds = read_dataset(tmp_path / "out")
    bold, _ = read_responses(tmp_path / "out", "UTS02")
    kept = ds.trs["kept"].to_numpy()
    assert kept.sum() == 20 + 25 + 15 and np.isnan(bold[~kept]).all()
    with h5py.File(tmp_path / "raw/derivative/preprocessed_data/UTS02/legacy.hf5") as f:
        np.testing.assert_allclose(
            bold[kept & (ds.trs["run"] == 2).to_numpy()], f["data"][()], rtol=1e-6
        )
    with h5py.File(tmp_path / "out/responses.h5") as f:
        assert f["UTS02/repeats/3"].shape == (5, 15, 6)
    json.dump({"avatar": 40}, open(tmp_path / "raw/derivative/respdict.json", "w"))
    with pytest.raises(DatasetError, match=r"\['legacy', 'wheretheressmoke'\] are not in"):
        mrh.LEBEL.prepare(spec, tmp_path / "raw", tmp_path / "out2", "lebel")


def test_prepare_checks_files_placed_by_hand(tmp_path):
    stories = ["avatar", "legacy", "wheretheressmoke"]
    fs.write_lebel(tmp_path / "raw", ["UTS02"], stories, 6, [40, 45, 35])
    manifest = fs.write_manifest(tmp_path / "raw", tmp_path / "m.tsv")
    spec = {"source": "lebel", "subjects": ["UTS02"], "stories": stories, "manifest": str(manifest)}
    path = tmp_path / "raw/derivative/preprocessed_data/UTS02/legacy.hf5"
    path.write_bytes(path.read_bytes() + b"extra")
    with pytest.raises(DatasetError, match=r"legacy\.hf5 has \d+ bytes, its manifest says"):
        prepare(spec, tmp_path / "raw", tmp_path / "out", "lebel")
    path.write_text("<html>Access denied</html>")
    with pytest.raises(DatasetError, match="HTML"):
        prepare(spec, tmp_path / "raw", tmp_path / "out", "lebel")
    path.unlink()
    with pytest.raises(DatasetError, match=r"legacy\.hf5 is missing"):
        prepare(spec, tmp_path / "raw", tmp_path / "out", "lebel")


def test_language_roi_is_the_union_of_the_language_mapper_rois():
    m = {name: np.eye(5, dtype=bool)[i] for i, name in enumerate(["Broca", "pSTS", "AC", "hMT"])}
    got = mrh.with_language_roi(m)
    np.testing.assert_array_equal(got["language"], [True, True, False, False, False])
    assert mrh.with_language_roi({"AC": m["AC"]}) == {"AC": m["AC"]}
