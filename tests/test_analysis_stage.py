import numpy as np
import pandas as pd
import pytest

from brainattr.analysis import important_masks
from brainattr.analysis_stage import (
    ANALYSIS_TABLES,
    analysis_tables,
    null_analysis_tables,
    run_analyses,
)
from brainattr.tables import (
    NULL_SCORES,
    SCORES,
    ParquetStream,
    TableError,
    read_score_chunks,
    read_table,
    write_table,
)

THRESHOLDS = [0.01, 0.3, 0.5, 0.9, 0.98]


def _naive_important_set(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The definition, one word at a time: add words by |score| descending (ties: word order)
    until they hold ``threshold`` of the total |score|."""
    mag = np.abs(scores)
    mask = np.zeros(mag.size, bool)
    if mag.sum() == 0:
        return mask
    held = 0.0
    for i in sorted(range(mag.size), key=lambda i: (-mag[i], i)):
        if held >= threshold * mag.sum() - 1e-12 * mag.sum():
            break
        mask[i] = True
        held += mag[i]
    return mask


def test_important_masks_match_the_definition_at_every_threshold():
    rng = np.random.default_rng(0)
    cases = [rng.normal(size=40), rng.integers(-2, 3, size=30).astype(float), np.zeros(5),
             np.array([0.0, 0.0, 1.0]), rng.exponential(size=1)]  # fmt: skip
    th = np.array(THRESHOLDS)
    for scores in cases:
        masks = important_masks(scores, th)
        assert masks.shape == (th.size, scores.size)
        for t, m in zip(th, masks, strict=True):
            np.testing.assert_array_equal(m, _naive_important_set(scores, t), err_msg=f"{t}")


def _score_table(n_targets: int, seed: int = 0) -> pd.DataFrame:
    """BA of 2 subjects x 2 layers and NWP at a lens and the output; 10-word spans, targets
    4 words apart (neighbours overlap, far targets do not: the position partner exists)."""
    rng = np.random.default_rng(seed)
    heads = [("nwp", "", -1, "final"), ("nwp", "", 3, "early")]
    heads += [("ba", s, lay, g) for s in ("1", "2") for lay, g in ((3, "early"), (9, "late"))]
    rows = []
    for t in range(20, 20 + n_targets):
        for task, subject, layer, group in heads:
            for d in range(9, -1, -1):
                w = 4 * t - 1 - d
                score = rng.normal() * (rng.random() > 0.2)  # some exact zeros
                rows.append((task, "gxi", subject, layer, group, t, 0, w, d, "w", score))
    return pd.DataFrame(rows, columns=SCORES)


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order (the stage writes them chunk by chunk), labels as text."""
    text = ("task", "subject", "layer_group", "null", "words", "a", "b", "comparison")
    labels = {c: table[c].astype(str) for c in text if c in table}
    return table.assign(**labels).sort_values(list(table.columns)).reset_index(drop=True)


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_the_stage_a_chunk_of_targets_at_a_time_equals_the_tables_in_memory(tmp_path, suffix):
    scores = _score_table(12)
    ba = scores[scores["task"] == "ba"]
    reversed_scores = ba["score"][::-1].to_numpy()
    nulls = pd.concat([ba.assign(null="random_readout", score=-ba["score"] ** 3),
                       ba.assign(null="shifted_bold", score=reversed_scores)])  # fmt: skip
    paths = tmp_path / f"scores{suffix}", tmp_path / f"null_scores{suffix}"
    if suffix == ".parquet":  # row groups of 5 targets, read in chunks of 2: they straddle
        with ParquetStream(paths[0], SCORES) as s, ParquetStream(paths[1], NULL_SCORES) as n:
            for start in range(20, 32, 5):
                s.write(scores[scores["target_tr"].between(start, start + 4)])
                n.write(nulls[nulls["target_tr"].between(start, start + 4)])
    else:
        write_table(scores, paths[0], SCORES)
        write_table(nulls, paths[1], NULL_SCORES)
    out = {f"{p}{n}": str(tmp_path / f"{p}{n}.tsv") for p in ("", "null_") for n in ANALYSIS_TABLES}
    run_analyses(paths[0], THRESHOLDS, 0.5, 7, out, paths[1], targets_per_chunk=2)

    expected = analysis_tables(scores, THRESHOLDS, 0.5, 7)
    expected |= {f"null_{k}": v for k, v in
                 null_analysis_tables(scores, nulls, THRESHOLDS, 0.5, 7).items()}  # fmt: skip
    for name, table in expected.items():
        got = read_table(out[name], list(table.columns))
        assert len(table) > 0, name
        assert list(pd.read_csv(out[name], sep="\t", nrows=0).columns) == list(table.columns)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(table), check_dtype=False, obj=name)
    iou = expected["iou"]
    assert iou["iou_position"].notna().any() and iou["iou_final"].notna().all()


