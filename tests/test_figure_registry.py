import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainattr import figures
from brainattr.analysis import important_sets, iou_table, spread_table
from brainattr.figure_registry import FIGURES, draw_figure, figures_for
from brainattr.statistics import StoryBlocks, spread_tests

from .conftest import REPO
from .test_analysis import _scores


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_registered_figure_has_a_caption_and_a_matching_plot(name):
    spec = FIGURES[name]
    assert (REPO / "workflow" / "report" / f"{spec.file}.rst").is_file()
    params = inspect.signature(getattr(figures, spec.plot)).parameters
    assert set(params) == {*spec.inputs, *spec.params, "title", "png", "pdf"}
    # draw_figure passes inputs and params by keyword beside its own arguments
    own = set(inspect.signature(draw_figure).parameters) - {"params"}
    assert not own & {*spec.inputs, *spec.params}, own & {*spec.inputs, *spec.params}


def test_figures_for_follow_the_dataset_parts():
    assert figures_for(True, set(), "hp_toneva") == ["fig2_iou", "fig3_spread", "fig5_positions",
                                                     "masking", "stability", "words"]  # fmt: skip
    assert "fig4_linguistic" in figures_for(True, {"word_groups"}, "local")
    assert "recovery" in figures_for(True, set(), "demo")
    assert figures_for(False, set(), "mrh") == ["ba_per_layer"]
    assert figures_for(False, {"repeats", "ceiling"}, "mrh") == ["ba_per_layer", "noise_ceiling"]
    assert "controls" in figures_for(False, {"controls"}, "mrh")
    assert "training" in figures_for(True, {"checkpoints"}, "mrh")
    assert "training" not in figures_for(True, set(), "mrh")
    assert "faithfulness" in figures_for(True, {"faithfulness"}, "hp_toneva")


def test_draw_figure_reads_per_model_and_shared_inputs(tmp_path):
    scores = _scores()
    sets = important_sets(scores, [0.1, 0.5, 0.9])
    tables = {"m1": sets, "m2": sets}
    paths = []
    for m, t in tables.items():
        paths.append(str(tmp_path / f"{m}.tsv"))
        t.to_csv(paths[-1], sep="\t", index=False)
    tests = tmp_path / "tests.tsv"
    spread = pd.concat([spread_table(sets).assign(model=m) for m in tables])
    spread_tests(spread, StoryBlocks(np.zeros(20, int), 1)).to_csv(tests, sep="\t", index=False)
    png, pdf = tmp_path / "f.png", tmp_path / "f.pdf"
    null_paths = []
    for m, t in tables.items():  # a null that equals BA: drawn in grey over it
        null_paths.append(str(tmp_path / f"{m}_null.tsv"))
        t[t["task"] == "ba"].assign(null="random_readout").to_csv(null_paths[-1], sep="\t")
    inputs = {"sets": paths, "tests": [str(tests)], "null_sets": null_paths}
    draw_figure("spread", ["m1", "m2"], inputs, str(png), str(pdf), "demo, L = 8 words")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    iou = tmp_path / "iou.tsv"
    iou_table(scores, [0.5], 0).to_csv(iou, sep="\t", index=False)
    empty = tmp_path / "none.tsv"
    pd.DataFrame(columns=["null", "threshold", "iou", "layer_group"]).to_csv(empty, sep="\t")
    reference = Path(__file__).resolve().parents[1] / "resources/paper_reference.tsv"
    draw_figure("iou", ["m1"], {"tables": [str(iou)], "nulls": [str(empty)],
                                "reference": str(reference)}, str(png), str(pdf), "t")  # fmt: skip
    with pytest.raises(ValueError, match="unknown figure 'fig9'; registered: ba_per_layer"):
        draw_figure("fig9", [], {}, str(png), str(pdf), "t")


def test_the_registry_imports_neither_matplotlib_nor_torch():
    code = "import sys, brainattr.figure_registry as r; "
    code += "print(sorted({'matplotlib', 'torch'} & set(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "[]", res.stderr[-2000:]
