"""The paper's figures from the analysis tables (PNG + PDF; BA and NWP in fixed colours).

Every figure's drawing lives in this one module (about 1000 lines) so that colours, line
styles and layer-group order are defined once; which figures exist, their inputs and
captions are in :mod:`brainattr.figure_registry`. The plotting backend is chosen by the
entry point (``brainattr.workflow.setup_script(plots=True)``), not on import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from brainattr.analysis import ba_nwp_pairs, important_set, iou
from brainattr.linguistic import primary_rows
from brainattr.masking_tables import masking_summary
from brainattr.tables import SCORES, TARGETS_PER_CHUNK, read_score_chunks

COLORS = {"ba": "#d95f02", "nwp": "#7570b3", "random": "#8c8c8c", "both": "#4d4d4d",
          "null": "#5a5a5a", "paper": "#e41a1c"}  # fmt: skip
GROUP_STYLE = {"early": ":", "middle": "--", "late": "-"}
GROUPS = ("early", "middle", "late")


def _save(fig: plt.Figure, png: str | Path, pdf: str | Path) -> None:
    fig.tight_layout()
    fig.savefig(png, dpi=150)
    fig.savefig(pdf)
    plt.close(fig)


def _sem(x: pd.Series) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


def ba_per_layer(tables: dict[str, pd.DataFrame], title: str, png: str, pdf: str) -> None:
    """Mean BA (± s.e.m. over subjects) per layer and model; selected layers starred."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for model, t in tables.items():
        n_layers = int(t["n_layers"].iloc[0]) if "n_layers" in t else None
        for edge in (n_layers / 3, 2 * n_layers / 3) if n_layers else ():
            ax.axvline(edge + 0.5, color=COLORS["random"], ls=":", lw=1)
        ax.errorbar(
            t["layer"],
            t["mean_ba"],
            yerr=t["sem_ba"].fillna(0),
            marker="o",
            ms=4,
            capsize=2,
            label=model,
        )
        sel = t[t["selected"]]
        ax.scatter(sel["layer"], sel["mean_ba"], marker="*", s=160, color="k", zorder=3)
    ax.scatter([], [], marker="*", s=100, color="k", label="selected (best of third)")
    ax.set(
        xlabel="layer (hidden_states index; dotted = thirds: early | middle | late)",
        ylabel="mean BA (Pearson r, ROI voxels)",
        title=title,
    )
    ax.legend(fontsize=8)
    _save(fig, png, pdf)


def controls(tables: dict[str, pd.DataFrame], model_specs: dict, title: str, png: str,
             pdf: str) -> None:  # fmt: skip
    """Per feature control (a model entry with ``control_of``), its mean BA per layer minus
    that of the model whose features it reads, ± the s.e.m.s combined, and a removal's null
    (dashed); left, the BA of both."""
    pairs = [(m, s["control_of"]) for m, s in model_specs.items() if "control_of" in s]
    fig, (ax_ba, ax_d) = plt.subplots(1, 2, figsize=(10, 3.6))
    for control, model in pairs:
        both = tables[control].merge(tables[model], on="layer", suffixes=("", "_model"))
        sem = np.hypot(both["sem_ba"].fillna(0), both["sem_ba_model"].fillna(0))
        line = ax_d.errorbar(both["layer"], both["mean_ba"] - both["mean_ba_model"], yerr=sem,
                             marker="o", ms=4, capsize=2, label=f"{control} - {model}")  # fmt: skip
        ax_ba.plot(both["layer"], both["mean_ba"], marker="o", ms=4, color=line[0].get_color(),
                   label=control)  # fmt: skip
        if "mean_ba_null" in both and both["mean_ba_null"].notna().any():
            ax_d.plot(both["layer"], both["mean_ba_null"] - both["mean_ba_model"], ls="--",
                      color=line[0].get_color(), alpha=0.6,
                      label=f"{control} null: groups rolled over the words")  # fmt: skip
    for model in dict.fromkeys(m for _, m in pairs):
        ax_ba.plot(tables[model]["layer"], tables[model]["mean_ba"], marker="s", ms=4, color="k",
                   label=model)  # fmt: skip
    ax_d.axhline(0, color=COLORS["random"], lw=1)
    ax_ba.set(xlabel="layer", ylabel="mean BA (Pearson r, ROI voxels)", title=title)
    ax_d.set(xlabel="layer", ylabel="delta BA (control - its model)")
    for ax in (ax_ba, ax_d):
        ax.legend(fontsize=8)
    _save(fig, png, pdf)


def feature_kinds(activations: dict[str, pd.DataFrame], attributions: dict[str, pd.DataFrame],
                  partition: dict[str, pd.DataFrame], title: str, png: str,
                  pdf: str) -> None:  # fmt: skip
    """Per model: left, mean BA per layer (± s.e.m. over subjects) of its activations and of
    its NWP attributions; right, the unique variance (R^2) of each kind beyond the other,
    subject means, with each kind's rolled-in-time null (dotted)."""
    fig, (ax_ba, ax_u) = plt.subplots(1, 2, figsize=(10, 3.6))
    kinds = [("activations", "-", "o"), ("attributions", "--", "s")]
    for model in activations:
        color = None
        for (kind, ls, marker), table in zip(kinds, (activations[model], attributions[model]),
                                             strict=True):  # fmt: skip
            line = ax_ba.errorbar(table["layer"], table["mean_ba"], yerr=table["sem_ba"].fillna(0),
                                  ls=ls, marker=marker, ms=4, capsize=2, color=color,
                                  label=f"{model}: {kind}")  # fmt: skip
            color = line[0].get_color()
        means = partition[model].groupby("layer").mean(numeric_only=True).reset_index()
        for kind, ls, marker in kinds:
            ax_u.plot(means["layer"], means[f"unique_{kind}"], ls=ls, marker=marker, ms=4,
                      color=color, label=f"{model}: unique to {kind}")  # fmt: skip
            ax_u.plot(means["layer"], means[f"unique_{kind}_null"], ls=":", marker=marker, ms=3,
                      color=color, alpha=0.6, label=f"{model}: {kind} rolled (null)")  # fmt: skip
    ax_u.axhline(0, color=COLORS["random"], lw=1)
    ax_ba.set(xlabel="layer", ylabel="mean BA (Pearson r, ROI voxels)", title=title)
    ax_u.set(xlabel="layer", ylabel="unique variance (held-out R^2, ROI mean)")
    for ax in (ax_ba, ax_u):
        ax.legend(fontsize=7)
    _save(fig, png, pdf)


