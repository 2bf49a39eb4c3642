import h5py
import numpy as np
import pandas as pd
import pytest

from brainattr.attribution_features import run_attribution_features
from brainattr.partition import (
    kernel_weights,
    partition_subject,
    r2_per_target,
    r2_split,
    roll_within_runs,
    run_partition,
    run_unique_variance,
)
from brainattr.tables import UNIQUE_VARIANCE

ALPHAS = list(np.logspace(-2, 5, 8))
RUNS = np.repeat([0, 1, 2], 80)


def _simulate(seed, a_share, b_share, nested=False, n_voxels=30):
    """Two spaces and BOLD with known shares of variance (the rest is noise)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((len(RUNS), 20))
    b = a[:, :8] if nested else rng.standard_normal((len(RUNS), 8))
    unit = lambda s: s / s.std(axis=0)  # noqa: E731
    y = (np.sqrt(a_share) * unit(a @ rng.standard_normal((a.shape[1], n_voxels)))
         + np.sqrt(b_share) * unit(b @ rng.standard_normal((b.shape[1], n_voxels)))
         + np.sqrt(1 - a_share - b_share) * rng.standard_normal((len(RUNS), n_voxels)))  # fmt: skip
    return a, b, (y - y.mean(0)) / y.std(0)


def _partition(a, b, y, nulls=None):
    return partition_subject([a, b], y, RUNS, ALPHAS, 4, 10, 0, nulls)


def test_known_unique_variance_of_independent_spaces_is_recovered():
    a, b, y = _simulate(0, 0.3, 0.2)
    nulls = [roll_within_runs(a, RUNS, 5, 1), roll_within_runs(b, RUNS, 5, 2)]
    res = {k: v.mean() for k, v in _partition(a, b, y, nulls).items()}
    # ridge shrinks held-out R^2 a little below the planted shares; nothing is shared
    assert 0.2 < res["unique_activations"] < 0.32
    assert 0.12 < res["unique_attributions"] < 0.22
    assert abs(res["shared"]) < 0.08
    assert res["unique_activations"] > res["unique_attributions"]
    for name in ("activations", "attributions"):
        assert abs(res[f"unique_{name}_null"]) < 0.03


def test_a_space_inside_the_other_has_no_unique_variance():
    """B = a subset of A's columns and the BOLD depends on B only: all of it is shared (the
    joint model may gain a little: weighting B's columns apart regularises them better)."""
    a, b, y = _simulate(1, 0.0, 0.4, nested=True)
    res = {k: v.mean() for k, v in _partition(a, b, y).items()}
    assert abs(res["unique_attributions"]) < 0.05 and abs(res["unique_activations"]) < 0.05
    assert res["shared"] > 0.3
    assert abs(res["shared"] - res["r2_attributions"]) < 0.05


def test_the_product_measure_split_sums_to_the_joint_r2():
    a, b, y = _simulate(2, 0.2, 0.2, n_voxels=10)
    res = _partition(a, b, y)
    np.testing.assert_allclose(res["split_activations"] + res["split_attributions"],
                               res["r2_joint"], atol=1e-10)  # fmt: skip


def test_r2_split_equals_himalayas_product_measure_and_is_zero_for_a_flat_voxel():
    from himalaya.backend import set_backend
    from himalaya.scoring import r2_score_split

    set_backend("numpy")
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 4))
    y -= y.mean(0)
    split = 0.3 * y[None] + rng.standard_normal((2, 50, 4))
    np.testing.assert_allclose(r2_split(split, y), r2_score_split(y, split), rtol=1e-10)
    y[:, 0] = 0.0
    assert (r2_split(split, y)[:, 0] == 0).all()


def test_kernel_weights_try_each_space_alone_and_seeded_mixtures():
    w = kernel_weights(6, seed=0)
    assert w.shape == (9, 2) and np.allclose(w.sum(1), 1) and (w >= 0).all()
    np.testing.assert_array_equal(w[:2], np.eye(2))
    np.testing.assert_array_equal(w, kernel_weights(6, seed=0))
    assert not np.array_equal(w, kernel_weights(6, seed=1))


def test_r2_per_target():
    y = np.array([[1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(r2_per_target(y, y), [1.0, 0.0])
    np.testing.assert_array_equal(r2_per_target(np.zeros_like(y), y), [0.0, 0.0])
    np.testing.assert_allclose(r2_per_target(3 * y, y), [-3.0, 0.0])


def test_roll_within_runs_rotates_each_run_by_a_seeded_offset():
    x = np.arange(len(RUNS), dtype=float)[:, None]
    rolled = roll_within_runs(x, RUNS, 5, seed=3)
    for run in range(3):
        rows = RUNS == run
        assert sorted(rolled[rows, 0]) == sorted(x[rows, 0])  # the run's own rows
        shift = int(np.flatnonzero(rolled[rows, 0] == x[rows, 0][0])[0])
        assert 10 <= shift <= 70  # an eighth of the run from either end
    np.testing.assert_array_equal(rolled, roll_within_runs(x, RUNS, 5, seed=3))
    assert not np.array_equal(rolled, roll_within_runs(x, RUNS, 5, seed=4))
    with pytest.raises(ValueError, match="run 0 has 80 TRs"):
        roll_within_runs(x, RUNS, 40, seed=0)


def test_the_stages_write_per_voxel_results_and_their_roi_means(tiny_spec, tiny_run, tmp_path):
    attributions = tmp_path / "attr.h5"
    run_attribution_features(tiny_run["data"], tiny_spec, 6, 4, attributions, device="cpu")
    paths = []
    for layer in (1, 3):
        paths.append(str(tmp_path / f"partition{layer}.h5"))
        run_partition(tiny_run["data"], tiny_run["features"], attributions, "sub-01", layer,
                      "language", 4, [1.0, 100.0], 2, 5, 0, paths[-1])  # fmt: skip
    with h5py.File(paths[0]) as f:
        roi = f["roi"][()]
        assert f["unique_attributions"].shape == roi.shape == (12,)
        assert f.attrs["mean_r2_joint"] == pytest.approx(f["r2_joint"][()][roi].mean(), rel=1e-6)
    out = tmp_path / "unique_variance.tsv"
    run_unique_variance(paths[::-1], out)
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == UNIQUE_VARIANCE and list(table["layer"]) == [1, 3]
    assert table[UNIQUE_VARIANCE[3:]].notna().all().all()  # the nulls and splits included
