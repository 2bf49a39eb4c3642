import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from brainattr.dataset import DatasetError
from brainattr.linguistic import linguistic_table, null_linguistic_table, primary_rows
from brainattr.sources.hp import story_feature_groups

from .conftest import shared_path


def _write_features(path, values: dict[str, np.ndarray]):
    feats = np.empty((1, len(values)), dtype=[("type", "O"), ("names", "O"), ("values", "O")])
    for i, (name, v) in enumerate(values.items()):
        feats[0, i] = (name, np.array([name], dtype=object), v)
    savemat(path, {"features": feats})


def test_groups_by_hand(tmp_path):
    z = np.zeros((4, 1))
    values = {
        "NNSE": np.array([[0.0, 0.2], [0, 0], [0, 0], [0.1, 0]]),
        "Part_of_speech": np.array([[0], [1], [0], [0]]),
        "Dependency_role": np.array([[0], [0], [1], [0]]),
        "Speech": z, "Motion": z, "Emotion": z, "Verbs": z,
        "Characters": np.array([[0], [0], [0], [1]]),
    }  # fmt: skip
    _write_features(tmp_path / "f.mat", values)
    # presented words are slots 3, 1, 0 (slot 2 was a fixation cross)
    g = story_feature_groups(tmp_path / "f.mat", np.array([3, 1, 0]))
    assert g["semantic"].tolist() == [True, False, True]
    assert g["syntactic"].tolist() == [False, True, False]
    assert g["discourse"].tolist() == [True, False, False]
    del values["Verbs"]
    _write_features(tmp_path / "g.mat", values)
    with pytest.raises(DatasetError, match="Verbs"):
        story_feature_groups(tmp_path / "g.mat", np.array([0]))


def test_real_story_features_groups():
    path = shared_path("data", "hp", "story_features.mat")
    g = story_feature_groups(path, np.arange(5176))
    # shares of the 5176 slots with any non-zero value (checked on the real file)
    assert g["semantic"].mean() == pytest.approx(0.607, abs=1e-3)
    assert 0.95 < g["syntactic"].mean() < 0.97
    # the selective groups (README, "Definitions"): content and function words partition the
    # tagged words; the per-word annotations are sparse
    assert not (g["content"] & g["function"]).any()
    assert g["content"].mean() == pytest.approx(0.563, abs=1e-3)
    assert g["function"].mean() == pytest.approx(0.378, abs=1e-3)
    assert g["characters"].mean() == pytest.approx(0.119, abs=1e-3)
    assert g["emotion_words"].mean() < 0.05 and g["story_verbs"].mean() < 0.05


def _hand_scores():
    rows = []
    ba = [10.0, 0.0, 0.0, 1.0]  # top 50 %: word 0
    nwp = [0.0, 0.0, 10.0, 9.0]  # top 50 %: word 2 ... top 60 %: words 2, 3
    for task, subject, layer, s in (("ba", "A", 3, ba), ("nwp", "", -1, nwp)):
        rows.append(
            pd.DataFrame(
                {"task": task, "subject": subject, "layer": layer, "layer_group": "early",
                 "target_tr": 7, "word_index": np.arange(4) + 10, "score": s}
            )
        )  # fmt: skip
    groups = pd.DataFrame(
        {
            "word_index": np.arange(14),
            "g": np.isin(np.arange(14), [10, 12, 13]),
            "empty": np.zeros(14, bool),
        }
    )
    return pd.concat(rows), groups


def test_linguistic_shares_by_hand():
    scores, groups = _hand_scores()
    t = linguistic_table(scores, groups, [0.6])
    g = t[t["group"] == "g"].iloc[0]
    assert g.n_group_words == 3
    # group words 10 (BA only), 12 and 13 (NWP only at 60 %: 10/19 < 0.6 -> both 12 and 13)
    assert (g.ba_only, g.both, g.nwp_only) == pytest.approx((1 / 3, 0, 2 / 3))
    # enrichment: BA's set {10} is all group words (1 / (3/4)); NWP's {12, 13} too
    assert (g.enrichment_ba, g.enrichment_nwp) == pytest.approx((4 / 3, 4 / 3))
    assert np.isnan(t[t["group"] == "empty"].iloc[0].ba_only)