def faithfulness(curves: dict[str, pd.DataFrame], aopc: dict[str, pd.DataFrame], title: str,
                 png: str, pdf: str) -> None:  # fmt: skip
    """Per model (rows) and BA layer group or NWP(final) (columns): the mean relative loss
    change against the number k of masked words, for the task's top-k (95 % band), its
    distance-matched and random controls, and each null's top-k (grey); AOPC in the titles."""
    panels = [("ba", g) for g in GROUPS] + [("nwp", "final")]
    fig, axes = plt.subplots(len(curves), len(panels), figsize=(16, 3.8 * len(curves)),
                             squeeze=False)  # fmt: skip
    styles = {"top": "-", "matched": "--", "random": ":"}
    for row, (model, table) in zip(axes, curves.items(), strict=True):
        t = table.assign(null=table["null"].fillna(""))
        a = aopc[model].assign(null=aopc[model]["null"].fillna(""))
        for ax, (task, group) in zip(row, panels, strict=True):
            sel = t[(t["task"] == task) & (t["layer_group"] == group)]
            for null, g in sel.groupby("null", sort=True):
                for mask, m in g.groupby("mask"):
                    kind = mask.split("_")[-1]
                    m = m.sort_values("n_masked")
                    if null and kind != "top":
                        continue
                    color = COLORS["null"] if null else (COLORS[task] if kind != "random"
                                                        else COLORS["random"])  # fmt: skip
                    label = f"null {null}: top" if null else kind
                    ax.plot(m["n_masked"], 100 * m["mean_relative"], color=color,
                            ls=styles[kind], lw=1 if null else 1.8, marker="o", ms=3,
                            label=label)  # fmt: skip
                    if not null and kind == "top":
                        ax.fill_between(m["n_masked"], 100 * m["ci_low"], 100 * m["ci_high"],
                                        color=color, alpha=0.2)  # fmt: skip
            area = a[(a["task"] == task) & (a["layer_group"] == group) & (a["null"] == "")]
            text = "\n".join(f"AOPC vs {r.control.split('_')[-1]} {100 * r.aopc:+.1f} "
                             f"[{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}]"
                             for r in area.itertuples())  # fmt: skip
            name = "NWP(final)" if task == "nwp" else f"BA {group}"
            ax.set_title(f"{model}: {name}\n{text}", fontsize=7)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.axhline(0, color=COLORS["random"], lw=0.8)
            ax.set(xlabel="words masked (k)", ylabel="loss change (%)")
            if ax.get_legend_handles_labels()[0]:  # a layer group without selected layers
                ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, png, pdf)


GROUP_MARKERS = {"early": "o", "middle": "s", "late": "^", "final": "D"}


def training(layers: dict[str, pd.DataFrame], iou: dict[str, pd.DataFrame],
             spread: dict[str, pd.DataFrame], model_specs: dict, threshold: float, title: str,
             png: str, pdf: str) -> None:  # fmt: skip
    """Per checkpointed model (entries made from ``revisions``), against the training step:
    BA of each third's selected layer; mean IoU(BA, NWP) at ``threshold`` per layer group,
    with the random baseline dashed; mean spread AUC of BA per group and of NWP(final)."""
    families: dict[str, list[tuple[int, str]]] = {}
    for m, spec in model_specs.items():
        if "checkpoint_of" in spec and m in layers:
            families.setdefault(spec["checkpoint_of"], []).append((int(spec["step"]), m))
    fig, (ax_ba, ax_iou, ax_auc) = plt.subplots(1, 3, figsize=(13, 3.6))
    for family, members in families.items():
        steps, names = zip(*sorted(members), strict=True)
        for group in GROUPS:
            mk = dict(marker=GROUP_MARKERS[group], ms=5, label=f"{family} {group}")
            sel = [_rows(layers[m], selected=True, group=group)["mean_ba"].mean() for m in names]
            ax_ba.plot(steps, sel, color=COLORS["ba"], **mk)
            t = [iou[m][iou[m]["layer_group"] == group] for m in names]
            at = [x[np.isclose(x["threshold"], _nearest(x["threshold"], threshold))] for x in t]
            ax_iou.plot(steps, [x["iou"].mean() for x in at], color=COLORS["both"], **mk)
            ax_iou.plot(steps, [x["iou_random"].mean() for x in at], color=COLORS["random"],
                        ls="--", marker=GROUP_MARKERS[group], ms=3)  # fmt: skip
            auc = [_rows(spread[m], task="ba", layer_group=group)["auc"].mean() for m in names]
            ax_auc.plot(steps, auc, color=COLORS["ba"], **mk)
        nwp = [_rows(spread[m], task="nwp", layer_group="final")["auc"].mean() for m in names]
        ax_auc.plot(steps, nwp, color=COLORS["nwp"], marker="D", ms=5, label=f"{family} NWP")
    ax_iou.plot([], [], color=COLORS["random"], ls="--", label="random baseline")
    ax_ba.set(ylabel="BA of the selected layer (mean r)", title=title)
    ax_iou.set(ylabel=f"IoU(BA, NWP) at {threshold:.0%}")
    ax_auc.set(ylabel="spread AUC (words needed vs threshold)")
    for ax in (ax_ba, ax_iou, ax_auc):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("training step")
        ax.legend(fontsize=7)
    _save(fig, png, pdf)


