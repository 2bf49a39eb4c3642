"""brainattr.faithfulness: curves and AOPC on planted per-target losses."""

import numpy as np
import pandas as pd

from brainattr.faithfulness import faithfulness_tables, target_curves
from brainattr.inference import bootstrap_counts
from brainattr.tables import AOPC, FAITHFULNESS


def _per_target(slopes: dict[str, float], ks=(1, 2, 4), n_targets=40, noise=0.02, seed=0):
    """MASKING_TARGETS-like rows: relative = slope x k + noise, two BA heads (subjects) of the
    early group per target, and NWP(final)."""
    rng = np.random.default_rng(seed)
    rows = []
    for tr in range(n_targets):
        for k in ks:
            for mask, slope in slopes.items():
                task = "nwp" if mask.startswith("nwp") else "ba"
                heads = [("", -1)] if task == "nwp" else [("a", 3), ("b", 3)]
                for subject, layer in heads:
                    group = "final" if task == "nwp" else "early"
                    rows.append((task, mask, "", subject, layer, 100 + tr, group, k, 2, 1.0,
                                 slope * k + noise * rng.standard_normal()))  # fmt: skip
    cols = ["task", "mask", "null", "subject", "layer", "target_tr", "layer_group", "n_masked",
            "n_seeds", "loss", "relative"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def test_aopc_is_the_mean_gap_between_top_and_control():
    per_target = _per_target({"ba_top": 0.10, "ba_matched": 0.05, "random": 0.02,
                              "nwp_top": 0.03, "nwp_matched": 0.03, "nwp_extra": 0.5})  # fmt: skip
    curves = target_curves(per_target)
    assert "nwp_extra" not in set(curves["mask"])  # only each task's top and its controls
    # BA: one value per target and curve point, the mean of the group's two heads
    assert curves.groupby(["task", "mask", "n_masked"]).size().eq(40).all()
    trs = np.arange(100, 140)
    counts = bootstrap_counts(np.arange(40) // 4, 500, 0)  # blocks of 4 targets
    table, aopc = faithfulness_tables(curves, trs, counts)
    assert list(table.columns) == FAITHFULNESS and list(aopc.columns) == AOPC
    top = table[(table["mask"] == "ba_top")].set_index("n_masked")["mean_relative"]
    np.testing.assert_allclose(top.to_numpy(), [0.1, 0.2, 0.4], atol=0.01)
    a = aopc.set_index(["task", "control"])
    mean_k = np.mean([1, 2, 4])
    assert abs(a.loc[("ba", "random"), "aopc"] - 0.08 * mean_k) < 0.01
    assert abs(a.loc[("ba", "ba_matched"), "aopc"] - 0.05 * mean_k) < 0.01
    low, high = a.loc[("ba", "random"), ["ci_low", "ci_high"]]
    assert 0 < low < 0.08 * mean_k < high
    # NWP's top words are no better than distance-matched ones (coverage: the test below)
    assert abs(a.loc[("nwp", "nwp_matched"), "aopc"]) < 0.01
    assert (a["n_k"] == 3).all()


def test_a_faithless_attribution_has_no_area_in_most_draws():
    """Top = random in truth: over seeds, the 95 % interval misses 0 in few draws."""
    misses = 0
    for seed in range(40):
        per_target = _per_target({"ba_top": 0.05, "random": 0.05, "ba_matched": 0.05},
                                 noise=0.05, seed=seed)  # fmt: skip
        curves = target_curves(per_target)
        counts = bootstrap_counts(np.arange(40), 400, seed)
        _, aopc = faithfulness_tables(curves, np.arange(100, 140), counts)
        r = aopc[aopc["control"] == "random"].iloc[0]
        misses += not (r.ci_low <= 0 <= r.ci_high)
    assert misses <= 6  # about 5 % of 40 expected


def test_a_span_too_short_for_k_matched_words_is_left_out_at_that_k():
    from types import SimpleNamespace

    from brainattr.masking import _target_plan

    tgt = SimpleNamespace(tr=5, span_start=2, span_stop=7)  # a span of 5 words
    words = [f"w{i}" for i in range(10)]
    key = ("", "a", 3)
    by_ctx = {(*key, 5): np.array([0.1, 0.5, 0.2, 0.9, 0.3])}
    settings = {"mask_fraction": 0.01, "n_seeds": 1, "seed": 0}
    nwp = np.array([0.4, 0.1, 0.2, 0.3, 0.5])
    k, plan, texts = _target_plan(tgt, words, {key: None}, by_ctx, nwp, {**settings, "n_masked": 3})
    assert (k, plan, texts) == (3, [], {})
    k, plan, _ = _target_plan(tgt, words, {key: None}, by_ctx, nwp, {**settings, "n_masked": 2})
    assert k == 2 and plan and all(len(v.positions) == 2 for _, v in plan)
