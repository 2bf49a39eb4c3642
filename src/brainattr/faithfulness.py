"""Stage ``faithfulness``: mask the top k words for several k and compare with controls.

Masking the top 1 % is one point of a curve. Here, for each k of ``analysis.
faithfulness_words``, the masking stage's variants (:mod:`brainattr.masking`) mask exactly k
span words: each task's top-k words by attribution, k distance-matched words and k uniform
random words (the same replacement draws). A faithful attribution raises the loss it explains
(BA: the readout's MSE over ROI voxels; NWP: the next word's cross-entropy) more when its own
top words are masked than when the controls are. A target whose span has fewer than 2k words
(no room for k distance-matched words beside its top k) is left out at that k; the AOPC of a
curve averages over the targets that have every k.

Tables:

- ``faithfulness_targets.tsv`` (:data:`brainattr.tables.MASKING_TARGETS`, one block per k in
  ``n_masked``);
- ``faithfulness.tsv`` (:data:`brainattr.tables.FAITHFULNESS`): per task, null, layer group,
  mask and k the mean over targets of the relative loss change (a target's BA value is the
  mean over the group's heads), with a block-bootstrap 95 % interval over targets;
- ``aopc.tsv`` (:data:`brainattr.tables.AOPC`): the area between the top curve and each
  control's, ``mean_k mean_t (relative_top - relative_control)`` (AOPC-style, per word
  masked), with the interval of the same resamples; > 0 with an interval above 0 = more
  faithful than the control.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.inference import bootstrap_counts
from brainattr.masking import load_masking_inputs, score_contexts
from brainattr.masking_tables import per_target_table
from brainattr.models import load_model
from brainattr.statistics import StoryBlocks
from brainattr.tables import AOPC, FAITHFULNESS, MASKING_TARGETS, write_table

# the top mask of each task and its controls, as masks of the masking stage
TOP = {"ba": "ba_top", "nwp": "nwp_top"}
CONTROLS = {"ba": ("ba_matched", "random"), "nwp": ("nwp_matched", "random")}


def target_curves(per_target: pd.DataFrame) -> pd.DataFrame:
    """Each target's relative loss change per (task, null, layer group, mask, k): BA averaged
    over the group's heads; only each task's own top mask and its controls (n_targets rows
    per curve point)."""
    keep = [(per_target["task"] == task) & per_target["mask"].isin([TOP[task], *CONTROLS[task]])
            for task in TOP]  # fmt: skip
    t = per_target[keep[0] | keep[1]]
    keys = ["task", "null", "layer_group", "mask", "n_masked", "target_tr"]
    return t.groupby(keys, sort=True)["relative"].mean().reset_index()


def faithfulness_tables(
    curves: pd.DataFrame, target_trs: np.ndarray, counts: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curve and AOPC tables from :func:`target_curves`.

    Parameters
    ----------
    curves : DataFrame from :func:`target_curves`
    target_trs : array (n_targets,), the order of ``counts``' columns
    counts : array (n_resamples, n_targets), block-bootstrap weights
        (:func:`brainattr.inference.bootstrap_counts`)
    """
    col = {int(tr): i for i, tr in enumerate(target_trs)}
    rows, areas = [], []
    for (task, null, group), g in curves.groupby(["task", "null", "layer_group"], sort=True):
        wide = g.set_index(["target_tr", "mask", "n_masked"])["relative"].unstack([1, 2])
        w = counts[:, [col[int(tr)] for tr in wide.index]]
        for (mask, k), values in wide.items():
            v = values.to_numpy()
            rows.append((task, null, group, mask, int(k), *_mean_interval(v, w),
                         int(np.isfinite(v).sum())))  # fmt: skip
        if TOP[task] not in wide.columns.get_level_values(0):
            continue
        ks = sorted(wide[TOP[task]].columns)
        for control in CONTROLS[task]:
            if control not in wide.columns.get_level_values(0):
                continue
            diff = np.mean([wide[(TOP[task], k)] - wide[(control, k)] for k in ks], axis=0)
            areas.append((task, null, group, control, *_mean_interval(diff, w), len(ks)))
    return pd.DataFrame(rows, columns=FAITHFULNESS), pd.DataFrame(areas, columns=AOPC)


def _mean_interval(values: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """Mean over targets of the finite ``values`` (n_targets,) and the 95 % percentile
    interval of its block-bootstrap resamples (``counts`` (n_resamples, n_targets))."""
    ok = np.isfinite(values)
    boot = (counts[:, ok] @ values[ok]) / np.maximum(counts[:, ok].sum(axis=1), 1e-12)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(values[ok].mean()), float(low), float(high)


def run_faithfulness(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    scores_path: str | Path,
    targets_path: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    settings: dict,
    words: list[int],
    out_targets: str | Path,
    out_curves: str | Path,
    out_aopc: str | Path,
    null_scores_path: str | Path | None = None,
) -> None:
    """Workflow stage ``faithfulness``: the masking stage's variants with exactly k words
    masked, for each k of ``words``; the three tables of the module docstring. ``settings`` as
    :func:`brainattr.masking.run_masking`'s."""
    if not words or min(words) < 1:
        raise ValueError(f"analysis.faithfulness_words = {words}: list word counts >= 1")
    inputs, targets = load_masking_inputs(scores_path, null_scores_path, targets_path)
    lm = load_model(model_spec, settings["device"])
    group_of = inputs.group_of
    ks = sorted({int(k) for k in words})
    # every k in one pass over the targets: the readouts, unmasked states and shared texts once
    results, n_delays = score_contexts(
        dataset_dir, lm, context_words, inputs, targets, encoding_paths, features_path,
        {**settings, "n_masked_values": ks}, model_spec,
    )  # fmt: skip
    # a row's n_masked (second to last) is its k, 0 for the unmasked rows every k compares with
    per_target = pd.concat(
        [per_target_table([r for r in results.rows if r[-2] in (0, k)], group_of) for k in ks],
        ignore_index=True,
    )
    write_table(per_target, out_targets, MASKING_TARGETS)
    blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays,
                                    settings["block_spans"])  # fmt: skip
    target_trs = np.array([t.tr for t in targets])
    counts = bootstrap_counts(blocks.labels(target_trs), settings["n_resamples"],
                              settings["seed"])  # fmt: skip
    curves, aopc = faithfulness_tables(target_curves(per_target), target_trs, counts)
    write_table(curves, out_curves, FAITHFULNESS)
    write_table(aopc, out_aopc, AOPC)