def _rows(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """The rows of ``table`` whose columns equal the given values."""
    keep = np.ones(len(table), dtype=bool)
    for column, value in equal.items():
        keep &= (table[column] == value).to_numpy()
    return table[keep]


def _nearest(values: pd.Series, target: float) -> float:
    """The value of ``values`` closest to ``target`` (a configured threshold)."""
    v = np.asarray(values, dtype=float)
    return float(v[np.abs(v - target).argmin()]) if v.size else target


NULL_STYLE = {"random_readout": (0, (1, 1)), "shifted_bold": (0, (4, 2))}
NULL_MARKER = {"random_readout": "_", "shifted_bold": "x"}


def _null_lines(ax, nulls: pd.DataFrame | None, value: str, x: str, group: str | None) -> None:
    """Each brain-free null's mean ``value`` by ``x`` (BA layer ``group`` or all), in grey."""
    if nulls is None or nulls.empty:
        return
    for null, t in nulls.groupby("null", sort=True):
        sel = t if group is None else t[t["layer_group"] == group]
        g = sel.groupby(x)[value].mean()
        scale = 100 if x == "threshold" else 1
        ax.plot(g.index * scale, g.values, color=COLORS["null"], ls=NULL_STYLE.get(null, ":"),
                lw=1.2, label=f"null: {null}" + (f" ({group})" if group else ""))  # fmt: skip


def _paper_marks(ax, reference: pd.DataFrame | None, spans: dict[str, tuple[float, float]],
                 scale: float) -> None:  # fmt: skip
    """The paper's range of each finding id in ``spans`` (x from, x to), as a red band."""
    if reference is None:
        return
    ref = reference.set_index("id")
    for fid, (x0, x1) in spans.items():
        if fid not in ref.index:
            continue
        r = ref.loc[fid]
        lo, hi = float(r["paper_low"]) * scale, float(r["paper_high"]) * scale
        if not np.isfinite(hi):  # one-sided ("more than doubles")
            ax.hlines(lo, x0, x1, color=COLORS["paper"], ls="--",
                      label=f"paper: {r['paper_value']}")  # fmt: skip
        elif x0 == x1:
            ax.errorbar([x0], [(lo + hi) / 2], yerr=[[(hi - lo) / 2], [(hi - lo) / 2]], fmt="*",
                        color=COLORS["paper"], ms=8, capsize=3,
                        label=f"paper: {r['paper_value']} at {x0:g} %")  # fmt: skip
        else:
            ax.fill_between([x0, x1], [lo, lo], [hi, hi], color=COLORS["paper"], alpha=0.15,
                            label=f"paper: {r['paper_value']}")  # fmt: skip


def iou_vs_threshold(
    tables: dict[str, pd.DataFrame],
    title: str,
    png: str,
    pdf: str,
    nulls: dict[str, pd.DataFrame] | None = None,
    reference: pd.DataFrame | None = None,
) -> None:
    """Fig. 2: BA/NWP IoU of important sets vs threshold, per model, with the chance baselines
    (within-context permutation, position-keeping), the brain-free nulls' IoU and the paper's
    reported values (``reference``: ``resources/paper_reference.tsv``)."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.5 * len(tables), 3.6), squeeze=False)
    for ax, (model, t) in zip(axes[0], tables.items(), strict=True):
        _null_lines(ax, (nulls or {}).get(model), "iou", "threshold", None)
        lens = _has_logit_lens(t)
        for group in GROUPS:
            g = t[t["layer_group"] == group].groupby("threshold")
            ax.plot(
                g["iou"].mean().index * 100,
                g["iou"].mean().values,
                GROUP_STYLE[group],
                color="k",
                marker="o",
                ms=3,
                label=f"BA ({group}) vs NWP ({group})" if lens else f"BA ({group}) vs NWP",
            )
            if lens:  # the paper's pairing, NWP read at the model's output
                final = g["iou_final"].mean()
                ax.plot(
                    final.index * 100,
                    final.values,
                    GROUP_STYLE[group],
                    color=COLORS["nwp"],
                    lw=1,
                    label=f"BA ({group}) vs NWP (final)",
                )
        base = t.groupby("threshold")["iou_random"].mean()
        ax.plot(
            base.index * 100, base.values, color=COLORS["random"], lw=2, label="random baseline"
        )
        if t["iou_position"].notna().any():
            pos = t.groupby("threshold")["iou_position"].mean()
            ax.plot(pos.index * 100, pos.values, color=COLORS["random"], lw=2, ls="-.",
                    label="position-keeping baseline")  # fmt: skip
        _paper_marks(ax, reference, {"iou_low_thresholds": (0, 10), "iou_10": (10, 10),
                                     "iou_98": (98, 98)}, scale=1)  # fmt: skip
        ax.set(
            xlabel="cumulative attribution mass threshold (%)",
            ylabel="IoU (BA, NWP)",
            title=f"{model}",
            ylim=(0, 1),
        )
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, png, pdf)


def spread(
    sets: dict[str, pd.DataFrame],
    tests: pd.DataFrame,
    title: str,
    png: str,
    pdf: str,
    null_sets: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Fig. 3: words needed to reach each threshold, BA vs NWP, per model and layer group,
    with the brain-free nulls' BA in grey."""
    models = list(sets)
    fig, axes = plt.subplots(len(models), 3, figsize=(13, 3.9 * len(models)), squeeze=False)
    primary = "logit_lens" if "logit_lens" in set(tests["nwp_readout"]) else "final"
    for row, model in zip(axes, models, strict=True):
        s = sets[model]
        for ax, group in zip(row, GROUPS, strict=True):
            for task, sel, label, ls in _task_series(s, group):
                g = s[(s["task"] == task) & (s["layer_group"] == sel)].groupby("threshold")
                m, e = g["n_important"].mean(), g["n_important"].agg(_sem)
                c = COLORS[task]
                if ls == "-":
                    ax.plot(m.index * 100, m.values, color=c, marker="o", ms=3, label=label)
                    ax.fill_between(m.index * 100, m - e, m + e, color=c, alpha=0.2)
                else:  # NWP(final) beside NWP(l): the paper's reference, a thin dashed line
                    ax.plot(m.index * 100, m.values, ls, color=c, lw=1.2, label=label)
            _null_lines(ax, (null_sets or {}).get(model), "n_important", "threshold", group)
            tt = tests[(tests["model"] == model) & (tests["layer_group"] == group)
                       & (tests["nwp_readout"] == primary)]  # fmt: skip
            note = ""
            if len(tt):
                r = tt.iloc[0]
                stars = (
                    "***" if r.q < 0.001 else "**" if r.q < 0.01 else "*" if r.q < 0.05 else "n.s."
                )
                nwp = f"NWP ({group})" if primary == "logit_lens" else "NWP"
                note = (
                    f"\nAUC BA {r.auc_ba:.1f} vs {nwp} {r.auc_nwp:.1f}: {r.effect:+.1f} "
                    f"[{r.ci_low:+.1f}, {r.ci_high:+.1f}]\nblock test q={r.q:.2g} {stars}; "
                    f"paper's t-test q={r.q_paper:.2g}"
                )
            ax.set(
                xlabel="threshold (%)",
                ylabel="words in important set",
                title=f"{model}, {group} layer{note}",
            )
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, png, pdf)


