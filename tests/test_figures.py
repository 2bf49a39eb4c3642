from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainattr import figures

from .test_analysis import _scores


@pytest.mark.parametrize("logit_lens", [False, True])
def test_every_figure_renders(tmp_path, logit_lens):
    """With NWP read at the output only, and also at each BA layer (logit lens)."""
    from brainattr.analysis import (
        dispersion_table,
        important_sets,
        iou_table,
        positions_table,
        spread_table,
    )

    scores = _scores()
    if logit_lens:
        nwp = scores[scores["task"] == "nwp"]
        lens = [nwp.assign(layer=layer, layer_group=g, score=nwp["score"] * (1 + layer))
                for layer, g in ((3, "early"), (9, "late"))]  # fmt: skip
        scores = pd.concat([scores, *lens], ignore_index=True)
    th = [0.1, 0.5, 0.9]
    sets = important_sets(scores, th)
    hist, summ = positions_table(scores, 0.5)
    com = summ.merge(dispersion_table(hist), on=["task", "layer_group"])
    layers = pd.DataFrame(
        {
            "layer": [3, 9],
            "group": ["early", "late"],
            "mean_ba": [0.1, 0.2],
            "sem_ba": [0.01, 0.02],
            "n_subjects": 2,
            "selected": True,
            "n_layers": 12,
        }
    )
    masks = ["none", "ba_top", "ba_matched", "nwp_top", "random", "nwp_top", "nwp_matched",
             "random", "ba_top"]  # fmt: skip
    masking = pd.DataFrame(
        {
            "task": ["ba"] * 5 + ["nwp"] * 4,
            "mask": masks,
            "subject": ["a"] * 5 + ["", "", "", "a"],
            "layer": [3] * 5 + [-1, -1, -1, 3],
            "layer_group": ["early"] * 5 + ["final"] * 3 + ["early"],
            "value": np.arange(9.0),
            "delta": np.arange(9.0),
            "relative": np.linspace(-1, 1, 9),
            "ci_low": np.linspace(-1, 1, 9) - 0.1,
            "ci_high": np.linspace(-1, 1, 9) + 0.1,
            "n_targets": 3,
            "n_masked": 1.5,
            "n_seeds": 5,
        }
    )
    per_target = pd.DataFrame(
        {
            "task": "ba",
            "mask": ["ba_top", "ba_matched"] * 4,
            "null": [""] * 4 + ["random_readout"] * 4,
            "subject": "a",
            "layer": 3,
            "layer_group": "early",
            "target_tr": [10, 10, 11, 11] * 2,
            "relative": [0.3, 0.1, 0.2, 0.1, 0.2, 0.15, 0.1, 0.1],
        }
    )
    recovery = pd.DataFrame(
        {
            "task": ["ba", "nwp"],
            "layer_group": ["early", "final"],
            "share_in_top": [0.3, 0.2],
            "base_rate": 0.05,
            "effect": [0.25, 0.15],
            "ci_low": [0.2, np.nan],
            "ci_high": [0.3, np.nan],
            "model": "m",
        }
    )
    from brainattr.statistics import StoryBlocks, spread_tests

    tests = spread_tests(spread_table(sets).assign(model="m"), StoryBlocks(np.zeros(20, int), 1))
    from brainattr.linguistic import linguistic_table
    from brainattr.stability import stability_table

    n_words = int(scores["word_index"].max()) + 1
    groups = pd.DataFrame(
        {"word_index": range(n_words), "g1": np.arange(n_words) % 2 == 0, "g2": True}
    )
    ling = linguistic_table(scores, groups, [0.1, 0.6])
    stab = stability_table(scores, scores.iloc[:0].assign(repeat=0), 0.5, 0)
    nc = pd.DataFrame(
        {"subject": ["a", "b"] * 2, "layer": [3, 3, 9, 9], "noise_ceiling": 0.8,
         "ba_repeated": [0.1, 0.2, 0.3, 0.2], "ba_normalized": [0.125, 0.25, 0.375, 0.25],
         "ceiling": ["repeats", "repeats", "intersubject", "intersubject"]}
    )  # fmt: skip
    com_by_ctx = {("m", 8): com, ("m", 16): com}

    def tsv(tables):  # written as the workflow writes them, in (model, L) order
        paths = []
        for (m, c), t in tables.items():
            paths.append(tmp_path / f"{id(tables)}_{m}_{c}.tsv")
            t.to_csv(paths[-1], sep="\t", index=False)
        return paths

    iou_by_ctx = {("m", c): iou_table(scores, th, c) for c in (8, 16)}
    import nibabel as nib

    img = nib.Nifti1Image(np.random.default_rng(0).normal(size=(8, 9, 7, 3)), np.eye(4) * 4)
    from brainattr.paper_check import read_reference

    reference = read_reference(
        Path(__file__).resolve().parents[1] / "resources/paper_reference.tsv"
    )
    verdicts = pd.DataFrame({"dataset": "demo", "context_words": 32, "method": "gxi",
                             "model": ["m", "m", "n", "n"], "id": ["iou_10", "spread_late"] * 2,
                             "ours": [0.1, np.nan, 0.2, 1.0], "paper": ["~0.16", "BA > NWP"] * 2,
                             "verdict": ["not comparable", "not comparable", "reproduced",
                                         "not reproduced"]})  # fmt: skip
    from brainattr.faithfulness import faithfulness_tables, target_curves
    from brainattr.inference import bootstrap_counts

    ft = pd.DataFrame({"task": ["ba", "ba", "ba", "nwp", "nwp"] * 2,
                       "mask": ["ba_top", "ba_matched", "random", "nwp_top", "random"] * 2,
                       "null": "", "layer_group": ["late"] * 3 + ["final"] * 2 + ["late"] * 3
                       + ["final"] * 2, "n_masked": [1] * 5 + [2] * 5, "target_tr": 7,
                       "relative": np.linspace(0, 0.3, 10)})  # fmt: skip
    ft = pd.concat([ft, ft.assign(target_tr=8), ft.assign(null="shifted_bold")])
    faith = faithfulness_tables(target_curves(ft), np.array([7, 8]),
                                bootstrap_counts(np.array([0, 1]), 50, 0))  # fmt: skip
    calls = {
        "a": lambda p, q: figures.ba_per_layer({"m": layers}, "t", p, q),
        "fa": lambda p, q: figures.faithfulness({"m": faith[0]}, {"m": faith[1]}, "t", p, q),
        "a2": lambda p, q: figures.controls(
            {"m": layers, "c": layers.assign(mean_ba=layers["mean_ba"] - 0.05)},
            {"m": {}, "c": {"control_of": "m"}},
            "t",
            p,
            q,
        ),
        "b": lambda p, q: figures.iou_vs_threshold(
            {"m": iou_table(scores, th, 0)}, "t", p, q, reference=reference
        ),
        "c": lambda p, q: figures.spread({"m": sets}, tests, "t", p, q),
        "d": lambda p, q: figures.positions({"m": hist}, {"m": com}, 0.5, "t", p, q),
        "e": lambda p, q: figures.masking(
            {"m": masking}, "t", p, q, {"m": per_target}, reference=reference
        ),
        "f": lambda p, q: figures.recovery(recovery, "t", p, q),
        "g": lambda p, q: figures.linguistic(
            {"m": ling}, "t", p, q, {"m": ling.assign(null="shifted_bold")}, reference
        ),
        "g2": lambda p, q: figures.linguistic(
            {"m": ling.assign(group="semantic")}, "t", p, q, reference=reference
        ),
        "p": lambda p, q: figures.paper_check(verdicts, "t", p, q),
        "h": lambda p, q: figures.stability({"m": stab}, "t", p, q),
        "i": lambda p, q: figures.stability({"m": stab.iloc[:0]}, "t", p, q),
        "j": lambda p, q: figures.noise_ceiling({"m": nc}, "t", p, q),
        "k": lambda p, q: figures.context_control(com_by_ctx, iou_by_ctx, 0.5, "t", p, q),
        "k2": lambda p, q: figures.run_context_control(
            [("m", 8), ("m", 16)], tsv(com_by_ctx), tsv(iou_by_ctx), 0.5, "t", p, q
        ),
        "l": lambda p, q: figures.brain_map(img, ["early", "middle", "late"], "t", p, q),
        "w": lambda p, q: figures.words({"m": scores, "m2": scores}, 0.5, 0, "t", p, q),
    }
    for name, draw in calls.items():
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        draw(png, pdf)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:4] == b"%PDF"


