"""brainattr.slurm_plan: the sbatch calls a run makes through the SLURM profile."""

from __future__ import annotations

from collections import Counter

from brainattr.slurm_plan import count_jobs, plan_table, profile_groups

from .conftest import REPO


def test_profile_groups_the_many_small_jobs():
    groups, components = profile_groups(REPO / "profiles/slurm")
    assert groups["encoding"] == "encoding" and components["encoding"] == 64
    # the model (GPU) rules stay single jobs: no GPU job waits for a group
    assert not set(groups) & {"features", "attribution", "masking"}
    assert set(groups.values()) <= set(components)


def test_plan_table_counts_local_single_and_grouped_rules():
    jobs = Counter(encoding=450, features=3, fig_iou=2, all=1, analyses=20, stability=13)
    groups = {"encoding": "enc", "analyses": "post", "stability": "post"}
    rows = plan_table(jobs, {"fig_iou", "all"}, groups, {"enc": 64, "post": 16})
    by_unit = {r["unit"]: r for r in rows}
    assert by_unit["group enc (encoding)"]["sbatch_calls"] == 8  # ceil(450 / 64)
    assert by_unit["group post (analyses,stability)"] == {
        "unit": "group post (analyses,stability)", "jobs": 33, "runs": "16/job",
        "sbatch_calls": 3,
    }  # fmt: skip
    assert by_unit["features"]["sbatch_calls"] == 3 and by_unit["fig_iou"]["sbatch_calls"] == 0
    assert count_jobs("job  count\n---\nencoding  12\nall  1\ntotal  13\n") == Counter(
        encoding=12, all=1
    )


def test_paper_run_submits_at_most_300_jobs(paper_plan):
    jobs, local = paper_plan
    assert jobs["encoding"] > 5000  # every subject x layer x model x context
    assert {"download", "download_model", "all", "fig_iou"} <= local
    rows = plan_table(jobs, local, *profile_groups(REPO / "profiles/slurm"))
    assert sum(r["sbatch_calls"] for r in rows) <= 300


def test_encoding_jobs_ask_for_their_datasets_resources(tmp_path):
    """config/rehearsal.yaml: an MRH-shaped encoding asks for its dataset's
    encoding_resources, an HP-shaped one for the defaults (8 GB, 1 h); workflow_rules (and
    with it cost.tsv's memory check) sees them per dataset."""
    import re
    import subprocess

    import yaml

    from brainattr.slurm_plan import workflow_rules

    from .conftest import snakemake_command

    config = REPO / "config/rehearsal.yaml"
    mrh = yaml.safe_load(config.read_text())["datasets"]["mrh_rehearsal"]["encoding_resources"]
    assert mrh["mem_mb"] > 8000 and mrh["runtime"] > 60
    rules = workflow_rules(REPO / "Snakefile", tmp_path, [str(config)])
    assert rules["encoding"]["mem_mb"] == {"hp_rehearsal": 8000, "mrh_rehearsal": mrh["mem_mb"]}
    for dataset, mem_mb, minutes in (("hp_rehearsal", 8000, 60),
                                     ("mrh_rehearsal", mrh["mem_mb"], mrh["runtime"])):  # fmt: skip
        target = f"results/{dataset}/llama-3.2-1b/ctx80/encoding/layer1/sub-01.h5"
        res = subprocess.run(snakemake_command(tmp_path, config, "-n", target),
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        job = res.stdout.split("rule encoding:")[1].split("\n\n")[0]
        assert re.search(rf"\bruntime={minutes}\b", job) and re.search(rf"\bmem_mb={mem_mb}\b", job)