def test_null_shares_use_the_nulls_ba_and_the_same_nwp():
    scores, groups = _hand_scores()
    ba = scores[scores["task"] == "ba"]
    # the null's BA puts its mass on word 13, which NWP also finds important: "both"
    null = ba.assign(score=[0.0, 0.0, 0.0, 10.0], null="random_readout")
    t = null_linguistic_table(scores, null, groups, [0.6])
    g = t[t["group"] == "g"].iloc[0]
    assert g.null == "random_readout"
    assert (g.ba_only, g.both, g.nwp_only) == pytest.approx((0, 1 / 3, 1 / 3))
    assert null_linguistic_table(scores, null.iloc[:0], groups, [0.6]).empty


def test_logit_lens_rows_pair_ba_with_nwp_at_its_layer_beside_the_papers_pairing():
    scores, groups = _hand_scores()
    nwp = scores[scores["task"] == "nwp"]
    # NWP read at layer 3 (logit lens) puts its mass where BA does: word 10 is "both"
    lens = nwp.assign(layer=3, score=[10.0, 0.0, 0.0, 0.0])
    t = linguistic_table(pd.concat([scores, lens]), groups, [0.6])
    t = t[t["group"] == "g"].set_index("nwp_readout")
    assert (t.loc["logit_lens", ["ba_only", "both", "nwp_only"]].tolist()
            == pytest.approx([0, 1 / 3, 0]))  # fmt: skip
    assert (t.loc["final", ["ba_only", "both", "nwp_only"]].tolist()
            == pytest.approx([1 / 3, 0, 2 / 3]))  # fmt: skip
    assert set(primary_rows(t.reset_index())["nwp_readout"]) == {"logit_lens"}
    only_final = linguistic_table(scores, groups, [0.6])
    assert set(primary_rows(only_final)["nwp_readout"]) == {"final"}


def test_the_stage_a_chunk_of_targets_at_a_time_equals_the_table_in_memory(tmp_path):
    from brainattr.demo import make_demo_dataset
    from brainattr.linguistic import run_linguistic
    from brainattr.tables import LINGUISTIC, NULL_SCORES, SCORES, ParquetStream, read_table

    from .test_analysis_stage import _score_table, _sorted

    params = dict(n_runs=2, tr=2.0, word_seconds=0.5, rest_before_seconds=4.0,
                  rest_after_seconds=4.0, n_subjects=1, n_voxels=4, driver_voxel_fraction=0.5,
                  snr=1.0, max_words=160, n_repeats=1)  # fmt: skip
    make_demo_dataset(tmp_path / "data", params, seed=0)
    groups = _word_groups(tmp_path / "data")
    scores = _score_table(9)
    ba = scores[scores["task"] == "ba"]
    nulls = pd.concat([ba.assign(null="shifted_bold", score=ba["score"][::-1].to_numpy()),
                       ba.assign(null="random_readout", score=ba["score"] ** 2)])  # fmt: skip
    paths = tmp_path / "scores.parquet", tmp_path / "null_scores.parquet"
    with ParquetStream(paths[0], SCORES) as s, ParquetStream(paths[1], NULL_SCORES) as n:
        s.write(scores)
        n.write(nulls)
    out = tmp_path / "linguistic.tsv", tmp_path / "null_linguistic.tsv"
    th = [0.1, 0.5, 0.9]
    run_linguistic(tmp_path / "data", paths[0], th, out[0], paths[1], out[1], targets_per_chunk=2)
    expected = (
        linguistic_table(scores, groups, th),
        null_linguistic_table(scores, nulls, groups, th),
    )
    for path, table, columns in zip(
        out, expected, (LINGUISTIC, [*LINGUISTIC, "null"]), strict=True
    ):
        assert len(table) > 0
        got = read_table(path, columns)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(table), check_dtype=False)


def _word_groups(folder):
    from brainattr.dataset import read_dataset, read_word_groups

    return read_word_groups(folder, len(read_dataset(folder).words))
