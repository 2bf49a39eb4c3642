import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainattr.analysis import important_sets, spread_table
from brainattr.inference import bh_fdr, target_blocks
from brainattr.linguistic import nwp_readouts
from brainattr.statistics import StoryBlocks, inference_table, spread_tests

from .test_analysis import _scores


def _per_context(values_ba, values_nwp, value):
    """A per-context table: 2 subjects x 1 layer (early) + NWP, targets 0..n-1."""
    rows = []
    for t, (ba, nwp) in enumerate(zip(values_ba, values_nwp, strict=True)):
        rows.append({"task": "nwp", "subject": "", "layer": -1, "layer_group": "final",
                     "target_tr": t, value: nwp})  # fmt: skip
        for k, s in enumerate(("a", "b")):
            rows.append({"task": "ba", "subject": s, "layer": 3, "layer_group": "early",
                         "target_tr": t, value: ba + (0.5 if k else -0.5)})  # fmt: skip
    return pd.DataFrame(rows)


def _neutral_tables(n: int):
    """Spread, centre-of-mass and IoU tables of n targets with no BA - NWP difference."""
    spread = _per_context(np.zeros(n), np.zeros(n), "auc")
    com = _per_context(np.zeros(n), np.zeros(n), "center_of_mass").assign(iqr=1.0)
    iou = pd.DataFrame({"subject": "a", "layer": 3, "layer_group": "early",
                        "target_tr": np.arange(n), "threshold": 0.1, "iou": 0.3,
                        "iou_random": 0.1, "iou_position": 0.2})  # fmt: skip
    return spread, com, iou


def test_spread_tests_give_the_block_test_and_the_papers_test():
    sp = spread_table(important_sets(_scores(), [0.1, 0.3, 0.5, 0.7, 0.9])).assign(model="m")
    blocks = StoryBlocks(np.zeros(20, int), 1)  # every target its own block
    res = spread_tests(sp, blocks, n_resamples=200)
    early = res[res["layer_group"] == "early"].iloc[0]
    ba = sp[(sp.task == "ba") & (sp.layer_group == "early")].sort_values(["target_tr", "subject"])
    nwp = sp[sp.task == "nwp"].set_index("target_tr")["auc"]
    ref = stats.ttest_rel(ba["auc"].to_numpy(), nwp.loc[ba["target_tr"]].to_numpy())
    assert early["p_paper"] == pytest.approx(ref.pvalue) and early["n_pairs"] == 6
    per_target = ba.groupby("target_tr")["auc"].mean() - nwp
    assert early["effect"] == pytest.approx(per_target.mean())
    assert (early["n_targets"], early["n_blocks"]) == (3, 3)
    np.testing.assert_allclose(res["q"], bh_fdr(res["p"].to_numpy()))
    np.testing.assert_allclose(res["q_paper"], bh_fdr(res["p_paper"].to_numpy()))


def test_inference_table_finds_a_planted_difference_and_not_its_absence():
    n = 80
    rng = np.random.default_rng(0)
    nwp = rng.normal(size=n)
    spread = _per_context(nwp + 2.0, nwp, "auc")  # BA spreads more, on every target
    com = _per_context(nwp, nwp, "center_of_mass").assign(iqr=1.0)  # no difference
    iou = pd.DataFrame({"subject": "a", "layer": 3, "layer_group": "early",
                        "target_tr": np.arange(n), "threshold": 0.1, "iou": 0.3,
                        "iou_random": 0.1})  # fmt: skip
    iou["iou_position"] = 0.3 + rng.normal(0, 0.01, n)
    blocks = StoryBlocks(np.zeros(n, int), 5)
    t = inference_table(spread, com, iou, None, blocks, n_resamples=500).set_index("comparison")
    assert set(t.index) == {"spread_auc", "center_of_mass", "iqr", "iou_vs_permutation",
                            "iou_vs_position"}  # fmt: skip
    auc = t.loc["spread_auc"]
    assert auc["effect"] == pytest.approx(2.0) and auc["q"] < 0.01 and auc["n_blocks"] == 16
    assert t.loc["center_of_mass", "effect"] == pytest.approx(0.0)
    assert t.loc["center_of_mass", "p"] == 1.0
    assert t.loc["iou_vs_permutation", "effect"] == pytest.approx(0.2)
    assert t.loc["iou_vs_position", "ci_low"] < 0 < t.loc["iou_vs_position", "ci_high"]


