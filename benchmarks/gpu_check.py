"""GPU check: the paper's model-stage costs on one CUDA GPU, in minutes, and the paper run's
projected GPU-hours. Run it with `make bench-gpu` or `bash benchmarks/gpu_check.sh` (README,
"Paper scale"); `--tiny --device cpu` is its CPU smoke test (tests/test_gpu_check.py).

A random-initialised model of a paper shape (brainattr.shapes; default Llama-3.2-1B; `--tiny`
shrinks it to a 2-block Llama of width 128, for the smoke test) reads
HP's exact layout (brainattr.rehearsal) at L = 640. Printed, one line each:

    <name>[<dtype>]: s_per_<unit>=<seconds> efficiency=<counted FLOP/s / matmul peak>

- features: the forward passes of the TR windows (per window);
- attribution_ba_per_target / attribution_ba_shared: BA GXI per target with the heads of an
  HP run (8 subjects x 3 layer groups x (fitted + 2 nulls) = 72), both engines;
- attribution_nwp: NWP GXI per target; attribution_ig_ba / attribution_ig_nwp: 20 IG steps;
- encoding_<backend>[float64|float32]: one subject x layer ridge at HP's scale (1211 kept
  TRs in 4 runs, the shape's 4 x hidden delayed features, 27,000 voxels), in each precision
  of encoding.dtype (float64 is slow on workstation GPUs).
Each fp32 and bf16 line's efficiency is against the same process's fp32 / bf16 matmul peak. A
forward pass or one VJP over n tokens through blocks 1..l counts 2 x (parameters of those
blocks) x n (attention's quadratic term ignored); the LM head counts for NWP.
The last lines project config/paper.yaml's GPU-hours from these per-unit seconds: every model
scaled by its block parameters (meta-device counts), L = 80 by its tokens, IG by its steps;
features, BA and NWP attribution (GXI and IG) and encoding (in paper.yaml's encoding.dtype);
masking is not projected.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from brainattr.attribution.nwp import nwp_scores_batched
from brainattr.attribution.per_target import ba_word_scores
from brainattr.attribution.shared import ba_scores_shared
from brainattr.costs import matmul_peak
from brainattr.dataset import DatasetWriter, read_dataset
from brainattr.encoding import encode_subject
from brainattr.models import LoadedModel, decoder_layers, tokenizer_adds_bos
from brainattr.readout import BAHead
from brainattr.rehearsal import LAYOUTS, layout_tables
from brainattr.shapes import ADDS_BOS, PAPER_SHAPES, ShapeTokenizer, shape_config
from brainattr.targets import eligible_targets, sample_targets
from brainattr.windows import StoryWindows, pooled_states

REPO = Path(__file__).resolve().parents[1]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
TEXT = (
    "the boy who lived had never been so surprised in his whole life when the owl came "
    "through the window with a letter for him and nobody else in the house"
).split()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build_model(shape: str, dtype: torch.dtype, device, overrides: dict) -> LoadedModel:
    from transformers import AutoModelForCausalLM

    config = shape_config(shape, **overrides)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()
    model.requires_grad_(False)
    tok = ShapeTokenizer(config.vocab_size, config.bos_token_id if shape in ADDS_BOS else None)
    bos = tok.bos_token_id if tokenizer_adds_bos(tok) else None
    return LoadedModel(model, tok, device, int(config.num_hidden_layers), bos)


def hp_story(folder: Path, n_voxels: int, context: int):
    """HP's layout with random BOLD (costs only), its windows and every eligible target."""
    rng = np.random.default_rng(0)
    words, trs = layout_tables("hp", TEXT, rng)
    with DatasetWriter(
        folder, "gpu_check", LAYOUTS["hp"]["tr"], words, trs, runs_continue=True
    ) as w:
        bold = rng.standard_normal((len(trs), n_voxels)).astype(np.float32)
        w.add_subject("sub-01", bold, {"language": np.ones(n_voxels, bool)})
    ds = read_dataset(folder)
    story = StoryWindows.of_dataset(ds, context)
    fold = ds.trs.loc[ds.trs["kept"], "run"].to_numpy() - 1
    return ds, story, eligible_targets(ds, story, 4, fold)


def cumulative_block_params(lm: LoadedModel) -> np.ndarray:
    sizes = [sum(p.numel() for p in b.parameters()) for b in decoder_layers(lm.model)]
    return np.concatenate([[0], np.cumsum(sizes)])


def timed(device, fn):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def line(name: str, seconds: float, unit: str, flops: float, peak: float, extra: str = ""):
    print(f"{name}: s_per_{unit}={seconds:.4g} efficiency={flops / seconds / peak:.3f}{extra}")


