from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainattr.paper_check import (
    model_findings,
    paper_check_table,
    read_reference,
    setting_differences,
    verdict,
)
from brainattr.statistics import StoryBlocks

REFERENCE = Path(__file__).resolve().parents[1] / "resources/paper_reference.tsv"
PAPER_MODEL = "meta-llama/Llama-3.2-1B"


@pytest.fixture(scope="module")
def ref():
    return read_reference(REFERENCE)


def test_reference_rows_are_complete(ref):
    assert ref["id"].is_unique and set(ref["kind"]) == {"value", "direction"}
    values = ref[ref["kind"] == "value"]
    assert (values["paper_low"] <= values["paper_high"]).all()
    assert set(ref.loc[ref["kind"] == "direction", "expected_sign"]) == {-1.0, 1.0}
    assert (ref["second_hand"] == "yes").all() and (ref["context_words"].astype(str) == "640").all()


def test_bad_kind_is_named(tmp_path, ref):
    path = tmp_path / "ref.tsv"
    ref.assign(kind="level").to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match="kind must be 'value' or 'direction'"):
        read_reference(path)


def test_verdicts(ref):
    row = ref.set_index("id", drop=False)
    iou10, late = row.loc["iou_10"], row.loc["spread_late"]
    assert verdict(iou10, 0.15, 0.12, 0.18, np.nan, 0.05, "")[0] == "reproduced"
    assert verdict(iou10, 0.05, 0.03, 0.07, np.nan, 0.05, "")[0] == "not reproduced"
    v, reason = verdict(iou10, 0.15, 0.12, 0.18, np.nan, 0.05, "L = 32 (paper: 640)")
    assert v == "not comparable" and "L = 32" in reason
    assert verdict(late, 1.2, 0.5, 2.0, 0.001, 0.05, "")[0] == "reproduced"
    v, reason = verdict(late, 1.2, -0.1, 2.0, 0.2, 0.05, "model x")
    assert v == "not reproduced" and "q = 0.2 >= 0.05" in reason and "model x" in reason
    v, reason = verdict(late, -1.2, -2, -0.5, 0.001, 0.05, "")
    assert v == "not reproduced" and "opposite sign" in reason
    assert verdict(late, np.nan, np.nan, np.nan, np.nan, 0.05, "")[0] == "not comparable"


def test_setting_differences(ref):
    row = ref.set_index("id").loc["iou_10"].copy()
    assert setting_differences(row, "hp_toneva", PAPER_MODEL, 640) == ""
    diff = setting_differences(row, "demo", "smollm2-135m", 32)
    assert "dataset source demo" in diff and "not one of the paper's" in diff and "L = 32" in diff


def _tables(n=40):
    """Hand-made tables of one model with known answers; NWP read at the output (the paper's
    pairing, the answers) and at the layer (logit lens, values the check must not use)."""
    tr = np.arange(n)
    iou = pd.concat([pd.DataFrame({"subject": "a", "layer": 3, "layer_group": "early",
                                   "target_tr": tr, "threshold": th, "iou": 0.6,
                                   "iou_random": 0.0, "iou_position": 0.0, "iou_final": v})
                     for th, v in ((0.05, 0.14), (0.1, 0.16), (0.98, 0.9))])  # fmt: skip
    null_iou = iou.assign(iou=0.7, iou_final=0.5, null="random_readout")
    spread = pd.concat([pd.DataFrame({"task": "nwp", "subject": "", "layer": -1,
                                      "layer_group": "final", "target_tr": tr, "auc": 10.0,
                                      "n_words": 40}),
                        pd.DataFrame({"task": "nwp", "subject": "", "layer": 3,
                                      "layer_group": "early", "target_tr": tr, "auc": 30.0,
                                      "n_words": 40}),
                        pd.DataFrame({"task": "ba", "subject": "a", "layer": 3,
                                      "layer_group": "early", "target_tr": tr, "auc": 12.0,
                                      "n_words": 40})])  # fmt: skip
    d = np.arange(50)
    # NWP: recency and primacy (U shape); BA: recency only
    nwp_rate = np.where(d < 5, 0.5, np.where(d >= 45, 0.3, 0.1))
    ba_rate = np.where(d < 5, 0.5, 0.1)
    positions = pd.concat([
        pd.DataFrame({"task": "nwp", "layer_group": "final", "distance": d, "rate": nwp_rate}),
        pd.DataFrame({"task": "ba", "layer_group": "early", "distance": d, "rate": ba_rate}),
        pd.DataFrame({"task": "nwp", "layer_group": "early", "distance": d, "rate": 0.2}),
    ]).assign(count=1, share=0.0, n_contexts=10)  # fmt: skip
    ling = pd.DataFrame(
        {
            "subject": "a",
            "layer": 3,
            "layer_group": "early",
            "target_tr": tr,
            "nwp_readout": "final",
            "threshold": 0.6,
            "group": "semantic",
            "n_group_words": 5,
            "ba_only": 0.2,
            "both": 0.13,
            "nwp_only": 0.07,
        }
    )
    ling = pd.concat([ling, ling.assign(nwp_readout="logit_lens", both=0.0, nwp_only=0.5)])
    masking = pd.DataFrame({"task": ["ba", "ba", "nwp", "nwp"],
                            "mask": ["none", "ba_top", "none", "nwp_top"],
                            "subject": ["a", "mean", "", ""], "layer": [3, -1, -1, -1],
                            "layer_group": ["early", "all", "final", "final"],
                            "relative": [0, -0.95, 0, 1.4], "ci_low": [0, -1.1, 0, 1.2],
                            "ci_high": [0, -0.8, 0, 1.6], "n_masked": 1.0, "n_targets": n,
                            "n_seeds": 5})  # fmt: skip
    tests = pd.DataFrame(
        {
            "model": "m",
            "layer_group": ["early", "early"],
            "nwp_readout": ["logit_lens", "final"],
            "effect": [-18.0, 2.0],
            "ci_low": [-19, 1.5],
            "ci_high": [-17, 2.5],
            "q": [0.001, 0.001],
        }
    )
    tables = {"iou": iou, "null_iou": null_iou, "spread": spread, "positions": positions,
              "linguistic": ling, "masking": masking}  # fmt: skip
    return tables, tests