def positions(
    hists: dict[str, pd.DataFrame],
    com: dict[str, pd.DataFrame],
    threshold: float,
    title: str,
    png: str,
    pdf: str,
    null_hists: dict[str, pd.DataFrame] | None = None,
    null_com: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Fig. 5: where important words lie, by distance from the most recent word: per distance,
    the share of the contexts reaching it that have an important word there (``rate``), with
    the centre of mass; the brain-free nulls' BA in grey."""
    models = list(hists)
    fig, axes = plt.subplots(len(models), 3, figsize=(12, 3.2 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        h, c = hists[model], com[model]
        for ax, group in zip(row, GROUPS, strict=True):
            for task, sel, name, ls in _task_series(h, group):
                d = h[(h["task"] == task) & (h["layer_group"] == sel)]
                cm = c[(c["task"] == task) & (c["layer_group"] == sel)]
                if ls != "-" and not d.empty:  # NWP(final) beside NWP(l): the paper's, a line
                    ax.step(
                        d["distance"],
                        d["rate"],
                        where="mid",
                        color=COLORS[task],
                        lw=1,
                        ls=ls,
                        label=f"{name} (CoM {cm['center_of_mass'].mean():.1f})",
                    )
                    ax.axvline(cm["center_of_mass"].mean(), color=COLORS[task], lw=1, ls=ls)
                    continue
                if d.empty:
                    ax.text(
                        0.5,
                        0.5,
                        f"no {task.upper()} {sel} data",
                        ha="center",
                        transform=ax.transAxes,
                    )
                    continue
                ax.bar(
                    d["distance"],
                    d["rate"],
                    width=1.0,
                    alpha=0.5,
                    color=COLORS[task],
                    label=f"{name} (CoM {cm['center_of_mass'].mean():.1f}, "
                    f"IQR {cm['iqr'].mean():.1f}, H {cm['entropy'].iloc[0]:.2f})",
                )
                ax.axvline(cm["center_of_mass"].mean(), color=COLORS[task], lw=1.5)
            _null_lines(ax, (null_hists or {}).get(model), "rate", "distance", group)
            nc = (null_com or {}).get(model)
            if nc is not None and not nc.empty:
                for null, t in nc[nc["layer_group"] == group].groupby("null"):
                    ax.axvline(t["center_of_mass"].mean(), color=COLORS["null"], lw=1.2,
                               ls=NULL_STYLE.get(null, ":"))  # fmt: skip
            ax.set(
                xlabel="distance from the most recent word (words)",
                ylabel="contexts with an important word",
                title=f"{model}, BA {group} layer",
            )
            ax.legend(fontsize=7)
    fig.suptitle(
        f"{title} (important sets at {threshold:.0%}; lines = centre of mass)", fontsize=10
    )
    _save(fig, png, pdf)


def _has_logit_lens(table: pd.DataFrame) -> bool:
    """Whether an IoU table's BA was paired with NWP read at its own layer (logit lens)."""
    return bool((table["iou"] != table["iou_final"]).any() and table["iou_final"].notna().any())


def _task_series(table: pd.DataFrame, group: str) -> list[tuple[str, str, str, str]]:
    """(task, layer_group, label, line style) drawn in a layer group's panel: BA(group);
    NWP(group) where NWP was read at the layer (logit lens), with NWP(final) dashed as the
    paper's reference; else NWP(final)."""
    nwp_groups = set(table.loc[table["task"] == "nwp", "layer_group"])
    series = [("ba", group, f"BA ({group})", "-")]
    if group in nwp_groups:
        series.append(("nwp", group, f"NWP ({group}, logit lens)", "-"))
        if "final" in nwp_groups:
            series.append(("nwp", "final", "NWP (final)", "--"))
    elif "final" in nwp_groups:
        series.append(("nwp", "final", "NWP (final)", "-"))
    return series


def _bars(ax, rows: pd.DataFrame, order: list[tuple[str, str, str]], x: str) -> None:
    """Grouped bars of ``change_percent`` by ``x`` with the interval columns as whiskers."""
    groups = [g for g in GROUPS if g in set(rows[x])] or sorted(set(rows[x]))
    width = 0.8 / len(order)
    for j, (mask, label, color) in enumerate(order):
        sel = rows[rows["mask"] == mask].set_index(x).reindex(groups)
        pos = np.arange(len(groups)) + (j - (len(order) - 1) / 2) * width
        err = [sel["change_percent"] - sel["ci_low_percent"],
               sel["ci_high_percent"] - sel["change_percent"]]  # fmt: skip
        ax.bar(pos, sel["change_percent"], width, color=color, label=label, yerr=err, capsize=2,
               error_kw={"lw": 0.8})  # fmt: skip
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.axhline(0, color="k", lw=0.8)


def masking(
    tables: dict[str, pd.DataFrame],
    title: str,
    png: str,
    pdf: str,
    per_target: dict[str, pd.DataFrame] | None = None,
    reference: pd.DataFrame | None = None,
) -> None:
    """Masking: change in BA r and NWP loss when a context's top words are replaced, against
    the distance-matched, random and cross-task controls (the paper's values from ``reference``
    in red); and, per target, BA's top-minus-matched loss increase beside the brain-free nulls'
    (grey)."""
    models = list(tables)
    fig, axes = plt.subplots(len(models), 3, figsize=(15, 3.6 * len(models)), squeeze=False)
    for (ax_ba, ax_null, ax_nwp), model in zip(axes, models, strict=True):
        t = tables[model]
        summary = masking_summary({model: t})
        ba_order = [("ba_top", "BA-top words", COLORS["ba"]),
                    ("ba_matched", "distance-matched", "#fdb863"),
                    ("random", "random words", COLORS["random"]),
                    ("nwp_top", "NWP-top words", COLORS["nwp"])]  # fmt: skip
        _bars(ax_ba, summary[summary["task"] == "ba"], ba_order, "layer_group")
        _paper_marks(ax_ba, reference, {"masking_ba_top": (-0.4, 2.4)}, scale=100)
        n_masked = t.loc[t["mask"] != "none", "n_masked"].mean()
        ax_ba.set(ylabel="change in BA r (%)", xlabel="BA layer",
                  title=f"{model}: BA, {n_masked:.1f} word(s) masked, "
                  f"{int(t['n_seeds'].max())} seeds")  # fmt: skip
        ax_ba.legend(fontsize=7)
        nwp_order = [("nwp_top", "NWP-top words", COLORS["nwp"]),
                     ("nwp_matched", "distance-matched", "#b2abd2"),
                     ("random", "random words", COLORS["random"])]  # fmt: skip
        nwp = summary[summary["task"] == "nwp"]
        _bars(ax_nwp, nwp[nwp["layer_group"] == "final"], nwp_order, "layer_group")
        _paper_marks(ax_nwp, reference, {"masking_nwp_top": (-0.4, 0.4)}, scale=100)
        cross = nwp[nwp["mask"] == "ba_top"].set_index("layer_group")
        cross = cross.reindex([g for g in GROUPS if g in cross.index]).reset_index()
        ax_nwp.bar(np.arange(len(cross)) + 1, cross["change_percent"], 0.5, color=COLORS["ba"],
                   label="BA-top words")  # fmt: skip
        ax_nwp.set_xticks(
            range(len(cross) + 1), ["NWP's own", *[f"BA {g}" for g in cross["layer_group"]]]
        )
        ax_nwp.set(
            ylabel="change in NWP cross-entropy (%)", title=f"{model}: NWP loss after masking"
        )
        ax_nwp.legend(fontsize=7)
        _masking_null_panel(ax_null, (per_target or {}).get(model), model)
    fig.suptitle(f"{title}; whiskers: block-bootstrap 95 % interval of the group's change",
                 fontsize=10)  # fmt: skip
    _save(fig, png, pdf)


def _masking_null_panel(ax, per_target: pd.DataFrame | None, model: str) -> None:
    """Mean over targets of the relative BA loss increase, top words minus matched words, of
    the fitted readouts and of each brain-free null."""
    ax.set(ylabel="loss increase, top - matched (%)", xlabel="BA layer",
           title="beyond the architecture (per target)")  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    if per_target is None or per_target.empty:
        return
    t = per_target[per_target["task"] == "ba"].assign(null=lambda d: d["null"].fillna(""))
    wide = t.pivot_table(index=["null", "subject", "layer", "layer_group", "target_tr"],
                         columns="mask", values="relative").reset_index()  # fmt: skip
    wide["effect"] = 100 * (wide["ba_top"] - wide["ba_matched"])
    readouts = sorted(set(wide["null"]))
    width = 0.8 / len(readouts)
    groups = [g for g in GROUPS if g in set(wide["layer_group"])]
    for j, null in enumerate(readouts):
        g = wide[wide["null"] == null].groupby("layer_group")["effect"].mean().reindex(groups)
        pos = np.arange(len(groups)) + (j - (len(readouts) - 1) / 2) * width
        style = {"color": COLORS["ba"]} if not null else {"color": "white",
                 "edgecolor": COLORS["null"], "hatch": "//" if j % 2 else ".."}  # fmt: skip
        ax.bar(pos, g.to_numpy(), width, label=null or "fitted readouts", **style)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.legend(fontsize=7)


def linguistic(
    tables: dict[str, pd.DataFrame],
    title: str,
    png: str,
    pdf: str,
    null_tables: dict[str, pd.DataFrame] | None = None,
    reference: pd.DataFrame | None = None,
) -> None:
    """Fig. 4: share of each annotation group's words important to BA only, both, NWP only;
    the brain-free nulls' BA-only share as grey ticks; for HP's semantic group the paper's
    shares at 60 % (BA ~33 %, NWP ~20 % of the group's words in each set) as red ranges."""
    finals = {m: t[t["nwp_readout"] == "final"] for m, t in tables.items()}
    tables = {m: primary_rows(t) for m, t in tables.items()}
    lens = any((t["nwp_readout"] == "logit_lens").any() for t in tables.values())
    null_tables = {m: primary_rows(t) for m, t in (null_tables or {}).items()}
    models = list(tables)
    groups = list(dict.fromkeys(next(iter(tables.values()))["group"]))
    fig, axes = plt.subplots(
        len(models), len(groups), figsize=(3.6 * len(groups), 3.2 * len(models)), squeeze=False
    )
    cats = [("ba_only", "BA only", COLORS["ba"]), ("both", "both", COLORS["both"])]
    cats.append(("nwp_only", "NWP only", COLORS["nwp"]))
    for row, model in zip(axes, models, strict=True):
        t = tables[model]
        for ax, group in zip(row, groups, strict=True):
            g = t[t["group"] == group].groupby("threshold")[[c for c, _, _ in cats]].mean()
            x = np.arange(len(g))
            for k, (col, label, color) in enumerate(cats):
                ax.bar(x + (k - 1) * 0.27, 100 * g[col], width=0.27, color=color, label=label)
            nulls = (null_tables or {}).get(model)
            for null, n in [] if nulls is None else nulls[nulls["group"] == group].groupby("null"):
                share = n.groupby("threshold")["ba_only"].mean().reindex(g.index)
                ax.plot(x - 0.27, 100 * share.to_numpy(), ls="none", mew=2, ms=9,
                        marker=NULL_MARKER.get(null, "_"), color=COLORS["null"],
                        label=f"BA only, null: {null}")  # fmt: skip
            f = finals[model]
            if lens and not f.empty:  # NWP(final)'s share of the group: the paper's NWP
                f = f[f["group"] == group]
                share = (f["nwp_only"] + f["both"]).groupby(f["threshold"]).mean()
                ax.plot(
                    x + 0.27,
                    100 * share.reindex(g.index).to_numpy(),
                    ls="none",
                    mew=2,
                    ms=9,
                    marker="_",
                    color=COLORS["nwp"],
                    label="NWP (final): in its set",
                )
            labels = [f"{th:.0%}" for th in g.index]
            if "enrichment_ba" in t:  # each task's enrichment under its threshold
                cols = ["enrichment_ba", "enrichment_nwp"]
                e = t[t["group"] == group].groupby("threshold")[cols].mean()
                labels = [f"{th:.0%}\n{r.enrichment_ba:.2f} / {r.enrichment_nwp:.2f}"
                          for th, r in e.reindex(g.index).iterrows()]  # fmt: skip
            ax.set_xticks(x, labels, fontsize=7)
            th = list(np.round(g.index, 6))
            if group == "semantic" and 0.6 in th:  # the paper's shares of HP's semantic words
                at = th.index(0.6)
                _paper_marks(ax, reference, {"linguistic_semantic_ba": (at - 0.4, at - 0.14),
                                             "linguistic_semantic_nwp": (at + 0.14, at + 0.4)},
                             scale=100)  # fmt: skip
            ax.set(xlabel="threshold (below: enrichment BA / NWP)", ylabel=f"{group} words (%)",
                   title=f"{model}: {group}")  # fmt: skip
        row[0].legend(fontsize=6)
    fig.suptitle(
        f"{title}\nshares of the span's group words; BA: all selected layers; NWP read at "
        f"{'the same layer (logit lens), NWP (final) as a tick' if lens else 'the output'}",
        fontsize=10,
    )
    _save(fig, png, pdf)


def noise_ceiling(tables: dict[str, pd.DataFrame], title: str, png: str, pdf: str) -> None:
    """BA against its noise ceiling per layer: from the repeats (BA on the repeated run) and
    between subjects (BA on all held-out TRs; dotted), and BA as a share of each ceiling."""
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(10, 3.6))
    styles = {"repeats": ("-", "--"), "intersubject": (":", "-.")}
    for model, table in tables.items():
        kinds = table["ceiling"] if "ceiling" in table else pd.Series("repeats", table.index)
        for kind, t in table.groupby(kinds, sort=False):
            g = t.groupby("layer")[["ba_repeated", "noise_ceiling", "ba_normalized"]]
            m, e = g.mean(), g.agg(_sem)
            ba_style, ceiling_style = styles.get(kind, ("-", "--"))
            line = ax.errorbar(m.index, m["ba_repeated"], yerr=e["ba_repeated"], marker="o",
                               ms=4, capsize=2, ls=ba_style,
                               label=f"{model}: BA ({kind})")  # fmt: skip
            ax.plot(m.index, m["noise_ceiling"], ls=ceiling_style, color=line[0].get_color(),
                    label=f"{model}: {kind} ceiling")  # fmt: skip
            ax_n.errorbar(m.index, 100 * m["ba_normalized"], yerr=100 * e["ba_normalized"],
                          marker="o", ms=4, capsize=2, ls=ba_style,
                          label=f"{model} ({kind})")  # fmt: skip
    ax.set(xlabel="layer", ylabel="Pearson r (ROI voxels with a ceiling)",
           title="BA and its noise ceilings")  # fmt: skip
    ax_n.set(xlabel="layer", ylabel="BA / noise ceiling (%)", title="Normalised BA")
    for a in (ax, ax_n):
        a.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, png, pdf)


def stability(
    tables: dict[str, pd.DataFrame],
    title: str,
    png: str,
    pdf: str,
    nulls: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Agreement of BA attributions of the same target between subjects and between repeats;
    the brain-free nulls' agreement between subjects as grey markers."""
    models = list(tables)
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.4 * len(models)), squeeze=False)
    for (ax_r, ax_i), model in zip(axes, models, strict=True):
        t = tables[model]
        comps = [c for c in ("subjects", "repeats") if c in set(t["comparison"])]
        if not comps:
            ax_r.text(0.5, 0.5, "one subject and no repeats: nothing to compare", ha="center",
                      transform=ax_r.transAxes)  # fmt: skip
            continue
        x = np.arange(len(GROUPS))
        for k, comp in enumerate(comps):
            g = t[t["comparison"] == comp].groupby("layer_group")[["spearman", "iou", "iou_random"]]
            off = (k - (len(comps) - 1) / 2) * 0.35
            m, e = g.mean().reindex(GROUPS), g.agg(_sem).reindex(GROUPS)
            hatch = "" if comp == "subjects" else "//"
            ax_r.bar(x + off, m["spearman"], 0.35, yerr=e["spearman"], color=COLORS["ba"],
                     hatch=hatch, edgecolor="k", label=f"between {comp}")  # fmt: skip
            ax_i.bar(x + off, m["iou"], 0.35, yerr=e["iou"], color=COLORS["ba"], hatch=hatch,
                     edgecolor="k", label=f"between {comp}")  # fmt: skip
            ax_i.scatter(x + off, m["iou_random"], marker="_", s=300, color="k", zorder=3,
                         label="permuted (chance)" if k == 0 else "_nolegend_")  # fmt: skip
        nt = (nulls or {}).get(model)
        if nt is not None and not nt.empty and "subjects" in comps:
            off = -(len(comps) - 1) / 2 * 0.35  # over the between-subjects bars
            for k, (null, g) in enumerate(nt[nt["comparison"] == "subjects"].groupby("null")):
                m = g.groupby("layer_group")[["spearman", "iou"]].mean().reindex(GROUPS)
                marker = "ov"[k % 2]
                for ax, col in ((ax_r, "spearman"), (ax_i, "iou")):
                    ax.scatter(x + off, m[col], marker=marker, s=40, color=COLORS["null"],
                               zorder=4, label=f"null: {null}")  # fmt: skip
        for ax, ylabel in ((ax_r, "Spearman rho"), (ax_i, "IoU of top sets")):
            ax.set_xticks(x, [f"BA {g} layer" for g in GROUPS])
            ax.axhline(0, color="k", lw=0.8)
            ax.set(ylabel=ylabel, title=f"{model}: same target, {ylabel}")
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, png, pdf)


