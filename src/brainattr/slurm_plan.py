"""How many ``sbatch`` submissions a run makes through a SLURM profile.

A cluster admin asks this before a run of thousands of jobs. The count is read from
Snakemake's own dry run (the jobs of every rule, and whether a rule runs on the submitting
node) and the profile's grouping (``groups``: rule=group, ``group-components``: group=N). A
group job holds up to N connected parts of its group's jobs, so a group of ``n`` jobs takes at
most ``ceil(n / N)`` submissions (fewer when parts hold several jobs); every other non-local
job is one submission.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

COUNT_LINE = re.compile(r"^(\w+)\s+(\d+)$", re.M)
# the workflow's rules as Snakemake sees them, through its API in a separate process (the
# Snakefile edits sys.path and the environment): local (localrules, or no job body like `all`)
# and the declared mem_mb of a first attempt (per dataset where it depends on the dataset)
_RULES = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings
snakefile, workdir, *configfiles = sys.argv[1:]
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
        snakefile=Path(snakefile),
        workdir=Path(workdir),
    )._workflow
    rules = {}
    for r in wf.rules:
        mem = r.resources.get("mem_mb")
        if mem is not None:  # evaluated for each dataset: encoding's is the dataset's own
            per = {d: (mem.evaluate(SimpleNamespace(dataset=d), 1) if mem.is_evaluable()
                       else mem).value for d in wf.config["datasets"]}
            mem = per if len(set(per.values())) > 1 else next(iter(per.values()))
        local = r.name in wf._localrules or r.norun
        rules[r.name] = {"local": bool(local),
                         "mem_mb": mem if isinstance(mem, (int, dict)) else None}
print("RULES=" + json.dumps(rules))
"""


def profile_groups(profile: Path) -> tuple[dict[str, str], dict[str, int]]:
    """(group of each grouped rule, components per group job) from a profile's config.yaml."""
    settings = yaml.safe_load((Path(profile) / "config.yaml").read_text()) or {}
    groups = dict(item.split("=", 1) for item in settings.get("groups") or [])
    pairs = (item.split("=", 1) for item in settings.get("group-components") or [])
    components = {g: int(n) for g, n in pairs}
    return groups, components


def count_jobs(job_table: str) -> Counter:
    """Jobs per rule from Snakemake's ``-n --quiet rules`` table."""
    return Counter({r: int(n) for r, n in COUNT_LINE.findall(job_table) if r != "total"})


def plan_table(
    jobs: Counter, local: set[str], groups: dict[str, str], components: dict[str, int]
) -> list[dict]:
    """One row per submitted unit: a single rule, or a group with its rules; ``jobs``, where
    they run, and the sbatch calls they take (an upper bound for groups)."""
    rows, grouped = [], Counter()
    for rule in sorted(jobs):
        if rule in local:
            rows.append({"unit": rule, "jobs": jobs[rule], "runs": "local", "sbatch_calls": 0})
        elif rule in groups:
            grouped[groups[rule]] += jobs[rule]
        else:
            rows.append({"unit": rule, "jobs": jobs[rule], "runs": "sbatch",
                         "sbatch_calls": jobs[rule]})  # fmt: skip
    for group, n in sorted(grouped.items()):
        members = ",".join(sorted(r for r in jobs if groups.get(r) == group and r not in local))
        per_job = components.get(group, 1)
        rows.append({"unit": f"group {group} ({members})", "jobs": n, "runs": f"{per_job}/job",
                     "sbatch_calls": -(-n // per_job)})  # fmt: skip
    return rows


def _snakemake(args: list[str]) -> str:
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{res.stderr[-3000:]}")
    return res.stdout + res.stderr


def workflow_rules(snakefile: Path, workdir: Path, configfiles: list[str]) -> dict[str, dict]:
    """Each rule's ``local`` flag and declared ``mem_mb`` (first attempt; {dataset: mem_mb}
    where it depends on the dataset), from Snakemake."""
    out = _snakemake(["-c", _RULES, str(snakefile), str(workdir), *configfiles])
    return json.loads(out.split("RULES=")[-1].splitlines()[0])


def plan(
    snakefile: Path, workdir: Path, configfiles: list[str], profile: Path | None = None
) -> tuple[Counter, set[str]]:
    """(jobs per rule of the run, the workflow's local rules): a dry run, nothing written;
    through ``profile`` where given (its executor and groups; the jobs are the same)."""
    extra = ["--configfile", *configfiles] if configfiles else []
    extra += ["--profile", str(profile)] if profile else []
    table = _snakemake(["-m", "snakemake", "-n", "--quiet", "rules", "--snakefile",
                        str(snakefile), "--directory", str(workdir), *extra])  # fmt: skip
    rules = workflow_rules(snakefile, workdir, configfiles)
    return count_jobs(table), {name for name, r in rules.items() if r["local"]}


def main(args) -> int:
    """``python -m brainattr slurm-plan``: print the table and the total."""
    root = Path(__file__).resolve().parents[2]
    snakefile = root / "Snakefile"
    if not snakefile.exists():
        raise SystemExit(f"error: no Snakefile at {snakefile}: run from a brainattr checkout")
    profile = Path(args.profile or root / "profiles/slurm")
    configfiles = [str(Path(args.configfile).resolve())] if args.configfile else []
    jobs, local = plan(snakefile, Path(args.directory).resolve(), configfiles, profile)
    rows = plan_table(jobs, local, *profile_groups(profile))
    print(f"{'jobs':>6}  {'runs':<7}{'sbatch':>7}  unit")
    for r in rows:
        print(f"{r['jobs']:>6}  {r['runs']:<7}{r['sbatch_calls']:>7}  {r['unit']}")
    total = sum(r["sbatch_calls"] for r in rows)
    print(f"total: {sum(r['jobs'] for r in rows)} jobs, at most {total} sbatch calls ({profile})")
    return 0