def bench_model(args, lm, dtype_name, story, words, targets, peak) -> dict[str, float]:
    """Per-unit seconds of the model stages for one dtype (printed and returned)."""
    device, dtype = lm.device, DTYPES[dtype_name]
    cum = cumulative_block_params(lm)
    depth = lm.n_layers
    layers = sorted({max(1, depth // 6), max(1, depth // 2), depth})  # early, middle, late
    hidden = lm.embedding.weight.shape[1]
    rng = np.random.default_rng(1)
    v = args.roi_voxels
    weights = {
        lay: torch.tensor(rng.standard_normal((4 * hidden, v)) / np.sqrt(4 * hidden),
                          dtype=dtype, device=device)
        for lay in layers
    }  # fmt: skip
    y = torch.zeros(v, dtype=dtype, device=device)
    heads = [
        BAHead(f"sub-{s}", lay, weights[lay], y, y, null=null)
        for s in range(args.subjects)
        for lay in layers
        for null in ("", "random_readout", "shifted_bold")
    ]
    out = {}
    tokens = {
        s: story.window(lm, s).n_tokens for t in targets for s in t.delay_trs if s is not None
    }
    # features: forward passes of whole windows, batched as the features stage does
    trs = sorted(tokens)
    wins = [story.window(lm, s) for s in trs]
    with torch.no_grad():
        _, sec = timed(device, lambda: pooled_states(lm, wins, [depth]))
    n_tok = sum(tokens[s] for s in trs)
    out["features"] = sec / len(wins)
    line(f"features[{dtype_name}]", out["features"], "window", 2 * cum[depth] * n_tok / len(wins),
         peak)  # fmt: skip
    per_target_tokens = [sum(tokens[s] for s in t.delay_trs if s is not None) for t in targets]
    ba_flops = sum(2 * cum[depth] * n + sum(2 * cum[h.layer] * n for h in heads)
                   for n in per_target_tokens)  # fmt: skip
    _, sec = timed(device, lambda: [ba_word_scores(lm, story, t, heads) for t in targets])
    out["ba"] = sec / len(targets)
    line(f"attribution_ba_per_target[{dtype_name}]", out["ba"], "target",
         ba_flops / len(targets), peak, f" heads={len(heads)}")  # fmt: skip
    _, sec = timed(device, lambda: ba_scores_shared(lm, story, targets, [heads] * len(targets)))
    line(f"attribution_ba_shared[{dtype_name}]", sec / len(targets), "target",
         ba_flops / len(targets), peak, f" heads={len(heads)}")  # fmt: skip
    out["ba_shared"] = sec / len(targets)
    head_params = lm.model.get_output_embeddings().weight.numel()
    nwp_tokens = args.context * 1.2 + 2  # the target's L words and its next word, ~1.2 tok/word
    nwp_flops = 2 * 2 * (cum[depth] + head_params) * nwp_tokens
    _, sec = timed(device, lambda: nwp_scores_batched(lm, words, targets, "gxi", 1,
                                                      args.batch_tokens))  # fmt: skip
    out["nwp"] = sec / len(targets)
    line(f"attribution_nwp[{dtype_name}]", out["nwp"], "target", nwp_flops, peak)
    ig = targets[: args.ig_targets]
    bt = args.batch_tokens
    _, sec = timed(device, lambda: [ba_word_scores(lm, story, t, heads[:3], "ig", 20, bt)
                                    for t in ig])  # fmt: skip
    out["ig_ba_3heads"] = sec / len(ig)
    ig_flops = (
        np.mean(per_target_tokens[: len(ig)])
        * 20
        * (2 * cum[depth] + sum(2 * cum[h.layer] for h in heads[:3]))
    )
    line(f"attribution_ig_ba[{dtype_name}]", out["ig_ba_3heads"], "target", ig_flops, peak,
         " heads=3 steps=20")  # fmt: skip
    _, sec = timed(device, lambda: nwp_scores_batched(lm, words, ig, "ig", 20, args.batch_tokens))
    out["ig_nwp"] = sec / len(ig)
    line(f"attribution_ig_nwp[{dtype_name}]", out["ig_nwp"], "target", nwp_flops * 20, peak,
         " steps=20")  # fmt: skip
    out["heads"] = len(heads)
    out["block_params"] = float(cum[depth])
    return out


def bench_encoding(args, ds, hidden: int, device) -> dict[str, float]:
    """Seconds of one subject x layer ridge at HP's scale in each precision (random features
    and BOLD: costs only)."""
    from brainattr.encoding import resolve_backend

    backend = resolve_backend("torch_cuda" if device.type == "cuda" else "numpy")
    rng = np.random.default_rng(2)
    n = len(ds.trs)
    feats = rng.standard_normal((n, hidden)).astype(np.float32)
    bold = rng.standard_normal((n, args.voxels)).astype(np.float32)
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy().astype(bool)
    alphas = [10.0**k for k in range(-6, 10)]  # the paper's grid
    roi = np.zeros(args.voxels, bool)
    roi[: args.roi_voxels] = True
    seconds = {}
    for dtype in ("float64", "float32"):
        t0 = time.perf_counter()
        encode_subject(feats, bold, runs, kept, 4, alphas, 5, roi, backend=backend, dtype=dtype)
        seconds[dtype] = sec = time.perf_counter() - t0
        print(f"encoding_{backend}[{dtype}]: s_per_fit={sec:.4g} trs={int(kept.sum())} "
              f"features={4 * hidden} voxels={args.voxels}")  # fmt: skip
    return seconds


def block_params(shape: str) -> int:
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(shape_config(shape))
    return sum(sum(p.numel() for p in b.parameters()) for b in decoder_layers(model))


def project(args, measured: dict, encoding_s: dict[str, float]) -> None:
    """config/paper.yaml's GPU-hours from per-unit seconds (assumptions in the docstring)."""
    paper = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    enc_s = encoding_s[paper["encoding"].get("dtype", "float64")]
    contexts = paper["features"]["context_words"]
    methods = paper["attribution"]["methods"]
    steps = paper["attribution"].get("ig_steps", 20)
    base = measured["block_params"]  # the measured model's blocks (fewer in --tiny)
    # TRs, eligible targets (kept TRs less 4 per run), subjects, encoding cost vs HP (n^2 v)
    sets = {"hp": (1351, 1211 - 16, 8, 1.0),
            "mrh": (4248, 4028 - 44, 9, (4028 / 1211) ** 2 * 90000 / 27000)}  # fmt: skip
    hours = {"features": 0.0, "attribution": 0.0, "encoding": 0.0}
    for name, spec in paper["models"].items():
        shape = name if name in PAPER_SHAPES else None
        if shape is None:
            continue
        r = block_params(shape) / base
        n_layers = len(spec["layers"])
        for n_trs, n_targets, subjects, enc_scale in sets.values():
            for ctx in contexts:
                tok = (ctx + 4) / (args.context + 4)
                hours["features"] += n_trs * measured["features"] * r * tok
                per_target = measured["ba"] * subjects * 3 * 3 / measured["heads"] + measured["nwp"]
                for m in methods:
                    if m == "ig":  # IG's measured 3-head cost, scaled to the heads; NWP's IG
                        ig = measured["ig_ba_3heads"] * subjects * 3 * 3 / 3 + measured["ig_nwp"]
                        ig *= steps / 20
                        hours["attribution"] += n_targets * ig * r * tok
                    else:
                        hours["attribution"] += n_targets * per_target * r * tok
                hours["encoding"] += subjects * n_layers * enc_s * enc_scale
    hours = {k: v / 3600 for k, v in hours.items()}
    print("paper_projection: " + " ".join(f"{k}_gpu_hours={v:.1f}" for k, v in hours.items())
          + f" total_gpu_hours={sum(hours.values()):.1f} (dtype {args.project_dtype})"
          + (" [--tiny: not a paper shape, meaningless]" if args.tiny else ""))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="llama-3.2-1b", choices=sorted(PAPER_SHAPES))
    parser.add_argument("--context", type=int, default=640)
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--ig-targets", type=int, default=1)
    parser.add_argument("--subjects", type=int, default=8, help="heads = subjects x 3 x 3")
    parser.add_argument("--voxels", type=int, default=27000)
    parser.add_argument("--roi-voxels", type=int, default=5000)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--project-dtype", default="bf16", choices=sorted(DTYPES))
    tiny = "CPU smoke scale: a Llama of 2 blocks, width 128, vocabulary 1000; L = 16, 2 targets"
    parser.add_argument("--tiny", action="store_true", help=tiny)
    args = parser.parse_args()
    overrides = {}
    if args.tiny:
        overrides = dict(num_hidden_layers=2, vocab_size=1000, bos_token_id=1, eos_token_id=2,
                         hidden_size=128, intermediate_size=256, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=32)  # fmt: skip
        args.context, args.targets, args.subjects = 16, 2, 1
        args.voxels, args.roi_voxels, args.batch_tokens = 300, 50, 4096
    device = torch.device(args.device)
    n = 8192 if device.type == "cuda" else 256
    reps = 20 if device.type == "cuda" else 4
    peaks = {k: matmul_peak(n, reps, device.type, dt) for k, dt in DTYPES.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    import transformers

    print(f"# device {name}, torch {torch.__version__}, transformers {transformers.__version__}; "
          f"matmul peak fp32 {peaks['fp32'] / 1e12:.1f}, bf16 {peaks['bf16'] / 1e12:.1f} "
          f"TFLOP/s; shape {args.shape}, L={args.context}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ds, story, targets = hp_story(Path(tmp), args.voxels, args.context)
        targets = sample_targets(targets, args.targets, 0)
        words = ds.words["word"].tolist()
        measured = {}
        for dtype_name in ("fp32", "bf16"):
            lm = build_model(args.shape, DTYPES[dtype_name], device, overrides)
            measured[dtype_name] = bench_model(args, lm, dtype_name, story, words, targets,
                                               peaks[dtype_name])  # fmt: skip
            hidden = lm.embedding.weight.shape[1]
            del lm
        enc_s = bench_encoding(args, ds, hidden, device)
    project(args, measured[args.project_dtype], enc_s)


if __name__ == "__main__":
    main()
