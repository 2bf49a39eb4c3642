"""HP loaders: the facts of ../shared/data/README.md, on real timing arrays where present."""

from __future__ import annotations

import numpy as np
import pytest

from brainattr.dataset import DatasetError, read_dataset, read_responses, read_word_groups
from brainattr.sources import hp, remote_files
from brainattr.sources.common import load_npy, run_of_times

from .. import fake_sources as fs
from ..conftest import shared_path


@pytest.fixture(scope="module")
def real_timing():
    folder = shared_path("data", "hp")
    return tuple(
        np.load(folder / f) for f in ("time_fmri.npy", "runs_fmri.npy", "time_words_fmri.npy")
    )


def test_real_timing_facts(real_timing):
    tr_on, runs, word_on = real_timing
    assert len(tr_on) == hp.N_TRS and len(word_on) == hp.N_SLOTS
    assert [int((runs == r).sum()) for r in (1, 2, 3, 4)] == [340, 352, 279, 380]
    slot_runs = run_of_times(word_on, tr_on, runs)
    assert [int((slot_runs == r).sum()) for r in (1, 2, 3, 4)] == [1303, 1351, 1059, 1463]
    trs = hp.hp_trs(tr_on, runs)
    assert trs["kept"].sum() == 1211
    # every run's first kept TR is its 21st; 10 TRs (20 s) of rest precede the first word
    for r in (1, 2, 3, 4):
        rows = trs[trs["run"] == r]
        assert rows["kept"].to_numpy().argmax() == 20
        first_word = word_on[slot_runs == r].min()
        assert first_word - rows["onset"].min() == 20.0


def test_fake_timing_is_the_real_timing(real_timing):
    for ours, real in zip(fs.hp_timing(small=False), real_timing, strict=True):
        np.testing.assert_allclose(ours, real)


def test_words_drop_fixation_slots_and_italics_marks():
    tr_on, runs, word_on = fs.hp_timing(small=True)
    texts = ["+", "@Hagrid", "said", "+", "owl"] + ["w"] * (len(word_on) - 5)
    words = hp.hp_words(texts, word_on, tr_on, runs)
    assert list(words["word"][:3]) == ["Hagrid", "said", "owl"]
    assert list(words["stimulus_index"][:3]) == [1, 2, 4]
    assert words["onset"].iloc[0] == word_on[1] and (words["offset"] - words["onset"] == 0.5).all()
    with pytest.raises(DatasetError, match="onsets"):
        hp.hp_words(texts[:-1], word_on, tr_on, runs)


def test_cmu_subject_files_prepared(tmp_path):
    raw = tmp_path / "raw"
    info = fs.write_hp_cmu(raw, ["1", "2"], n_voxels=40, small=False)
    spec = {"source": "hp_cmu", "subjects": ["1", "2"]}
    assert [r.path for r in remote_files(spec)] == [
        "subject_1.mat",
        "subject_2.mat",
        "story_features.mat",
    ]
    hp.CMU.prepare(spec, raw, tmp_path / "hp", "hp")
    ds = read_dataset(tmp_path / "hp")
    assert ds.subjects == ["1", "2"] and ds.trs["kept"].sum() == 1211
    assert ds.runs_continue  # the runs are one chapter: contexts cross run borders
    assert len(ds.words) == sum(t != "+" for t in info["texts"])
    assert not ds.words["word"].str.startswith("@").any()
    bold, rois = read_responses(tmp_path / "hp", "2")
    kept = ds.trs["kept"].to_numpy()
    assert np.isnan(bold[~kept]).all()
    for r in (1, 2, 3, 4):  # detrended and z-scored per run
        x = bold[kept & (ds.trs["run"] == r).to_numpy()]
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(x.std(0, ddof=1), 1, atol=1e-3)
    assert sorted(rois) == ["Angular_L", "Frontal_Inf_Oper_L", "Temporal_Sup_L"]
    assert sum(m.sum() for m in rois.values()) == 30  # label 0 = unlabeled voxels
    import h5py
    from scipy.io import loadmat

    meta = loadmat(raw / "subject_2.mat", simplify_cells=True)["meta"]
    with h5py.File(tmp_path / "hp/responses.h5") as f:
        ijk, affine = f["2/voxel_ijk"][()], f["2"].attrs["affine"]
    mni_ours = (affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]
    mni_matlab = (meta["matrix"] @ np.c_[meta["colToCoord"], np.ones(len(ijk))].T).T[:, :3]
    np.testing.assert_allclose(mni_ours, mni_matlab)
    _assert_word_groups_follow_story_features(tmp_path / "hp", raw / "story_features.mat")


