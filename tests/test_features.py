import numpy as np
import torch

from brainattr.features import (
    Window,
    delay_features,
    extract_features,
    pooled_states,
    pooling_weights,
    window_range,
)
from brainattr.models import hidden_states


def test_window_range():
    assert window_range(10, 14, 4) == (6, 14)
    assert window_range(2, 5, 640) == (0, 5)


def test_pooling_weights_mean_of_token_means():
    # window words 0,1,2; TR words are 1 (two tokens) and 2 (one token)
    w = pooling_weights(np.array([0, 1, 1, 2]), first_pooled=1)
    np.testing.assert_allclose(w, [0, 0.25, 0.25, 0.5])


def test_delay_features_by_hand():
    x = np.arange(10, dtype=float).reshape(5, 2)  # rows [0,1],[2,3],...
    runs = np.array([1, 1, 1, 2, 2])
    d = delay_features(x, runs, 2)
    expected = np.array(
        [
            [0, 0, 0, 0],
            [0, 1, 0, 0],
            [2, 3, 0, 1],
            [0, 0, 0, 0],  # first TR of run 2: delays fall in run 1 -> zero
            [6, 7, 0, 0],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(d, expected)


def test_early_stop_equals_output_hidden_states(tiny_lm):
    e = tiny_lm.embed(torch.arange(40).reshape(2, 20))
    full = tiny_lm.model(inputs_embeds=e, output_hidden_states=True).hidden_states
    part = hidden_states(tiny_lm, e, None, max_layer=2)
    assert len(part) == 3
    for a, b in zip(part, full[:3], strict=False):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_extract_features_matches_a_single_window_pass(tiny_lm):
    words = "the lantern keeper climbed the hill in the fog at night with Marta".split()
    word_tr = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    feats = extract_features(tiny_lm, words, word_tr, 4, [1, 3], context_words=5, batch_tokens=7)
    # by hand: TR 2 = words 8..11, window = words 3..11
    ids, owner = tiny_lm.encode_words(words[3:12])
    hs = tiny_lm.model(input_ids=ids[None], output_hidden_states=True).hidden_states
    for layer in (1, 3):
        word_means = [hs[layer][0, owner == i].mean(0) for i in range(5, 9)]
        expected = torch.stack(word_means).mean(0).numpy()
        np.testing.assert_allclose(feats[layer][2], expected, rtol=1e-5, atol=1e-6)
    assert (feats[1][3] == 0).all()  # a TR without words


def test_batched_windows_equal_single_windows(tiny_lm):
    words = ("one two three four five six seven eight nine ten eleven twelve").split()
    wins = [Window(tiny_lm, words, 0, 12, 8), Window(tiny_lm, words, 4, 7, 5)]
    with torch.no_grad():
        batched = pooled_states(tiny_lm, wins, [2, 4])
        for i, w in enumerate(wins):
            single = pooled_states(tiny_lm, [w], [2, 4])
            torch.testing.assert_close(batched[i], single[0], rtol=1e-10, atol=1e-10)


def test_window_range_respects_the_floor():
    assert window_range(10, 12, 4) == (6, 12)
    assert window_range(10, 12, 4, floor=8) == (8, 12)
    assert window_range(2, 5, 4) == (0, 5)


def test_strided_mode(tiny_lm):
    from brainattr.features import extract_features, strided_chunks

    words = [f"w{i % 13}" for i in range(60)]
    word_tr = np.repeat(np.arange(20), 3)  # 3 words per TR
    floor = np.where(np.arange(20) < 10, 0, 30)  # two stories of 10 TRs
    exact = extract_features(tiny_lm, words, word_tr, 20, [1, 3], 6, floor=floor)
    # a stride of one TR's words: every chunk is exactly the exact window
    one = extract_features(tiny_lm, words, word_tr, 20, [1, 3], 6, floor=floor,
                           mode="strided", stride_words=3)  # fmt: skip
    for layer in (1, 3):
        np.testing.assert_allclose(one[layer], exact[layer], rtol=1e-6, atol=1e-7)
    chunks = strided_chunks(tiny_lm, words, word_tr, 20, 6, 9, floor)
    assert [sorted(c.weights) for c in chunks][:2] == [[0, 1, 2], [3, 4, 5]]
    for c in chunks:
        trs = sorted(c.weights)
        assert len({int(floor[t]) for t in trs}) == 1  # never across two stories
        assert c.start == max(floor[trs[0]], 3 * trs[0] - 6)  # >= L words before each TR
    wide = extract_features(tiny_lm, words, word_tr, 20, [1, 3], 6, floor=floor,
                            mode="strided", stride_words=9)  # fmt: skip
    np.testing.assert_allclose(wide[1][[0, 3, 10]], exact[1][[0, 3, 10]], rtol=1e-6, atol=1e-7)
    assert not np.allclose(wide[3][5], exact[3][5])  # TR 5 saw more context than its window