def test_training_curves_follow_the_checkpoints(monkeypatch):
    """Each checkpoint family is a curve over its steps, in step order, whatever the model
    order; a control or a plain model is not a point of it."""
    from brainattr import figures

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, png, pdf: drawn.append(fig))
    layers = pd.DataFrame({"layer": [2, 5, 8], "group": ["early", "middle", "late"],
                           "mean_ba": [0.1, 0.2, 0.3], "selected": True})  # fmt: skip
    iou = pd.DataFrame({"layer_group": ["early"] * 4, "threshold": [0.1, 0.1, 0.5, 0.5],
                        "iou": [0.2, 0.4, 0.9, 0.9], "iou_random": 0.1})  # fmt: skip
    spread = pd.DataFrame({"task": ["ba", "nwp"], "layer_group": ["early", "final"],
                           "auc": [10.0, 20.0]})  # fmt: skip
    models = {"f-s100": {"checkpoint_of": "f", "step": 100}, "plain": {},
              "f-s10": {"checkpoint_of": "f", "step": 10}}  # fmt: skip
    tables = {m: layers.assign(mean_ba=layers["mean_ba"] * (2 if m == "f-s100" else 1))
              for m in models}  # fmt: skip
    figures.training(tables, {m: iou for m in models}, {m: spread for m in models}, models,
                     0.12, "t", "a.png", "a.pdf")  # fmt: skip
    ax_ba, ax_iou, ax_auc = drawn[0].axes
    early = next(line for line in ax_ba.lines if line.get_label() == "f early")
    np.testing.assert_allclose(early.get_xdata(), [10, 100])
    np.testing.assert_allclose(early.get_ydata(), [0.1, 0.2])
    iou_early = next(line for line in ax_iou.lines if line.get_label() == "f early")
    np.testing.assert_allclose(iou_early.get_ydata(), [0.3, 0.3])  # the 10 % rows' mean
    assert ax_iou.get_ylabel() == "IoU(BA, NWP) at 12%"
    nwp = next(line for line in ax_auc.lines if line.get_label() == "f NWP")
    np.testing.assert_allclose(nwp.get_ydata(), [20.0, 20.0])


