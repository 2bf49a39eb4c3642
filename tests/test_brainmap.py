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


def test_the_map_header_says_mni_millimetres_and_names_its_volumes(tmp_path):
    import nibabel as nib

    from brainattr.brainmap import labelled_map

    aff = np.diag([3.0, 3.0, 3.0, 1.0])
    aff[:3, 3] = [-90, -126, -72]
    labels = ["early (layer 6)", "middle (layer 12)", "late (layer 24)"]
    labelled_map(np.zeros((4, 5, 6, 3), np.float32), aff, labels).to_filename(tmp_path / "m.nii.gz")
    back = nib.load(tmp_path / "m.nii.gz")
    _, sform_code = back.get_sform(coded=True)
    _, qform_code = back.get_qform(coded=True)
    assert int(sform_code) == 4 and int(qform_code) == 4  # "mni"
    assert back.header.get_xyzt_units()[0] == "mm"
    np.testing.assert_allclose(back.affine, aff)
    descrip = back.header["descrip"].item().decode()
    assert descrip.startswith("BA r: early (layer 6); middle (layer 12)")
