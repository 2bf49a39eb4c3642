import numpy as np
import pytest
from scipy import stats

from brainattr.inference import (
    bh_fdr,
    block_test,
    calibration,
    simulate_paired_null,
    span_trs,
    target_blocks,
)


def test_target_blocks_split_by_run_and_window():
    tr = np.array([0, 3, 4, 9, 10, 11, 12])
    runs = np.array([1, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(target_blocks(tr, runs, 5), [0, 0, 0, 1, 2, 2, 2])
    with pytest.raises(ValueError, match="block_trs must be >= 1"):
        target_blocks(tr, runs, 0)
    assert span_trs(32, 4.0, 4) == 12


def test_block_test_by_hand():
    # two blocks of two targets: block sums 2 and 4, n = 4, mean 1.5
    diff = np.array([1.0, 1.0, 2.0, 2.0])
    res = block_test(diff, np.array([0, 0, 1, 1]), n_resamples=100, seed=0)
    assert res.effect == 1.5 and (res.n_targets, res.n_blocks) == (4, 2)
    # the four sign patterns give |mean| 1.5, 0.5, 0.5, 1.5: exact p = 2/4
    assert res.p == 0.5
    # the bootstrap resamples blocks: block means are 1 and 2
    assert 1.0 <= res.ci_low <= res.ci_high <= 2.0
    nan = block_test(np.array([np.nan, 3.0]), np.array([0, 1]))
    assert nan.n_targets == 1 and nan.effect == 3.0


def test_block_test_rejects_a_consistent_difference_and_not_a_balanced_one():
    blocks = np.repeat(np.arange(12), 5)
    shifted = block_test(np.ones(60) + 0.1 * np.sin(np.arange(60)), blocks, 2000, 0)
    assert shifted.p < 0.001 and shifted.ci_low > 0.8
    balanced = block_test(np.tile([1.0, -1.0], 30), blocks, 2000, 0)
    assert balanced.p > 0.5 and balanced.ci_low < 0 < balanced.ci_high


def test_simulated_nulls_share_nwp_across_subjects():
    ba, nwp = simulate_paired_null(50, 3, 10, np.random.default_rng(0))
    assert ba.shape == (3, 50) and nwp.shape == (50,)
    lag1 = np.corrcoef(nwp[:-1], nwp[1:])[0, 1]
    assert lag1 > 0.8  # neighbouring targets share most of their span


def test_the_block_test_is_calibrated_where_the_paper_test_is_not():
    """400 simulated nulls with overlapping spans and a shared NWP value per target: the block
    test rejects at its nominal 5 % (2.5-7.5 %), the paper's test far more often; a planted
    difference is found."""
    null = calibration(n_sims=400, n_targets=200, n_subjects=8, span=12, block_spans=3)
    assert 0.025 <= null["block"] <= 0.075, null
    assert null["paper"] > 0.5, null
    planted = calibration(n_sims=100, n_targets=200, span=12, block_spans=3, effect=1.0)
    assert planted["block"] > 0.6, planted


def test_bh_fdr_matches_scipy_and_keeps_nan():
    p = np.random.default_rng(0).uniform(size=40) ** 3
    np.testing.assert_allclose(bh_fdr(p), stats.false_discovery_control(p, method="bh"))
    q = bh_fdr(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02) and q[2] == pytest.approx(0.04)