def test_story_blocks_default_to_three_spans(tmp_path):
    from brainattr.demo import make_demo_dataset

    params = dict(n_runs=2, tr=2.0, word_seconds=0.5, rest_before_seconds=4.0,
                  rest_after_seconds=4.0, n_subjects=1, n_voxels=4, driver_voxel_fraction=0.5,
                  snr=1.0, max_words=200, n_repeats=0)  # fmt: skip
    make_demo_dataset(tmp_path, params, seed=0)
    blocks = StoryBlocks.of_dataset(tmp_path, context_words=32, n_delays=4, block_spans=0)
    span = StoryBlocks.of_dataset(tmp_path, 32, 4, 1).block_trs
    assert span in (12, 13)  # ~4 words per TR: 32 context words are 8-9 TRs, + 4 delays
    assert blocks.block_trs == 3 * span
    tr = np.array([0, 10, 30, 58])
    runs = blocks.runs[tr]
    assert runs[0] == runs[1] != runs[3]  # two runs: a block never spans both
    np.testing.assert_array_equal(blocks.labels(tr), target_blocks(tr, runs, blocks.block_trs))


def test_observed_vs_null_compares_context_by_context():
    n = 60
    nwp = np.zeros(n)
    observed = _per_context(nwp + 1.0, nwp, "center_of_mass")
    null = _per_context(nwp + 4.0, nwp, "center_of_mass").assign(null="random_readout")
    spread, _, iou = _neutral_tables(n)
    com = observed.assign(iqr=1.0)
    blocks = StoryBlocks(np.zeros(n, int), 5)
    t = inference_table(spread, com, iou, None, blocks, 300, 0,
                        nulls={"center_of_mass": null}).set_index("comparison")  # fmt: skip
    row = t.loc["center_of_mass_vs_random_readout"]
    assert row["effect"] == pytest.approx(-3.0) and row["n_contexts"] == 2 * n
    assert row["q"] < 0.01


def test_linguistic_groups_compare_ba_only_with_nwp_only_shares():
    n = 40
    spread, com, iou = _neutral_tables(n)
    ling = pd.DataFrame({"subject": "a", "layer": 3, "layer_group": "early",
                         "target_tr": np.arange(n), "nwp_readout": "logit_lens",
                         "threshold": 0.6, "group": "names", "n_group_words": 3,
                         "ba_only": 0.4, "both": 0.2})  # fmt: skip
    ling["nwp_only"] = 0.1
    ling["enrichment_ba"], ling["enrichment_nwp"] = 1.5, 1.0
    # the paper's pairing (NWP(final)) has its own rows; the claims use BA(l) vs NWP(l)
    ling = pd.concat([ling, ling.assign(nwp_readout="final", nwp_only=0.9)])
    blocks = StoryBlocks(np.zeros(n, int), 4)
    t = inference_table(spread, com, iou, None, blocks, 300, 0, linguistic=ling)
    row = t.set_index("comparison").loc["linguistic_names"]
    assert row["effect"] == pytest.approx(0.3) and row["threshold"] == 0.6
    assert t.set_index("comparison").loc["enrichment_names", "effect"] == pytest.approx(0.5)
    # against a null whose BA-only share is 0.25: the brain data add 0.15, context by context
    null = ling.assign(ba_only=0.25, null="shifted_bold")
    t = inference_table(spread, com, iou, None, blocks, 300, 0, {"linguistic": null},
                        linguistic=ling)  # fmt: skip
    row = t.set_index("comparison").loc["linguistic_names_vs_shifted_bold"]
    assert row["effect"] == pytest.approx(0.15) and row["n_targets"] == n


def test_stability_is_compared_with_each_nulls_stability_pair_by_pair():
    n = 30
    spread, com, iou = _neutral_tables(n)
    pairs = pd.DataFrame({"comparison": "subjects", "subject": "", "layer": 3,
                          "layer_group": "early", "a": "s1", "b": "s2", "spearman": 0.5,
                          "iou_random": 0.0, "iou_position": 0.1,
                          "target_tr": np.arange(n)})  # fmt: skip
    observed = pairs.assign(iou=0.6)
    null = pairs.assign(iou=0.4, null="random_readout")
    t = inference_table(spread, com, iou, observed, StoryBlocks(np.zeros(n, int), 3), 300, 0,
                        nulls={"stability": null}).set_index("comparison")  # fmt: skip
    row = t.loc["stability_vs_random_readout"]
    assert row["effect"] == pytest.approx(0.2) and row["n_contexts"] == n


