import json

import numpy as np
import pandas as pd
import pytest

from brainattr.dataset import (
    DatasetError,
    assign_words_to_trs,
    read_dataset,
    read_responses,
    read_word_groups,
    roi_mask,
    tr_word_ranges,
    write_dataset,
    write_word_groups,
)

from .conftest import shared_path


def test_assign_words_to_trs_by_hand():
    # two runs, TR 2 s; TR onsets 0,2,4 (run 1) and 6,8 (run 2)
    tr_onsets = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
    tr_runs = np.array([1, 1, 1, 2, 2])
    words = np.array([0.0, 1.5, 2.0, 3.99, 5.9, 6.0, 9.5, 10.0])
    runs = np.array([1, 1, 1, 1, 1, 2, 2, 2])
    got = assign_words_to_trs(words, runs, tr_onsets, tr_runs, 2.0)
    # 5.9 is inside TR 2 ([4, 6)); 10.0 falls after the last TR of run 2
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 2, 3, 4, -1])


def test_tr_word_ranges():
    first, stop = tr_word_ranges(np.array([0, 0, 2, 2, 2]), 4)
    np.testing.assert_array_equal(first, [0, 0, 2, 0])
    np.testing.assert_array_equal(stop, [2, 0, 5, 0])


def test_real_hp_timing_four_words_per_tr():
    """On HP's real timings every word lands in a TR of its run, at most 4 words per TR."""
    tr_onsets = np.load(shared_path("data/hp/time_fmri.npy"))
    tr_runs = np.load(shared_path("data/hp/runs_fmri.npy"))
    word_onsets = np.load(shared_path("data/hp/time_words_fmri.npy"))
    # a word's run is the run of the last TR starting at or before it
    word_runs = tr_runs[np.searchsorted(tr_onsets, word_onsets, side="right") - 1]
    got = assign_words_to_trs(word_onsets, word_runs, tr_onsets, tr_runs, 2.0)
    assert got.shape == (5176,) and (got >= 0).all()
    counts = np.bincount(got, minlength=len(tr_onsets))
    assert counts.max() == 4
    assert counts.sum() == 5176


def _tables(n_words=6, n_trs=8):
    """Words in run 1; TRs 0-3 in run 1 (TR 0 not kept), 4-7 in run 2: leave-one-run-out
    needs two runs with kept TRs."""
    words = pd.DataFrame(
        {
            "word_index": range(n_words),
            "word": list("abcdef")[:n_words],
            "onset": np.arange(n_words) * 0.5 + 2,
            "offset": np.arange(n_words) * 0.5 + 2.5,
            "run": 1,
        }
    )
    trs = pd.DataFrame(
        {
            "tr_index": range(n_trs),
            "onset": np.arange(n_trs) * 2.0,
            "run": [1] * 4 + [2] * (n_trs - 4),
            "kept": [False] + [True] * (n_trs - 1),
        }
    )
    return words, trs


def test_roundtrip(tmp_path):
    words, trs = _tables()
    bold = np.random.default_rng(0).standard_normal((8, 5))
    roi = np.array([True, False, True, False, True])
    write_dataset(
        tmp_path, "toy", 2.0, words, trs, {"s1": bold}, {"s1": {"lang": roi}}, {"source": "test"}
    )
    ds = read_dataset(tmp_path)
    assert ds.name == "toy" and ds.tr == 2.0 and ds.subjects == ["s1"]
    assert ds.meta["source"] == "test"
    assert ds.trs["kept"].dtype == bool
    np.testing.assert_array_equal(ds.word_tr, [1, 1, 1, 1, 2, 2])
    b, rois = read_responses(tmp_path, "s1")
    np.testing.assert_allclose(b, bold.astype(np.float32))
    np.testing.assert_array_equal(rois["lang"], roi)
    assert roi_mask(rois, "all", 5).all()
    with pytest.raises(DatasetError, match=r"ROI 'ifg' not found.*lang"):
        roi_mask(rois, "ifg", 5)
    with pytest.raises(DatasetError, match="no subject 's9'"):
        read_responses(tmp_path, "s9")


def test_word_groups_roundtrip_and_errors(tmp_path):
    groups = pd.DataFrame({"word_index": range(3), "names": [True, False, True]})
    with pytest.raises(DatasetError, match=r"word_groups\.tsv does not exist"):
        read_word_groups(tmp_path, 3)
    write_word_groups(tmp_path, groups)
    back = read_word_groups(tmp_path, 3)
    assert back["names"].dtype == bool and back["names"].tolist() == [True, False, True]
    with pytest.raises(DatasetError, match="expected word_index and 4 rows"):
        read_word_groups(tmp_path, 4)
    (tmp_path / "word_groups.tsv").write_text("word_index\tnames\n0\t2\n")
    with pytest.raises(DatasetError, match=r"\['names'\] must hold 0 or 1"):
        read_word_groups(tmp_path, 1)
    with pytest.raises(DatasetError, match=r"0\.\.n_words-1"):
        write_word_groups(tmp_path, groups.assign(word_index=[0, 2, 1]))


