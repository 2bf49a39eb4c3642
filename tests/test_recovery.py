import numpy as np
import pandas as pd
import pytest

from brainattr.recovery import recovery_table


def test_recovery_by_hand():
    # one BA context: "Marta" holds 80 % of the mass; base rate 1 of 4 words
    scores = pd.DataFrame(
        {
            "task": "ba",
            "subject": "s",
            "layer": 3,
            "layer_group": "early",
            "target_tr": 5,
            "word_index": [0, 1, 2, 3],
            "distance": [3, 2, 1, 0],
            "word": ["the", "Marta,", "went", "home"],
            "score": [0.1, -0.8, 0.05, 0.05],
        }
    )
    t = recovery_table(scores, ["marta"], 0.1)
    row = t.iloc[0]
    assert row["share_in_top"] == 1.0 and row["base_rate"] == 0.25
    assert row["ratio"] == pytest.approx(4.0) and row["n_top_words"] == 1


def test_run_recovery_adds_rows_for_each_null(tmp_path):
    from brainattr.demo import make_demo_dataset
    from brainattr.recovery import run_recovery
    from brainattr.tables import SCORES

    params = dict(n_runs=2, tr=2.0, word_seconds=0.5, rest_before_seconds=4.0,
                  rest_after_seconds=4.0, n_subjects=1, n_voxels=4, driver_voxel_fraction=0.5,
                  snr=1.0, max_words=120, n_repeats=0)  # fmt: skip
    make_demo_dataset(tmp_path / "d", params, seed=0)
    words = ["Marta", "the", "fog", "Marta"]
    rows = [("nwp", "gxi", "", -1, "final", 5, 0, i, 3 - i, w, float(i == 0))
            for i, w in enumerate(words)]  # fmt: skip
    rows += [("ba", "gxi", "a", 3, "early", 5, 0, i, 3 - i, w, float(i == 3))
             for i, w in enumerate(words)]  # fmt: skip
    scores = pd.DataFrame(rows, columns=SCORES)
    scores.to_parquet(tmp_path / "s.parquet")
    null = scores[scores["task"] == "ba"].assign(score=[0.0, 1.0, 0.0, 0.0], null="shifted_bold")
    null.to_parquet(tmp_path / "n.parquet")
    run_recovery(tmp_path / "d", {"m": tmp_path / "s.parquet"}, 0.1, tmp_path / "r.tsv",
                 {"m": tmp_path / "n.parquet"})  # fmt: skip
    t = pd.read_csv(tmp_path / "r.tsv", sep="\t", keep_default_na=False)
    share = {(r.task, r.null): r.share_in_top for r in t.itertuples()}
    assert share == {("ba", ""): 1.0, ("nwp", ""): 1.0, ("ba", "shifted_bold"): 0.0}


def test_per_target_enrichment_is_block_tested_and_compared_with_the_null():
    """40 targets, two subjects: BA's important word is always the span's one driver word of
    four (enrichment 1 - 1/4), the null's never is (-1/4): the brain data add +1."""
    from brainattr.recovery import brain_minus_null
    from brainattr.statistics import StoryBlocks

    rows = []
    for tr in range(40):
        for s in ("a", "b"):
            rows += [("ba", "gxi", s, 3, "early", tr, 0, i, 3 - i, w, float(i == 1))
                     for i, w in enumerate(["the", "Marta", "went", "home"])]  # fmt: skip
    from brainattr.tables import SCORES

    scores = pd.DataFrame(rows, columns=SCORES)
    blocks = StoryBlocks(np.zeros(40, int), 4)
    row = recovery_table(scores, ["marta"], 0.1, blocks, 500, 0).iloc[0]
    assert row["effect"] == pytest.approx(0.75) and row["ci_low"] == pytest.approx(0.75)
    assert row["p"] < 0.01
    null = scores.assign(score=np.tile([1.0, 0, 0, 0], 80))
    gap = brain_minus_null(scores, null, ["marta"], 0.1, blocks, 500, 0)["early"]
    assert gap[0] == pytest.approx(1.0) and gap[3] < 0.01
