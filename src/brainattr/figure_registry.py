"""Every figure drawn from analysis tables, declared once.

``workflow/rules/figures.smk`` makes one rule per entry (``fig_<name>``), ``figures_of`` in
``common.smk`` plans the entries a dataset can draw, the report takes each PNG with its
caption (``workflow/report/<file>.rst``), and :func:`draw_figure` reads the inputs and calls
the plotting function of :mod:`brainattr.figures`. A new figure is one :class:`FigureSpec`
here, its plotting function, and its caption file. (The brain map and the context-length
control have rules of their own: one writes a NIfTI per model, the other spans every L.)

This module imports neither matplotlib nor torch: the Snakefile reads it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Input:
    """One input role of a figure: a table per model, or one table for all models.

    ``level`` is the results folder it lives in: ``run`` (dataset x model x L), ``attr``
    (... x method), ``summary`` (dataset x L, all models), ``asummary`` (... x method), or
    ``resource`` (the workflow's ``resources/`` folder).
    """

    level: str
    path: str
    per_model: bool = True
    read: bool = True  # False: the plot gets the path and reads it (a score table, in chunks)


@dataclass(frozen=True)
class FigureSpec:
    name: str  # rule fig_<name>
    file: str  # <file>.png / .pdf and the caption workflow/report/<file>.rst
    plot: str  # function of brainattr.figures
    title: str
    label: str  # the report's label
    inputs: dict[str, Input]  # plotting-function argument -> input
    per_method: bool = True  # one figure per attribution method (gxi, ig)
    subcategory: str = "Paper figures"
    # a dataset part (word_groups, repeats), "demo", what the models are ("controls",
    # "checkpoints") or an analysis switched on ("faithfulness")
    needs: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # argument -> config key (dotted)
    # per-model inputs of the models with features of their own only (controls read theirs)
    own_features: bool = False


# the paper's reported findings, drawn on the matching figures (brainattr.paper_check)
PAPER_REFERENCE = Input("resource", "paper_reference.tsv", per_model=False)


def _attr(path: str) -> Input:
    return Input("attr", f"analysis/{path}")


FIGURES: dict[str, FigureSpec] = {
    f.name: f
    for f in (
        FigureSpec("ba_per_layer", "ba_per_layer", "ba_per_layer", "Brain alignment per layer",
                   "BA per layer", {"tables": Input("run", "layers.tsv")}, per_method=False),
        FigureSpec("iou", "fig2_iou", "iou_vs_threshold", "BA/NWP overlap",
                   "Fig. 2: BA/NWP overlap", {"tables": _attr("iou.tsv"),
                                              "nulls": _attr("null_iou.tsv"),
                                              "reference": PAPER_REFERENCE}),
        FigureSpec("spread", "fig3_spread", "spread", "Spread of important words",
                   "Fig. 3: spread", {"sets": _attr("important_sets.tsv"),
                                      "tests": Input("asummary", "spread_tests.tsv", False),
                                      "null_sets": _attr("null_important_sets.tsv")}),
        FigureSpec("linguistic", "fig4_linguistic", "linguistic",
                   "Linguistic groups of important words", "Fig. 4: linguistic groups",
                   {"tables": _attr("linguistic.tsv"),
                    "null_tables": _attr("null_linguistic.tsv"),
                    "reference": PAPER_REFERENCE}, needs="word_groups"),
        FigureSpec("positions", "fig5_positions", "positions", "Positions of important words",
                   "Fig. 5: positions", {"hists": _attr("positions.tsv"),
                                         "com": _attr("center_of_mass.tsv"),
                                         "null_hists": _attr("null_positions.tsv"),
                                         "null_com": _attr("null_center_of_mass.tsv")},
                   params={"threshold": "analysis.position_threshold"}),
        FigureSpec("masking", "masking", "masking", "Masking the top words",
                   "Masking with controls", {"tables": _attr("masking.tsv"),
                                             "per_target": _attr("masking_targets.tsv"),
                                             "reference": PAPER_REFERENCE}),
        FigureSpec("noise_ceiling", "noise_ceiling", "noise_ceiling", "Noise ceiling",
                   "Noise ceiling", {"tables": Input("run", "analysis/noise_ceiling.tsv")},
                   per_method=False, subcategory="Beyond the paper", needs="ceiling"),
        FigureSpec("controls", "controls", "controls", "Feature controls",
                   "Feature controls (PCA, property removal)",
                   {"tables": Input("run", "layers.tsv")}, per_method=False,
                   subcategory="Beyond the paper", needs="controls",
                   params={"model_specs": "models"}),
        FigureSpec("feature_kinds", "feature_kinds", "feature_kinds",
                   "Attributions as brain features", "NWP attributions as brain features",
                   {"activations": Input("run", "layers.tsv"),
                    "attributions": Input("run", "nwp_attribution/layers.tsv"),
                    "partition": Input("run", "nwp_attribution/unique_variance.tsv")},
                   per_method=False, subcategory="Beyond the paper", needs="feature_kinds",
                   own_features=True),
        FigureSpec("faithfulness", "faithfulness", "faithfulness", "Faithfulness curves",
                   "Faithfulness: loss change against words masked",
                   {"curves": _attr("faithfulness.tsv"), "aopc": _attr("aopc.tsv")},
                   subcategory="Beyond the paper", needs="faithfulness"),
        FigureSpec("training", "training", "training", "Over training",
                   "Training checkpoints: BA, IoU and spread",
                   {"layers": Input("run", "layers.tsv"), "iou": _attr("iou.tsv"),
                    "spread": _attr("spread.tsv")},
                   subcategory="Beyond the paper", needs="checkpoints",
                   params={"model_specs": "models", "threshold": "analysis.position_threshold"}),
        FigureSpec("stability", "stability", "stability", "Attribution stability",
                   "Attribution stability", {"tables": _attr("stability.tsv"),
                                             "nulls": _attr("null_stability.tsv")},
                   subcategory="Beyond the paper"),
        FigureSpec("words", "words", "words", "Which words", "Words shaded by attribution",
                   {"scores": Input("attr", "attribution/scores.parquet", read=False)},
                   subcategory="Beyond the paper",
                   params={"threshold": "analysis.position_threshold", "seed": "seed"}),
        FigureSpec("recovery", "recovery", "recovery", "Planted driver words recovered",
                   "Planted words recovered",
                   {"table": Input("asummary", "demo_recovery.tsv", False)},
                   subcategory="Demo ground truth", needs="demo"),
    )
}  # fmt: skip


def config_value(config: dict, key: str):
    """A config value by dotted key (``analysis.position_threshold``, ``seed``)."""
    value = config
    for part in key.split("."):
        value = value[part]
    return value


def figures_for(per_method: bool, provides: set[str], source: str) -> list[str]:
    """Files of the registered figures a dataset can draw (``provides``: its optional parts,
    ``source``: its source), those drawn per attribution method or the others."""
    return [
        f.file
        for f in FIGURES.values()
        if f.per_method == per_method
        and (f.needs is None or f.needs in provides or (f.needs == "demo" and source == "demo"))
    ]


def draw_figure(
    name: str,
    models: list[str],
    inputs: dict[str, Sequence[str] | str],
    png: str,
    pdf: str,
    title: str,
    **params,
) -> None:
    """Workflow stage ``fig_<name>``: read a figure's tables and draw it.

    Parameters
    ----------
    name : a key of :data:`FIGURES`
    models : the models, in the order of every per-model input's paths
    inputs : {role: paths (one per model) or one path}
    png, pdf : output files
    title : the run's description (dataset, L, method), after the figure's title
    params : the spec's ``params``, by argument name
    """
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; registered: {', '.join(FIGURES)}")
    spec = FIGURES[name]
    tables: dict[str, object] = {}
    for role, source in spec.inputs.items():
        paths = inputs[role]
        read = _read if source.read else str
        if source.per_model:
            tables[role] = {m: read(p) for m, p in zip(models, list(paths), strict=True)}
        else:
            tables[role] = read(paths if isinstance(paths, str) else next(iter(paths)))
    plot = getattr(importlib.import_module("brainattr.figures"), spec.plot)
    plot(**tables, **params, title=f"{spec.title} - {title}", png=png, pdf=pdf)


def _read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path, sep="\t")