def brain_map(img, groups: list[str], title: str, png: str, pdf: str) -> None:
    """Glass-brain views of a 4D BA map (one volume per selected layer group)."""
    from nilearn import image, plotting

    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.8 * len(groups)), squeeze=False)
    vmax = float(np.nanmax(np.abs(img.get_fdata()))) or 1.0
    for k, (ax, group) in enumerate(zip(axes[:, 0], groups, strict=True)):
        plotting.plot_glass_brain(
            image.index_img(img, k),
            axes=ax,
            figure=fig,
            colorbar=True,
            plot_abs=False,
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            title=f"{group} layer",
        )
    fig.suptitle(title, fontsize=10)
    fig.savefig(png, dpi=150)
    fig.savefig(pdf)
    plt.close(fig)


def context_control(
    com: dict[tuple[str, int], pd.DataFrame],
    iou_tables: dict[tuple[str, int], pd.DataFrame],
    threshold: float,
    title: str,
    png: str,
    pdf: str,
) -> None:
    """The context-length control: centre of mass and BA/NWP IoU per context length L.

    ``com`` and ``iou_tables`` are keyed (model, L).
    """
    models = list(dict.fromkeys(m for m, _ in com))
    contexts = sorted({c for _, c in com})
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.4 * len(models)), squeeze=False)
    x = np.arange(len(contexts))
    for (ax_c, ax_i), model in zip(axes, models, strict=True):
        series = [("nwp", "final", "NWP (final)", "-.")]  # apart from the late layer's "-"
        series += [("ba", g, f"BA {g}", GROUP_STYLE[g]) for g in GROUPS]
        series += [("nwp", g, f"NWP {g} (logit lens)", GROUP_STYLE[g]) for g in GROUPS
                   if any(((t["task"] == "nwp") & (t["layer_group"] == g)).any()
                          for t in com.values())]  # fmt: skip
        for task, group, label, style in series:
            vals = []
            for c in contexts:
                t = com[(model, c)]
                sel = t[(t["task"] == task) & (t["layer_group"] == group)]["center_of_mass"]
                vals.append(sel.mean())
            ax_c.plot(x, vals, style, marker="o", color=COLORS[task], label=label)
        for g in GROUPS:
            vals, base = [], []
            for c in contexts:
                t = iou_tables[(model, c)]
                t = t[np.isclose(t["threshold"], threshold) & (t["layer_group"] == g)]
                vals.append(t["iou"].mean())
                base.append(t["iou_random"].mean())
            lens = any(_has_logit_lens(t) for t in iou_tables.values())
            nwp = f"NWP {g}" if lens else "NWP"
            ax_i.plot(x, vals, GROUP_STYLE[g], marker="o", color="k", label=f"BA {g} vs {nwp}")
            ax_i.plot(x, base, GROUP_STYLE[g], color=COLORS["random"], label=f"random ({g})")
        for ax in (ax_c, ax_i):
            ax.set_xticks(x, [f"L = {c}" for c in contexts])
            ax.legend(fontsize=7)
        ax_c.set(ylabel="centre of mass (words back)", title=f"{model}: where important words lie")
        ax_i.set(ylabel=f"IoU at {threshold:.0%}", title=f"{model}: BA/NWP overlap")
    fig.suptitle(title, fontsize=10)
    _save(fig, png, pdf)


