import numpy as np
import pandas as pd
import pytest

from brainattr.design import pearson_r
from brainattr.masking_tables import masking_summary, resampled_r


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


def test_masking_summary_takes_the_pooled_rows_and_nwps_own():
    t = pd.DataFrame(
        {
            "task": ["ba"] * 4 + ["nwp"] * 4,
            "mask": ["none", "ba_top", "ba_top", "ba_top", "none", "nwp_top", "ba_top", "ba_top"],
            "subject": ["a", "a", "mean", "mean", "", "", "a", "mean"],
            "layer": [3, 3, -1, -1, -1, -1, 3, -1],
            "layer_group": ["early", "early", "early", "all", "final", "final", "early", "early"],
            "relative": [0, -0.5, -0.4, -0.45, 0, 0.4, 0.07, 0.05],
            "ci_low": [0, -0.7, -0.6, -0.6, 0, 0.3, 0.0, 0.01],
            "ci_high": [0, -0.3, -0.2, -0.3, 0, 0.5, 0.1, 0.09],
            "n_masked": 1.0,
            "n_targets": 5,
            "n_seeds": 5,
        }
    )
    summary = masking_summary({"m": t}).set_index(["task", "layer_group", "mask"])
    assert len(summary) == 4  # per-head rows and unmasked rows left out
    assert summary.loc[("ba", "early", "ba_top"), "change_percent"] == pytest.approx(-40.0)
    assert summary.loc[("ba", "early", "ba_top"), "ci_low_percent"] == pytest.approx(-60.0)
    assert summary.loc[("ba", "all", "ba_top"), "change_percent"] == pytest.approx(-45.0)
    assert summary.loc[("nwp", "final", "nwp_top"), "change_percent"] == pytest.approx(40.0)
    assert summary.loc[("nwp", "early", "ba_top"), "change_percent"] == pytest.approx(5.0)
