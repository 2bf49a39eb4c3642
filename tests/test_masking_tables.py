import numpy as np
import pytest

from brainattr.design import pearson_r
from brainattr.masking_tables import resampled_r


def test_resampled_r_is_pearson_r_and_weights_duplicate_targets():
    rng = np.random.default_rng(0)
    pred, y = rng.standard_normal((2, 30, 5)), rng.standard_normal((30, 5))
    plain = resampled_r(pred, y, np.ones((1, 30)))[0]
    assert plain == pytest.approx(np.mean([pearson_r(p, y).mean() for p in pred]))
    counts = np.ones((1, 30))
    counts[0, :10] = 2
    dup = np.concatenate([np.arange(30), np.arange(10)])
    want = np.mean([pearson_r(p[dup], y[dup]).mean() for p in pred])
    assert resampled_r(pred, y, counts)[0] == pytest.approx(want)
