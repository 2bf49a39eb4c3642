import numpy as np
import torch

from brainattr.features import extract_features
from brainattr.models import hidden_states
from brainattr.windows import StoryWindows


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
    windows = StoryWindows(words, word_tr, 4, context_words=5)
    feats = extract_features(tiny_lm, windows, [1, 3], batch_tokens=7)
    # by hand: TR 2 = words 8..11, window = words 3..11
    ids, owner = tiny_lm.encode_words(words[3:12])
    hs = tiny_lm.model(input_ids=ids[None], output_hidden_states=True).hidden_states
    for layer in (1, 3):
        word_means = [hs[layer][0, owner == i].mean(0) for i in range(5, 9)]
        expected = torch.stack(word_means).mean(0).numpy()
        np.testing.assert_allclose(feats[layer][2], expected, rtol=1e-5, atol=1e-6)
    assert (feats[1][3] == 0).all()  # a TR without words


def test_strided_mode(tiny_lm):
    words = [f"w{i % 13}" for i in range(60)]
    word_tr = np.repeat(np.arange(20), 3)  # 3 words per TR
    floor = np.where(np.arange(20) < 10, 0, 30)  # two stories of 10 TRs
    windows = StoryWindows(words, word_tr, 20, 6, floor)
    exact = extract_features(tiny_lm, windows, [1, 3])
    # a stride of one TR's words: every chunk is exactly the exact window
    one = extract_features(tiny_lm, windows, [1, 3], mode="strided", stride_words=3)
    for layer in (1, 3):
        np.testing.assert_allclose(one[layer], exact[layer], rtol=1e-6, atol=1e-7)
    chunks = windows.strided_chunks(tiny_lm, 9)
    assert [sorted(c.weights) for c in chunks][:2] == [[0, 1, 2], [3, 4, 5]]
    for c in chunks:
        trs = sorted(c.weights)
        assert len({int(floor[t]) for t in trs}) == 1  # never across two stories
        assert c.start == max(floor[trs[0]], 3 * trs[0] - 6)  # >= L words before each TR
    wide = extract_features(tiny_lm, windows, [1, 3], mode="strided", stride_words=9)
    np.testing.assert_allclose(wide[1][[0, 3, 10]], exact[1][[0, 3, 10]], rtol=1e-6, atol=1e-7)
    assert not np.allclose(wide[3][5], exact[3][5])  # TR 5 saw more context than its window
