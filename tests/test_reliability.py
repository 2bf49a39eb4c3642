import numpy as np
import pandas as pd
import pytest

from brainattr.reliability import (
    noise_ceiling,
    normalized_ba_table,
    repeat_reliability,
    spearman_brown,
)


def test_spearman_brown_by_hand():
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3)
    assert spearman_brown(0.25, 3) == pytest.approx(0.75 / 1.5)
    assert spearman_brown(1.0, 5) == pytest.approx(1.0)


def test_reliability_of_two_repeats_by_hand():
    # repeat 2 is repeat 1 reversed in sign on one voxel, equal on the other
    a = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    b = a * np.array([1.0, -1.0])
    rho = repeat_reliability(np.stack([a, b]))
    np.testing.assert_allclose(rho, [1.0, -1.0])
    nc = noise_ceiling(np.stack([a, b]))
    assert nc[0] == pytest.approx(1.0) and np.isnan(nc[1])


@pytest.mark.parametrize("n_repeats", [2, 4])
def test_noise_ceiling_of_a_signal_with_known_reliability(n_repeats):
    """y_k = s + e_k with var(s) = 1, var(e) = 3: rho = 0.25, and the ceiling equals the
    correlation of the repeats' mean with the true signal."""
    rng = np.random.default_rng(0)
    n_trs, n_vox = 20000, 4
    s = rng.standard_normal((n_trs, n_vox))
    reps = s + np.sqrt(3.0) * rng.standard_normal((n_repeats, n_trs, n_vox))
    np.testing.assert_allclose(repeat_reliability(reps), 0.25, atol=0.02)
    expected = np.sqrt(n_repeats * 0.25 / (1 + (n_repeats - 1) * 0.25))
    nc = noise_ceiling(reps)
    np.testing.assert_allclose(nc, expected, atol=0.02)
    mean = reps.mean(axis=0)
    achieved = [np.corrcoef(s[:, v], mean[:, v])[0, 1] for v in range(n_vox)]
    np.testing.assert_allclose(nc, achieved, atol=0.02)


def test_normalized_ba_by_hand():
    enc = {
        ("s1", 3): {
            "roi": np.array([True, True, True, False]),
            "r_repeated_2": np.array([0.1, 0.3, 0.9, 0.9]),
        }
    }
    ceilings = {("s1", 2): np.array([0.5, 0.7, np.nan, 0.9])}
    t = normalized_ba_table(enc, ceilings)
    row = t.iloc[0]
    assert (row.n_roi_voxels, row.n_reliable) == (3, 2)  # NaN ceiling and non-ROI dropped
    assert row.noise_ceiling == pytest.approx(0.6)
    assert row.ba_repeated == pytest.approx(0.2)
    assert row.ba_normalized == pytest.approx(1 / 3)


def test_intersubject_ceiling_of_a_shared_signal_with_known_reliability():
    """Six subjects, 24 voxels each: y = sqrt(rho) (s @ w) + sqrt(1 - rho) e with a shared
    5-d signal s; rho = 0.5 on the first 16 voxels, 0 on the rest. No stimulus model beats
    corr(y, s @ w) = sqrt(0.5) = 0.71: the inter-subject r comes close to it from below, and
    stays near 0 on noise-only voxels."""
    from brainattr.design import prepare_responses
    from brainattr.reliability import intersubject_ceiling

    rng = np.random.default_rng(0)
    runs = np.repeat([1, 2, 3], 200)
    s = rng.standard_normal((600, 5))
    rho = np.r_[np.full(16, 0.5), np.zeros(8)]
    responses = {}
    for subject in range(6):
        w = rng.standard_normal((5, 24))
        signal = s @ (w / np.linalg.norm(w, axis=0))
        y = np.sqrt(rho) * signal + np.sqrt(1 - rho) * rng.standard_normal((600, 24))
        responses[f"s{subject}"] = prepare_responses(y, runs, np.ones(600, bool))
    ceiling = intersubject_ceiling(responses, runs, [0.1, 1, 10, 100, 1000, 1e4], 5)
    driven = np.concatenate([c[:16] for c in ceiling.values()])
    noise = np.concatenate([c[16:] for c in ceiling.values()])
    assert 0.62 < driven.mean() < np.sqrt(0.5) + 0.02, driven.mean()
    assert abs(noise.mean()) < 0.05 and np.abs(noise).max() < 0.2


