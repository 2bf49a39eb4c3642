import numpy as np
import pytest

from brainattr.masks import (
    distance_matched,
    masked_words,
    n_masked_words,
    replacement_words,
    target_variants,
    top_words,
)


def test_top_words_by_magnitude_ties_by_position():
    np.testing.assert_array_equal(top_words(np.array([0.1, -0.9, 0.5, 0.9]), 2), [1, 3])


def test_masked_words_replaces_only_positions():
    words = ["a", "b", "c"]
    out = masked_words(words, np.array([2]), ["x", "y", "z"])
    assert out == ["a", "b", "z"] and words == ["a", "b", "c"]


def test_n_masked_is_a_ceiling_and_at_least_one():
    assert n_masked_words(0.01, 40) == 1
    assert n_masked_words(0.01, 656) == 7
    assert n_masked_words(0.5, 4) == 2


def test_replacements_follow_token_frequency_and_never_repeat_the_word():
    story = ["the"] * 90 + ["cat"] * 9 + ["sat"]
    span = ["cat"] * 2000
    out = replacement_words(story, span, np.random.default_rng(0))
    assert "cat" not in out
    share = np.mean([w == "the" for w in out])
    # by tokens "the" is 90 of the 91 non-"cat" tokens; by types it would be 1 in 2
    assert 0.97 < share <= 1.0


def test_replacement_of_a_one_word_story_fails_clearly():
    with pytest.raises(ValueError, match="all this one word"):
        replacement_words(["a"] * 5, ["a"], np.random.default_rng(0))


def test_distance_matched_keeps_distances_and_avoids_top_words():
    rng = np.random.default_rng(1)
    n = 60
    for _ in range(50):
        top = rng.choice(n, 3, replace=False)
        got = distance_matched(top, n, rng)
        assert len(got) == 3 and len(set(got)) == 3 and not set(got) & set(top)
        d_top = n - 1 - np.asarray(top)
        d_got = n - 1 - got
        for dt, dg in zip(d_top, d_got, strict=True):
            assert abs(dt - dg) <= max(2, 0.25 * dt) * 2  # at most one widening here


def test_distance_matched_of_the_most_recent_word_stays_recent():
    rng = np.random.default_rng(0)
    got = [distance_matched(np.array([39]), 40, rng)[0] for _ in range(200)]
    assert set(got) == {37, 38}  # distance 1 or 2 from the last word; uniform would be 0..38


def test_variants_share_the_matched_control_of_equal_top_sets():
    rng = np.random.default_rng(0)
    s = np.array([0.1, 0.2, 0.9, 0.3, 0.05, 0.4])
    ba = {("", "sub-01", 3): s, ("", "sub-02", 3): s, ("random_readout", "sub-01", 3): -s[::-1]}
    vs = target_variants(ba, np.arange(6.0), 1, rng)
    by = {(v.mask, v.key): v.positions for v in vs}
    assert by[("nwp_top", None)] == (5,) and by[("ba_top", ("", "sub-01", 3))] == (2,)
    assert by[("ba_matched", ("", "sub-01", 3))] == by[("ba_matched", ("", "sub-02", 3))]
    assert by[("ba_top", ("random_readout", "sub-01", 3))] == (3,)
    assert {v.mask for v in vs} == {"nwp_top", "nwp_matched", "random", "ba_top", "ba_matched"}
