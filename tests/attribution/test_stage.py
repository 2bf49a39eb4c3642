import dataclasses

import numpy as np
import pandas as pd
import pytest

from brainattr.attribution.stage import AttributionSettings, run_attribution
from brainattr.tables import REPEAT_SCORES, SCORES, read_table
from brainattr.targets import read_targets


def _run(tmp_path, tiny_spec, tiny_run, settings, tag=""):
    paths = [tmp_path / f"{tag}{n}" for n in ("scores.parquet", "targets.tsv", "rep.parquet")]
    run = [tiny_run[k] for k in ("data", "layers", "encodings", "features")]
    run_attribution(
        run[0], tiny_spec, 6, *run[1:], settings, *paths[:2], out_repeat_scores=paths[2]
    )
    return read_table(paths[0], SCORES), read_targets(paths[1]), read_table(paths[2], REPEAT_SCORES)


def test_run_attribution_ig_engines_agree_end_to_end(tmp_path, tiny_spec, tiny_run):
    """The attribution stage with IG: per_target (steps batched per target, BA and NWP) and
    shared give the same scores, and targets in the repeated run get per-repeat scores."""
    out = {}
    for engine in ("per_target", "shared"):
        settings = AttributionSettings("ig", 3, 10, 0, engine, device="cpu", batch_tokens=256)
        out[engine] = _run(tmp_path, tiny_spec, tiny_run, settings, engine)
    (a, ta, ra), (b, tb, rb) = out["per_target"], out["shared"]
    assert set(a["method"]) == {"ig"} and len(a) == len(b) and ta == tb
    np.testing.assert_allclose(
        a["score"], b["score"], rtol=1e-6, atol=1e-9 * a["score"].abs().max()
    )
    assert set(ra["repeat"]) == {1, 2}
    np.testing.assert_allclose(ra["score"], rb["score"], rtol=1e-6,
                               atol=1e-9 * ra["score"].abs().max())  # fmt: skip


def test_targets_table_round_trips_and_matches_the_scores(tmp_path, tiny_spec, tiny_run):
    settings = AttributionSettings("gxi", n_targets=6, seed=3, device="cpu", repeats=False)
    scores, targets, repeats = _run(tmp_path, tiny_spec, tiny_run, settings)
    assert len(targets) == 6 and len(repeats) == 0
    for t in targets:
        assert len(t.delay_trs) == 4 and t.delay_trs[0] == t.tr - 1  # n_delays of the encodings
        nwp = scores[(scores["target_tr"] == t.tr) & (scores["task"] == "nwp")]
        for _, rows in nwp.groupby("layer"):  # every readout scores the same span
            np.testing.assert_array_equal(rows["word_index"], t.span)
            np.testing.assert_array_equal(rows["distance"], t.distance(t.span))
    ba = scores[scores["task"] == "ba"]
    assert set(ba["layer_group"]) <= {"early", "middle", "late"}
    # NWP read at the output (layer -1, "final") and at every BA layer, in its group
    nwp = scores[scores["task"] == "nwp"]
    group = nwp.groupby("layer")["layer_group"].first()
    assert group[-1] == "final"
    pd.testing.assert_series_equal(group.drop(-1), ba.groupby("layer")["layer_group"].first())
    final_only = dataclasses.replace(settings, nwp_readouts=("final",))
    scores_final, _, _ = _run(tmp_path, tiny_spec, tiny_run, final_only, "final")
    pd.testing.assert_frame_equal(
        scores_final.reset_index(drop=True),
        scores[(scores["task"] == "ba") | (scores["layer"] == -1)].reset_index(drop=True),
    )


def test_nwp_readouts_are_checked():
    for bad in ([], ["final", "lens"]):
        with pytest.raises(ValueError, match=r"attribution\.nwp_readouts"):
            AttributionSettings.from_config({"nwp_readouts": bad})
    s = AttributionSettings.from_config({"nwp_readouts": ["logit_lens"]})
    assert s.readouts([9, 3]) == [3, 9]
    assert AttributionSettings().readouts([3]) == [-1, 3]