def test_intersubject_ba_table_by_hand():
    from brainattr.reliability import intersubject_ba_table

    enc = {("s1", 3): {"roi": np.array([True, True, True, False]),
                       "r": np.array([0.1, 0.3, 0.9, 0.9])}}  # fmt: skip
    t = intersubject_ba_table(enc, {"s1": np.array([0.5, 0.7, -0.1])})
    row = t.iloc[0]
    assert (row.run, row.ceiling, row.n_roi_voxels, row.n_reliable) == (-1, "intersubject", 3, 2)
    assert row.noise_ceiling == pytest.approx(0.6) and row.ba_repeated == pytest.approx(0.2)
    assert row.ba_normalized == pytest.approx(1 / 3)


def _dataset_with_rois(folder, rng, n_subjects=3, n_voxels=(9, 7, 8), repeats=False):
    """Three runs of 40 TRs (the first 2 of each dropped), a shared 3-d signal, ROIs of
    different sizes; subject s1 also has two presentations of run 2 when ``repeats``."""
    import pandas as pd

    from brainattr.dataset import DatasetWriter

    n_trs = 120
    runs = np.repeat([1, 2, 3], 40)
    kept = np.tile(np.arange(40) >= 2, 3)
    trs = pd.DataFrame({"tr_index": range(n_trs), "onset": np.arange(n_trs) * 2.0,
                        "run": runs, "kept": kept})  # fmt: skip
    onset = np.arange(n_trs) * 2.0 + 0.1
    words = pd.DataFrame({"word_index": range(n_trs), "word": ["a"] * n_trs, "onset": onset,
                          "offset": onset + 0.4, "run": runs})  # fmt: skip
    s = rng.standard_normal((n_trs, 3))
    with DatasetWriter(folder, "toy", 2.0, words, trs) as writer:
        for i, n in enumerate(n_voxels[:n_subjects]):
            bold = s @ rng.standard_normal((3, n)) + rng.standard_normal((n_trs, n))
            roi = {"language": np.arange(n) % 3 != 0}
            rep = {2: bold[kept & (runs == 2)] + rng.standard_normal((2, 38, n))}
            writer.add_subject(f"s{i + 1}", bold, roi, rep if repeats and i == 0 else None)
    return runs[kept]


def test_subject_ceilings_equal_the_ceiling_of_all_subjects_in_memory(tmp_path):
    """The stage reads the other subjects one at a time and keeps only their kernel: its
    inter-subject ceiling equals intersubject_ceiling on every subject's ROI responses at once,
    NaN outside the ROI; a repeated run's ceiling is noise_ceiling of its presentations."""
    from brainattr.dataset import read_repeats, read_responses
    from brainattr.design import prepare_responses
    from brainattr.reliability import intersubject_ceiling, subject_ceilings

    rng = np.random.default_rng(3)
    kept_runs = _dataset_with_rois(tmp_path, rng, repeats=True)
    settings = {"alphas": [0.1, 10, 1000], "inner_folds": 3}
    responses = {}
    runs, kept = np.repeat([1, 2, 3], 40), np.tile(np.arange(40) >= 2, 3)
    for s in ("s1", "s2", "s3"):
        bold, rois = read_responses(tmp_path, s)
        responses[s] = prepare_responses(bold, runs, kept)[:, rois["language"]]
    expected = intersubject_ceiling(responses, kept_runs, settings["alphas"], 3)
    for s in ("s1", "s2", "s3"):
        got = subject_ceilings(tmp_path, s, "language", settings)
        roi = got["roi"]
        np.testing.assert_allclose(got["intersubject"][roi], expected[s], rtol=1e-10)
        assert np.isnan(got["intersubject"][~roi]).all() and roi.sum() == len(expected[s])
    rep = read_repeats(tmp_path, "s1")[2].astype(np.float64)
    got = subject_ceilings(tmp_path, "s1", "language", settings)["repeats"]
    np.testing.assert_allclose(got[2], noise_ceiling(rep), equal_nan=True)
    assert subject_ceilings(tmp_path, "s2", "language", settings)["repeats"] == {}


