"""Workflow stage ``analyses``: the tables of :mod:`brainattr.analysis` for one attribution job,
computed a chunk of targets at a time.

At the paper's scale one job's score tables hold tens of millions of rows (HP, every held-out
TR: about 1,100 targets x (24 BA + 4 NWP + 48 null BA) contexts x 656 words, 55 M rows); read
whole, they took about 20 MB per target (``benchmarks/bench_analysis_memory.py``). Every table
is made per context except two things, which are read or summed across chunks: the NWP scores
that the IoU pairs BA with (every target's, for the position-keeping partner; 4 readouts, read
first) and the positional histogram (counts and each context's reach, summed at the end).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainattr.analysis import (
    NwpScores,
    dispersion_table,
    important_sets,
    iou_table,
    nwp_scores_by_context,
    nwp_spans,
    partners_of_spans,
    position_parts,
    positions_from_parts,
    spread_table,
)
from brainattr.tables import (
    CENTER_OF_MASS,
    IMPORTANT_SETS,
    IOU,
    NULL_SCORES,
    POSITIONS,
    SCORES,
    SPREAD,
    TARGETS_PER_CHUNK,
    check_columns,
    empty_table,
    read_score_chunks,
    write_table,
)

ANALYSIS_TABLES = {
    "important_sets": IMPORTANT_SETS,
    "iou": IOU,
    "spread": SPREAD,
    "positions": POSITIONS,
    "center_of_mass": CENTER_OF_MASS,
}
PER_CONTEXT = ("important_sets", "iou", "spread")  # the tables written chunk by chunk
# the NWP side of every BA context: scores by (readout layer, target) and position partners
Nwp = tuple[NwpScores, dict[int, int | None]]


def chunk_tables(
    scores: pd.DataFrame,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
    nwp: Nwp,
    words: bool = True,
) -> dict[str, pd.DataFrame]:
    """The per-context tables of a chunk of targets and its :func:`position_parts`
    (``counts``, ``reach``, ``summary``), with every target's NWP side ``nwp``; ``words``:
    list each important set's words (:func:`brainattr.analysis.important_sets`)."""
    sets = important_sets(scores, thresholds, words)
    counts, reach, summary = position_parts(scores, position_threshold)
    return {
        "important_sets": sets,
        "iou": iou_table(scores, thresholds, seed, *nwp),
        "spread": spread_table(sets),
        "counts": counts,
        "reach": reach,
        "summary": summary,
    }


