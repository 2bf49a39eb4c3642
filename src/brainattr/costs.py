"""What a run costs, measured per rule and projected to the paper's run.

Every rule writes Snakemake's ``benchmark:`` table (wall seconds ``s``, peak ``max_rss`` in
MB, ``io_out`` in MB, ``cpu_time``). :func:`cost_table` gathers the jobs of a rehearsal
(``config/rehearsal.yaml``: the paper's DAG at the paper's shapes, few targets) and projects
each rule to the paper run:

- a job's cost at the paper's shapes is the paper job's cost, except where it grows with the
  number of targets (:data:`TARGET_RULES`: seconds scale by every eligible target of the
  dataset over the targets rehearsed, a bound: kept TRs). The stages that read the score
  tables grow so too (``analyses``: 25 s for 64 targets, 115 s for 256, 568 s for 1,100 at
  HP's shape, ``benchmarks/bench_analysis_memory.py``); their memory does not (a chunk of
  targets at a time);
- projected CPU-hours = mean (scaled) seconds per job x the paper's jobs of that rule (from its
  dry run), so a rehearsal of a subset of the DAG still projects the whole;
- GPU-hours of the model rules (``features``, ``attribution``, ``masking``) assume the GPU
  reaches the same fraction of its matmul peak as the CPU did of the peak measured in the same
  process: CPU seconds x CPU peak / GPU peak. The stated GPU peaks (H100 SXM, dense: fp32 67,
  bf16 989 TFLOP/s) are parameters; the GPU check script measures the real fractions.
- ``mem_ok``: the rule's declared ``mem_mb`` (its dataset's, for ``encoding`` and
  ``ceiling``) covers every measured ``max_rss``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_RULES = ("features", "attribution", "masking", "faithfulness", "attribution_features")
TARGET_RULES = ("attribution", "masking", "faithfulness", "analyses", "linguistic", "stability")
H100_PEAK = {"fp32": 67e12, "bf16": 989e12}


def read_benchmarks(bench_dir: str | Path, datasets: list[str]) -> pd.DataFrame:
    """One row per job of ``datasets``: rule, dataset, job (file stem) and its measures.

    Job files are named ``<dataset>_...`` (or ``<dataset>.tsv``); the longest configured
    dataset name that prefixes the stem is the job's dataset.
    """
    rows = []
    for path in sorted(Path(bench_dir).glob("*/*.tsv")):
        stem = path.stem
        owner = max(
            (d for d in datasets if stem == d or stem.startswith(d + "_")), key=len, default=None
        )
        if owner is None:
            continue
        t = pd.read_csv(path, sep="\t")
        if t.empty:
            continue
        last = t.iloc[-1]  # the latest run of the job
        rows.append(
            {
                "rule": path.parent.name,
                "dataset": owner,
                "job": stem,
                "s": float(last["s"]),
                "max_rss_mb": float(last["max_rss"]) if last["max_rss"] != "-" else np.nan,
                "io_out_mb": float(last["io_out"]) if last["io_out"] != "-" else np.nan,
            }
        )
    cols = ["rule", "dataset", "job", "s", "max_rss_mb", "io_out_mb"]
    return pd.DataFrame(rows, columns=cols)


def cost_table(
    jobs: pd.DataFrame,
    paper_jobs: Counter,
    declared_mem_mb: dict[str, int | dict[str, int] | None],
    target_scale: dict[str, float],
    cpu_peak: float,
    gpu_peak: dict[str, float] = H100_PEAK,
) -> pd.DataFrame:
    """Per rule: measured jobs, time, memory and output, and the paper run projected.

    Parameters
    ----------
    jobs : DataFrame from :func:`read_benchmarks`
    paper_jobs : Counter
        Jobs per rule of the paper's run (its dry run).
    declared_mem_mb : dict
        Each rule's declared ``mem_mb`` (first attempt; None: the profile's default), or
        per dataset ({dataset: mem_mb}: ``encoding``, ``ceiling``).
    target_scale : dict
        Per dataset: the paper's targets per attribution job over the rehearsal's.
    cpu_peak : float
        fp32 matmul FLOP/s of the CPU the rehearsal ran on (same threads).
    """
    rows = []
    for rule, g in jobs.groupby("rule", sort=True):
        scale = g["dataset"].map(target_scale).fillna(1.0) if rule in TARGET_RULES else 1.0
        per_job = float((g["s"] * scale).mean())
        cpu_hours = per_job * paper_jobs.get(rule, 0) / 3600
        declared = declared_mem_mb.get(rule)
        if isinstance(declared, dict):  # each job against its dataset's; shown: the peak's
            job_declared = g["dataset"].map(declared)
            declared = int(job_declared.loc[g["max_rss_mb"].fillna(-1).idxmax()])
        else:
            job_declared = pd.Series(declared, index=g.index, dtype=float)
        peak_rss = float(g["max_rss_mb"].max())
        row = {
            "rule": rule,
            "jobs_measured": len(g),
            "s_mean": round(float(g["s"].mean()), 2),
            "s_max": round(float(g["s"].max()), 2),
            "max_rss_mb": round(peak_rss, 1),
            "declared_mem_mb": declared,
            "mem_ok": None if declared is None else bool((g["max_rss_mb"] <= job_declared).all()),
            "io_out_mb": round(float(g["io_out_mb"].sum()), 1),
            "paper_jobs": int(paper_jobs.get(rule, 0)),
            "projected_cpu_hours": round(cpu_hours, 2),
        }
        for dtype, peak in gpu_peak.items():
            gpu = cpu_hours * cpu_peak / peak if rule in MODEL_RULES else np.nan
            row[f"projected_gpu_hours_{dtype}"] = round(gpu, 3)
        rows.append(row)
    return pd.DataFrame(rows)


def plot_costs(table: pd.DataFrame, png: str | Path) -> None:
    """Projected CPU-hours per rule (log scale) and measured peak memory against declared."""
    import matplotlib.pyplot as plt

    t = table.sort_values("projected_cpu_hours")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.3 * len(t) + 1.5), sharey=True)
    y = np.arange(len(t))
    a.barh(y, t["projected_cpu_hours"].clip(lower=1e-3), color="0.5")
    a.set_xscale("log")
    a.set_yticks(y, t["rule"])
    a.set_xlabel("projected CPU-hours, paper run")
    b.barh(y, t["max_rss_mb"] / 1024, color="tab:blue", label="measured peak RSS")
    b.scatter(t["declared_mem_mb"].astype(float) / 1024, y, color="k", marker="|", s=200,
              label="declared mem_mb")  # fmt: skip
    b.set_xlabel("GiB")
    b.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def matmul_peak(n: int = 2048, reps: int = 8, device: str = "cpu", dtype=None) -> float:
    """Matmul FLOP/s of ``n`` x ``n`` products on ``device`` in ``dtype`` (default fp32),
    with torch's threads: the peak the model jobs' kernels are measured against."""
    import time

    import torch

    dev = torch.device(device)
    a = torch.randn(n, n, device=dev, dtype=dtype or torch.float32)
    b = torch.randn(n, n, device=dev, dtype=dtype or torch.float32)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):  # warm-up: kernel selection, allocation
        a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main(args) -> int:
    """``python -m brainattr costs``: cost.tsv and cost.png of a rehearsal, projected."""
    import yaml

    from brainattr.slurm_plan import plan, workflow_rules

    root = Path(__file__).resolve().parents[2]
    workdir = Path(args.directory).resolve()
    config = yaml.safe_load(Path(args.configfile).read_text())
    config.setdefault("data_dir", "resources")
    datasets = list(config["datasets"])
    jobs = read_benchmarks(workdir / "results/benchmarks", datasets)
    if jobs.empty:
        raise SystemExit(
            f"error: no benchmark of {datasets} under {workdir}/results/benchmarks: run the "
            "rehearsal first (make rehearse-smoke or make rehearse)"
        )
    paper = [str(Path(args.paper).resolve())]
    paper_jobs, _ = plan(root / "Snakefile", workdir, paper)
    rules = workflow_rules(root / "Snakefile", workdir, [str(Path(args.configfile).resolve())])
    n_targets = int(config.get("attribution", {}).get("n_targets", 64))
    scale = {}
    for d, spec in config["datasets"].items():
        # the dataset's folder (brainattr.workflow is the Snakemake layer: not imported here)
        folder = spec["path"] if spec["source"] == "local" else f"{config['data_dir']}/{d}"
        trs = pd.read_csv(workdir / folder / "trs.tsv", sep="\t")
        scale[d] = float(trs["kept"].sum()) / n_targets if n_targets else 1.0
    table = cost_table(jobs, paper_jobs, {r: v["mem_mb"] for r, v in rules.items()}, scale,
                       matmul_peak())  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "cost.tsv", sep="\t", index=False)
    plot_costs(table, out / "cost.png")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    total = table["projected_cpu_hours"].sum()
    gpu = {c: table[c].sum() for c in table if c.startswith("projected_gpu_hours")}
    print(f"paper run projected: {total:.0f} CPU-hours; model rules on one H100: "
          + ", ".join(f"{k.split('_')[-1]} {v:.1f} GPU-hours" for k, v in gpu.items()))  # fmt: skip
    print(f"wrote {out / 'cost.tsv'} and {out / 'cost.png'}")
    return 0
