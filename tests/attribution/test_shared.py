import numpy as np
import pytest
import torch

from brainattr.attribution.per_target import ba_word_scores
from brainattr.attribution.shared import ba_scores_shared
from brainattr.readout import BAHead

from .toy import overlapping_targets, story_windows


def _heads_for(h, dtype):
    rng = np.random.default_rng(0)
    weights = {lay: torch.tensor(rng.standard_normal((4 * h, 5)), dtype=dtype) for lay in (1, 3)}
    ys = {t: torch.tensor(rng.standard_normal(5), dtype=dtype) for t in range(8)}
    b = torch.tensor(rng.standard_normal(5), dtype=dtype)

    def heads_for(t):
        return [
            BAHead(s, lay, weights[lay] * (1 + k), b, ys[t.tr] + k)
            for k, s in enumerate(("s1", "s2"))
            for lay in (1, 3)
        ]

    return heads_for


@pytest.mark.parametrize("method", ["gxi", "ig"])
def test_shared_engine_equals_plain_autograd_float64(tiny_lm, method):
    heads_for = _heads_for(tiny_lm.embedding.weight.shape[1], torch.float64)
    targets, windows = overlapping_targets(), story_windows()
    heads = [heads_for(t) for t in targets]
    fast = ba_scores_shared(tiny_lm, windows, targets, heads, method, steps=3, vjp_batch=3)
    for t, per_head in zip(targets, fast, strict=True):
        ref = ba_word_scores(tiny_lm, windows, t, heads_for(t), method, 3)
        for got, want in zip(per_head, ref, strict=True):
            assert np.abs(want).max() > 0
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_shared_engine_float32_within_tolerance(tiny_spec):
    from brainattr.models import load_model

    lm = load_model({**tiny_spec, "dtype": "float32"}, "cpu")
    heads_for = _heads_for(lm.embedding.weight.shape[1], torch.float32)
    t, windows = overlapping_targets()[1], story_windows()
    fast = ba_scores_shared(lm, windows, [t], [heads_for(t)])[0]
    ref = ba_word_scores(lm, windows, t, heads_for(t))
    for got, want in zip(fast, ref, strict=True):
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
