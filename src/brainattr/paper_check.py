"""Stage ``paper_check``: which of the paper's findings does a run reproduce?

``resources/paper_reference.tsv`` lists the paper's reported findings (second-hand, see
``science.md``): an id, the figure, the quantity, its kind, the paper's value or direction and
the datasets, models and context length it was reported on. For each model of a run this module
computes the same quantity from the run's tables, with the dependence-aware interval where one
exists (per-target values, block bootstrap; :mod:`brainattr.inference`), the brain-free nulls'
value, and a verdict:

- ``value`` findings (e.g. IoU ~0.16 at 10 %) are **reproduced** when our 95 % interval (or, with
  none, our value) overlaps the paper's range, **not reproduced** otherwise, and **not
  comparable** when the run differs from the paper's setting (dataset, model, L): a number on
  another dataset or model is not the paper's number;
- ``direction`` findings (e.g. BA spreads more than NWP at late layers) are reproduced when our
  effect has the paper's sign and, where a test exists, q < alpha; the setting's differences are
  named in the reason, since a direction can be asked of any run;
- a finding whose inputs a run lacks (no semantic annotation group) is **not comparable**, with
  the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.inference import block_test
from brainattr.masking_tables import masking_summary
from brainattr.statistics import StoryBlocks
from brainattr.tables import (
    FINAL,
    IOU,
    LINGUISTIC,
    MASKING,
    PAPER_CHECK,
    PAPER_REFERENCE,
    POSITIONS,
    SPREAD,
    SPREAD_TESTS,
    check_columns,
    read_table,
    write_table,
)

VERDICTS = ("reproduced", "not reproduced", "not comparable")


def read_reference(path: str | Path) -> pd.DataFrame:
    """The paper's findings (:data:`brainattr.tables.PAPER_REFERENCE`), checked."""
    ref = pd.read_csv(path, sep="\t", keep_default_na=False, na_values={"paper_low": [""],
                      "paper_high": [""], "expected_sign": [""]})  # fmt: skip
    ref = check_columns(ref, PAPER_REFERENCE, path)
    bad = sorted(set(ref["kind"]) - {"value", "direction"})
    if bad:
        raise ValueError(f"{path}: kind must be 'value' or 'direction', got {bad}")
    return ref


def paper_dataset(source: str) -> str:
    """The paper's name of a dataset source (``hp_toneva``, ``hp_cmu`` -> ``hp``), or the
    source itself."""
    return "hp" if source.startswith("hp") else source


def setting_differences(row: pd.Series, source: str, model_id: str, context_words: int) -> str:
    """How a run differs from the setting a finding was reported on ("" when it does not)."""
    out = []
    if paper_dataset(source) not in str(row["datasets"]).split(";"):
        out.append(f"dataset source {source} (paper: {row['datasets'].replace(';', ', ')})")
    if model_id not in str(row["models"]).split(";"):
        out.append(f"model {model_id} is not one of the paper's")
    if str(context_words) != str(row["context_words"]):
        out.append(f"L = {context_words} (paper: {row['context_words']})")
    return "; ".join(out)