def _assert_word_groups_follow_story_features(folder, mat_path):
    """word_groups.tsv: a word carries a group where its slot's row is non-zero there."""
    from scipy.io import loadmat

    ds = read_dataset(folder)
    groups = read_word_groups(folder, len(ds.words))
    feats = {f["type"]: f["values"] for f in loadmat(mat_path, simplify_cells=True)["features"]}
    slots = ds.words["stimulus_index"].to_numpy()
    semantic = (feats["NNSE"][slots] != 0).any(axis=1)
    syntactic = (feats["Part_of_speech"][slots] != 0).any(axis=1) | (
        feats["Dependency_role"][slots] != 0
    ).any(axis=1)
    np.testing.assert_array_equal(groups["semantic"], semantic)
    np.testing.assert_array_equal(groups["syntactic"], syntactic)
    paper = ["semantic", "syntactic", "discourse"]
    selective = ["content", "function", "characters", "emotion_words", "story_verbs"]
    assert list(groups.columns) == ["word_index", *paper, *selective]


def test_toneva_bundle_prepared(tmp_path):
    raw = tmp_path / "raw"
    fs.write_hp_toneva(raw, ["F", "H"], n_voxels=30, small=False)
    spec = {"source": "hp_toneva", "subjects": ["F", "H"]}
    files = remote_files(spec)
    assert files[0].url.startswith(f"gdrive://{hp.DRIVE_FOLDER}/fMRI/")
    assert {f.path for f in files} >= {"fMRI/data_subject_H.npy", "HP_subj_roi_inds.npy"}
    hp.TONEVA.prepare(spec, raw, tmp_path / "hp", "hp")
    ds = read_dataset(tmp_path / "hp")
    bold, rois = read_responses(tmp_path / "hp", "H")
    kept = ds.trs["kept"].to_numpy()
    np.testing.assert_allclose(bold[kept], np.load(raw / "fMRI/data_subject_H.npy"))
    assert sorted(rois) == ["PostTemp", "language"] and rois["language"].sum() == 15
    _assert_word_groups_follow_story_features(tmp_path / "hp", raw / "story_features.mat")


def test_toneva_rows_must_match_the_trimming(tmp_path):
    raw = tmp_path / "raw"
    fs.write_hp_toneva(raw, ["F"], n_voxels=5, small=True)
    np.save(raw / "fMRI/data_subject_F.npy", np.zeros((41, 5), dtype=np.float32))
    with pytest.raises(
        DatasetError, match=r"data_subject_F\.npy: 41 rows, but the timing keeps 40"
    ):
        hp.TONEVA.prepare({"subjects": ["F"]}, raw, tmp_path / "hp", "hp")


def test_real_roi_masks_cover_the_documented_voxels():
    masks = np.load(shared_path("data", "hp", "HP_subj_roi_masks.npz"))
    n_voxels = {"F": 27905, "H": 24983, "I": 25263, "J": 29650, "K": 25003, "L": 24678,
                "M": 28752, "N": 24397}  # fmt: skip
    for subject, n in n_voxels.items():
        assert masks[f"{subject}/all"].shape == (n,)
        assert 4169 <= masks[f"{subject}/all"].sum() <= 5692


def test_pickled_arrays_load_without_running_code(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.array({"F": {"all": np.ones(3)}}, dtype=object), allow_pickle=True)
    assert load_npy(good).item()["F"]["all"].sum() == 3
    words = tmp_path / "words.npy"
    np.save(words, np.array(["a", "+", "@b"], dtype=object), allow_pickle=True)
    assert list(load_npy(words)) == ["a", "+", "@b"]

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.npy"
    np.save(evil, np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match=r"refusing to unpickle builtins\.print"):
        load_npy(evil)
