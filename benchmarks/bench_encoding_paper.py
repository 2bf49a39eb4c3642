"""Benchmark: one encoding job (one subject x layer) at a paper dataset's full shape.

The rehearsal smoke's encodings (2,000 voxels) say nothing of the paper's: the cost of an
encoding grows with the voxels and, through the kernel, with the square of the TRs. This runs
:func:`brainattr.encoding.encode_subject` as the ``encoding`` rule does (4 delays of a
2,048-wide model, the paper's 16 alphas, 5 inner folds, every voxel, outer folds by run or
story) on HP's or MRH's exact layout (:func:`brainattr.rehearsal.layout_tables`), with BOLD
planted from the features (weak to strong voxels, so that the alphas spread over the grid as
on real data), and prints

    encoding_paper_shape: layout=<hp|mrh> voxels=<V> s=<seconds> peak_mb=<max RSS> alphas_used=<...>

With ``--stage ceiling`` it runs instead one subject's inter-subject ceiling (rule ``ceiling``:
:func:`brainattr.reliability.intersubject_ceiling_of`), ``--voxels`` being the ROI's (HP's
~5,000, MRH's ~9,000), the other subjects' kernel summed from their planted ROI responses
(8 of them; reading the dataset is not timed), and prints ``ceiling_paper_shape: ...``.

With ``--stage dtype`` it runs the encoding twice in this process, in float64 (the
reference) and float32 (``encoding.dtype``), and prints each one's seconds and peak traced
memory, their ratios, and how far float32's BA and alphas are from float64's:

    encoding_dtype: layout=<..> voxels=<V> s64=.. s32=.. speedup=.. mem64_mb=.. mem32_mb=..
        max_abs_dr=.. mean_dr_roi=.. same_alpha=<fraction of voxel x fold alphas equal>

Run ``python benchmarks/bench_encoding_paper.py --layout hp`` (HP's 27,000 voxels: about two
minutes on 2 cores; in ``make bench``) or ``--layout mrh --voxels 9000`` (a tenth of MRH's
voxels: ~15 minutes). Threads: BLAS's default (all cores) unless OMP_NUM_THREADS is set; an
encoding job runs on one (its rule's ``threads: 1``).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from brainattr.design import prepare_responses
from brainattr.encoding import encode_subject
from brainattr.rehearsal import layout_tables
from brainattr.reliability import intersubject_ceiling_of

ALPHAS = [10.0**k for k in range(-6, 10)]  # the paper's grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", choices=["hp", "mrh"], default="hp")
    parser.add_argument("--voxels", type=int, default=27000)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--targets-batch", type=int, default=0)
    parser.add_argument("--stage", choices=["encoding", "ceiling", "dtype"], default="encoding")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    _, trs = layout_tables(args.layout, "a b c d".split(), np.random.default_rng(0))
    runs, kept = trs["run"].to_numpy(), trs["kept"].to_numpy()
    if args.stage == "ceiling":
        return ceiling(args, runs, kept, rng)
    n = len(runs)
    features = rng.standard_normal((n, args.hidden)).astype(np.float32)
    # BOLD from the features one TR earlier, weak to strong voxels: the alphas spread (the
    # planted signal stays in memory: the peak over-counts a job's by 4 bytes per TR x voxel)
    signal = np.roll(features[:, :64], 1, axis=0) @ rng.standard_normal(
        (64, args.voxels), dtype=np.float32
    )
    bold = signal * np.logspace(-3, 0, args.voxels, dtype=np.float32)
    bold += rng.standard_normal((n, args.voxels), dtype=np.float32)
    roi = np.zeros(args.voxels, dtype=bool)
    roi[: args.voxels // 5] = True
    if args.stage == "dtype":
        return compare_dtypes(args, features, bold, runs, kept, roi)
    t0 = time.perf_counter()
    res = encode_subject(features, bold, runs, kept, 4, ALPHAS, 5, roi, "numpy",
                         args.targets_batch, keep_weights=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    used = sorted({len(np.unique(v)) for k, v in res.items() if k.startswith("alphas_")})
    print(f"# {args.layout}: {n} TRs ({int(kept.sum())} kept) in {len(np.unique(runs))} folds, "
          f"4 x {args.hidden} features, {len(ALPHAS)} alphas, 5 inner folds, targets_batch "
          f"{args.targets_batch}")  # fmt: skip
    print(f"encoding_paper_shape: layout={args.layout} voxels={args.voxels} s={seconds:.1f} "
          f"peak_mb={peak:.0f} alphas_used={used}")  # fmt: skip


def compare_dtypes(args, features, bold, runs, kept, roi) -> None:
    """The same encoding in float64 and float32: time, traced peak, and the BA difference."""
    res, seconds, peak = {}, {}, {}
    for dtype in ("float64", "float32"):
        tracemalloc.start()
        t0 = time.perf_counter()
        args_ = (features, bold, runs, kept, 4, ALPHAS, 5, roi, "numpy", args.targets_batch)
        res[dtype] = encode_subject(*args_, keep_weights=False, dtype=dtype)
        seconds[dtype] = time.perf_counter() - t0
        peak[dtype] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    r64, r32 = res["float64"]["r"], res["float32"]["r"]
    folds = [k for k in res["float64"] if k.startswith("alphas_")]
    same = np.mean([np.isclose(res["float32"][k], res["float64"][k], rtol=1e-6) for k in folds])
    print(
        f"# {args.layout}: {int(kept.sum())} kept TRs, 4 x {args.hidden} features, "
        f"{len(ALPHAS)} alphas, 5 inner folds; mean BA (ROI) float64 {r64[roi].mean():.4f}"
    )
    print(f"encoding_dtype: layout={args.layout} voxels={args.voxels} "
          f"s64={seconds['float64']:.1f} s32={seconds['float32']:.1f} "
          f"speedup={seconds['float64'] / seconds['float32']:.2f} "
          f"mem64_mb={peak['float64']:.0f} mem32_mb={peak['float32']:.0f} "
          f"max_abs_dr={np.abs(r32 - r64).max():.2e} "
          f"mean_dr_roi={(r32[roi] - r64[roi]).mean():.2e} same_alpha={same:.4f}")  # fmt: skip
    # where they differ: voxels without signal, whose CV curve is flat (alphas tie)
    dr = np.abs(r32 - r64)
    for lo, hi in ((-1, 0.1), (0.1, 0.3), (0.3, 1)):
        band = (r64 > lo) & (r64 <= hi)
        print(
            f"encoding_dtype_band: r64_in=({lo},{hi}] voxels={band.sum()} "
            f"max_abs_dr={dr[band].max() if band.any() else 0:.2e} "
            f"share_dr_over_0.01={(dr[band] > 0.01).mean() if band.any() else 0:.4f}"
        )


def ceiling(args, runs: np.ndarray, kept: np.ndarray, rng: np.random.Generator) -> None:
    """One subject's inter-subject ceiling from 8 others sharing a 64-d signal."""
    shared = rng.standard_normal((len(runs), 64), dtype=np.float32)

    def subject() -> np.ndarray:
        signal = shared @ rng.standard_normal((64, args.voxels), dtype=np.float32)
        bold = signal * np.logspace(-3, 0, args.voxels, dtype=np.float32)
        return prepare_responses(bold + rng.standard_normal(bold.shape, dtype=np.float32),
                                 runs, kept)  # fmt: skip

    y, kernel = subject(), 0.0
    for _ in range(8):
        z = subject()
        kernel = kernel + z @ z.T
    t0 = time.perf_counter()
    r = intersubject_ceiling_of(y, kernel, runs[kept], ALPHAS, 5)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# {args.layout}: {int(kept.sum())} kept TRs in {len(np.unique(runs))} folds, "
          f"{len(ALPHAS)} alphas, 5 inner folds, 8 other subjects")  # fmt: skip
    print(f"ceiling_paper_shape: layout={args.layout} roi_voxels={args.voxels} s={seconds:.1f} "
          f"peak_mb={peak:.0f} mean_r={np.nanmean(r):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