def finish_positions(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """``positions`` and ``center_of_mass`` from the :func:`chunk_tables` of every chunk."""
    counts, reach, summary = (
        pd.concat([p[name] for p in parts], ignore_index=True)
        for name in ("counts", "reach", "summary")
    )
    hist = positions_from_parts(counts, reach)
    return {
        "positions": hist,
        "center_of_mass": summary.merge(dispersion_table(hist), on=["task", "layer_group"]),
    }


def nwp_side(scores: pd.DataFrame, seed: int) -> Nwp:
    """:data:`Nwp` of a score table held in memory."""
    return nwp_scores_by_context(scores), partners_of_spans(nwp_spans(scores), seed)


def analysis_tables(
    scores: pd.DataFrame,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
    nwp: Nwp | None = None,
) -> dict[str, pd.DataFrame]:
    """Important sets, IoU, spread, positions and centre of mass of a score table in memory
    (the NWP side from ``scores`` unless given)."""
    nwp = nwp_side(scores, seed) if nwp is None else nwp
    part = chunk_tables(scores, thresholds, position_threshold, seed, nwp)
    return {**{name: part[name] for name in PER_CONTEXT}, **finish_positions([part])}


def null_analysis_tables(
    scores: pd.DataFrame,
    null_scores: pd.DataFrame,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The same tables for each brain-free null's BA scores (column ``null``), paired with
    the same NWP scores; empty tables (with the columns) where there are no nulls."""
    nwp = nwp_side(scores, seed)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ANALYSIS_TABLES}
    for null, ba in null_scores.groupby("null", sort=True):
        tables = analysis_tables(ba.drop(columns="null"), thresholds, position_threshold, seed, nwp)
        for name, t in tables.items():
            parts[name].append(t.assign(null=null))
    return {
        name: pd.concat(p, ignore_index=True) if p else empty_table([*cols, "null"])
        for (name, cols), p in zip(ANALYSIS_TABLES.items(), parts.values(), strict=True)
    }


def read_nwp_side(scores_path: str | Path, seed: int, targets_per_chunk: int) -> Nwp:
    """:data:`Nwp` of a score file, read a chunk of targets' NWP rows at a time."""
    nwp_of: NwpScores = {}
    spans = []
    for chunk in read_score_chunks(scores_path, SCORES, targets_per_chunk, task="nwp"):
        nwp_of.update(nwp_scores_by_context(chunk))
        spans.append(nwp_spans(chunk))
    return nwp_of, partners_of_spans(pd.concat(spans), seed) if spans else {}


class _TsvAppender:
    """Tables appended to TSV files, the header once; at :meth:`close` a file that got no
    row is written with its header only."""

    def __init__(self, paths: dict[str, str], columns: dict[str, list[str]]):
        self.paths, self.columns, self.started = paths, columns, set()

    def write(self, name: str, table: pd.DataFrame) -> None:
        rows = check_columns(table, self.columns[name], f"table for {self.paths[name]}")
        first = name not in self.started
        rows.to_csv(self.paths[name], sep="\t", index=False, mode="w" if first else "a",
                    header=first)  # fmt: skip
        self.started.add(name)

    def close(self) -> None:
        for name in self.paths.keys() - self.started:
            write_table(empty_table(self.columns[name]), self.paths[name], self.columns[name])


def run_analyses(
    scores_path: str | Path,
    thresholds: list[float],
    position_threshold: float,
    seed: int,
    out: dict[str, str],
    null_scores_path: str | Path | None = None,
    targets_per_chunk: int = TARGETS_PER_CHUNK,
    important_words: bool = True,
) -> None:
    """Workflow stage ``analyses``: important sets, IoU, spread, positions as TSV tables
    (``out[name]`` for each of :data:`ANALYSIS_TABLES`) and, from ``null_scores_path``, the
    same tables of the brain-free nulls (``out["null_" + name]``, column ``null``): those of
    :func:`analysis_tables` and :func:`null_analysis_tables`, the per-context rows in chunks
    of ``targets_per_chunk`` targets, so that memory does not grow with the targets.
    ``important_words`` false leaves ``important_sets``' ``words`` empty (most of the bytes
    written at the paper's scale)."""
    names = [*ANALYSIS_TABLES, *(f"null_{n}" for n in ANALYSIS_TABLES if null_scores_path)]
    columns = {n: ANALYSIS_TABLES[n] for n in ANALYSIS_TABLES}
    columns |= {f"null_{n}": [*c, "null"] for n, c in ANALYSIS_TABLES.items()}
    writer = _TsvAppender({n: out[n] for n in names}, {n: columns[n] for n in names})
    nwp = read_nwp_side(scores_path, seed, targets_per_chunk)
    args = thresholds, position_threshold, seed, nwp, important_words
    observed = []
    for chunk in read_score_chunks(scores_path, SCORES, targets_per_chunk):
        part = chunk_tables(chunk, *args)
        for name in PER_CONTEXT:
            writer.write(name, part.pop(name))
        observed.append(part)
    if observed:
        for name, table in finish_positions(observed).items():
            writer.write(name, table)
    if null_scores_path is not None:
        nulls: dict[str, list[dict[str, pd.DataFrame]]] = {}
        for chunk in read_score_chunks(null_scores_path, NULL_SCORES, targets_per_chunk):
            for null, ba in chunk.groupby("null", sort=True):
                part = chunk_tables(ba.drop(columns="null"), *args)
                for name in PER_CONTEXT:
                    writer.write(f"null_{name}", part.pop(name).assign(null=null))
                nulls.setdefault(null, []).append(part)
        for null, parts in sorted(nulls.items()):
            for name, table in finish_positions(parts).items():
                writer.write(f"null_{name}", table.assign(null=null))
    writer.close()
