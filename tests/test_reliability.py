import numpy as np
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
