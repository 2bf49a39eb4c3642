import numpy as np
import pytest
import torch

from brainattr.attribution import BAHead, Target, ba_word_scores
from brainattr.dataset import tr_word_ranges
from brainattr.engine import ba_scores_shared

from .test_attribution import CONTEXT, WORD_TR, WORDS


def _targets():
    # targets 5, 6, 7 share windows; TR 7's t-4 = 3
    return [
        Target(
            t,
            0,
            0,
            [t - 1, t - 2, t - 3, t - 4],
            max(0, 4 * (t - 4) - CONTEXT),
            4 * (t - 1) + 4,
            4 * (t - 1) + 4,
        )
        for t in (5, 6, 7)
    ]


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
    first, stop = tr_word_ranges(WORD_TR, 8)
    heads_for = _heads_for(tiny_lm.embedding.weight.shape[1], torch.float64)
    targets = _targets()
    fast = ba_scores_shared(
        tiny_lm, WORDS, targets, heads_for, CONTEXT, first, stop, method, steps=3, vjp_batch=3
    )
    for t, per_head in zip(targets, fast, strict=True):
        ref = ba_word_scores(tiny_lm, WORDS, t, heads_for(t), CONTEXT, first, stop, method, 3)
        for got, want in zip(per_head, ref, strict=True):
            assert np.abs(want).max() > 0
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_shared_engine_float32_within_tolerance(tiny_spec):
    from brainattr.models import load_model

    lm = load_model({**tiny_spec, "dtype": "float32"}, "cpu")
    first, stop = tr_word_ranges(WORD_TR, 8)
    heads_for = _heads_for(lm.embedding.weight.shape[1], torch.float32)
    t = _targets()[1]
    fast = ba_scores_shared(lm, WORDS, [t], heads_for, CONTEXT, first, stop)[0]
    ref = ba_word_scores(lm, WORDS, t, heads_for(t), CONTEXT, first, stop)
    for got, want in zip(fast, ref, strict=True):
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


@pytest.mark.parametrize("method", ["gxi", "ig"])
@pytest.mark.parametrize("batch_tokens", [10_000, 60])
def test_batched_nwp_equals_one_target_at_a_time(tiny_lm, method, batch_tokens):
    """Targets of different lengths (padding) and IG steps share batches exactly."""
    from brainattr.attribution import nwp_word_scores
    from brainattr.engine import nwp_scores_batched

    targets = _targets()
    fast = nwp_scores_batched(tiny_lm, WORDS, targets, method, 4, batch_tokens)
    for t, f in zip(targets, fast, strict=True):
        ref = nwp_word_scores(tiny_lm, WORDS, t, method, 4)
        assert f.shape == ref.shape
        np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
