import numpy as np
import torch

from brainattr.windows import StoryWindows, Window, pooled_states, pooling_weights, window_range


def test_window_range():
    assert window_range(10, 14, 4) == (6, 14)
    assert window_range(2, 5, 640) == (0, 5)


def test_window_range_respects_the_floor():
    assert window_range(10, 12, 4) == (6, 12)
    assert window_range(10, 12, 4, floor=8) == (8, 12)
    assert window_range(2, 5, 4) == (0, 5)


def test_pooling_weights_mean_of_token_means():
    # window words 0,1,2; TR words are 1 (two tokens) and 2 (one token)
    w = pooling_weights(np.array([0, 1, 1, 2]), first_pooled=1)
    np.testing.assert_allclose(w, [0, 0.25, 0.25, 0.5])


def test_batched_windows_equal_single_windows(tiny_lm):
    words = ("one two three four five six seven eight nine ten eleven twelve").split()
    wins = [Window(tiny_lm, words, 0, 12, 8), Window(tiny_lm, words, 4, 7, 5)]
    with torch.no_grad():
        batched = pooled_states(tiny_lm, wins, [2, 4])
        for i, w in enumerate(wins):
            single = pooled_states(tiny_lm, [w], [2, 4])
            torch.testing.assert_close(batched[i], single[0], rtol=1e-10, atol=1e-10)


def test_story_windows_define_every_window_once(tiny_lm):
    words = [f"w{i}" for i in range(12)]
    word_tr = np.array([0, 0, 0, 1, 1, 3, 3, 3, 4, 4, 4, 4])  # TR 2 has no words
    floor = np.array([0, 0, 0, 0, 8])  # TR 4 starts a new story at word 8
    windows = StoryWindows(words, word_tr, 5, 4, floor)
    assert windows.trs_with_words() == [0, 1, 3, 4]
    assert windows.range(3) == (1, 8) and windows.range(4) == (8, 12)
    by_tr = windows.tr_windows(tiny_lm)
    assert sorted(by_tr) == [0, 1, 3, 4]
    w3 = by_tr[3]
    assert (w3.start, w3.stop) == (1, 8)
    np.testing.assert_array_equal(np.unique(w3.token_word_abs), np.arange(1, 8))
    assert w3.weights[w3.token_word_abs < 5].sum() == 0  # only TR 3's words are pooled
    delay = windows.delay_windows(tiny_lm, [3, None, 1])  # a target marks TR 2 None
    assert delay[1] is None and (delay[2].start, delay[2].stop) == (0, 5)
    masked = windows.delay_windows(tiny_lm, [3], ["x"] * 12)[0]
    assert (masked.start, masked.stop) == (1, 8) and not np.array_equal(masked.ids, w3.ids)
