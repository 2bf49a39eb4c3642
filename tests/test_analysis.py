import numpy as np
import pandas as pd
import pytest

from brainattr.analysis import (
    auc,
    center_of_mass,
    dispersion_table,
    important_set,
    important_sets,
    iou,
    iou_table,
    normalized_entropy,
    nwp_scores_by_context,
    paired_nwp,
    positions_table,
    spread_table,
    weighted_iqr,
)


def test_important_set_by_hand():
    s = np.array([0.1, -0.5, 0.2, 0.2])  # |s| total 1.0; sorted: 0.5, 0.2, 0.2, 0.1
    assert important_set(s, 0.01).tolist() == [False, True, False, False]
    assert important_set(s, 0.5).tolist() == [False, True, False, False]  # exactly 50 %
    assert important_set(s, 0.51).tolist() == [False, True, True, False]  # tie -> word order
    assert important_set(s, 0.9).tolist() == [False, True, True, True]
    assert important_set(s, 0.98).tolist() == [True, True, True, True]
    assert not important_set(np.zeros(3), 0.5).any()


def test_iou_by_hand():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([0, 1, 1, 0], bool)
    assert iou(a, b) == pytest.approx(1 / 3)
    assert iou(a, a) == 1.0
    assert iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_auc_by_hand():
    assert auc(np.array([0.0, 0.5, 1.0]), np.array([0, 2, 2])) == pytest.approx(1.5)
    assert auc(np.array([1.0, 0.0]), np.array([4, 2])) == pytest.approx(3.0)


def test_center_of_mass_iqr_entropy_by_hand():
    d = np.array([0, 1, 2, 3])
    s = np.array([3.0, -1.0, 0.0, 4.0])
    m = np.array([True, True, False, True])
    assert center_of_mass(d, s, m) == pytest.approx((0 * 3 + 1 * 1 + 3 * 4) / 8)
    assert weighted_iqr(np.array([0, 1, 2, 3]), np.ones(4)) == pytest.approx(2.0)
    assert normalized_entropy(np.array([1, 1, 1, 1])) == pytest.approx(1.0)
    assert normalized_entropy(np.array([5, 0, 0, 0])) == pytest.approx(0.0)
    assert normalized_entropy(np.array([1, 1, 0, 0])) == pytest.approx(np.log(2) / np.log(4))


def _scores():
    rng = np.random.default_rng(0)
    rows = []
    for tgt in (10, 11, 12):
        d = np.arange(8)[::-1]
        rows += [("nwp", "", -1, "final", tgt, i, d[i], "w", rng.normal()) for i in range(8)]
        for s in ("a", "b"):
            for layer, g in ((3, "early"), (9, "late")):
                rows += [("ba", s, layer, g, tgt, i, d[i], "w", rng.normal()) for i in range(8)]
    return pd.DataFrame(
        rows,
        columns=[
            "task",
            "subject",
            "layer",
            "layer_group",
            "target_tr",
            "word_index",
            "distance",
            "word",
            "score",
        ],
    )


def test_tables_have_one_row_per_context_and_threshold():
    scores = _scores()
    th = [0.1, 0.5, 0.9]
    sets = important_sets(scores, th)
    assert len(sets) == (3 + 3 * 4) * 3
    t = iou_table(scores, th, seed=1)
    assert len(t) == 3 * 4 * 3 and t["iou"].between(0, 1).all()
    pd.testing.assert_frame_equal(t, iou_table(scores, th, seed=1))  # seeded baseline
    sp = spread_table(sets)
    assert len(sp) == 15
    hist, summ = positions_table(scores, 0.5)
    assert hist.groupby(["task", "layer_group"])["share"].sum().round(12).eq(1).all()
    assert len(dispersion_table(hist)) == 3
    assert summ["center_of_mass"].between(0, 7).all()


def test_position_keeping_baseline_compares_distances_of_a_distant_target():
    # two targets whose spans share no word; every task puts all mass on the most recent word
    rows = []
    for tgt, start in ((10, 0), (20, 40)):
        n = 6 if tgt == 10 else 8  # spans of different lengths: compared at distances 0..5
        for i in range(n):
            d = n - 1 - i
            s = 1.0 if d == 0 else 0.0
            rows.append(("nwp", "", -1, "final", tgt, start + i, d, "w", s))
            rows.append(("ba", "a", 3, "early", tgt, start + i, d, "w", s))
    scores = pd.DataFrame(rows, columns=_scores().columns)
    t = iou_table(scores, [0.5], seed=0)
    assert t["iou"].tolist() == [1.0, 1.0] and t["iou_position"].tolist() == [1.0, 1.0]
    # overlapping spans have no partner: the baseline is then undefined
    assert iou_table(_scores(), [0.5], seed=0)["iou_position"].isna().all()