def test_the_random_baseline_does_not_depend_on_the_chunk():
    scores = _score_table(6)
    whole = analysis_tables(scores, THRESHOLDS, 0.5, 3)["iou"]
    nwp_side = scores[scores["task"] == "nwp"]
    part = scores[scores["target_tr"] == 22]
    alone = analysis_tables(pd.concat([part, nwp_side]).drop_duplicates(), THRESHOLDS, 0.5, 3)
    got = alone["iou"].set_index(["subject", "layer", "target_tr", "threshold"])
    ref = whole.set_index(["subject", "layer", "target_tr", "threshold"]).loc[got.index]
    pd.testing.assert_series_equal(got["iou_random"], ref["iou_random"])
    other_seed = analysis_tables(scores, THRESHOLDS, 0.5, 4)["iou"]
    assert not np.allclose(whole["iou_random"], other_seed["iou_random"])


def test_score_chunks_hold_whole_targets_in_order_and_filter(tmp_path):
    scores = _score_table(7)
    path = tmp_path / "scores.parquet"
    with ParquetStream(path, SCORES) as s:
        for start in (20, 23, 26):
            s.write(scores[scores["target_tr"].between(start, start + 2)])
    chunks = list(read_score_chunks(path, SCORES, 3))
    assert [sorted(set(c["target_tr"])) for c in chunks] == [[20, 21, 22], [23, 24, 25], [26]]
    assert sum(map(len, chunks)) == len(scores)
    nwp = pd.concat(read_score_chunks(path, SCORES, 4, task="nwp"))
    assert set(nwp["task"]) == {"nwp"} and len(nwp) == (scores["task"] == "nwp").sum()
    empty = tmp_path / "empty.parquet"
    with ParquetStream(empty, SCORES):
        pass
    assert list(read_score_chunks(empty, SCORES, 3)) == []
    out = {n: str(tmp_path / f"{n}.tsv") for n in ANALYSIS_TABLES}
    run_analyses(empty, THRESHOLDS, 0.5, 0, out)
    for name, columns in ANALYSIS_TABLES.items():
        assert list(read_table(out[name], columns).columns) == columns


def test_a_score_table_of_another_layout_is_named(tmp_path):
    path = tmp_path / "scores.parquet"
    _score_table(2).drop(columns="distance").to_parquet(path)
    with pytest.raises(TableError, match=r"scores.parquet: missing columns \['distance'\]"):
        next(read_score_chunks(path, SCORES, 2))


def test_important_words_false_leaves_only_the_word_lists_empty(tmp_path):
    path = tmp_path / "scores.parquet"
    with ParquetStream(path, SCORES) as s:
        s.write(_score_table(4))
    tables = {}
    for listed in (True, False):
        out = {n: str(tmp_path / f"{listed}_{n}.tsv") for n in ANALYSIS_TABLES}
        run_analyses(path, THRESHOLDS, 0.5, 0, out, important_words=listed)
        tables[listed] = read_table(out["important_sets"], ANALYSIS_TABLES["important_sets"])
    assert (tables[True]["words"].str.len() > 0).all()
    assert tables[False]["words"].isna().all()  # an empty cell reads back as missing
    pd.testing.assert_frame_equal(tables[True].drop(columns="words"),
                                  tables[False].drop(columns="words"))  # fmt: skip
