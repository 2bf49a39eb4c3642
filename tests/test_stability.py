import numpy as np
import pandas as pd
import pytest

from brainattr.stability import agreement, stability_table


def _rows(task, subject, layer, target, scores, **extra):
    return pd.DataFrame(
        {
            "task": task,
            "subject": subject,
            "layer": layer,
            "layer_group": "early",
            "target_tr": target,
            "word_index": np.arange(len(scores)),
            "score": scores,
            **extra,
        }
    )


def test_agreement_by_hand():
    rng = np.random.default_rng(0)
    a = np.array([4.0, 3.0, 2.0, 1.0])
    b = np.array([1.0, 2.0, 3.0, 40.0])
    rho, overlap, _ = agreement(a, b, 0.3, rng)
    assert rho == pytest.approx(-1.0)
    # top sets at 30 %: a -> {0} (4/10), b -> {3} (40/46): disjoint
    assert overlap == 0.0
    rho, overlap, _ = agreement(a, 2 * a, 0.5, rng)
    assert rho == pytest.approx(1.0) and overlap == 1.0
    with pytest.raises(ValueError, match="different spans"):
        agreement(a, b[:3], 0.5, rng)


def test_stability_table_pairs_subjects_and_repeats():
    s = [1.0, 2.0, 3.0, 4.0]
    scores = pd.concat(
        [
            _rows("ba", "A", 2, 10, s),
            _rows("ba", "B", 2, 10, s[::-1]),
            _rows("ba", "C", 2, 10, s),
            _rows("nwp", "", -1, 10, s),
        ]
    )
    reps = pd.concat(
        [
            _rows("ba", "A", 2, 10, s, repeat=1),
            _rows("ba", "A", 2, 10, [1.0, 2.0, 4.0, 3.0], repeat=2),
        ]
    )
    t = stability_table(scores, reps, 0.1, seed=0)
    subj = t[t["comparison"] == "subjects"].set_index(["a", "b"])["spearman"]
    assert subj.to_dict() == pytest.approx({("A", "B"): -1.0, ("A", "C"): 1.0, ("B", "C"): -1.0})
    rep = t[t["comparison"] == "repeats"].iloc[0]
    assert rep.subject == "A" and rep.spearman == pytest.approx(0.8)  # one swap of 4
    assert stability_table(scores, reps.iloc[:0], 0.1, 0)["comparison"].eq("subjects").all()


def test_stability_has_a_position_keeping_baseline_between_subjects():
    rows = []
    for tgt, start in ((10, 0), (20, 40)):
        for i in range(6):
            d = 5 - i
            for s in ("a", "b"):
                rows.append(("ba", "gxi", s, 3, "early", tgt, 0, start + i, d, "w",
                             1.0 if d == 0 else 0.0))  # fmt: skip
            rows.append(("nwp", "gxi", "", -1, "final", tgt, 0, start + i, d, "w", 1.0))
    from brainattr.tables import SCORES

    scores = pd.DataFrame(rows, columns=SCORES)
    t = stability_table(scores, scores.iloc[:0].assign(repeat=0), 0.5, 0)
    assert t["iou"].tolist() == [1.0, 1.0] and t["iou_position"].tolist() == [1.0, 1.0]


def test_null_stability_compares_the_nulls_between_subjects():
    from brainattr.stability import null_stability_table
    from brainattr.tables import SCORES

    rng = np.random.default_rng(0)
    rows = []
    for tgt in (10, 11):
        for i in range(8):
            rows.append(("nwp", "gxi", "", -1, "final", tgt, 0, i, 7 - i, "w", rng.normal()))
            for s in ("a", "b", "c"):
                rows.append(("ba", "gxi", s, 3, "early", tgt, 0, i, 7 - i, "w", rng.normal()))
    scores = pd.DataFrame(rows, columns=SCORES)
    ba = scores[scores["task"] == "ba"]
    nulls = pd.concat([ba.assign(null="random_readout"), ba.assign(null="shifted_bold")])
    t = null_stability_table(scores, nulls, 0.5, 0)
    assert set(t["null"]) == {"random_readout", "shifted_bold"}
    assert len(t) == 2 * 2 * 3  # nulls x targets x pairs of subjects
    same = t[t["null"] == "random_readout"].drop(columns="null").reset_index(drop=True)
    ref = stability_table(scores, scores.iloc[:0].assign(repeat=0), 0.5, 0)
    pd.testing.assert_frame_equal(same, ref, check_dtype=False)  # a null equal to BA
    assert len(null_stability_table(scores, nulls.iloc[:0], 0.5, 0)) == 0


def test_the_stage_a_chunk_of_targets_at_a_time_equals_the_tables_in_memory(tmp_path):
    from brainattr.stability import null_stability_table, run_stability
    from brainattr.tables import (
        NULL_SCORES,
        REPEAT_SCORES,
        SCORES,
        STABILITY,
        ParquetStream,
        read_table,
    )

    from .test_analysis_stage import _score_table, _sorted

    scores = _score_table(10)
    ba = scores[scores["task"] == "ba"]
    one = ba[ba["subject"] == "1"]
    reps = pd.concat([one.assign(repeat=1), one.assign(repeat=2, score=one["score"] ** 2)])
    nulls = pd.concat([ba.assign(null="shifted_bold", score=ba["score"] ** 3),
                       ba.assign(null="random_readout", score=-ba["score"])])  # fmt: skip
    tables = {"scores": (scores, SCORES), "repeats": (reps, REPEAT_SCORES),
              "nulls": (nulls, NULL_SCORES)}  # fmt: skip
    for name, (table, columns) in tables.items():
        with ParquetStream(tmp_path / f"{name}.parquet", columns) as out:
            out.write(table)
    out = tmp_path / "stability.tsv", tmp_path / "null_stability.tsv"
    run_stability(tmp_path / "scores.parquet", tmp_path / "repeats.parquet", 0.5, 3, out[0],
                  tmp_path / "nulls.parquet", out[1], targets_per_chunk=3)  # fmt: skip
    expected = stability_table(scores, reps, 0.5, 3), null_stability_table(scores, nulls, 0.5, 3)
    for path, table, columns in zip(out, expected, (STABILITY, [*STABILITY, "null"]), strict=True):
        assert table["iou_position"].notna().any() and (table["comparison"] == "subjects").any()
        got = read_table(path, columns)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(table), check_dtype=False)
    assert (expected[0]["comparison"] == "repeats").any()
