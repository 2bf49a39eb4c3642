"""Every file passed between stages: its columns (or keys), written and read from here.

A writer selects its columns through these lists and a reader checks them (:func:`read_table`,
:func:`read_score_chunks`), so a table's layout is defined once (about 410 lines). The
README's "On-disk format" describes the same files.

- ``features.h5`` (stage features): ``layer_<l>`` arrays (n_trs, hidden); attrs
  ``context_words``, ``mode``, ``n_layers``.
- ``scores.parquet`` / ``repeat_scores.parquet`` / ``null_scores.parquet`` (stage
  attribution): :data:`SCORES` (+ ``repeat`` / ``null``), one row per (task, subject, layer,
  target, word).
- ``targets.tsv`` (stage attribution): :data:`TARGETS`, one row per target, every field of
  :class:`brainattr.targets.Target`.
- ``masking.tsv``, ``masking_targets.tsv`` (stage masking), the analysis tables,
  ``masking_table.tsv``: below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

# ``layer`` of NWP read at the model's output (``layer_group`` "final"); NWP read at a layer
# (the logit lens) carries that layer and its group, as BA does
FINAL = -1
# a context: one target's span for one task (BA: per subject x layer; NWP: per target)
CONTEXT = ["task", "subject", "layer", "layer_group", "target_tr"]
BA_CONTEXT = ["subject", "layer", "layer_group", "target_tr"]

SCORES = [
    "task",
    "method",
    "subject",
    "layer",
    "layer_group",
    "target_tr",
    "fold",
    "word_index",
    "distance",
    "word",
    "score",
]
REPEAT_SCORES = [*SCORES, "repeat"]
NULL_SCORES = [*SCORES, "null"]  # BA of the brain-free nulls (random_readout, shifted_bold)
TARGETS = ["target_tr", "fold", "span_start", "span_stop", "next_word", "row", "delay_trs"]
MASKING = [
    "task",
    "mask",
    "subject",
    "layer",
    "layer_group",
    "value",
    "delta",
    "relative",
    "ci_low",  # block-bootstrap 95 % interval of ``relative``
    "ci_high",
    "n_targets",
    "n_masked",  # mean words masked per target
    "n_seeds",
]
# per target (stage masking): BA loss (MSE over ROI voxels) or NWP cross-entropy, seed-averaged
MASKING_TARGETS = [
    "task",
    "mask",
    "null",
    "subject",
    "layer",
    "target_tr",
    "layer_group",
    "n_masked",
    "n_seeds",
    "loss",
    "relative",
]
# stage faithfulness: the mean relative loss change per curve point, and the area between curves
FAITHFULNESS = ["task", "null", "layer_group", "mask", "n_masked", "mean_relative", "ci_low",
                "ci_high", "n_targets"]  # fmt: skip
AOPC = ["task", "null", "layer_group", "control", "aopc", "ci_low", "ci_high", "n_k"]
# variance partitioning of activations and NWP attributions (brainattr.partition): ROI means
UNIQUE_VARIANCE = ["subject", "layer", "roi_label", "r2_joint", "r2_activations",
                   "r2_attributions", "unique_activations", "unique_attributions", "shared",
                   "split_activations", "split_attributions", "unique_activations_null",
                   "unique_attributions_null"]  # fmt: skip
IMPORTANT_SETS = [*CONTEXT, "threshold", "n_important", "n_words", "words"]
# ``iou``: against NWP read at the same layer where it was (logit lens), else NWP(final);
# ``iou_final``: against NWP(final), the paper's pairing (NaN without it)
IOU = [*BA_CONTEXT, "threshold", "iou", "iou_random", "iou_position", "iou_final"]
SPREAD = [*CONTEXT, "auc", "n_words"]
# the dependence-aware test (effect ... significant) and the paper's (*_paper)
SPREAD_TESTS = [
    "model",
    "layer_group",
    "nwp_readout",  # "logit_lens": BA(l) against NWP(l); "final": against NWP(final)
    "auc_ba",
    "auc_nwp",
    "effect",
    "ci_low",
    "ci_high",
    "p",
    "q",
    "significant",
    "n_targets",
    "n_blocks",
    "block_trs",
    "n_pairs",
    "t_paper",
    "p_paper",
    "q_paper",
    "significant_paper",
]
INFERENCE = [
    "comparison",
    "layer_group",
    "threshold",
    "mean_a",
    "mean_b",
    "effect",
    "ci_low",
    "ci_high",
    "p",
    "q",
    "n_targets",
    "n_blocks",
    "block_trs",
    "n_contexts",
    "t_paper",
    "p_paper",
    "q_paper",
]
POSITIONS = ["task", "layer_group", "distance", "count", "share", "n_contexts", "rate"]
DISPERSION = ["task", "layer_group", "entropy"]
CENTER_OF_MASS = [*CONTEXT, "center_of_mass", "iqr", "n_important", "entropy"]
MASKING_SUMMARY = [
    "model",
    "task",
    "layer_group",
    "mask",
    "change_percent",
    "ci_low_percent",  # block-bootstrap 95 % interval of the pooled relative change
    "ci_high_percent",
    "n_masked",
    "n_targets",
    "n_seeds",
]
LINGUISTIC_CATEGORIES = ["ba_only", "both", "nwp_only"]
# ``nwp_readout``: "logit_lens" = BA(l) against NWP(l); "final" = against NWP(final)
LINGUISTIC = [*BA_CONTEXT, "nwp_readout", "threshold", "group", "n_group_words",
              *LINGUISTIC_CATEGORIES, "enrichment_ba", "enrichment_nwp"]  # fmt: skip
STABILITY = [
    "comparison",
    "subject",
    "layer",
    "layer_group",
    "target_tr",
    "a",
    "b",
    "spearman",
    "iou",
    "iou_random",
    "iou_position",
]
NOISE_CEILING = [
    "subject",
    "layer",
    "run",
    "n_roi_voxels",
    "n_reliable",
    "noise_ceiling",
    "ba_repeated",  # BA on the TRs the ceiling covers: the repeated run, or all (intersubject)
    "ba_normalized",
    "ceiling",  # repeats | intersubject
]
# the paper's findings (resources/paper_reference.tsv) and a run's verdicts on them
PAPER_REFERENCE = [
    "id",
    "figure",
    "quantity",
    "kind",  # value | direction
    "layer_group",
    "paper_value",  # as the paper states it
    "paper_low",  # value: the range counted as agreement
    "paper_high",
    "expected_sign",  # direction: the sign of the effect the paper reports
    "datasets",
    "models",
    "context_words",
    "source",
    "second_hand",
]
PAPER_CHECK = [
    "dataset",
    "context_words",
    "method",
    "model",
    "id",
    "figure",
    "quantity",
    "layer_group",
    "ours",
    "ci_low",
    "ci_high",
    "q",
    "paper",
    "null",  # the brain-free nulls' value of the same quantity
    "verdict",
    "reason",
]
# one row per context of the demo recovery (brainattr.recovery.context_recovery)
RECOVERY_CONTEXT = [*CONTEXT, "hits", "n_top", "drivers", "n_words"]
RECOVERY = [
    "task",
    "layer_group",
    "threshold",
    "share_in_top",
    "base_rate",
    "ratio",
    "n_top_words",
    "n_contexts",
    # per target: driver share of the important set minus the span's (block test)
    "effect",
    "ci_low",
    "ci_high",
    "p",
    # per target: the fitted readouts' enrichment minus this null's (null rows only)
    "brain_effect",
    "brain_ci_low",
    "brain_ci_high",
    "brain_p",
]


class TableError(ValueError):
    """A between-stage file lacks the columns its stage writes (stale or hand-edited)."""


def check_columns(table: pd.DataFrame, columns: list[str], where: str | Path) -> pd.DataFrame:
    """``table[columns]``, or a :class:`TableError` naming the missing columns."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise TableError(
            f"{where}: missing columns {missing}; it was written by another version of "
            "brainattr or edited by hand: delete it and rerun the workflow to rebuild it"
        )
    return table[columns]