def test_findings_and_verdicts_from_hand_made_tables(ref):
    tables, tests = _tables()
    blocks = StoryBlocks(np.zeros(40, int), 4)
    f = model_findings(tables, tests, blocks, 200, 0)
    assert f["iou_10"][0] == pytest.approx(0.16) and f["iou_98"][0] == pytest.approx(0.9)
    assert f["iou_low_thresholds"][0] == pytest.approx(0.15)
    assert f["iou_10"][4] == "random_readout: 0.5"
    assert f["spread_early"][:4] == (2.0, 1.5, 2.5, 0.001)
    assert np.isnan(f["spread_late"][0])  # no test row for that group
    assert f["positions_nwp_recency"][0] == pytest.approx(4.0)  # 0.5 / 0.1 - 1
    assert f["positions_nwp_primacy"][0] == pytest.approx(2.0)  # 0.3 / 0.1 - 1
    assert f["positions_ba_less_primacy"][0] == pytest.approx(-2.0)
    assert f["linguistic_semantic_ba"][0] == pytest.approx(0.33)
    assert f["linguistic_semantic_nwp"][0] == pytest.approx(0.20)
    assert f["masking_ba_top"][:3] == pytest.approx((-0.95, -1.1, -0.8))
    paper = paper_check_table(ref, [{"model": "m", "model_id": PAPER_MODEL, "dataset": "hp",
                                     "source": "hp_toneva", "context_words": 640,
                                     "method": "gxi", "findings": f}])  # fmt: skip
    got = paper.set_index("id")["verdict"]
    reproduced = ["iou_low_thresholds", "iou_10", "iou_98", "positions_nwp_recency",
                  "positions_nwp_primacy", "positions_ba_less_primacy", "linguistic_semantic_ba",
                  "linguistic_semantic_nwp", "linguistic_semantic_ba_vs_nwp", "masking_ba_top",
                  "masking_nwp_top"]  # fmt: skip
    assert (got[reproduced] == "reproduced").all(), got
    assert got["spread_early"] == "not reproduced"  # BA spreads more than NWP here
    assert got["spread_late"] == "not comparable"
    # on the demo's setting every value finding is not comparable; directions are still judged
    demo = paper_check_table(ref, [{"model": "m", "model_id": "smollm2", "dataset": "demo",
                                    "source": "demo", "context_words": 32, "method": "gxi",
                                    "findings": {k: v for k, v in f.items()
                                                 if not k.startswith("linguistic")}}])  # fmt: skip
    demo = demo.set_index("id")
    assert (demo.loc[ref.loc[ref["kind"] == "value", "id"], "verdict"] == "not comparable").all()
    assert demo.loc["positions_nwp_primacy", "verdict"] == "reproduced"
    assert "semantic" in demo.loc["linguistic_semantic_ba_vs_nwp", "reason"]
