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
