"""Benchmark: host memory of the analyses of one attribution job at the paper's scale.

Run with `make bench` (or alone, with ``--targets``). A score table of HP's paper run is written
in the attribution stage's own format (:class:`brainattr.tables.ParquetStream`, row groups of 64
targets): per target 8 subjects x 3 layers of BA plus 4 NWP readouts (3 logit lenses and the
model's output), 656-word spans (L = 640 and four TRs of 4 words), and both brain-free nulls
(48 BA heads). Scores are seeded noise: only the table's size matters here. Each way of running
the stage ``analyses`` runs in its own child process, which reports its peak RSS; prints

    analysis_memory: way=<whole|streamed> targets=<n> rows=<scores+nulls> peak_mb=<MB> seconds=<s>
        written_mb=<the TSV tables>

``whole`` reads both tables into memory, computes every table at once and writes it (how the
stage ran before; :func:`brainattr.analysis_stage.analysis_tables`); ``streamed`` is the stage
(:func:`brainattr.analysis_stage.run_analyses`, a chunk of targets at a time). HP's every-TR run has
about 1,100 targets per job, MRH's about 3,700 (with 9 subjects).

It also prints, measured in this process, the important sets of 2,000 spans of 656 words at the
analyses' 13 thresholds from one sort per span (:func:`brainattr.analysis.important_masks`)
against the reference of one sort per threshold (the definition, as the stage computed it):

    important_sets: ratio=<reference s / ours>x mismatches=<sets that differ>
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPAN = 656  # L = 640 words and the 4 delayed TRs' words
SUBJECTS = [f"sub{i}" for i in range(1, 9)]
LAYERS = {4: "early", 9: "middle", 14: "late"}  # one layer per group, as the paper's summary
NULLS = ("random_readout", "shifted_bold")
THRESHOLDS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]


def _heads(task: str) -> list[tuple[str, int, str]]:
    if task == "nwp":
        return [("", lay, grp) for lay, grp in LAYERS.items()] + [("", -1, "final")]
    return [(s, lay, grp) for s in SUBJECTS for lay, grp in LAYERS.items()]


def _chunk(targets: np.ndarray, task: str, rng: np.random.Generator, null: str | None):
    """Rows of ``targets`` for every head of ``task``: target t's span ends at word 4 t."""
    heads = _heads(task)
    t = np.repeat(targets, len(heads) * SPAN)
    head = np.tile(np.repeat(np.arange(len(heads)), SPAN), len(targets))
    distance = np.tile(np.arange(SPAN)[::-1], len(targets) * len(heads))
    word_index = 4 * t - 1 - distance
    table = pd.DataFrame(
        {
            "task": task,
            "method": "gxi",
            "subject": np.array([h[0] for h in heads], dtype=object)[head],
            "layer": np.array([h[1] for h in heads])[head],
            "layer_group": np.array([h[2] for h in heads], dtype=object)[head],
            "target_tr": t,
            "fold": t * 4 // (4 * targets.max() + 4),
            "word_index": word_index,
            "distance": distance,
            "word": np.array(["the", "wand", "chose", "Harry"], dtype=object)[word_index % 4],
            "score": rng.standard_normal(t.size) / (1 + distance / 50),
        }
    )
    return table if null is None else table.assign(null=null)


def write_paper_scale_tables(folder: Path, n_targets: int, seed: int = 0) -> tuple[Path, Path, int]:
    """``scores.parquet`` and ``null_scores.parquet`` of ``n_targets`` targets (see the module
    docstring), written 64 targets per row group; returns both paths and the rows written."""
    from brainattr.tables import NULL_SCORES, SCORES, ParquetStream

    rng = np.random.default_rng(seed)
    targets = np.arange(200, 200 + n_targets)
    paths = folder / "scores.parquet", folder / "null_scores.parquet"
    rows = 0
    with ParquetStream(paths[0], SCORES) as obs, ParquetStream(paths[1], NULL_SCORES) as nul:
        for start in range(0, n_targets, 64):
            chunk = targets[start : start + 64]
            for part in (_chunk(chunk, "ba", rng, None), _chunk(chunk, "nwp", rng, None)):
                obs.write(part)
                rows += len(part)
            for null in NULLS:
                part = _chunk(chunk, "ba", rng, null)
                nul.write(part)
                rows += len(part)
    return *paths, rows


