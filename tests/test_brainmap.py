import numpy as np
import pytest

from brainattr.brainmap import ba_volume, subject_mean_map


def test_ba_volume_places_values():
    vol = ba_volume(np.array([0.5, -0.2]), np.array([[0, 1, 2], [2, 0, 0]]), (3, 2, 3))
    assert vol[0, 1, 2] == 0.5 and vol[2, 0, 0] == -0.2
    assert np.isnan(vol).sum() == 3 * 2 * 3 - 2
    with pytest.raises(ValueError, match="2 values for 1 voxel"):
        ba_volume(np.zeros(2), np.zeros((1, 3), int), (1, 1, 1))


def test_subject_mean_map_averages_where_present_and_resamples_other_grids():
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    coords = {
        "a": (np.array([[0, 0, 0], [1, 0, 0]]), aff),
        "b": (np.array([[0, 0, 0]]), aff),
    }
    vol, affine = subject_mean_map({"a": np.array([0.2, 0.6]), "b": np.array([0.4])}, coords)
    assert vol[0, 0, 0] == pytest.approx(0.3) and vol[1, 0, 0] == pytest.approx(0.6)
    assert np.array_equal(affine, aff) and vol.shape == (2, 1, 1)
    # subject c on a grid shifted by one voxel: its voxel (0,0,0) lies at a's (1,0,0)
    shifted = aff.copy()
    shifted[0, 3] = 4.0
    coords["c"] = (np.array([[0, 0, 0]]), shifted)
    vol, _ = subject_mean_map(
        {"a": np.array([0.2, 0.6]), "c": np.array([1.0])}, {k: coords[k] for k in ("a", "c")}
    )
    assert vol[1, 0, 0] == pytest.approx(0.8) and vol[0, 0, 0] == pytest.approx(0.2)
