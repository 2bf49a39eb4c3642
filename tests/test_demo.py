import numpy as np
import pytest
from nilearn.glm.first_level import spm_hrf

from brainattr.dataset import (
    read_dataset,
    read_repeats,
    read_responses,
    read_voxel_coords,
    read_word_groups,
)
from brainattr.demo import (
    DRIVER_WORDS,
    MNI_CONTROL,
    MNI_LANGUAGE,
    make_demo_dataset,
    normalize_word,
    simulate_bold,
    split_runs,
    story_paragraphs,
)

PARAMS = dict(
    n_runs=3,
    tr=2.0,
    word_seconds=0.5,
    rest_before_seconds=20.0,
    rest_after_seconds=10.0,
    n_subjects=2,
    n_voxels=40,
    driver_voxel_fraction=0.75,
    snr=1.0,
    max_words=0,
    n_repeats=2,
)


def test_story_is_long_enough_and_names_are_present():
    words = [w for p in story_paragraphs() for w in p]
    assert len(words) >= 1500
    forms = {normalize_word(w) for w in words}
    assert set(DRIVER_WORDS) <= forms


def test_normalize_word():
    assert normalize_word('"Marta,') == "marta"
    assert normalize_word("Oskar's") == "oskar"
    assert normalize_word("Kelderwick.") == "kelderwick"


def test_split_runs_keeps_every_word_in_order():
    paras = [["a"] * 5, ["b"] * 5, ["c"] * 5, ["d"] * 5]
    runs = split_runs(paras, 3)
    assert len(runs) == 3
    assert [w for r in runs for w in r] == [w for p in paras for w in p]
    with pytest.raises(ValueError, match=r"too few for 5 runs.*raise datasets\.<name>\.demo"):
        split_runs(paras, 5)


def test_simulate_bold_is_the_hrf_of_an_impulse():
    tr_onsets = np.arange(0, 40, 2.0)
    bold, signal = simulate_bold(
        np.array([4.0]), np.array([[2.0]]), tr_onsets, 1.0, np.random.default_rng(0)
    )
    hrf = spm_hrf(0.1, oversampling=1)
    lag = np.round((tr_onsets - 4.0) / 0.1).astype(int)
    expected = np.where((lag >= 0) & (lag < hrf.size), 2.0 * hrf[np.clip(lag, 0, hrf.size - 1)], 0)
    np.testing.assert_allclose(signal[:, 0], expected, atol=1e-12)
    # noise at SNR 1: noise sd equals signal sd
    np.testing.assert_allclose((bold - signal).std(), signal.std(), rtol=0.5)


def test_demo_dataset_layout_timing_and_seed(tmp_path):
    make_demo_dataset(tmp_path / "a", PARAMS, seed=3)
    make_demo_dataset(tmp_path / "b", PARAMS, seed=3)
    ds = read_dataset(tmp_path / "a")
    assert ds.subjects == ["sub-01", "sub-02"]
    assert ds.words["run"].nunique() == 3
    for run, w in ds.words.groupby("run"):
        t = ds.trs[ds.trs["run"] == run]
        np.testing.assert_allclose(np.diff(w["onset"]), 0.5)
        assert w["onset"].min() - t["onset"].min() == 20.0  # rest before the first word
        end = t["onset"].max() + 2.0
        assert end - w["offset"].max() >= 10.0  # rest after the last word
        assert not t["kept"].iloc[:10].any() and t["kept"].iloc[10:].all()
    a, rois = read_responses(tmp_path / "a", "sub-01")
    b, _ = read_responses(tmp_path / "b", "sub-01")
    np.testing.assert_array_equal(a, b)
    assert rois["language"].sum() == 30 and not (rois["language"] & rois["control"]).any()
    planted = np.load(tmp_path / "a/planted_weights.npz")
    assert planted["sub-01"].shape == (len(DRIVER_WORDS), 40)
    assert (planted["sub-01"][:, ~rois["language"]] == 0).all()
    assert ds.meta["driver_words"] == list(DRIVER_WORDS)


def test_driven_voxels_follow_driver_words(tmp_path):
    """A driven voxel's BOLD correlates with its own HRF-convolved driver regressor."""
    make_demo_dataset(tmp_path, {**PARAMS, "snr": 4.0}, seed=0)
    ds = read_dataset(tmp_path)
    bold, rois = read_responses(tmp_path, "sub-02")
    weights = np.load(tmp_path / "planted_weights.npz")["sub-02"]
    forms = ds.words["word"].map(normalize_word)
    idx = np.array([DRIVER_WORDS.index(f) if f in DRIVER_WORDS else -1 for f in forms])
    ww = np.where(idx[:, None] >= 0, weights[idx], 0.0)
    _, signal = simulate_bold(
        ds.words["onset"].to_numpy(), ww, ds.trs["onset"].to_numpy(), 1.0, np.random.default_rng(0)
    )
    r = [np.corrcoef(bold[:, v], signal[:, v])[0, 1] for v in np.flatnonzero(rois["language"])]
    assert np.mean(r) > 0.8  # SNR 4 -> r = sqrt(4/5) ~ 0.89


def test_demo_repeats_voxel_positions_and_word_groups(tmp_path):
    make_demo_dataset(tmp_path, PARAMS, seed=0)
    ds = read_dataset(tmp_path)
    bold, rois = read_responses(tmp_path, "sub-01")
    reps = read_repeats(tmp_path, "sub-01")
    last = ds.trs["run"].max()
    rows = ((ds.trs["run"] == last) & ds.trs["kept"]).to_numpy()
    assert list(reps) == [last] and reps[last].shape == (2, rows.sum(), 40)
    np.testing.assert_allclose(bold[rows], reps[last].mean(axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(reps[last][0], reps[last][1])  # each presentation has its own noise
    ijk, affine = read_voxel_coords(tmp_path, "sub-01")
    assert len({tuple(v) for v in ijk}) == 40  # distinct positions
    mni = (affine @ np.c_[ijk, np.ones(40)].T).T[:, :3]
    lang = np.linalg.norm(mni[rois["language"]] - MNI_LANGUAGE, axis=1)
    ctrl = np.linalg.norm(mni[rois["control"]] - MNI_CONTROL, axis=1)
    assert lang.max() < 20 and ctrl.max() < 20  # two compact clusters (mm)
    groups = read_word_groups(tmp_path, len(ds.words))
    forms = ds.words["word"].map(normalize_word)
    assert (groups["names"] == forms.isin(DRIVER_WORDS)).all()
    assert groups.loc[forms == "the", "function"].all()
    assert not (groups["names"] & groups["function"]).any()
