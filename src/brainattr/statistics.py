"""Stage ``inference``: every comparison the workflow reports, made per target with
dependence-aware intervals (:mod:`brainattr.inference`), beside the paper's context-level test.

One row per claim: BA - NWP (spread AUC, centre of mass, IQR) per layer group; an observed value
against a chance baseline (IoU and stability against permutation and position-keeping
baselines; linguistic BA-only against NWP-only shares); masking (top words against matched,
random and cross-task controls); and each BA value against each brain-free null's
(``<table>_vs_<null>``). Each row: the per-target ``effect`` (BA averaged over subjects first),
its block-bootstrap 95 % interval, block sign-flip ``p``, ``q`` (Benjamini-Hochberg within the
comparison), and the paper's paired t-test over contexts as if independent (``t_paper``,
``p_paper``, ``q_paper``), kept so the paper's numbers can be compared. Every claim's test is
here (about 400 lines) so that each family's BH correction is defined in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.dataset import read_dataset
from brainattr.inference import (
    DEFAULT_BLOCK_SPANS,
    bh_fdr,
    block_test,
    paper_ttest,
    span_trs,
    target_blocks,
)
from brainattr.linguistic import nwp_readouts, primary_rows
from brainattr.tables import (
    BA_CONTEXT,
    CENTER_OF_MASS,
    FINAL,
    INFERENCE,
    IOU,
    LINGUISTIC,
    MASKING_TARGETS,
    SPREAD,
    SPREAD_TESTS,
    STABILITY,
    read_table,
    write_table,
)


class StoryBlocks:
    """Block labels of target TRs: windows of ``block_trs`` TRs within a run.

    Parameters
    ----------
    runs : array (n_trs,)
        Run of every TR of the dataset.
    block_trs : int
    """

    def __init__(self, runs: np.ndarray, block_trs: int):
        self.runs, self.block_trs = np.asarray(runs), int(block_trs)

    @classmethod
    def of_dataset(
        cls, dataset_dir: str | Path, context_words: int, n_delays: int, block_spans: float
    ) -> StoryBlocks:
        """Blocks of ``block_spans`` spans (0 or less: the default, three spans)."""
        ds = read_dataset(dataset_dir)
        with_words = max(1, len(np.unique(ds.word_tr)))
        words_per_tr = len(ds.words) / with_words
        spans = block_spans if block_spans > 0 else DEFAULT_BLOCK_SPANS
        one_span = span_trs(context_words, words_per_tr, n_delays)
        return cls(ds.trs["run"].to_numpy(), max(1, round(spans * one_span)))

    def labels(self, target_tr: np.ndarray) -> np.ndarray:
        target_tr = np.asarray(target_tr, dtype=int)
        return target_blocks(target_tr, self.runs[target_tr], self.block_trs)


def _row(comparison, group, threshold, a_ctx, b_ctx, per_target, blocks, n_resamples, seed):
    """One claim: ``per_target`` (Series by target_tr) of the difference; ``a_ctx``, ``b_ctx``
    the paired context-level values for the paper's test."""
    res = block_test(per_target.to_numpy(), blocks.labels(per_target.index.to_numpy()),
                     n_resamples, seed)  # fmt: skip
    d = np.asarray(a_ctx) - np.asarray(b_ctx)
    # the paper's t-test is undefined without variation (identical differences)
    t, p = paper_ttest(a_ctx, b_ctx) if len(d) > 1 and np.ptp(d) > 0 else (np.nan, np.nan)
    return {
        "comparison": comparison,
        "layer_group": group,
        "threshold": threshold,
        "mean_a": float(np.mean(a_ctx)),
        "mean_b": float(np.mean(b_ctx)),
        "effect": res.effect,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "p": res.p,
        "n_targets": res.n_targets,
        "n_blocks": res.n_blocks,
        "block_trs": blocks.block_trs,
        "n_contexts": len(a_ctx),
        "t_paper": t,
        "p_paper": p,
    }


