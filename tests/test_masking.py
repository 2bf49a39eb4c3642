import numpy as np

from brainattr.masking import masked_words, top_words


def test_top_words_by_magnitude_ties_by_position():
    np.testing.assert_array_equal(top_words(np.array([0.1, -0.9, 0.5, 0.9]), 2), [1, 3])


def test_masked_words_replaces_only_positions():
    words = ["a", "b", "c"]
    out = masked_words(words, np.array([2]), ["x", "y", "z"])
    assert out == ["a", "b", "z"] and words == ["a", "b", "c"]