def run_context_control(
    model_contexts: list[tuple[str, int]],
    com_paths: list[str],
    iou_paths: list[str],
    threshold: float,
    title: str,
    png: str,
    pdf: str,
) -> None:
    """Workflow stage ``fig_context_control``: the tables of every (model, L), in the order of
    ``model_contexts``, drawn by :func:`context_control`."""

    def read(paths: list[str]) -> dict[tuple[str, int], pd.DataFrame]:
        return {
            (m, int(c)): pd.read_csv(p, sep="\t")
            for (m, c), p in zip(model_contexts, paths, strict=True)
        }

    context_control(read(com_paths), read(iou_paths), threshold, title, png, pdf)


def recovery(table: pd.DataFrame, title: str, png: str, pdf: str) -> None:
    """Demo: share of planted driver words in the top sets vs their base rate (whiskers: the
    per-target block-bootstrap 95 % interval of the enrichment); the brain-free nulls' BA
    (column ``null``, where present) in grey beside the fitted readouts'."""
    n_bars = len(table)
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * n_bars), 4.6))
    labels, vals, colors, errs = [], [], [], []
    base = None
    order = {g: i for i, g in enumerate((*GROUPS, "final"))}
    table = table.assign(null=table["null"].fillna("") if "null" in table else "")
    for model, t in table.groupby("model", sort=False):
        t = t.assign(_rank=t["layer_group"].map(order)).sort_values(["task", "_rank", "null"])
        for r in t.itertuples(index=False):
            null = f" null: {r.null}" if r.null else ""
            labels.append(f"{model} {r.task.upper()} {r.layer_group}{null}")
            vals.append(100 * r.share_in_top)
            colors.append(COLORS["null"] if r.null else COLORS[r.task])
            errs.append(100 * np.array([r.effect - r.ci_low, r.ci_high - r.effect]))
            base = 100 * r.base_rate
    ax.bar(range(len(vals)), vals, color=colors, yerr=np.nan_to_num(np.array(errs).T),
           capsize=2, error_kw={"lw": 0.8})  # fmt: skip
    if base is not None:
        ax.axhline(base, color=COLORS["random"], ls="--", label=f"base rate {base:.1f}%")
        ax.axhline(2 * base, color="k", ls=":", label="2 x base rate")
    ax.set_xticks(range(len(vals)), labels, fontsize=7, rotation=35, ha="right")
    ax.set(ylabel="planted driver words in top set (%)", title=title)
    ax.legend(fontsize=8)
    _save(fig, png, pdf)


