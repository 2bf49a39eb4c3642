import numpy as np
import pandas as pd
import pytest

from brainattr.layers import layer_group, select_layers


def test_layer_group_thirds():
    assert [layer_group(i, 30) for i in (1, 10, 11, 20, 21, 30)] == [
        "early",
        "early",
        "middle",
        "middle",
        "late",
        "late",
    ]
    assert [layer_group(i, 4) for i in (1, 2, 3, 4)] == ["early", "middle", "late", "late"]
    with pytest.raises(ValueError):
        layer_group(0, 30)


def test_select_layers_best_of_each_third():
    ba = pd.DataFrame(
        {
            "layer": [2, 2, 8, 8, 15, 15, 25, 25],
            "subject": ["a", "b"] * 4,
            "mean_ba": [0.1, 0.3, 0.25, 0.25, 0.05, 0.07, 0.2, 0.1],
        }
    )
    t = select_layers(ba, 30)
    assert t.loc[t["selected"], "layer"].tolist() == [8, 15, 25]
    assert t.loc[t["layer"] == 2, "mean_ba"].item() == pytest.approx(0.2)
    assert t["mean_ba_null"].isna().all()  # only a removal control has a null
    with_null = select_layers(ba.assign(null_ba=ba["mean_ba"] / 2), 30)
    np.testing.assert_allclose(with_null["mean_ba_null"], with_null["mean_ba"] / 2)


def test_select_layers_needs_every_third():
    ba = pd.DataFrame({"layer": [2, 8], "subject": ["a", "a"], "mean_ba": [0.1, 0.2]})
    with pytest.raises(ValueError, match=r"models\.<name>\.layers"):
        select_layers(ba, 30)