def test_the_papers_values_are_drawn_where_they_apply(tmp_path, monkeypatch):
    """Fig. 4 marks the paper's semantic shares at 60 % (HP's semantic group only); the red
    marks carry the paper's values as legend labels."""
    import matplotlib.pyplot as plt

    from brainattr import figures
    from brainattr.paper_check import read_reference

    root = Path(__file__).resolve().parents[1]
    reference = read_reference(root / "resources/paper_reference.tsv")
    calls = []
    monkeypatch.setattr(figures, "_paper_marks", lambda ax, ref, spans, scale: calls.append(spans))
    ling = pd.DataFrame({"subject": "a", "layer": 3, "layer_group": "early", "target_tr": 1,
                         "nwp_readout": "final", "threshold": [0.1, 0.6], "group": "semantic",
                         "n_group_words": 3,
                         "ba_only": 0.2, "both": 0.1, "nwp_only": 0.1, "enrichment_ba": 1.2,
                         "enrichment_nwp": 0.9})  # fmt: skip
    figures.linguistic({"m": ling}, "t", str(tmp_path / "a.png"), str(tmp_path / "a.pdf"),
                       reference=reference)  # fmt: skip
    figures.linguistic({"m": ling.assign(group="names")}, "t", str(tmp_path / "b.png"),
                       str(tmp_path / "b.pdf"), reference=reference)  # fmt: skip
    assert len(calls) == 1
    assert list(calls[0]) == ["linguistic_semantic_ba", "linguistic_semantic_nwp"]
    np.testing.assert_allclose(calls[0]["linguistic_semantic_nwp"], (1.14, 1.4))
    monkeypatch.undo()
    fig, ax = plt.subplots()
    figures._paper_marks(ax, reference, {"iou_10": (10, 10), "masking_nwp_top": (0, 1)}, 1)
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == ["paper: more than doubles (> +100 %)", "paper: ~0.16 at 10 %"]
    plt.close(fig)


