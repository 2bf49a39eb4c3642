import numpy as np
import pytest

from brainattr.masking import masked_words, top_words


def test_top_words_by_magnitude_ties_by_position():
    np.testing.assert_array_equal(top_words(np.array([0.1, -0.9, 0.5, 0.9]), 2), [1, 3])


def test_masked_words_replaces_only_positions():
    words = ["a", "b", "c"]
    out = masked_words(words, np.array([2]), ["x", "y", "z"])
    assert out == ["a", "b", "z"] and words == ["a", "b", "c"]


def test_masking_summary_by_hand():
    import pandas as pd

    from brainattr.masking import masking_summary

    t = pd.DataFrame(
        {
            "task": ["ba"] * 6 + ["nwp"] * 3,
            "mask": ["none", "ba_top", "random"] * 2 + ["none", "nwp_top", "ba_top"],
            "subject": ["a"] * 3 + ["b"] * 3 + ["", "", "a"],
            "layer": [3] * 6 + [-1, -1, 3],
            "layer_group": ["early"] * 6 + ["final", "final", "early"],
            "relative": [0, -0.5, -0.1, 0, -0.3, 0.1, 0, 0.4, 0.05],
            "n_masked": 1,
            "n_targets": 5,
        }
    )
    s = masking_summary({"m": t}).set_index(["task", "layer_group", "mask"])["change_percent"]
    assert s[("ba", "early", "ba_top")] == pytest.approx(-40.0)  # mean of -50 and -30 %
    assert s[("ba", "early", "random")] == pytest.approx(0.0)
    assert s[("nwp", "final", "nwp_top")] == pytest.approx(40.0)
    assert s[("nwp", "early", "ba_top")] == pytest.approx(5.0)
    assert "none" not in s.index.get_level_values("mask")