def test_missing_file_and_bad_tables(tmp_path):
    with pytest.raises(DatasetError, match=r"lacks dataset\.json"):
        read_dataset(tmp_path)
    words, trs = _tables()
    with pytest.raises(DatasetError, match=r"s1: bold has shape \(3, 2\) but trs.tsv has 8"):
        write_dataset(tmp_path, "toy", 2.0, words, trs, {"s1": np.zeros((3, 2))})
    words.loc[0, "word_index"] = 7
    with pytest.raises(DatasetError, match="word_index"):
        write_dataset(tmp_path, "toy", 2.0, words, trs, {"s1": np.zeros((8, 2))})


def test_roi_list_is_the_union():
    rois = {"a": np.array([1, 0, 0], bool), "b": np.array([0, 0, 1], bool)}
    np.testing.assert_array_equal(roi_mask(rois, ["a", "b"], 3), [True, False, True])
    with pytest.raises(DatasetError, match="ROI 'c', 'd' not found"):
        roi_mask(rois, ["a", "c", "d"], 3)


def test_context_floor_stops_at_a_story_start(tmp_path):
    words = pd.DataFrame(
        {
            "word_index": range(6),
            "word": list("abcdef"),
            "onset": [0.5, 1, 2.5, 10.5, 11, 12.5],
            "offset": [1, 1.5, 3, 11, 11.5, 13],
            "run": [1, 1, 1, 2, 2, 2],
        }
    )
    trs = pd.DataFrame(
        {
            "tr_index": range(8),
            "onset": [0, 2, 4, 6, 10, 12, 14, 16],
            "run": [1] * 4 + [2] * 4,
            "kept": [True] * 8,
        }
    )
    bold = {"s": np.zeros((8, 2))}
    write_dataset(tmp_path / "stories", "x", 2.0, words, trs, bold)
    write_dataset(tmp_path / "chapter", "x", 2.0, words, trs, bold, runs_continue=True)
    stories, chapter = read_dataset(tmp_path / "stories"), read_dataset(tmp_path / "chapter")
    assert not stories.runs_continue and chapter.runs_continue
    np.testing.assert_array_equal(stories.context_floor, [0, 0, 0, 0, 3, 3, 3, 3])
    np.testing.assert_array_equal(chapter.context_floor, np.zeros(8))


def test_tr_conventions_on_hps_real_timings():
    """On HP's real timings, "toneva" assigns every word as the Toneva lab's HP code does
    (``np.where(time_words[i] > time)[0][-1]``) and "window" moves exactly the words whose onset
    is a TR onset (a quarter of them) one TR later."""
    from brainattr.dataset import assign_words_to_trs

    folder = shared_path("data", "hp")
    time = np.load(folder / "time_fmri.npy").ravel()
    runs = np.load(folder / "runs_fmri.npy").ravel()
    words = np.load(folder / "time_words_fmri.npy").ravel()
    literal = np.array([np.where(w > time)[0][-1] for w in words])
    # every word lies within the TRs of one run; the run is that of its (literal) TR
    word_runs = runs[literal]
    toneva = assign_words_to_trs(words, word_runs, time, runs, 2.0, "toneva")
    np.testing.assert_array_equal(toneva, literal)
    window = assign_words_to_trs(words, word_runs, time, runs, 2.0, "window")
    at_onset = np.isin(np.round(words, 6), np.round(time, 6))
    assert 0.2 < at_onset.mean() < 0.3
    np.testing.assert_array_equal(window[at_onset], literal[at_onset] + 1)
    np.testing.assert_array_equal(window[~at_onset], literal[~at_onset])


def test_tr_assignment_is_read_from_dataset_json(tmp_path):
    words, trs = _tables()  # words at 2.0, 2.5, ..., 4.5 s; TR onsets 0, 2, 4, 6
    bold = np.zeros((8, 2))
    write_dataset(tmp_path, "toy", 2.0, words, trs, {"s1": bold}, {}, {"tr_assignment": "toneva"})
    ds = read_dataset(tmp_path)
    # the words at 2.0 and 4.0 s (TR onsets) belong to the TR before
    assert ds.tr_assignment == "toneva"
    np.testing.assert_array_equal(ds.word_tr, [0, 1, 1, 1, 1, 2])
    info = json.loads((tmp_path / "dataset.json").read_text())
    (tmp_path / "dataset.json").write_text(json.dumps({**info, "tr_assignment": "nearest"}))
    with pytest.raises(DatasetError, match="tr_assignment 'nearest'; allowed: window, toneva"):
        read_dataset(tmp_path)
