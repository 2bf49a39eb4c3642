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
