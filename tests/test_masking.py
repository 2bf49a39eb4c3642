import numpy as np
import pytest

from brainattr.attribution.stage import AttributionSettings, run_attribution
from brainattr.dataset import read_dataset
from brainattr.inference import bootstrap_counts
from brainattr.masking import _masked_states, run_masking
from brainattr.models import load_model
from brainattr.tables import MASKING, MASKING_TARGETS, read_table
from brainattr.targets import read_targets
from brainattr.windows import StoryWindows, pooled_states

SETTINGS = {"mask_fraction": 0.2, "n_seeds": 2, "seed": 0, "device": "cpu", "batch_tokens": 512,
            "block_spans": 1.0, "n_resamples": 200, "null_shift_trs": 20}  # fmt: skip


@pytest.fixture(scope="module")
def attributed(tmp_path_factory, tiny_spec, tiny_run):
    root = tmp_path_factory.mktemp("masking")
    settings = AttributionSettings(n_targets=6, seed=1, device="cpu", repeats=False,
                                   nulls=("random_readout",), null_shift_trs=20)  # fmt: skip
    paths = {n: root / n for n in ("scores.parquet", "targets.tsv", "null.parquet")}
    run_attribution(tiny_run["data"], tiny_spec, 6, tiny_run["layers"], tiny_run["encodings"],
                    tiny_run["features"], settings, paths["scores.parquet"],
                    paths["targets.tsv"], out_null_scores=paths["null.parquet"])  # fmt: skip
    return root, paths


def _mask(root, tiny_spec, tiny_run, paths, tag, targets_per_chunk=64, **changes):
    out = root / f"{tag}.tsv", root / f"{tag}_targets.tsv"
    run_masking(tiny_run["data"], tiny_spec, 6, paths["scores.parquet"], paths["targets.tsv"],
                tiny_run["encodings"], tiny_run["features"], {**SETTINGS, **changes}, *out,
                null_scores_path=paths["null.parquet"],
                targets_per_chunk=targets_per_chunk)  # fmt: skip
    return read_table(out[0], MASKING), read_table(out[1], MASKING_TARGETS)


def test_masking_tables(attributed, tiny_spec, tiny_run):
    root, paths = attributed
    table, per_target = _mask(root, tiny_spec, tiny_run, paths, "a")
    targets = read_targets(paths["targets.tsv"])
    # every fitted head has every BA mask; NWP its own masks and each head's BA-top words
    ba = table[(table["task"] == "ba") & (table["subject"] != "mean")]
    assert set(ba["mask"]) == {"none", "ba_top", "ba_matched", "nwp_top", "nwp_matched", "random"}
    n_heads = ba[["subject", "layer"]].drop_duplicates().shape[0]
    assert len(ba) == 6 * n_heads
    # pooled rows: each BA layer group and all layers, for every mask but none
    pooled = table[(table["task"] == "ba") & (table["subject"] == "mean")]
    groups = set(ba["layer_group"]) | {"all"}
    assert len(pooled) == 5 * len(groups) and set(pooled["layer_group"]) == groups
    one = ba[(ba["mask"] == "ba_top")]
    if len(one) == 1:  # one head: the pooled change is that head's
        row = pooled[(pooled["mask"] == "ba_top") & (pooled["layer_group"] == "all")].iloc[0]
        assert row["relative"] == pytest.approx(one["relative"].iloc[0])
    none = table[table["mask"] == "none"]
    np.testing.assert_allclose(none[["delta", "relative"]].to_numpy(), 0)
    masked = table[table["mask"] != "none"]
    assert (masked["ci_low"] <= masked["relative"] + 1e-12).all()
    assert (masked["ci_high"] >= masked["relative"] - 1e-12).all()
    assert (masked["n_seeds"] == 2).all() and (masked["n_targets"] == len(targets)).all()
    # per target: n_masked follows each span's length; the null's heads are there
    is_nwp = (per_target["task"] == "nwp") & (per_target["mask"] == "nwp_top")
    nwp_top = per_target[is_nwp].set_index("target_tr")["n_masked"]
    for t in targets:
        assert nwp_top[t.tr] == max(1, int(np.ceil(0.2 * (t.span_stop - t.span_start) - 1e-9)))
    assert set(per_target["null"]) == {"", "random_readout"}
    nulls = per_target[per_target["null"] == "random_readout"]
    assert not (nulls["task"] == "nwp").any() and "ba_top" in set(nulls["mask"])
    np.testing.assert_allclose(per_target.loc[per_target["mask"] == "none", "relative"], 0)
    # the same config gives the same tables, also with the scores read 4 targets at a time
    # (two chunks); another seed other draws
    again, again_targets = _mask(root, tiny_spec, tiny_run, paths, "b", targets_per_chunk=4)
    assert again.equals(table) and again_targets.equals(per_target)
    other = _mask(root, tiny_spec, tiny_run, paths, "c", seed=5)[1]
    assert not np.allclose(other["loss"], per_target["loss"])


def test_unmasked_windows_reuse_their_state_exactly(tiny_spec, tiny_run):
    """A window holding no masked word keeps the unmasked state: the shortcut equals running
    every delay window of the masked text."""
    lm = load_model(tiny_spec, "cpu")
    ds = read_dataset(tiny_run["data"])
    windows = StoryWindows.of_dataset(ds, 6)
    tr = int(np.flatnonzero([windows.has_words(s) for s in range(windows.n_trs)])[20])
    delay_trs = [tr - d for d in (1, 2, 3, 4)]

    class T:  # the target fields the shortcut reads
        pass

    tgt = T()
    tgt.delay_trs = delay_trs
    base_windows = windows.delay_windows(lm, delay_trs)
    base = (base_windows, pooled_states(lm, [w for w in base_windows if w], [1, 2, 3]))
    last = base_windows[0].stop - 1  # the newest word: only in the first delay's window
    words = list(windows.words)
    words[last] = "zebra"
    got = _masked_states(lm, windows, tgt, base, {"k": (words, [last])}, [1, 2, 3], 512)["k"]
    full = windows.delay_windows(lm, delay_trs, words)
    want = pooled_states(lm, [w for w in full if w], [1, 2, 3])
    np.testing.assert_allclose(got[1].numpy(), want.numpy(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(got[1][0].numpy(), base[1][0].numpy())  # the masked window changed
    np.testing.assert_array_equal(got[1][1:].numpy(), base[1][1:].numpy())


def test_bootstrap_counts_draw_whole_blocks():
    blocks = np.repeat(np.arange(5), 4)
    counts = bootstrap_counts(blocks, 100, 0)
    assert counts.shape == (100, 20)
    np.testing.assert_array_equal(counts.sum(1), 20)  # five blocks of four drawn each time
    for b in range(5):
        assert (counts[:, blocks == b] == counts[:, [4 * b]]).all()
