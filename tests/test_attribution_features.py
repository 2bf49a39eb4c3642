import h5py
import numpy as np
import pytest

from brainattr.attribution.nwp import nwp_word_scores
from brainattr.attribution_features import (
    attribution_features,
    recent_word_vector,
    run_attribution_features,
    word_targets,
)
from brainattr.dataset import read_dataset
from brainattr.windows import StoryWindows

WORDS = "the cat sat on the mat and then it slept very soundly all night long".split()


def _windows(context_words=3, floor=None):
    # 15 words over 6 TRs; TR 2 has none
    word_tr = np.array([0, 0, 1, 1, 1, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5])
    return StoryWindows(WORDS, word_tr, 6, context_words, floor)


def test_each_word_predicts_the_next_from_its_trs_window():
    w = _windows()
    targets = word_targets(w)
    assert [t.next_word for t in targets] == list(range(1, 15))  # the last word has none
    for t in targets:
        i = t.next_word - 1
        assert t.span_stop == i + 1 and t.span_start == w.range(t.tr)[0]
        assert w.first[t.tr] <= i < w.stop[t.tr]


def test_no_word_predicts_across_a_story_border():
    # TRs 4-5 are a second story (its context floor is word 7)
    w = _windows(floor=np.array([0, 0, 0, 0, 7, 7]))
    targets = word_targets(w)
    assert 7 not in [t.next_word for t in targets]  # word 6 ends story one
    assert min(t.span_start for t in targets if t.tr >= 4) == 7


def test_story_borders_hold_for_words_outside_every_tr():
    """Run two starts at word 6 (its context floor), whose first word lies before run two's
    first TR (-1); run two's last word also lies outside every TR."""
    words = [f"w{i}" for i in range(10)]
    word_tr = np.array([0, 0, 1, 1, 2, 2, -1, 3, 3, -1])
    w = StoryWindows(words, word_tr, 5, 3, np.array([0, 0, 0, 6, 6]))
    pairs = [(t.tr, t.next_word) for t in word_targets(w)]
    assert (2, 6) not in pairs  # word 5 ends story one
    assert (3, 9) in pairs  # word 8 still predicts its story's last word
    assert [n for _, n in pairs] == [1, 2, 3, 4, 5, 8, 9]


def test_recent_word_vector_is_most_recent_first_and_zero_padded():
    scores = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(recent_word_vector(scores, 2), [[3, 2], [6, 5]])
    np.testing.assert_array_equal(recent_word_vector(scores, 5), [[3, 2, 1, 0, 0], [6, 5, 4, 0, 0]])


@pytest.mark.parametrize("batch_tokens", [10_000, 40])
def test_tr_features_are_the_mean_of_their_words_literal_scores(tiny_lm, batch_tokens):
    """Against the one-target NWP reference (itself tested against autograd), word by word,
    per layer through the logit lens; chunking and batching change nothing."""
    w = _windows()
    layers = [1, tiny_lm.n_layers]
    got = attribution_features(tiny_lm, w, layers, 4, batch_tokens)
    ref = np.zeros((2, 6, 4))
    count = np.zeros(6)
    for t in word_targets(w):
        ref[:, t.tr] += recent_word_vector(nwp_word_scores(tiny_lm, WORDS, t, readouts=layers), 4)
        count[t.tr] += 1
    ref /= np.maximum(count, 1)[None, :, None]
    for i, layer in enumerate(layers):
        assert got[layer].shape == (6, 4) and got[layer].dtype == np.float32
        np.testing.assert_allclose(got[layer], ref[i], rtol=1e-5, atol=1e-6)
    assert not got[1][2].any()  # a TR without words
    assert not np.allclose(got[1], got[layers[1]])  # each layer its own readout


def test_the_stage_writes_a_features_file_the_encoding_reads(tiny_spec, tiny_run, tmp_path):
    out = tmp_path / "features.h5"
    run_attribution_features(tiny_run["data"], tiny_spec, 6, 5, out, device="cpu")
    n_trs = len(read_dataset(tiny_run["data"]).trs)
    with h5py.File(out) as f:
        assert sorted(f) == ["layer_1", "layer_2", "layer_3"]
        assert f["layer_2"].shape == (n_trs, 5)
        assert f.attrs["kind"] == "nwp_attribution" and f.attrs["attribution_words"] == 5
        # recency: the most recent word carries the most attribution on average
        x = np.abs(f["layer_3"][()])
        assert x[:, 0].mean() > x[:, 4].mean()
