import numpy as np
import pandas as pd

from brainattr import figures

from .test_analysis import _scores


def test_every_figure_renders(tmp_path):
    from brainattr.analysis import (
        dispersion_table,
        important_sets,
        iou_table,
        positions_table,
        spread_table,
        spread_tests,
    )

    scores = _scores()
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
    masking = pd.DataFrame(
        {
            "task": ["ba"] * 4 + ["nwp"] * 3,
            "mask": ["none", "ba_top", "nwp_top", "random", "nwp_top", "random", "ba_top"],
            "subject": ["a"] * 4 + ["", "", "a"],
            "layer": [3] * 4 + [-1, -1, 3],
            "layer_group": ["early"] * 4 + ["final", "final", "early"],
            "value": np.arange(7.0),
            "delta": np.arange(7.0),
            "relative": np.linspace(-1, 1, 7),
            "n_targets": 3,
            "n_masked": 1,
        }
    )
    recovery = pd.DataFrame(
        {
            "task": ["ba", "nwp"],
            "layer_group": ["early", "final"],
            "share_in_top": [0.3, 0.2],
            "base_rate": 0.05,
            "model": "m",
        }
    )
    tests = spread_tests(spread_table(sets).assign(model="m"))
    calls = {
        "a": lambda p, q: figures.ba_per_layer({"m": layers}, "t", p, q),
        "b": lambda p, q: figures.iou_vs_threshold({"m": iou_table(scores, th, 0)}, "t", p, q),
        "c": lambda p, q: figures.spread({"m": sets}, tests, "t", p, q),
        "d": lambda p, q: figures.positions({"m": hist}, {"m": com}, 0.5, "t", p, q),
        "e": lambda p, q: figures.masking({"m": masking}, "t", p, q),
        "f": lambda p, q: figures.recovery(recovery, "t", p, q),
    }
    for name, draw in calls.items():
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        draw(png, pdf)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:4] == b"%PDF"