def test_word_strips_by_hand():
    """BA: mean |score| over subjects per word, each strip scaled to its maximum; a task
    without rows gives an empty strip."""
    from brainattr import figures

    rows = pd.DataFrame(
        {
            "task": ["ba"] * 4 + ["nwp"] * 2,
            "subject": ["a", "a", "b", "b", "", ""],
            "layer_group": ["early"] * 4 + ["final"] * 2,
            "word_index": [0, 1, 0, 1, 0, 1],
            "score": [1.0, -2, 3, 0, -0.5, 0.25],
        }
    )
    got = figures._word_strengths(rows, np.array([0, 1]))
    np.testing.assert_allclose(got["BA early"], [1.0, 0.5])  # means 2, 1
    np.testing.assert_allclose(got["NWP"], [1.0, 0.5])
    np.testing.assert_allclose(got["BA late"], [0.0, 0.0])


def test_word_examples_and_table_by_hand():
    """Target 2's BA and NWP pick different words, target 1's the same: the disagreeing one
    is shown beside the seeded one; the table counts each category's words."""
    from brainattr import figures

    rows = []
    for t, (ba, nwp) in {1: ([5, 0, 0], [5, 0, 0]), 2: ([5, 0, 0], [0, 0, 5]),
                         3: ([0, 5, 0], [0, 5, 0])}.items():  # fmt: skip
        for i, w in enumerate(["Marta", "the", "fog."]):
            rows.append(("ba", "a", 3, "early", t, i, w, ba[i]))
            rows.append(("nwp", "", -1, "final", t, i, w, nwp[i]))
    s = pd.DataFrame(rows, columns=["task", "subject", "layer", "layer_group", "target_tr",
                                    "word_index", "word", "score"])  # fmt: skip
    picks = figures.word_examples(s, 0.5, seed=0)
    assert len(picks) == 2 and picks[1][0] == (2 if picks[0][0] != 2 else 1)
    if picks[0][0] != 2:
        assert "IoU 0.00" in picks[1][1]
    table = figures.word_table(s, 0.5)
    assert table["both"] == [("marta", 1), ("the", 1)]
    assert table["ba_only"] == [("marta", 1)] and table["nwp_only"] == [("fog", 1)]


def test_feature_kinds_draws_both_kinds_and_the_subject_mean_unique_variance(monkeypatch):
    from brainattr import figures
    from brainattr.tables import UNIQUE_VARIANCE

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, png, pdf: drawn.append(fig))
    layers = pd.DataFrame({"layer": [2, 5], "mean_ba": [0.1, 0.2], "sem_ba": [0.01, np.nan]})
    part = pd.DataFrame({c: 0.0 for c in UNIQUE_VARIANCE[3:]}, index=range(4))
    part = part.assign(subject=["a", "b"] * 2, layer=[2, 2, 5, 5], roi_label="language",
                       unique_attributions=[0.01, 0.03, 0.05, 0.07],
                       unique_attributions_null=[0.0, -0.02, 0.0, 0.0])  # fmt: skip
    figures.feature_kinds({"m": layers}, {"m": layers.assign(mean_ba=[0.3, 0.4])}, {"m": part},
                          "t", "a.png", "a.pdf")  # fmt: skip
    ax_ba, ax_u = drawn[0].axes
    by_label = {line.get_label(): line for line in ax_u.lines}
    np.testing.assert_allclose(by_label["m: unique to attributions"].get_ydata(), [0.02, 0.06])
    np.testing.assert_allclose(by_label["m: attributions rolled (null)"].get_ydata(), [-0.01, 0])
    ba = {c.get_label(): c for c in ax_ba.containers}
    np.testing.assert_allclose(np.asarray(ba["m: attributions"].lines[0].get_ydata(), float),
                               [0.3, 0.4])  # fmt: skip


def test_the_words_figure_reads_a_score_file_a_chunk_at_a_time(tmp_path, monkeypatch):
    from brainattr import figures
    from brainattr.tables import SCORES, ParquetStream

    from .test_analysis_stage import _score_table

    s = _score_table(9)
    s["word"] = [f"w{i % 7}" for i in s["word_index"]]
    path = tmp_path / "scores.parquet"
    with ParquetStream(path, SCORES) as out:
        out.write(s)
    monkeypatch.setattr(figures, "TARGETS_PER_CHUNK", 2)  # five chunks
    assert figures.word_examples(str(path), 0.3, 1) == figures.word_examples(s, 0.3, 1)
    assert figures.word_table(str(path), 0.3) == figures.word_table(s, 0.3)
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, png, pdf: drawn.append(fig))
    figures.words({"m": str(path)}, 0.3, 1, "t", "p.png", "p.pdf")
    assert len(drawn) == 1
