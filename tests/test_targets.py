import numpy as np
import pandas as pd

from brainattr.dataset import Dataset
from brainattr.targets import eligible_targets, read_targets, sample_targets, write_targets
from brainattr.windows import StoryWindows


def _toy_dataset(runs_continue: bool = True) -> Dataset:
    n_trs = 12
    word_tr = [2, 2, 3, 3, 4, 5, 5, 6, 8, 9, 9, 10]
    words = pd.DataFrame(
        {
            "word_index": range(12),
            "word": list("abcdefghijkl"),
            "onset": [2.0 * t + 0.5 * (i % 2) for i, t in enumerate(word_tr)],
            "offset": 0.0,
            "run": [1] * 8 + [2] * 4,
        }
    )
    words["offset"] = words["onset"] + 0.5
    trs = pd.DataFrame(
        {
            "tr_index": range(n_trs),
            "onset": np.arange(n_trs) * 2.0,
            "run": [1] * 7 + [2] * 5,
            "kept": True,
        }
    )
    return Dataset("toy", 2.0, words, trs, ["s"], {"runs_continue": runs_continue})


def test_eligible_targets_by_hand():
    ds = _toy_dataset()
    np.testing.assert_array_equal(ds.word_tr, [2, 2, 3, 3, 4, 5, 5, 6, 8, 9, 9, 10])
    targets = eligible_targets(ds, StoryWindows.of_dataset(ds, 2), 2, np.zeros(12, int))
    # t needs t-1, t-2 in its run, words in t-1, and a next word after t-1
    # TR 11 is out: its TR t-1 = 10 holds the story's last word, so no next word
    assert [t.tr for t in targets] == [3, 4, 5, 6, 9, 10]
    t5 = targets[2]
    assert t5.delay_trs == [4, 3] and (t5.span_start, t5.span_stop, t5.next_word) == (0, 5, 5)
    np.testing.assert_array_equal(t5.distance(np.arange(0, 5)), [4, 3, 2, 1, 0])
    t10 = targets[-1]  # windows reach back across the run border: the story is continuous
    assert t10.delay_trs == [9, 8]
    assert (t10.span_start, t10.span_stop, t10.next_word) == (6, 11, 11)
    # separate stories: the context stops at the first word of TR 10's story (word 8)
    ds = _toy_dataset(False)
    stories = eligible_targets(ds, StoryWindows.of_dataset(ds, 2), 2, np.zeros(12, int))
    assert (stories[-1].span_start, stories[-1].span_stop) == (8, 11)
    assert sample_targets(targets, 3, seed=1) == sample_targets(targets, 3, seed=1)
    assert len(sample_targets(targets, 0, seed=1)) == len(targets)


def test_targets_tsv_round_trips_every_field(tmp_path):
    ds = _toy_dataset()
    targets = eligible_targets(ds, StoryWindows.of_dataset(ds, 2), 3, np.arange(12) % 2)
    targets[0].delay_trs[-1] = None  # a delay TR without words
    write_targets(targets, tmp_path / "targets.tsv")
    assert read_targets(tmp_path / "targets.tsv") == targets
    table = pd.read_csv(tmp_path / "targets.tsv", sep="\t")
    assert table["delay_trs"].iloc[0].endswith("NA")
