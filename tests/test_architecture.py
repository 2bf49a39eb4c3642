"""The package's shape: imports only go down, one definition of each shared idea, global
effects only at the entry points, modules small enough to read."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SRC = REPO / "src" / "brainattr"
SCRIPTS = REPO / "workflow" / "scripts"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _runtime_nodes(tree: ast.AST):
    """Every node, skipping ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str) -> set[str]:
    """The package modules a module imports, at its top or inside functions."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))  # fmt: skip
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in MODULES else base)
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def test_the_import_graph_is_read_from_the_sources():
    assert "brainattr.attribution.core" in GRAPH["brainattr.attribution.shared"]
    assert "brainattr.windows" in GRAPH["brainattr.readout"]
    assert "brainattr.windows" not in GRAPH["brainattr.targets"]  # annotations only


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], name, dep] if dep in path else [name, dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, name])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])


def test_compute_modules_do_not_import_the_workflow_layer():
    users = sorted(n for n, deps in GRAPH.items() if "brainattr.workflow" in deps)
    assert users == [], f"{users} import brainattr.workflow (the Snakemake helper layer)"


def test_long_modules_say_why_at_their_top():
    for name, path in MODULES.items():
        n_lines = len(path.read_text().splitlines())
        if n_lines > 350:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert re.search(r"\d+ lines", doc), f"{name}: {n_lines} lines and no reason given"


@pytest.mark.parametrize(
    "function, home",
    [
        ("window_range", "brainattr.windows"),
        ("pooling_weights", "brainattr.windows"),
        ("delay_features", "brainattr.design"),
        ("zscore_per_run", "brainattr.design"),
        ("pearson_r", "brainattr.design"),
        ("ig_scales", "brainattr.attribution.core"),
        ("scatter_words", "brainattr.attribution.core"),
        ("token_scores", "brainattr.attribution.core"),
        ("ba_loss", "brainattr.attribution.core"),
        ("next_word_loss", "brainattr.attribution.core"),
        ("read_features", "brainattr.tables"),
    ],
)
def test_one_definition_of_each_shared_idea(function, home):
    defined = [
        n
        for n, p in MODULES.items()
        if any(
            isinstance(d, ast.FunctionDef) and d.name == function
            for d in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert defined == [home]


@pytest.mark.parametrize(
    "pattern, home",
    [
        (r"\+ 0\.5\) / steps", "brainattr.attribution.core"),  # IG scales
        (r"window_range\(", "brainattr.windows"),  # only StoryWindows computes a window
        (r"functional\.cross_entropy\(", "brainattr.attribution.core"),
    ],
)
def test_shared_maths_is_written_once(pattern, home):
    where = sorted(n for n, p in MODULES.items() if re.search(pattern, p.read_text()))
    assert where == [home]


def test_between_stage_columns_come_from_tables():
    # a list of string column names written inline is a second definition of a table
    inline = re.compile(r"columns=\[\s*\"")
    allowed = {"brainattr.textgrid", "brainattr.figures"}  # a parser's own rows; a pivot
    where = sorted(n for n, p in MODULES.items() if inline.search(p.read_text()))
    assert set(where) <= allowed, where


def test_global_effects_only_in_the_entry_point_helpers():
    effects = re.compile(
        r"os\.environ\[[^\]]+\]\s*=|os\.environ\.update|matplotlib\.use\(|sys\.excepthook\s*="
        r"|sys\.stderr\s*="
    )
    where = sorted(n for n, p in MODULES.items() if effects.search(p.read_text()))
    assert where == ["brainattr.workflow"]


def _model_job_scripts() -> list[str]:
    """Scripts whose package call loads a language model."""
    out = []
    for script in sorted(SCRIPTS.glob("*.py")):
        for module, names in re.findall(r"from (brainattr[\w.]*) import ([\w, ]+)",
                                        script.read_text()):  # fmt: skip
            mod = importlib.import_module(module)
            for fn in (getattr(mod, n.strip()) for n in names.split(",")):
                if inspect.isfunction(fn) and re.search(r"\bload_model\(", inspect.getsource(fn)):
                    out.append(script.stem)
    return sorted(set(out))


def test_model_jobs_set_the_hub_offline_before_any_import():
    scripts = _model_job_scripts()
    assert scripts == ["attribution", "attribution_features", "faithfulness", "features", "masking"]
    for name in scripts:
        text = (SCRIPTS / f"{name}.py").read_text()
        lines = text.splitlines()
        setup = next(i for i, line in enumerate(lines) if line.startswith("setup_script("))
        assert "model_job=True" in lines[setup], name
        # nothing but the entry-point helpers is imported before the job's state is set
        assert all("brainattr.workflow" in line for line in lines[:setup] if "import" in line)


def test_every_job_sets_its_state_before_importing_the_package():
    # the job's threads reach BLAS only through variables set before numpy is first imported
    for script in sorted(SCRIPTS.glob("*.py")):
        lines = script.read_text().splitlines()
        setup = next(i for i, line in enumerate(lines) if line.startswith("setup_script("))
        early = [line for line in lines[:setup] if line.startswith(("import ", "from "))]
        assert all(
            "brainattr.workflow" in line or line.startswith("from pathlib") for line in early
        ), script.name


def test_hub_offline_is_effective_in_a_model_job(tmp_path):
    """The start of a real model-job script, then the package and transformers: the hub
    library is offline, as when a job loads a downloaded snapshot."""
    lines = (SCRIPTS / "attribution.py").read_text().splitlines()
    start = "\n".join(lines[: next(i for i, x in enumerate(lines) if x.startswith("setup_")) + 1])
    code = (
        "import types\n"
        f"snakemake = types.SimpleNamespace(log=[{str(tmp_path / 'job.log')!r}], threads=1)\n"
        f"{start}\n"
        "import brainattr.attribution.stage, brainattr.models, transformers\n"
        "import huggingface_hub.constants as c\n"
        "print(c.HF_HUB_OFFLINE)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_OFFLINE")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "True"
    # and where the hub library was imported first, its constant is switched too
    late = "import huggingface_hub.constants as c\nfrom brainattr.workflow import hub_offline\n"
    late += "hub_offline()\nprint(c.HF_HUB_OFFLINE)\n"
    res = subprocess.run([sys.executable, "-c", late], capture_output=True, text=True, env=env)
    assert res.stdout.strip() == "True", res.stderr[-2000:]