VERDICT_COLORS = {"reproduced": "#1b9e77", "not reproduced": "#d95f02",
                  "not comparable": "#d9d9d9"}  # fmt: skip


def paper_check(table: pd.DataFrame, title: str, png: str, pdf: str) -> None:
    """One page of verdicts: a row per paper finding, a column per run (dataset, L, method,
    model); each cell coloured by its verdict and labelled with our value."""
    runs = table[["dataset", "context_words", "method", "model"]].drop_duplicates()
    ids = list(dict.fromkeys(table["id"]))
    cell = table.set_index(["id", "dataset", "context_words", "method", "model"])
    fig, ax = plt.subplots(figsize=(7 + 1.1 * len(runs), 1.4 + 0.42 * len(ids)))
    for j, run in enumerate(runs.itertuples(index=False)):
        for i, fid in enumerate(ids):
            r = cell.loc[(fid, *run)]
            ax.add_patch(plt.Rectangle((j, i), 1, 1, color=VERDICT_COLORS[r["verdict"]], ec="w"))
            text = "n/a" if not np.isfinite(r["ours"]) else f"{r['ours']:.3g}"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7)
    paper = table.drop_duplicates("id").set_index("id")["paper"]
    ax.set_yticks(np.arange(len(ids)) + 0.5, [f"{fid}  (paper: {paper[fid]})" for fid in ids],
                  fontsize=7)  # fmt: skip
    ax.set_xticks(np.arange(len(runs)) + 0.5,
                  [f"{r.dataset}\nL = {r.context_words}\n{r.method}\n{r.model}"
                   for r in runs.itertuples(index=False)], fontsize=6)  # fmt: skip
    ax.set(xlim=(0, len(runs)), ylim=(len(ids), 0))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLORS.values()]
    ax.legend(handles, list(VERDICT_COLORS), fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1))  # fmt: skip
    fig.suptitle(f"{title}: which of the paper's findings this run reproduces", fontsize=10)
    _save(fig, png, pdf)


WORD_STRIPS = [("ba", g, f"BA {g}") for g in GROUPS] + [("nwp", "final", "NWP")]
# the word picture: words shown per target, characters per line, words listed per category
WORDS_SHOWN, LINE_CHARS, WORDS_LISTED = 60, 110, 8


def _word_strengths(rows: pd.DataFrame, span: np.ndarray) -> dict[str, np.ndarray]:
    """Per strip of :data:`WORD_STRIPS`: |score| per span word (BA: mean over subjects),
    scaled to the strip's maximum over the shown words (0 where the task has no row)."""
    out = {}
    for task, group, label in WORD_STRIPS:
        sel = rows[(rows["task"] == task) & (rows["layer_group"] == group)]
        mag = sel["score"].abs().groupby(sel["word_index"]).mean().reindex(span).fillna(0.0)
        top = mag.max()
        out[label] = (mag / top).to_numpy() if top > 0 else mag.to_numpy()
    return out


# a score table in memory, or the path of one (read a chunk of targets at a time)
Scores = pd.DataFrame | str | Path


def _chunks(s: Scores) -> Iterator[pd.DataFrame]:
    if isinstance(s, pd.DataFrame):
        yield s
    else:
        yield from read_score_chunks(s, SCORES, TARGETS_PER_CHUNK)