def _run(way: str, folder: str, queue) -> None:
    from brainattr.analysis_stage import (
        ANALYSIS_TABLES,
        analysis_tables,
        null_analysis_tables,
        run_analyses,
    )
    from brainattr.tables import NULL_SCORES, SCORES, read_table, write_table

    start = time.perf_counter()
    scores, nulls = Path(folder) / "scores.parquet", Path(folder) / "null_scores.parquet"
    out = {f"{p}{n}": str(Path(folder) / f"{way}_{p}{n}.tsv") for p in ("", "null_")
           for n in ANALYSIS_TABLES}  # fmt: skip
    if way == "whole":  # the stage as it was: both tables read whole, every table at once
        table = read_table(scores, SCORES)
        tables = analysis_tables(table, THRESHOLDS, 0.5, 0)
        tables |= {f"null_{n}": t for n, t in null_analysis_tables(
            table, read_table(nulls, NULL_SCORES), THRESHOLDS, 0.5, 0).items()}  # fmt: skip
        for name, t in tables.items():
            write_table(t, out[name], list(t.columns))
    else:
        run_analyses(scores, THRESHOLDS, 0.5, 0, out, nulls)
    written = sum(Path(p).stat().st_size for p in out.values()) / 2**20
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, written))


def measure(way: str, folder: Path) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, MB written) of one way in a fresh child process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_run, args=(way, str(folder), queue))
    child.start()
    child.join()  # the result is two floats: the queue cannot block the child's exit
    if child.exitcode:
        raise RuntimeError(f"the {way} analyses failed (exit code {child.exitcode})")
    return queue.get()


def _one_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The reference: one sort per threshold."""
    mag = np.abs(scores)
    mask = np.zeros(mag.size, dtype=bool)
    if mag.sum() == 0:
        return mask
    order = np.argsort(-mag, kind="stable")
    n = int(np.searchsorted(np.cumsum(mag[order]) / mag.sum(), threshold - 1e-12)) + 1
    mask[order[: min(n, mag.size)]] = True
    return mask


def bench_important_sets(n_spans: int = 2000) -> None:
    from brainattr.analysis import important_masks

    rng = np.random.default_rng(0)
    spans = rng.standard_normal((n_spans, SPAN)) / (1 + np.arange(SPAN)[::-1] / 50)
    start = time.perf_counter()
    reference = [np.array([_one_threshold(s, t) for t in THRESHOLDS]) for s in spans]
    middle = time.perf_counter()
    ours = [important_masks(s, np.array(THRESHOLDS)) for s in spans]
    end = time.perf_counter()
    mismatches = sum(int((a != b).any(axis=1).sum()) for a, b in zip(reference, ours, strict=True))
    print(f"important_sets: ratio={(middle - start) / (end - middle):.1f}x "
          f"mismatches={mismatches} ({n_spans} spans x {len(THRESHOLDS)} thresholds; "
          f"reference {middle - start:.2f} s)", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[64, 256, 1100],
                        help="numbers of targets (HP's every-TR job: about 1,100)")  # fmt: skip
    parser.add_argument(
        "--whole-up-to",
        type=int,
        default=256,
        help="run the whole-table reference only up to this many targets",
    )
    args = parser.parse_args()
    bench_important_sets()
    for n in args.targets:
        with tempfile.TemporaryDirectory() as tmp:
            _, _, rows = write_paper_scale_tables(Path(tmp), n)
            ways = ["whole", "streamed"] if n <= args.whole_up_to else ["streamed"]
            for way in ways:
                seconds, peak, written = measure(way, Path(tmp))
                print(f"analysis_memory: way={way} targets={n} rows={rows} peak_mb={peak:.0f} "
                      f"seconds={seconds:.1f} written_mb={written:.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