def test_unknown_method_or_engine_fails_before_the_model_loads(tmp_path, tiny_run):
    spec = {"source": "local", "path": str(tmp_path / "nowhere"), "layers": [1]}
    for settings, message in (
        (AttributionSettings("lrp"), "unknown attribution method 'lrp'"),
        (AttributionSettings(engine="fast"), "attribution.engine = 'fast'; allowed"),
    ):
        with pytest.raises(ValueError, match=message):
            run_attribution(tiny_run["data"], spec, 6, tiny_run["layers"], tiny_run["encodings"],
                            tiny_run["features"], settings, tmp_path / "s.parquet",
                            tmp_path / "t.tsv")  # fmt: skip


def test_settings_from_config_ignore_keys_of_other_stages():
    s = AttributionSettings.from_config(
        {"methods": ["gxi", "ig"], "ig_steps": 7, "engine": "shared", "n_targets": 3},
        method="ig",
        seed=5,
    )
    assert (s.method, s.ig_steps, s.engine, s.n_targets, s.seed) == ("ig", 7, "shared", 3, 5)


def test_nulls_add_their_own_rows_and_leave_the_brain_scores_as_they_are(
    tmp_path, tiny_spec, tiny_run
):
    from brainattr.tables import NULL_SCORES

    plain = AttributionSettings("gxi", n_targets=4, device="cpu", repeats=False)
    with_null = AttributionSettings("gxi", n_targets=4, device="cpu", repeats=False,
                                    nulls=("random_readout",))  # fmt: skip
    scores, _, _ = _run(tmp_path, tiny_spec, tiny_run, plain, "plain")
    run = [tiny_run[k] for k in ("data", "layers", "encodings", "features")]
    paths = [tmp_path / n for n in ("s.parquet", "t.tsv", "r.parquet", "n.parquet")]
    run_attribution(run[0], tiny_spec, 6, *run[1:], with_null, *paths[:3], paths[3])
    again = read_table(paths[0], SCORES)
    np.testing.assert_array_equal(again["score"], scores["score"])  # nulls change nothing
    nulls = read_table(paths[3], NULL_SCORES)
    ba = scores[scores["task"] == "ba"]
    assert set(nulls["null"]) == {"random_readout"} and len(nulls) == len(ba)
    np.testing.assert_array_equal(nulls["word_index"], ba["word_index"])
    assert not np.allclose(nulls["score"], ba["score"])


@pytest.mark.parametrize("engine", ["per_target", "shared"])
def test_tables_written_a_chunk_of_targets_at_a_time_equal_one_pass(
    tmp_path, tiny_spec, tiny_run, monkeypatch, engine
):
    """Chunks of targets (one Parquet row group each) write the same rows, in the same order
    and with the same types, as all targets at once, for the scores, repeats and nulls."""
    import pyarrow.parquet as pq

    from brainattr.attribution import stage
    from brainattr.tables import NULL_SCORES

    settings = AttributionSettings("gxi", n_targets=5, device="cpu", engine=engine,
                                   nulls=("random_readout",))  # fmt: skip
    run = [tiny_run[k] for k in ("data", "layers", "encodings", "features")]
    out = {}
    for chunk in (2, 100):
        monkeypatch.setattr(stage, "TARGETS_PER_CHUNK", chunk)
        paths = [tmp_path / f"{chunk}{n}" for n in ("s.parquet", "t.tsv", "r.parquet", "n.parquet")]
        run_attribution(run[0], tiny_spec, 6, *run[1:], settings, *paths)
        out[chunk] = [read_table(paths[0], SCORES), read_table(paths[2], REPEAT_SCORES),
                      read_table(paths[3], NULL_SCORES)]  # fmt: skip
        assert pq.ParquetFile(paths[0]).num_row_groups == (3 if chunk == 2 else 1)
    for a, b in zip(out[2], out[100], strict=True):
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, rtol=1e-9)