def test_positions_are_normalised_by_the_contexts_that_reach_each_distance():
    rows = []
    for tgt, n in ((10, 3), (20, 6)):  # a short span (a story's start) and a full one
        for i in range(n):
            d = n - 1 - i
            rows.append(("nwp", "", -1, "final", tgt, 100 * tgt + i, d, "w", 1.0 if d == 2 else 0))
    hist, _ = positions_table(pd.DataFrame(rows, columns=_scores().columns), 0.5)
    row = hist[hist["distance"] == 2].iloc[0]
    assert (row["count"], row["n_contexts"], row["rate"]) == (2, 2, 1.0)
    assert row["share"] == 1.0


def test_null_tables_pair_each_null_with_the_same_nwp():
    from brainattr.analysis_stage import analysis_tables, null_analysis_tables

    scores = _scores()
    ba = scores[scores["task"] == "ba"]
    nulls = pd.concat([ba.assign(null="random_readout"), ba.assign(null="shifted_bold")])
    tables = null_analysis_tables(scores, nulls, [0.5], 0.5, seed=0)
    plain = analysis_tables(scores, [0.5], 0.5, seed=0)
    for name in ("iou", "spread", "center_of_mass"):
        t = tables[name]
        assert set(t["null"]) == {"random_readout", "shifted_bold"}
        # a null equal to BA reproduces BA's own tables
        ours = t[t["null"] == "shifted_bold"].drop(columns="null").reset_index(drop=True)
        ref = plain[name]
        ref = ref[ref["task"] == "ba"] if "task" in ref else ref
        pd.testing.assert_frame_equal(ours, ref.reset_index(drop=True), check_dtype=False)
    empty = null_analysis_tables(scores, nulls.iloc[:0], [0.5], 0.5, seed=0)
    assert all(len(t) == 0 and "null" in t for t in empty.values())


def test_ba_pairs_with_nwp_read_at_its_own_layer_and_keeps_nwp_final():
    """With the logit lens (NWP rows at layer 3), BA at layer 3 is compared with NWP(3) and BA
    at layer 9 (no lens there) with NWP(final); ``iou_final`` is always against NWP(final)."""
    scores = _scores()
    nwp = scores[scores["task"] == "nwp"]
    # NWP(3): mass on the word where BA(a, 3) has its largest score; NWP(final) elsewhere
    lens = []
    for tgt, g in scores[(scores["task"] == "ba") & (scores["subject"] == "a")
                         & (scores["layer"] == 3)].groupby("target_tr"):  # fmt: skip
        top = g["score"].abs().to_numpy().argmax()
        lens.append(nwp[nwp["target_tr"] == tgt].assign(
            layer=3, layer_group="early", score=np.eye(8)[top]))  # fmt: skip
    both = pd.concat([scores, *lens], ignore_index=True)
    by = nwp_scores_by_context(both)
    assert set(by) == {(layer, t) for layer in (-1, 3) for t in (10, 11, 12)}
    np.testing.assert_array_equal(paired_nwp(by, 3, 10), by[3, 10])
    np.testing.assert_array_equal(paired_nwp(by, 9, 10), by[-1, 10])
    np.testing.assert_array_equal(paired_nwp(by, 3, 10, "final"), by[-1, 10])
    t = iou_table(both, [0.01], seed=0).set_index(["subject", "layer", "target_tr"])
    plain = iou_table(scores, [0.01], seed=0).set_index(["subject", "layer", "target_tr"])
    # at 1 % the sets are single words: BA(a, 3)'s top word is NWP(3)'s only word
    assert (t.loc[("a", 3), "iou"] == 1.0).all()
    pd.testing.assert_series_equal(t["iou_final"], plain["iou"], check_names=False)
    pd.testing.assert_series_equal(t.xs(9, level="layer")["iou"],
                                   plain.xs(9, level="layer")["iou"])  # fmt: skip
    # per-task tables: NWP(3) is its own context, in the early group
    sets = important_sets(both, [0.5])
    assert len(sets[(sets["task"] == "nwp") & (sets["layer_group"] == "early")]) == 3