# labels where "" means "none" (NWP has no subject, the fitted readouts no null); TSV
# writes "" and pandas reads it back as NaN
EMPTY_LABELS = ("subject", "null")


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """A TSV or Parquet table of this module, checked to hold ``columns``."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        # labels stay text: hp_cmu's subjects "1".."8" would otherwise come back as floats
        table = pd.read_csv(path, sep="\t", dtype=dict.fromkeys(EMPTY_LABELS, str))
        for c in EMPTY_LABELS:
            if c in table:
                table[c] = table[c].astype(object).where(table[c].notna(), "")
    return check_columns(table, columns, path)


# the score tables are written (a Parquet row group each) and read this many targets at a time
TARGETS_PER_CHUNK = 64


def score_targets(path: str | Path) -> np.ndarray:
    """The target TRs of a score table, sorted, read a row group at a time."""
    path = Path(path)
    if path.suffix != ".parquet":
        return np.unique(read_table(path, ["target_tr"])["target_tr"].to_numpy())
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    read = [f.read_row_group(i, columns=TARGETS[:1]).column(0).to_numpy()  # target_tr
            for i in range(f.num_row_groups)]  # fmt: skip
    return np.unique(np.concatenate(read)) if read else np.zeros(0, np.int64)


def read_score_chunks(
    path: str | Path,
    columns: list[str],
    targets_per_chunk: int,
    targets: np.ndarray | None = None,
    **equal: str,
) -> Iterator[pd.DataFrame]:
    """A score table a chunk of targets at a time (every row of each target), in target
    order, only the rows where each column of ``equal`` has its value; checked like
    :func:`read_table`. ``targets`` (default: :func:`score_targets`) fixes the chunks, so that
    two tables can be read in step; a chunk without rows is yielded empty. A Parquet file is
    read by row-group statistics, never whole, so a reader's memory follows
    ``targets_per_chunk`` and not the table (the attribution stage writes a row group per
    chunk of targets, :class:`ParquetStream`)."""
    path = Path(path)
    targets = score_targets(path) if targets is None else np.asarray(targets)
    chunks = [targets[i : i + targets_per_chunk] for i in range(0, targets.size, targets_per_chunk)]
    if path.suffix != ".parquet":  # a TSV has no row groups: read whole
        table = read_table(path, columns)
        for c, v in equal.items():
            table = table[table[c] == v]
        for chunk in chunks:
            yield table[table["target_tr"].isin(chunk)]
        return
    where = [(c, "==", v) for c, v in equal.items()]
    for chunk in chunks:
        table = pd.read_parquet(path, filters=[("target_tr", "in", chunk.tolist()), *where])
        yield check_columns(table, columns, path)


def write_table(table: pd.DataFrame, path: str | Path, columns: list[str]) -> None:
    """Write ``table[columns]`` as TSV or Parquet (by the path's suffix)."""
    path = Path(path)
    out = check_columns(table, columns, f"table for {path}")
    if path.suffix == ".parquet":
        out.to_parquet(path, index=False)
    else:
        out.to_csv(path, sep="\t", index=False)


# the score tables' column types, so that tables written in chunks share one schema
SCORE_TYPES = {"task": "string", "method": "string", "subject": "string", "layer": "int64",
               "layer_group": "string", "target_tr": "int64", "fold": "int64",
               "word_index": "int64", "distance": "int64", "word": "string",
               "score": "float64", "repeat": "int64", "null": "string"}  # fmt: skip


class ParquetStream:
    """A score table written in chunks of rows (one Parquet row group each), so that a stage
    never holds the whole table: the rows and columns :func:`write_table` would write, with the
    types of :data:`SCORE_TYPES` (also when no row is written).

    Use as a context manager; ``write`` takes a DataFrame with at least ``columns``.
    """

    def __init__(self, path: str | Path, columns: list[str]):
        import pyarrow as pa

        self.path, self.columns = Path(path), columns
        self.schema = pa.schema([(c, pa.from_numpy_dtype(np.dtype(SCORE_TYPES[c]))
                                  if SCORE_TYPES[c] != "string" else pa.string())
                                 for c in columns])  # fmt: skip
        self._writer = None

    def __enter__(self) -> ParquetStream:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(self.path, self.schema)
        return self

    def write(self, table: pd.DataFrame) -> None:
        import pyarrow as pa

        rows = check_columns(table, self.columns, f"table for {self.path}")
        if len(rows):
            self._writer.write_table(pa.Table.from_pandas(rows, self.schema, preserve_index=False))

    def __exit__(self, *exc) -> None:
        self._writer.close()  # with no rows written: an empty table of the schema


def empty_table(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


def concat_tables(tables: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The non-empty ``tables`` one after another, or an empty table of ``columns``."""
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else empty_table(columns)


def write_features(path: str | Path, features: dict[int, np.ndarray], **attrs) -> None:
    """``features.h5``: one ``layer_<l>`` array (n_trs, hidden) per layer, and ``attrs``."""
    with h5py.File(path, "w") as f:
        for layer, x in features.items():
            f.create_dataset(f"layer_{layer}", data=x)
        f.attrs.update(attrs)


def read_features(path: str | Path, layer: int) -> np.ndarray:
    """TR features (n_trs, hidden) of one layer."""
    with h5py.File(path, "r") as f:
        key = f"layer_{layer}"
        if key not in f:
            raise KeyError(f"{path} has no {key}; layers there: {sorted(f)}")
        return f[key][()]


def read_encoding(path: str | Path) -> dict:
    """An encoding file (stage encoding, :func:`brainattr.encoding.run_encoding`) as a dict of
    arrays plus ``attrs``; per fold ``alphas_k`` (n_voxels,) is rebuilt from the grid indices.
    Here, beside the other readers, so that reading r needs neither himalaya nor torch."""
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in f}
        out["attrs"] = dict(f.attrs)
    for k in range(int(out["attrs"]["n_folds"])):
        out[f"alphas_{k}"] = out["alpha_grid"][out.pop(f"alpha_index_{k}")]
    out["fold"] = out["fold"].astype(np.int64)
    return out