def test_masking_claims_are_per_target_and_against_each_null():
    """Per-target relative loss changes with planted effects: BA top words +0.4 over matched,
    the null's +0.2 (so +0.2 beyond it), NWP top +0.3 over matched, NWP loses 0.2 less when
    BA's top words are masked than its own."""
    rng = np.random.default_rng(0)
    rows = []

    def add(task, mask, null, subject, layer, group, tr, value):
        value += 0.01 * rng.standard_normal()  # NWP: a loss change in nats, BA: relative
        rows.append({"task": task, "mask": mask, "null": null, "subject": subject,
                     "layer": layer, "layer_group": group, "target_tr": tr,
                     "relative": value, "loss": 2.0 + value})  # fmt: skip

    for tr in range(60):
        for null, top in (("", 0.5), ("random_readout", 0.3)):
            for s in ("a", "b"):
                for mask, v in (("none", 0), ("ba_top", top), ("ba_matched", 0.1),
                                ("random", 0.05), ("nwp_top", 0.2)):  # fmt: skip
                    add("ba", mask, null, s, 3, "early", tr, v)
        for mask, v in (("none", 0), ("nwp_top", 0.4), ("nwp_matched", 0.1), ("random", 0.05)):
            add("nwp", mask, "", "", -1, "final", tr, v)
        for s in ("a", "b"):
            add("nwp", "ba_top", "", s, 3, "early", tr, 0.2)
    spread, com, iou = _neutral_tables(60)
    blocks = StoryBlocks(np.zeros(60, int), 3)
    res = inference_table(spread, com, iou, None, blocks, 500, 0,
                          masking=pd.DataFrame(rows)).set_index("comparison")  # fmt: skip
    want = {"masking_ba_top_vs_ba_matched": 0.4, "masking_ba_top_vs_random": 0.45,
            "masking_ba_top_vs_nwp_top": 0.3, "masking_nwp_top_vs_nwp_matched": 0.3,
            "masking_nwp_top_vs_random": 0.35,
            "masking_nwp_loss_ba_top_vs_nwp_top": -0.2,
            "masking_vs_random_readout": 0.2}  # fmt: skip
    for comparison, effect in want.items():
        row = res.loc[comparison]
        assert row["effect"] == pytest.approx(effect, abs=0.01), comparison
        assert row["ci_low"] <= row["effect"] <= row["ci_high"], comparison
        assert not row["ci_low"] <= 0 <= row["ci_high"] and row["p"] < 0.01, comparison
        assert row["n_targets"] == 60 and row["n_blocks"] == 20


def test_ba_is_paired_with_nwp_read_at_its_own_layer_and_with_nwp_final():
    """With the logit lens, BA(l) is compared with NWP(l); NWP(final), the paper's pairing,
    gives the ``*_nwp_final`` rows and spread_tests' ``nwp_readout`` "final" rows."""
    n = 40
    spread = _per_context(np.full(n, 5.0), np.full(n, 1.0), "auc")  # NWP(final) AUC 1
    lens = spread[spread["task"] == "nwp"].assign(layer=3, layer_group="early", auc=4.0)
    spread = pd.concat([spread, lens], ignore_index=True)
    assert nwp_readouts(spread) == [("logit_lens", "layer"), ("final", "final")]
    assert nwp_readouts(spread[spread["layer_group"] != "early"]) == [("final", "final")]
    _, com, iou = _neutral_tables(n)
    blocks = StoryBlocks(np.zeros(n, int), 4)
    t = inference_table(spread, com, iou, None, blocks, 200).set_index("comparison")
    assert t.loc["spread_auc", "effect"] == pytest.approx(1.0)  # 5 - NWP(early) 4
    assert t.loc["spread_auc_nwp_final", "effect"] == pytest.approx(4.0)  # 5 - NWP(final) 1
    res = spread_tests(spread.assign(model="m"), blocks, n_resamples=200)
    got = res.set_index("nwp_readout")["effect"]
    assert got["logit_lens"] == pytest.approx(1.0) and got["final"] == pytest.approx(4.0)