def _target_rows(s: Scores, target: int) -> pd.DataFrame:
    if isinstance(s, pd.DataFrame):
        return s[s["target_tr"] == target]
    return next(read_score_chunks(s, SCORES, 1, np.array([target])))


def _word_sets(s: Scores, threshold: float):
    """(target, span words, BA set, NWP(final) set) of every BA context at ``threshold``,
    paired by :func:`brainattr.analysis.ba_nwp_pairs`."""
    for chunk in _chunks(s):
        text = {t: g.drop_duplicates("word_index").sort_values("word_index")["word"].astype(str)
                for t, g in chunk.groupby("target_tr")}  # fmt: skip
        for key, ba, nwp in ba_nwp_pairs(chunk, "final"):
            t = int(key[-1])
            yield t, text[t], important_set(ba, threshold), important_set(nwp, threshold)


def word_examples(s: Scores, threshold: float, seed: int) -> list[tuple[int, str]]:
    """Two targets to show: one drawn with ``seed``, and the one whose BA and NWP(final)
    important sets at ``threshold`` overlap least (mean IoU over its BA contexts)."""
    parts = [(c["target_tr"].unique(), c[c["task"] == "nwp"].groupby("target_tr")["word_index"]
              .nunique()) for c in _chunks(s)]  # fmt: skip
    targets = np.sort(np.concatenate([t for t, _ in parts]))
    drawn = int(np.random.default_rng(seed).choice(targets))
    overlap: dict[int, list[float]] = {}
    for t, _, a, b in _word_sets(s, threshold):
        overlap.setdefault(t, []).append(iou(a, b))
    # spans cut short at a story's start would win trivially: only spans of typical length
    length = pd.concat([n for _, n in parts])
    typical = set(length.index[length >= length.median()])
    rest = {t: np.mean(v) for t, v in overlap.items() if t != drawn and t in typical}
    picks = [(drawn, "drawn with the seed")]
    if rest:
        t = min(rest, key=rest.get)
        picks.append((t, f"BA and NWP disagree most (IoU {rest[t]:.2f})"))
    return picks


def word_table(s: Scores, threshold: float) -> dict[str, list[tuple[str, int]]]:
    """The words (lower case, punctuation stripped) most often important to BA only, both,
    NWP only at ``threshold``, counted over every BA context and its NWP(final) context."""
    counts: dict[str, dict[str, int]] = {"ba_only": {}, "both": {}, "nwp_only": {}}
    for _, span_words, a, b in _word_sets(s, threshold):
        text = span_words.str.lower().str.strip(".,;:!?\"'()-").to_numpy()
        for cat, m in (("ba_only", a & ~b), ("both", a & b), ("nwp_only", ~a & b)):
            for w in text[m]:
                counts[cat][w] = counts[cat].get(w, 0) + 1
    return {c: sorted(v.items(), key=lambda x: (-x[1], x[0]))[:WORDS_LISTED]
            for c, v in counts.items()}  # fmt: skip


def words(
    scores: dict[str, Scores],
    threshold: float,
    seed: int,
    title: str,
    png: str,
    pdf: str,
) -> None:
    """Which words: for two targets per model (:func:`word_examples`), the last
    :data:`WORDS_SHOWN` words of the span, each with one strip per task under it, shaded by its
    |attribution| (BA per layer group, mean over subjects; NWP read at the output), each strip
    scaled to its own maximum, the most recent word last; and per model the words most often
    important to BA only, both, NWP only at ``threshold`` (:func:`word_table`). ``scores``:
    per model the score table or its path (read a chunk of targets at a time)."""
    layouts = []
    for model, s in scores.items():
        for target, why in word_examples(s, threshold, seed):
            rows = _target_rows(s, target)
            text = rows.drop_duplicates("word_index").sort_values("word_index").tail(WORDS_SHOWN)
            x, line, places = 0, 0, []
            for w in text["word"].astype(str):
                if x + len(w) > LINE_CHARS and x > 0:
                    x, line = 0, line + 1
                places.append((x, line, w))
                x += len(w) + 1
            head = (f"{model}, target TR {target} ({why}): "
                    f"{'… ' if len(text) < rows['word_index'].nunique() else ''}the span's last "
                    f"{len(places)} words")  # fmt: skip
            layouts.append(
                (
                    "words",
                    head,
                    places,
                    _word_strengths(rows, text["word_index"].to_numpy()),
                    line + 1,
                )
            )
        layouts.append(("table", f"{model}: words most often important at {threshold:.0%}",
                        word_table(s, threshold), None, 0))  # fmt: skip
    step = 1.0 + 0.22 * len(WORD_STRIPS)  # a line of words and its strips
    heights = [n * step + 0.8 if n else 3.6 for *_, n in layouts]
    fig, axes = plt.subplots(len(layouts), 1, figsize=(12, 0.32 * sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)  # fmt: skip
    strips = " / ".join(label for *_, label in WORD_STRIPS)
    for ax, (kind, head, content, strengths, _), h in zip(
        axes[:, 0], layouts, heights, strict=True
    ):
        ax.set(xlim=(-1, LINE_CHARS + 1), ylim=(h - 0.6, -0.6))
        ax.axis("off")
        # one character per x unit: a monospace glyph is 0.6 em wide
        size = ax.get_window_extent().width / (LINE_CHARS + 2) * 72 / fig.dpi / 0.6
        if kind == "table":
            for j, (cat, label, color) in enumerate(
                (("ba_only", "BA only", COLORS["ba"]), ("both", "both", COLORS["both"]),
                 ("nwp_only", "NWP only", COLORS["nwp"]))):  # fmt: skip
                listed = ", ".join(f"{w} ({n})" for w, n in content[cat]) or "none"
                ax.text(0, j * 1.2, f"{label}: {listed}", color=color, fontsize=size * 0.9,
                        va="center")  # fmt: skip
            ax.set_title(head, fontsize=8, loc="left")
            continue
        for k, (x, line, w) in enumerate(content):
            y = line * step
            ax.text(x, y, w, family="monospace", fontsize=size, va="center", ha="left")
            for j, (task, _, label) in enumerate(WORD_STRIPS):
                ax.add_patch(plt.Rectangle((x, y + 0.45 + 0.22 * j), len(w), 0.18,
                                           color=COLORS[task], alpha=float(strengths[label][k]),
                                           lw=0))  # fmt: skip
        ax.set_title(f"{head}; strips under each word: {strips}", fontsize=8, loc="left")
    fig.suptitle(f"{title} (shade = |attribution| / each strip's maximum)", fontsize=10)
    _save(fig, png, pdf)