def test_one_subject_without_repeats_has_no_ceiling(tmp_path):
    from brainattr.dataset import DatasetError
    from brainattr.reliability import subject_ceilings

    _dataset_with_rois(tmp_path, np.random.default_rng(0), n_subjects=1)
    with pytest.raises(DatasetError, match="one subject and no repeated run"):
        subject_ceilings(tmp_path, "s1", "language", {"alphas": [1.0]})


def test_noise_ceiling_stage_reads_each_subjects_ceiling_file(tmp_path):
    """Stage ceiling's files round-trip, stage noise_ceiling divides each encoding's BA by
    them (by hand), and an encoding whose ROI differs from its ceiling's is refused, naming
    both files."""
    import h5py

    from brainattr.dataset import DatasetError
    from brainattr.reliability import read_ceilings, run_noise_ceiling, write_ceilings

    roi = np.array([True, True, True, False])
    ceilings = {"roi": roi, "intersubject": np.array([0.5, 0.7, -0.1, np.nan]),
                "repeats": {2: np.array([0.4, np.nan, 0.8, 0.9])}}  # fmt: skip
    write_ceilings(tmp_path / "s1.h5", ceilings, dataset="toy", subject="s1")
    back = read_ceilings(tmp_path / "s1.h5")
    np.testing.assert_array_equal(back["roi"], roi)
    np.testing.assert_allclose(back["intersubject"], ceilings["intersubject"], equal_nan=True)
    np.testing.assert_allclose(back["repeats"][2], ceilings["repeats"][2], equal_nan=True)
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["roi"], f["r"] = roi, np.array([0.1, 0.3, 0.9, 0.9], np.float32)
        f["r_repeated_2"] = np.array([0.2, 0.5, 0.4, 0.0], np.float32)
        f["alpha_grid"], f["alpha_index_0"], f["fold"] = [1.0], np.zeros(4, np.uint8), [0]
        f.attrs["n_folds"] = 1
    run_noise_ceiling({("s1", 3): tmp_path / "e.h5"}, [tmp_path / "s1.h5"], tmp_path / "nc.tsv")
    t = pd.read_csv(tmp_path / "nc.tsv", sep="\t").set_index("ceiling")
    assert (t["dataset"] == "toy").all() and (t["layer"] == 3).all()
    assert t.loc["intersubject", "noise_ceiling"] == pytest.approx(0.6)
    assert t.loc["intersubject", "ba_repeated"] == pytest.approx(0.2)
    assert t.loc["repeats", "noise_ceiling"] == pytest.approx(0.6)  # voxels 0 and 2
    assert t.loc["repeats", "ba_repeated"] == pytest.approx(0.3)
    with pytest.raises(DatasetError, match=r"e\.h5: no ceiling file of s2"):
        run_noise_ceiling({("s2", 3): tmp_path / "e.h5"}, [tmp_path / "s1.h5"], tmp_path / "x")
    write_ceilings(tmp_path / "s1.h5", {**ceilings, "roi": ~roi}, dataset="toy", subject="s1")
    with pytest.raises(DatasetError, match=r"e\.h5 and .*s1\.h5 hold different ROIs of s1"):
        run_noise_ceiling({("s1", 3): tmp_path / "e.h5"}, [tmp_path / "s1.h5"], tmp_path / "x")
