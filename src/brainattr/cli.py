"""``python -m brainattr COMMAND``: the package's command line.

- ``check-dataset PATH [--roi LABEL ...]``: check a dataset folder before a long run
  (:mod:`brainattr.validate`);
- ``slurm-plan [--configfile FILE] [--profile DIR]``: the jobs of a run and the sbatch calls
  they take through a SLURM profile (:mod:`brainattr.slurm_plan`);
- ``costs --configfile FILE``: a rehearsal's measured cost per rule and the paper run
  projected (:mod:`brainattr.costs`).
"""

from __future__ import annotations

import argparse

from brainattr import costs, slurm_plan, validate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brainattr")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-dataset", help="check a dataset folder")
    check.add_argument("path", help="the dataset folder (dataset.json, words.tsv, ...)")
    check.add_argument("--roi", nargs="+", help="ROI label(s) the config will use")
    check.set_defaults(run=validate.main)
    plan = commands.add_parser("slurm-plan", help="jobs and sbatch calls through a profile")
    plan.add_argument("--configfile", help="the run's config (default: the demo)")
    plan.add_argument("--profile", help="the SLURM profile folder (default: profiles/slurm)")
    plan.add_argument("--directory", default=".", help="the working directory of the run")
    plan.set_defaults(run=slurm_plan.main)
    cost = commands.add_parser("costs", help="a rehearsal's costs per rule, projected")
    cost.add_argument("--configfile", required=True, help="the rehearsal's config")
    cost.add_argument("--paper", default="config/paper.yaml", help="the run to project to")
    cost.add_argument("--directory", default=".", help="the rehearsal's working directory")
    cost.add_argument("--out", default="results/rehearsal", help="folder of cost.tsv/png")
    cost.set_defaults(run=costs.main)
    args = parser.parse_args(argv)
    return args.run(args)
