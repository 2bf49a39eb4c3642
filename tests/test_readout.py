import numpy as np
import pytest

from brainattr.readout import repeat_targets


def test_repeat_targets_map_kept_rows_to_each_presentation():
    kept_runs = np.array([1, 1, 1, 2, 2, 2, 2])
    rep = np.stack([np.arange(12.0).reshape(4, 3), -(np.arange(12.0).reshape(4, 3) ** 2)])
    roi = np.array([True, False, True])
    out = repeat_targets(kept_runs, {2: rep}, roi)
    assert sorted(out) == [3, 4, 5, 6]  # the kept rows of run 2
    z0 = (rep[0] - rep[0].mean(0)) / rep[0].std(0)
    z1 = (rep[1] - rep[1].mean(0)) / rep[1].std(0)
    np.testing.assert_allclose(out[4], np.stack([z0[1, roi], z1[1, roi]]))
    with pytest.raises(ValueError, match="run 1: 4 repeated TRs but 3 kept"):
        repeat_targets(kept_runs, {1: rep}, roi)


def _storage_bytes(tensors) -> int:
    """Bytes of the distinct storages behind some tensors (shared storage counted once)."""
    seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(seen.values())


def test_readout_memory_does_not_grow_with_the_number_of_targets(tiny_run):
    import torch

    from brainattr.dataset import read_dataset
    from brainattr.readout import Readouts
    from brainattr.targets import eligible_targets
    from brainattr.windows import StoryWindows

    ds = read_dataset(tiny_run["data"])
    readouts = Readouts(tiny_run["encodings"], tiny_run["features"], tiny_run["data"], ds,
                        torch.float64, torch.device("cpu"), repeats=True)  # fmt: skip
    assert readouts.n_delays == 4 and readouts.keys == list(tiny_run["encodings"])
    targets = eligible_targets(ds, StoryWindows.of_dataset(ds, 6), readouts.n_delays,
                               readouts.fold)  # fmt: skip
    assert len(targets) > 40 and len({t.fold for t in targets}) == 3
    one_per_fold = [next(t for t in targets if t.fold == k) for k in range(3)]
    few = [readouts.heads(t) for t in one_per_fold]
    held = readouts.device_bytes()
    heads = [readouts.heads(t) for t in targets]
    # the readouts hold one copy per (subject, layer, fold) and one BOLD per subject: more
    # targets add nothing, and every head is a view into those copies
    assert readouts.device_bytes() == held
    every = [x for hs in heads + few for h in hs for x in (h.weights, h.intercept, h.y)]
    assert _storage_bytes(every) <= held
    n_roi = heads[0][0].y.numel()
    assert _storage_bytes(h.y for hs in heads for h in hs if not h.repeat) == len(ds.trs[
        ds.trs["kept"]]) * n_roi * 8  # fmt: skip
    assert any(h.repeat for hs in heads for h in hs)  # the repeated run's extra heads


def test_shift_within_runs_by_hand_and_its_limits():
    from brainattr.dataset import DatasetError
    from brainattr.readout import shift_within_runs

    bold = np.arange(100.0)[:, None] * [1.0, -1.0]
    runs = np.repeat([1, 2], 50)
    kept = np.ones(100, bool)
    kept[[0, 50]] = False  # 49 kept TRs per run
    out = shift_within_runs(bold, runs, kept, 20)
    rows = np.flatnonzero(kept & (runs == 2))
    np.testing.assert_array_equal(out[rows], np.roll(bold[rows], 20, axis=0))
    assert out[0, 0] == 0 and out[50, 0] == 50  # TRs not kept stay
    with pytest.raises(DatasetError, match=r"null_shift_trs = 30: run 1 has 49 kept TRs"):
        shift_within_runs(bold, runs, kept, 30)


def test_random_readout_keeps_each_voxels_norm():
    from brainattr.readout import random_readout_weights

    w = np.random.default_rng(0).normal(size=(40, 5)) * np.arange(1, 6)
    r = random_readout_weights(w, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(r, axis=0), np.linalg.norm(w, axis=0))
    assert abs(np.corrcoef(r.ravel(), w.ravel())[0, 1]) < 0.2


def test_readouts_add_one_head_per_null_with_its_own_weights_and_bold(tmp_path, tiny_spec):
    import torch

    from brainattr.dataset import read_dataset, read_responses
    from brainattr.demo import make_demo_dataset
    from brainattr.design import prepare_responses
    from brainattr.encoding import run_encoding
    from brainattr.features import run_features
    from brainattr.readout import Readouts, shift_within_runs
    from brainattr.targets import eligible_targets
    from brainattr.windows import StoryWindows

    params = dict(n_runs=2, tr=2.0, word_seconds=0.5, rest_before_seconds=4.0,
                  rest_after_seconds=4.0, n_subjects=1, n_voxels=6, driver_voxel_fraction=0.5,
                  snr=1.0, max_words=400, n_repeats=0)  # fmt: skip
    make_demo_dataset(tmp_path / "d", params, seed=0)
    run_features(tmp_path / "d", tiny_spec, 4, tmp_path / "f.h5", device="cpu")
    enc = {("sub-01", 2): str(tmp_path / "e.h5")}
    run_encoding(tmp_path / "d", tmp_path / "f.h5", "sub-01", 2, "language", 4, [1.0], 2,
                 enc[("sub-01", 2)])  # fmt: skip
    ds = read_dataset(tmp_path / "d")
    with pytest.raises(ValueError, match=r"attribution\.nulls: unknown"):
        Readouts(enc, tmp_path / "f.h5", tmp_path / "d", ds, torch.float64, "cpu", nulls=["x"])
    readouts = Readouts(enc, tmp_path / "f.h5", tmp_path / "d", ds, torch.float64,
                        torch.device("cpu"), nulls=["shifted_bold", "random_readout"],
                        null_shift_trs=20, seed=3)  # fmt: skip
    assert readouts.nulls == ["random_readout", "shifted_bold"]
    target = eligible_targets(ds, StoryWindows.of_dataset(ds, 4), 4, readouts.fold)[10]
    fitted, rand, shifted = readouts.heads(target)
    assert (fitted.null, rand.null, shifted.null) == ("", "random_readout", "shifted_bold")
    torch.testing.assert_close(rand.weights.norm(dim=0), fitted.weights.norm(dim=0))
    torch.testing.assert_close(rand.y, fitted.y)
    assert not torch.allclose(shifted.weights, fitted.weights)
    bold, _ = read_responses(tmp_path / "d", "sub-01")
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    roi = readouts.encodings[("sub-01", 2)]["roi"]
    y = prepare_responses(shift_within_runs(bold, runs, kept, 20), runs, kept)[:, roi]
    np.testing.assert_allclose(shifted.y.numpy(), y[target.row])
