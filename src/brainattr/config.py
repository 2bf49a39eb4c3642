"""Configuration loading and validation against the JSON schema, with defaults filled in."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from brainattr.errors import ConfigError


def _fill_defaults(instance: Any, schema: Mapping[str, Any]) -> None:
    """Insert schema defaults into ``instance`` in place, recursively."""
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra)


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"unknown key(s) {unknown} under '{key}'; allowed keys: {allowed}"
            if allowed
            else f"unknown key(s) {unknown} under '{key}'"
        )
    if error.validator == "enum":
        return (
            f"'{key}' = {error.instance!r} is not allowed; allowed values: {error.validator_value}"
        )
    return f"'{key}': {error.message}"


def validate_config(config: Mapping[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate a configuration and return a copy with every default filled in.

    Parameters
    ----------
    config : mapping
        The configuration as loaded from YAML.
    schema_path : str or Path
        The JSON schema (YAML) file, ``workflow/schemas/config.schema.yaml``.

    Returns
    -------
    config : dict
        A validated deep copy with defaults.

    Raises
    ------
    ConfigError
        Naming every offending key, its value and the allowed values.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    filled = copy.deepcopy(dict(config))
    _expand_revisions(filled)
    _expand_controls(filled)
    _fill_defaults(filled, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n".join(f"  - {_describe(e)}" for e in errors)
        raise ConfigError(
            f"invalid configuration (schema {schema_path}):\n{lines}\n"
            "Fix these keys in your config file; config/README.md documents every key."
        )
    _check_semantics(filled)
    return canonical_config(filled)


# a dataset or model name becomes a wildcard value and a folder name
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _expand_revisions(config: dict[str, Any]) -> None:
    """Replace each model entry that lists ``revisions`` (training checkpoints) by one entry per
    revision, ``<name>-<revision>``, in place: a hub model at that revision, or a local model in
    the subfolder of that name; each records ``checkpoint_of`` and its training ``step`` (the
    first number in the revision's name, e.g. Pythia's ``step1000``)."""
    models = config.get("models")
    if not isinstance(models, Mapping) or not any(
        isinstance(s, Mapping) and "revisions" in s for s in models.values()
    ):
        return
    expanded: dict[str, Any] = {}
    for name, spec in models.items():
        if not isinstance(spec, Mapping) or "revisions" not in spec:
            expanded[name] = spec
            continue
        if spec.get("source") not in ("huggingface", "local"):
            raise ConfigError(
                f"models.{name}.revisions: checkpoints are hub revisions (source huggingface) or "
                f"subfolders of a local model's path (source local), not source "
                f"{spec.get('source')!r}"
            )
        if spec["source"] == "local" and "path" not in spec:
            raise ConfigError(f"models.{name}: a local model's revisions are subfolders of path")
        revisions = spec["revisions"]
        if not isinstance(revisions, list) or len(set(map(str, revisions))) < len(revisions):
            raise ConfigError(
                f"models.{name}.revisions: {revisions!r} is not a list of distinct names"
            )
        if len(revisions) < 2:
            raise ConfigError(f"models.{name}.revisions: list two or more checkpoints")
        for rev in revisions:
            step = re.search(r"\d+", str(rev))
            if step is None:
                raise ConfigError(
                    f"models.{name}.revisions: {rev!r} has no number: the training step is read "
                    "from the revision's name (e.g. step1000)"
                )
            entry = {k: v for k, v in spec.items() if k != "revisions"}
            entry.update(checkpoint_of=name, step=int(step.group()))
            if spec["source"] == "huggingface":
                entry["revision"] = str(rev)
            else:
                entry["path"] = f"{spec.get('path', '')}/{rev}"
            expanded[f"{name}-{rev}"] = entry
    config["models"] = expanded


# what a control entry (models.<name>.control_of) may set; every other key is its model's
CONTROL_KEYS = ("control_of", "pca_components", "remove", "layers")


def _expand_controls(config: dict[str, Any]) -> None:
    """Give each control entry its model's keys (brainattr.controls): it reads that model's
    features, so it may change only how the ridge sees them, and the layers it fits."""
    models = config.get("models")
    if not isinstance(models, Mapping):
        return
    for name, spec in models.items():
        if not isinstance(spec, Mapping) or "control_of" not in spec:
            continue
        base = models.get(spec["control_of"])
        where = f"models.{name}.control_of = {spec['control_of']!r}"
        if not isinstance(base, Mapping) or "control_of" in base:
            plain = sorted(k for k, v in models.items() if isinstance(v, Mapping)
                           and "control_of" not in v)  # fmt: skip
            raise ConfigError(
                f"{where}: name a model entry of this config that is not itself a control; an "
                f"entry with revisions is one model per checkpoint (models: {plain})"
            )
        # keys equal to the model's are what an earlier expansion gave (validation is idempotent)
        other = sorted(k for k in set(spec) - set(CONTROL_KEYS) if spec[k] != base.get(k))
        if other:
            raise ConfigError(
                f"models.{name}: a control entry reads the features of {spec['control_of']!r} and "
                f"takes its model keys; remove {other} (a control may set {list(CONTROL_KEYS)})"
            )
        if ("pca_components" in spec) == ("remove" in spec):
            raise ConfigError(
                f"models.{name}: a control entry sets exactly one of pca_components "
                "(encoding on the first k principal components) and remove (word groups "
                "regressed out of the features)"
            )
        extra = sorted(set(spec.get("layers", [])) - set(base.get("layers", [])))
        if extra:
            raise ConfigError(
                f"models.{name}.layers: {extra} are not layers of {spec['control_of']!r}, whose "
                f"features it reads ({base.get('layers')})"
            )
        inherited = {k: v for k, v in base.items() if k not in ("checkpoint_of", "step")}
        models[name] = {**copy.deepcopy(inherited), **spec}


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively (lists keep their order)."""
    if isinstance(value, Mapping):
        return {k: canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def canonical_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with sorted keys (:func:`canonical`), so that rule params, which
    Snakemake compares as written, do not change when a YAML file lists the same keys in
    another order; the datasets and models keep their order (the figures' panel order)."""
    out = canonical(config)
    for section in ("datasets", "models"):
        if isinstance(config.get(section), Mapping):
            out[section] = {k: canonical(v) for k, v in config[section].items()}
    return out


def _check_semantics(config: dict[str, Any]) -> None:
    """Checks a JSON schema cannot express."""
    for section in ("datasets", "models"):
        for name in config[section]:
            if not NAME.fullmatch(str(name)) or ".." in str(name):
                raise ConfigError(
                    f"{section}: name {name!r} is used as a folder and a wildcard value: "
                    "use letters, digits, '_', '-' and '.' (not '..', no spaces or '/'), "
                    "e.g. 'my-data' or 'org-tiny'"
                )
    for name, spec in config["models"].items():
        needed = {
            "gguf_package": ["package", "gguf_file"],
            "huggingface": ["id"],
            "local": ["path"],
            "shape": ["shape"],
        }[spec["source"]]
        missing = [k for k in needed if k not in spec]
        if missing:
            raise ConfigError(
                f"models.{name}: source '{spec['source']}' needs key(s) {missing}; "
                "see config/README.md, section 'models'."
            )
    kinds = config["features"]["kinds"]
    if kinds[0] != "activations":
        raise ConfigError(
            f"features.kinds = {kinds}: list activations first; every other kind is encoded "
            "beside the activations and partitioned against them"
        )
    from brainattr.sources import DOWNLOADED, default_subjects

    for name, spec in config["datasets"].items():
        if spec["source"] == "local" and "path" not in spec:
            raise ConfigError(
                f"datasets.{name}: source 'local' needs key 'path' (the dataset folder)"
            )
        if spec["source"] in DOWNLOADED:
            spec.setdefault("subjects", default_subjects(spec["source"]))
        elif "subjects" in spec:
            raise ConfigError(
                f"datasets.{name}.subjects applies to downloaded sources {list(DOWNLOADED)}; "
                f"source '{spec['source']}' takes its subjects from its dataset.json or demo"
            )
        if spec["source"] not in DOWNLOADED and spec.get("tr_assignment", "auto") != "auto":
            raise ConfigError(
                f"datasets.{name}.tr_assignment applies to downloaded sources {list(DOWNLOADED)}; "
                f"a '{spec['source']}' dataset sets tr_assignment in its own dataset.json"
            )
    backend = config["encoding"]["backend"]
    if config["resources"]["encoding_gpus"] and backend in ("numpy", "torch"):
        raise ConfigError(
            f"resources.encoding_gpus = 1 asks a GPU for every ridge job, but encoding.backend "
            f"= '{backend}' never uses one: set encoding.backend to torch_cuda (or auto), or "
            "resources.encoding_gpus to 0"
        )
    delays = config["features"]["delays"]
    if sorted(delays) != list(range(1, len(delays) + 1)):
        raise ConfigError(
            f"features.delays = {delays}: delays must be 1..D without gaps "
            "(the paper uses [1, 2, 3, 4])."
        )


def load_config(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Read a YAML configuration file and validate it (see :func:`validate_config`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    return validate_config(yaml.safe_load(path.read_text()) or {}, schema_path)