def _ba_vs_nwp(
    table: pd.DataFrame, value: str, readout: str = "layer"
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(layer group, BA contexts with the paired NWP context's ``value``): NWP read at the
    same layer where it was (``readout`` "layer"), else NWP(final)
    (:func:`brainattr.analysis.paired_nwp`)."""
    nwp = table[table["task"] == "nwp"]
    final = nwp.loc[nwp["layer"] == FINAL].set_index("target_tr")[value]
    lens = nwp.loc[nwp["layer"] != FINAL].set_index(["layer", "target_tr"])[value]
    for group, g in table[table["task"] == "ba"].groupby("layer_group", sort=True):
        paired = final.reindex(g["target_tr"]).to_numpy()
        if readout == "layer" and len(lens):
            at = lens.reindex(pd.MultiIndex.from_frame(g[["layer", "target_tr"]])).to_numpy()
            paired = np.where(np.isnan(at), paired, at)
        yield group, g.rename(columns={value: f"{value}_ba"}).assign(**{f"{value}_nwp": paired})


def task_differences(
    table, value, comparison, blocks, n_resamples, seed, readout="layer"
) -> list[dict]:
    """BA - NWP of a per-context value, per layer group (BA averaged over subjects first),
    NWP paired as :func:`_ba_vs_nwp` does."""
    rows = []
    for group, m in _ba_vs_nwp(table, value, readout):
        m = m.dropna(subset=[f"{value}_ba", f"{value}_nwp"])
        ba, nwp = m[f"{value}_ba"], m[f"{value}_nwp"]
        per_target = ba.groupby(m["target_tr"]).mean() - nwp.groupby(m["target_tr"]).first()
        rows.append(_row(comparison, group, np.nan, ba.to_numpy(), nwp.to_numpy(), per_target,
                         blocks, n_resamples, seed))  # fmt: skip
    return rows


def baseline_differences(
    table,
    observed,
    baseline,
    comparison,
    blocks,
    n_resamples,
    seed,
    by=("layer_group", "threshold"),
) -> list[dict]:
    """Observed minus a chance baseline, per ``by`` cell (averaged over subjects per target)."""
    rows = []
    for key, g in table.dropna(subset=[observed, baseline]).groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        cell = dict(zip(by, key, strict=True))
        per_target = (g[observed] - g[baseline]).groupby(g["target_tr"]).mean()
        rows.append(_row(comparison, cell.get("layer_group", ""), cell.get("threshold", np.nan),
                         g[observed].to_numpy(), g[baseline].to_numpy(), per_target, blocks,
                         n_resamples, seed))  # fmt: skip
    return rows


def observed_vs_null(
    observed,
    null,
    value,
    comparison,
    blocks,
    n_resamples,
    seed,
    by=("layer_group",),
    match=("subject", "layer", "layer_group", "target_tr"),
) -> list[dict]:
    """BA's value minus a brain-free null's, context by context (the same ``match`` columns:
    subject, layer, target; or a pair of subjects), per ``by`` cell: what the brain data add
    beyond the architecture and pooling."""
    keys = list(match)
    keys += [c for c in by if c not in keys]
    obs = observed[observed["task"] == "ba"] if "task" in observed else observed
    nul = null[null["task"] == "ba"] if "task" in null else null
    m = obs[[*keys, value]].merge(nul[[*keys, value]], on=keys, suffixes=("_obs", "_null"))
    return baseline_differences(m, f"{value}_obs", f"{value}_null", comparison, blocks,
                                n_resamples, seed, by)  # fmt: skip


def _masks_wide(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per-target loss change, one column per mask, one row per context: BA relative to the
    unmasked MSE; NWP in nats (cross-entropy minus the unmasked one), since a relative change of
    a cross-entropy near 0 is unbounded."""
    keys = ["null", *BA_CONTEXT]
    t = table[table["task"] == task]
    value = t["relative"]
    if task == "nwp":
        none = t[t["mask"] == "none"].set_index("target_tr")["loss"]
        value = t["loss"] - none.reindex(t["target_tr"]).to_numpy()
    t = t.assign(change=value)[t["mask"] != "none"]
    return t.pivot_table(index=keys, columns="mask", values="change").reset_index()


def masking_comparisons(table, blocks, n_resamples, seed) -> list[dict]:
    """Masking claims from the per-target table (:data:`brainattr.tables.MASKING_TARGETS`),
    each context's loss change (:func:`_masks_wide`): BA's top words against the matched,
    random and NWP-top masks; NWP's top words against matched and random; NWP's loss when BA's
    top words are masked against its own; BA's top-minus-matched effect against each null's."""
    ba = _masks_wide(table, "ba")
    ba["top_minus_matched"] = ba["ba_top"] - ba["ba_matched"]
    fitted = ba[ba["null"] == ""]
    rows = []
    for other in ("ba_matched", "random", "nwp_top"):
        rows += baseline_differences(fitted, "ba_top", other, f"masking_ba_top_vs_{other}",
                                     blocks, n_resamples, seed, by=("layer_group",))  # fmt: skip
    nwp = _masks_wide(table, "nwp")
    own = nwp[nwp["layer"] == -1]
    for other in ("nwp_matched", "random"):
        rows += baseline_differences(own, "nwp_top", other, f"masking_nwp_top_vs_{other}",
                                     blocks, n_resamples, seed, by=("layer_group",))  # fmt: skip
    cross = nwp[nwp["layer"] != -1][["subject", "layer", "layer_group", "target_tr", "ba_top"]]
    cross = cross.merge(own[["target_tr", "nwp_top"]], on="target_tr")
    rows += baseline_differences(cross, "ba_top", "nwp_top", "masking_nwp_loss_ba_top_vs_nwp_top",
                                 blocks, n_resamples, seed, by=("layer_group",))  # fmt: skip
    for null, t in ba[ba["null"] != ""].groupby("null", sort=True):
        rows += observed_vs_null(fitted, t, "top_minus_matched", f"masking_vs_{null}", blocks,
                                 n_resamples, seed)  # fmt: skip
    return rows


def inference_table(
    spread: pd.DataFrame,
    center_of_mass: pd.DataFrame,
    iou: pd.DataFrame,
    stability: pd.DataFrame | None,
    blocks: StoryBlocks,
    n_resamples: int = 2000,
    seed: int = 0,
    nulls: dict[str, pd.DataFrame] | None = None,
    linguistic: pd.DataFrame | None = None,
    masking: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every claim of one model and method (module docstring). ``masking``: the per-target
    masking table (:func:`masking_comparisons`); ``linguistic``: per group and threshold, the
    BA-only minus NWP-only share of the group's span words (``linguistic_<group>``);
    ``nulls``: the nulls' ``spread``, ``center_of_mass``, ``iou``, ``stability``,
    ``linguistic`` tables (column ``null``), each BA value compared with each null's."""
    rows = []
    for i, (_, readout) in enumerate(nwp_readouts(spread)):
        suffix = "_nwp_final" if i else ""  # the first: NWP(l) where read, else NWP(final)
        rows += task_differences(spread, "auc", f"spread_auc{suffix}", blocks, n_resamples, seed,
                                 readout)  # fmt: skip
        for value in ("center_of_mass", "iqr"):
            rows += task_differences(center_of_mass, value, f"{value}{suffix}", blocks,
                                     n_resamples, seed, readout)  # fmt: skip
    rows += baseline_differences(iou, "iou", "iou_random", "iou_vs_permutation", blocks,
                                 n_resamples, seed)  # fmt: skip
    rows += baseline_differences(iou, "iou", "iou_position", "iou_vs_position", blocks,
                                 n_resamples, seed)  # fmt: skip
    if stability is not None:
        subj = stability[stability["comparison"] == "subjects"]
        rows += baseline_differences(subj, "iou", "iou_random", "stability_vs_permutation",
                                     blocks, n_resamples, seed, by=("layer_group",))  # fmt: skip
        rows += baseline_differences(subj, "iou", "iou_position", "stability_vs_position",
                                     blocks, n_resamples, seed, by=("layer_group",))  # fmt: skip
    if linguistic is not None:
        for group, t in primary_rows(linguistic).groupby("group", sort=True):
            for a, b, name in (
                ("ba_only", "nwp_only", "linguistic"),
                ("enrichment_ba", "enrichment_nwp", "enrichment"),
            ):
                rows += baseline_differences(t, a, b, f"{name}_{group}", blocks, n_resamples,
                                             seed)  # fmt: skip
            null_shares = (nulls or {}).get("linguistic")
            null_shares = None if null_shares is None else primary_rows(null_shares)
            for null, n in [] if null_shares is None else null_shares.groupby("null"):
                n = n[n["group"] == group]  # the claim's own gap, BA-only - NWP-only, per null
                rows += observed_vs_null(t.assign(gap=t["ba_only"] - t["nwp_only"]),
                                         n.assign(gap=n["ba_only"] - n["nwp_only"]), "gap",
                                         f"linguistic_{group}_vs_{null}", blocks, n_resamples,
                                         seed, ("layer_group", "threshold"),
                                         (*BA_CONTEXT, "threshold"))  # fmt: skip
    if masking is not None:
        rows += masking_comparisons(masking, blocks, n_resamples, seed)
    observed_tables = {"spread": spread, "center_of_mass": center_of_mass, "iou": iou}
    if stability is not None:
        observed_tables["stability"] = stability[stability["comparison"] == "subjects"]
    values = {"spread": "auc", "center_of_mass": "center_of_mass", "iou": "iou",
              "stability": "iou"}  # fmt: skip
    for name, table in (nulls or {}).items():
        if name not in observed_tables:
            continue
        by = ("layer_group", "threshold") if name == "iou" else ("layer_group",)
        if name == "stability":  # between subjects: the same pair of subjects, per target
            table = table[table["comparison"] == "subjects"]
        for null, t in table.groupby("null", sort=True):
            match = ("layer", "layer_group", "target_tr", "a", "b") if name == "stability" else (
                "subject", "layer", "layer_group", "target_tr")  # fmt: skip
            rows += observed_vs_null(observed_tables[name], t, values[name],
                                     f"{name}_vs_{null}", blocks, n_resamples, seed, by,
                                     match)  # fmt: skip
    out = pd.DataFrame(rows, columns=[c for c in INFERENCE if c not in ("q", "q_paper")])
    out["q"] = np.nan
    out["q_paper"] = np.nan
    for _, idx in out.groupby("comparison").groups.items():
        out.loc[idx, "q"] = bh_fdr(out.loc[idx, "p"].to_numpy())
        out.loc[idx, "q_paper"] = bh_fdr(out.loc[idx, "p_paper"].to_numpy())
    return out[INFERENCE]


def run_inference(
    dataset_dir: str | Path,
    context_words: int,
    n_delays: int,
    settings: dict,
    seed: int,
    paths: dict[str, str],
    out_path: str | Path,
) -> None:
    """Workflow stage ``inference``: ``paths`` holds the analysis tables ``spread``,
    ``center_of_mass``, ``iou``, optionally ``stability`` and the nulls' ``null_spread``,
    ``null_center_of_mass``, ``null_iou``, ``null_stability``, ``masking`` (the per-target
    masking table), and ``linguistic`` where the dataset has word groups; ``settings`` is the
    config's ``analysis.inference`` (``block_spans``, ``n_resamples``)."""
    blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays, settings["block_spans"])
    stability = read_table(paths["stability"], STABILITY) if paths.get("stability") else None
    linguistic = read_table(paths["linguistic"], LINGUISTIC) if paths.get("linguistic") else None
    table = inference_table(
        read_table(paths["spread"], SPREAD),
        read_table(paths["center_of_mass"], CENTER_OF_MASS),
        read_table(paths["iou"], IOU),
        stability,
        blocks,
        settings["n_resamples"],
        seed,
        {
            name: read_table(paths[f"null_{name}"], [*cols, "null"])
            for name, cols in (
                ("spread", SPREAD),
                ("center_of_mass", CENTER_OF_MASS),
                ("iou", IOU),
                ("stability", STABILITY),
                ("linguistic", LINGUISTIC),
            )
            if paths.get(f"null_{name}")
        },
        linguistic,
        read_table(paths["masking"], MASKING_TARGETS) if paths.get("masking") else None,
    )
    write_table(table, out_path, INFERENCE)


def spread_tests(
    spread: pd.DataFrame, blocks: StoryBlocks, alpha: float = 0.05, n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """BA vs NWP spread AUC per (model, layer group, NWP readout): the per-target block test
    and the paper's paired t-test over contexts, each with BH-FDR across all (model, group)
    tests of one readout.

    ``spread`` holds one or more models (column ``model``); a BA context (subject, layer,
    target) is paired with the NWP context of the same target read at the same layer
    (``nwp_readout`` "logit_lens") and with NWP(final) ("final", the paper's pairing).
    """
    rows = []
    for model, t in spread.groupby("model", sort=False):
        for i, (label, readout) in enumerate(nwp_readouts(t)):
            suffix = "_nwp_final" if i else ""
            for r in task_differences(t, "auc", f"spread_auc{suffix}", blocks, n_resamples,
                                      seed, readout):  # fmt: skip
                rows.append({"model": model, "nwp_readout": label, **r})
    out = pd.DataFrame(rows)
    out = out.rename(columns={"mean_a": "auc_ba", "mean_b": "auc_nwp", "n_contexts": "n_pairs"})
    by = out.groupby("nwp_readout")
    out["q"] = by["p"].transform(lambda p: bh_fdr(p.to_numpy()))
    out["q_paper"] = by["p_paper"].transform(lambda p: bh_fdr(p.to_numpy()))
    out["significant"] = out["q"] < alpha
    out["significant_paper"] = out["q_paper"] < alpha
    return out[SPREAD_TESTS]


def run_spread_tests(
    dataset_dir: str | Path,
    context_words: int,
    n_delays: int,
    settings: dict,
    spread_paths: dict[str, str],
    alpha: float,
    seed: int,
    out_path: str | Path,
) -> None:
    """Workflow stage ``spread_tests``: BA vs NWP across models, BH-FDR over all tests."""
    blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays, settings["block_spans"])
    spread = pd.concat([read_table(p, SPREAD).assign(model=m) for m, p in spread_paths.items()])
    write_table(spread_tests(spread, blocks, alpha, settings["n_resamples"], seed), out_path,
                SPREAD_TESTS)  # fmt: skip
