"""Benchmark: strided feature extraction against the exact per-TR windows.

Run with `make bench`. One process, same inputs: the demo story, SmolLM2-135M, L = 32 words
(the demo's) and layers 6/12/24. Prints

    features_strided: ratio=<exact s / strided s>x max_rel_err=<...> efficiency=<...>

max_rel_err = max over TRs and layers of ||strided - exact|| / ||exact|| (the deviation: in
strided mode a TR sees at least L words of context, most see more); also printed: the median
of that error and the correlation of the two feature matrices. efficiency = 2 x parameters of
the blocks traversed x tokens of the strided passes / seconds / fp32 matmul FLOP/s here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_attribution import SMOLLM2, block_params, demo_inputs, matmul_flops

from brainattr.features import extract_features
from brainattr.windows import StoryWindows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--stride", type=int, default=0, help="stride words (0 = context)")
    args = parser.parse_args()
    ds, lm = demo_inputs()
    layers = SMOLLM2["layers"]
    story = StoryWindows.of_dataset(ds, args.context)
    common = (lm, story, layers, 4096)
    stride = args.stride or args.context
    t0 = time.perf_counter()
    exact = extract_features(*common)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    strided = extract_features(*common, mode="strided", stride_words=stride)
    t_strided = time.perf_counter() - t0
    rows = [t for t in range(len(ds.trs)) if np.abs(exact[layers[0]][t]).sum() > 0]
    errs = np.array(
        [
            np.linalg.norm(strided[la][t] - exact[la][t]) / np.linalg.norm(exact[la][t])
            for la in layers
            for t in rows
        ]
    )
    corr = np.corrcoef(
        np.concatenate([exact[la][rows].ravel() for la in layers]),
        np.concatenate([strided[la][rows].ravel() for la in layers]),
    )[0, 1]
    chunks = story.strided_chunks(lm, stride)
    n_tok = sum(c.n_tokens for c in chunks)
    flops = 2 * block_params(lm)[max(layers)] * n_tok
    peak = matmul_flops()
    print(
        f"# {len(rows)} TRs, L={args.context}, stride {stride} words: {len(chunks)} strided passes "
        f"({n_tok} tokens); seconds: exact {t_exact:.1f}, strided {t_strided:.1f}; deviation: "
        f"median {np.median(errs):.3f}, correlation {corr:.4f}"
    )
    print(
        f"features_strided: ratio={t_exact / t_strided:.2f}x max_rel_err={errs.max():.2e} "
        f"efficiency={flops / t_strided / peak:.2f}"
    )


if __name__ == "__main__":
    main()