def verdict(row: pd.Series, ours: float, lo: float, hi: float, q: float, alpha: float,
            differs: str) -> tuple[str, str]:  # fmt: skip
    """(verdict, reason) of one finding (see the module docstring)."""
    if not np.isfinite(ours):
        return "not comparable", "the run has no such quantity"
    if row["kind"] == "value":
        if differs:
            return "not comparable", differs
        lo, hi = (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else (ours, ours)
        hit = hi >= row["paper_low"] and lo <= row["paper_high"]
        what = "95 % interval" if lo != hi else "value"
        return ("reproduced" if hit else "not reproduced",
                f"our {what} [{lo:.3g}, {hi:.3g}] {'overlaps' if hit else 'misses'} the paper's "
                f"range [{row['paper_low']:.3g}, {row['paper_high']:.3g}]")  # fmt: skip
    same = np.sign(ours) == row["expected_sign"]
    caveat = f" (on a different setting: {differs})" if differs else ""
    sign = "same sign" if same else "opposite sign"
    if not np.isfinite(q):
        outcome = "reproduced" if same else "not reproduced"
        return outcome, f"{sign}, no test (pooled over contexts){caveat}"
    relation = "<" if q < alpha else ">="
    outcome = "reproduced" if same and q < alpha else "not reproduced"
    return outcome, f"{sign}, block-test q = {q:.2g} {relation} {alpha}{caveat}"


def _level(table, value, blocks, n_resamples, seed) -> tuple[float, float, float, float]:
    """Mean over targets (each averaged over its contexts), block-bootstrap interval, and the
    block sign-flip p against 0."""
    per_target = table.groupby("target_tr")[value].mean()
    if per_target.empty:
        return np.nan, np.nan, np.nan, np.nan
    res = block_test(per_target.to_numpy(), blocks.labels(per_target.index.to_numpy()),
                     n_resamples, seed)  # fmt: skip
    return res.effect, res.ci_low, res.ci_high, res.p


def _ratios(positions: pd.DataFrame) -> tuple[float, float]:
    """(recency, primacy) ratio - 1 of a positional rate curve: the mean rate at the newest /
    oldest 10 % of its distances over the mean rate at the middle fifth."""
    if positions.empty:
        return np.nan, np.nan
    rate = positions.groupby("distance")["rate"].mean()
    d = rate.index.to_numpy(dtype=float) / max(rate.index.max(), 1)
    middle = rate[(d >= 0.4) & (d <= 0.6)].mean()
    if not middle > 0:
        return np.nan, np.nan
    return rate[d <= 0.1].mean() / middle - 1, rate[d >= 0.9].mean() / middle - 1


def _null_text(values: dict[str, float]) -> str:
    return "; ".join(f"{k}: {v:.3g}" for k, v in sorted(values.items()) if np.isfinite(v))


def model_findings(tables, spread_tests, blocks, n_resamples, seed) -> dict[str, tuple]:
    """{finding id: (ours, ci_low, ci_high, q, null text)} of one model's tables, with NWP read
    where the paper reads it: at the model's output (NWP(final))."""
    iou, null_iou = tables["iou"], tables.get("null_iou")
    value = "iou_final" if iou["iou_final"].notna().any() else "iou"
    out: dict[str, tuple] = {}
    nulls_of = {} if null_iou is None else dict(tuple(null_iou.groupby("null")))
    for fid, sel in (("iou_low_thresholds", lambda t: t[t["threshold"] <= 0.1 + 1e-9]),
                     ("iou_10", lambda t: t[np.isclose(t["threshold"], 0.1)]),
                     ("iou_98", lambda t: t[np.isclose(t["threshold"], 0.98)])):  # fmt: skip
        null = {n: sel(t)[value].mean() for n, t in nulls_of.items()}
        out[fid] = (*_level(sel(iou), value, blocks, n_resamples, seed)[:3], np.nan,
                    _null_text(null))  # fmt: skip
    spread, null_spread = tables["spread"], tables.get("null_spread")
    nwp_auc = spread[(spread["task"] == "nwp") & (spread["layer"] == FINAL)]["auc"]
    final_tests = spread_tests[spread_tests["nwp_readout"] == "final"]
    for group in ("early", "middle", "late"):
        row = final_tests[final_tests["layer_group"] == group]
        null = {} if null_spread is None else {
            n: (t.loc[t["layer_group"] == group, "auc"].mean() - nwp_auc.mean())
            for n, t in null_spread.groupby("null")}  # fmt: skip
        out[f"spread_{group}"] = (
            (row["effect"].iloc[0], row["ci_low"].iloc[0], row["ci_high"].iloc[0],
             row["q"].iloc[0], _null_text(null)) if len(row) else (np.nan,) * 4 + ("",)
        )  # fmt: skip
    pos, null_pos = tables["positions"], tables.get("null_positions")
    recency, primacy = _ratios(pos[(pos["task"] == "nwp") & (pos["layer_group"] == "final")])
    ba_primacy = _ratios(pos[pos["task"] == "ba"])[1]
    null = {} if null_pos is None else {n: _ratios(t)[1] - primacy
                                        for n, t in null_pos.groupby("null")}  # fmt: skip
    out["positions_nwp_recency"] = (recency, np.nan, np.nan, np.nan, "")
    out["positions_nwp_primacy"] = (primacy, np.nan, np.nan, np.nan, "")
    out["positions_ba_less_primacy"] = (ba_primacy - primacy, np.nan, np.nan, np.nan,
                                        _null_text(null))  # fmt: skip
    out.update(_semantic(tables.get("linguistic"), tables.get("null_linguistic"), blocks,
                         n_resamples, seed))  # fmt: skip
    masking = tables.get("masking")
    if masking is not None:
        s = masking_summary({"m": masking})
        ba = s[(s["task"] == "ba") & (s["mask"] == "ba_top") & (s["layer_group"] == "all")]
        nwp = s[(s["task"] == "nwp") & (s["mask"] == "nwp_top")]
        for fid, row in (("masking_ba_top", ba), ("masking_nwp_top", nwp)):
            if len(row):
                r = row.iloc[0]
                out[fid] = (r["change_percent"] / 100, r["ci_low_percent"] / 100,
                            r["ci_high_percent"] / 100, np.nan, "")  # fmt: skip
    return out


def _semantic(ling, null_ling, blocks, n_resamples, seed) -> dict[str, tuple]:
    """The semantic-group findings at 60 % (HP's ``semantic`` group), where the run has it."""
    if ling is None or "semantic" not in set(ling["group"]):
        return {}
    ling = ling[ling["nwp_readout"] == "final"]
    t = ling[(ling["group"] == "semantic") & np.isclose(ling["threshold"], 0.6)]
    t = t.assign(ba=t["ba_only"] + t["both"], nwp=t["nwp_only"] + t["both"])
    t = t.assign(diff=t["ba"] - t["nwp"])
    null = {}
    if null_ling is not None:
        null_ling = null_ling[null_ling["nwp_readout"] == "final"]
        n = null_ling[(null_ling["group"] == "semantic") & np.isclose(null_ling["threshold"], 0.6)]
        null = {k: (g["ba_only"] + g["both"]).mean() for k, g in n.groupby("null")}
    ba, nwp = (_level(t, c, blocks, n_resamples, seed)[:3] for c in ("ba", "nwp"))
    return {
        "linguistic_semantic_ba": (*ba, np.nan, _null_text(null)),
        "linguistic_semantic_nwp": (*nwp, np.nan, ""),
        # one test: its p stands in the q column
        "linguistic_semantic_ba_vs_nwp": (*_level(t, "diff", blocks, n_resamples, seed), ""),
    }


def paper_check_table(ref, runs, alpha=0.05) -> pd.DataFrame:
    """Every finding for every model of one dataset x L x method.

    Parameters
    ----------
    ref : DataFrame
        :func:`read_reference`.
    runs : list of dict
        One per model: ``model``, ``model_id`` (Hugging Face id or the config name),
        ``dataset``, ``source`` (its dataset source), ``context_words``, ``method`` and
        ``findings`` (:func:`model_findings`).
    alpha : float

    Returns
    -------
    table : DataFrame
        :data:`brainattr.tables.PAPER_CHECK`.
    """
    rows = []
    for run in runs:
        for _, r in ref.iterrows():
            ours, lo, hi, q, null = run["findings"].get(r["id"], (np.nan,) * 4 + ("",))
            differs = setting_differences(r, run["source"], run["model_id"], run["context_words"])
            v, reason = verdict(r, ours, lo, hi, q, alpha, differs)
            if r["id"].startswith("linguistic") and r["id"] not in run["findings"]:
                reason = "the dataset has no 'semantic' annotation group (HP's story features)"
            rows.append({"dataset": run["dataset"], "context_words": run["context_words"],
                         "method": run["method"], "model": run["model"], "id": r["id"],
                         "figure": r["figure"], "quantity": r["quantity"],
                         "layer_group": r["layer_group"], "ours": ours, "ci_low": lo,
                         "ci_high": hi, "q": q, "paper": r["paper_value"], "null": null,
                         "verdict": v, "reason": reason})  # fmt: skip
    return pd.DataFrame(rows, columns=PAPER_CHECK)


def run_paper_check(
    reference_path: str | Path,
    dataset: str,
    source: str,
    dataset_dir: str | Path,
    context_words: int,
    method: str,
    n_delays: int,
    models: dict[str, str],
    paths: dict[str, dict[str, str]],
    spread_tests_path: str | Path,
    settings: dict,
    seed: int,
    out_path: str | Path,
) -> None:
    """Workflow stage ``paper_check``: ``models`` maps each model to its Hugging Face id (or
    its config name); ``paths[table][model]`` holds its tables (``iou``, ``spread``,
    ``positions``, ``masking``, and where present ``null_iou``, ``null_spread``,
    ``null_positions``, ``linguistic``, ``null_linguistic``); ``settings``: the config's
    ``analysis.inference`` and ``fdr_alpha``."""
    ref = read_reference(reference_path)
    blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays,
                                    settings["block_spans"])  # fmt: skip
    columns = {"iou": IOU, "spread": SPREAD, "positions": POSITIONS, "masking": MASKING,
               "linguistic": LINGUISTIC}  # fmt: skip
    tests = read_table(spread_tests_path, SPREAD_TESTS)
    runs = []
    for model, model_id in models.items():
        tables = {}
        for name, by_model in paths.items():
            cols = columns[name.removeprefix("null_")]
            if model in by_model:
                extra = ["null"] if name.startswith("null_") else []
                tables[name] = read_table(by_model[model], cols + extra)
        findings = model_findings(tables, tests[tests["model"] == model],
                                  blocks, settings["n_resamples"], seed)  # fmt: skip
        runs.append({"model": model, "model_id": model_id, "dataset": dataset,
                     "source": source, "context_words": context_words, "method": method,
                     "findings": findings})  # fmt: skip
    write_table(paper_check_table(ref, runs, settings["fdr_alpha"]), out_path, PAPER_CHECK)


def run_paper_check_summary(
    paths: list[str], out_table: str | Path, png: str | Path, pdf: str | Path
) -> None:
    """Workflow stage ``paper_check_summary``: every run's verdicts in one table and a one-page
    figure (:func:`brainattr.figures.paper_check`)."""
    from brainattr.figures import paper_check

    table = pd.concat([read_table(p, PAPER_CHECK) for p in paths], ignore_index=True)
    write_table(table, out_table, PAPER_CHECK)
    paper_check(table, "Paper check", str(png), str(pdf))
