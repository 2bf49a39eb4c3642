import pytest
import yaml

from brainattr.config import ConfigError, load_config, validate_config

from .conftest import REPO, SCHEMA

MINIMAL = {
    "datasets": {"demo": {"source": "demo"}},
    "models": {"m": {"source": "local", "path": "x", "layers": [1, 2, 3]}},
}


def test_demo_config_is_valid_and_defaults_are_filled():
    cfg = load_config(REPO / "config/config.yaml", SCHEMA)
    assert cfg["features"]["delays"] == [1, 2, 3, 4]
    assert cfg["analysis"]["thresholds"][0] == 0.01 and len(cfg["analysis"]["thresholds"]) == 15
    assert cfg["datasets"]["demo"]["demo"]["n_voxels"] == 300


def test_defaults_reach_nested_blocks():
    cfg = validate_config(MINIMAL, SCHEMA)
    assert cfg["datasets"]["demo"]["demo"]["snr"] == 1.0
    assert cfg["datasets"]["demo"]["roi"] == "all"
    assert cfg["models"]["m"]["dtype"] == "float32"
    assert cfg["encoding"]["alphas"][-1] == 1e6
    assert cfg["attribution"]["methods"] == ["gxi"]


def test_unknown_key_names_key_and_allowed_keys():
    bad = {**MINIMAL, "attribution": {"method": "gxi"}}  # the key before it became a list
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    msg = str(err.value)
    assert "'method'" in msg and "attribution" in msg and "'methods'" in msg


def test_bad_enum_value_names_allowed_values():
    bad = {**MINIMAL, "attribution": {"methods": ["saliency"]}}
    with pytest.raises(ConfigError, match=r"attribution.methods.*saliency.*\['gxi', 'ig'\]"):
        validate_config(bad, SCHEMA)


def test_bad_type_is_reported_with_its_key():
    bad = {**MINIMAL, "features": {"context_words": [0]}}
    with pytest.raises(ConfigError, match=r"features.context_words.0"):
        validate_config(bad, SCHEMA)


def test_model_source_needs_its_keys():
    bad = {**MINIMAL, "models": {"m": {"source": "huggingface", "layers": [1, 2, 3]}}}
    with pytest.raises(ConfigError, match=r"models.m.*\['id'\]"):
        validate_config(bad, SCHEMA)


def test_local_dataset_needs_path():
    bad = {**MINIMAL, "datasets": {"d": {"source": "local"}}}
    with pytest.raises(ConfigError, match=r"datasets\.d.*path"):
        validate_config(bad, SCHEMA)


def test_tr_assignment_defaults_per_source_and_local_datasets_set_their_own():
    from brainattr.sources import tr_assignment

    cfg = validate_config({**MINIMAL, "datasets": {"hp": {"source": "hp_toneva"},
                                                   "m": {"source": "mrh"}}}, SCHEMA)  # fmt: skip
    assert tr_assignment(cfg["datasets"]["hp"]) == "toneva"
    assert tr_assignment(cfg["datasets"]["m"]) == "window"
    assert tr_assignment({"source": "hp_cmu", "tr_assignment": "window"}) == "window"
    bad = {
        **MINIMAL,
        "datasets": {"d": {"source": "local", "path": "x", "tr_assignment": "toneva"}},
    }
    with pytest.raises(ConfigError, match=r"datasets\.d\.tr_assignment .* own dataset.json"):
        validate_config(bad, SCHEMA)


def test_delays_without_gaps():
    bad = {**MINIMAL, "features": {"delays": [1, 3]}}
    with pytest.raises(ConfigError, match="delays"):
        validate_config(bad, SCHEMA)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gpu_encodings_need_a_gpu_backend(backend):
    bad = {**MINIMAL, "resources": {"encoding_gpus": 1}, "encoding": {"backend": backend}}
    with pytest.raises(ConfigError, match=f"encoding_gpus = 1 .* '{backend}' never uses one"):
        validate_config(bad, SCHEMA)
    for ok in ("auto", "torch_cuda"):
        good = {**bad, "encoding": {"backend": ok}}
        assert validate_config(good, SCHEMA)["resources"]["encoding_gpus"] == 1


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", SCHEMA)


def test_yaml_float_forms_in_schema_defaults_are_numbers():
    schema = yaml.safe_load(SCHEMA.read_text())
    alphas = schema["properties"]["encoding"]["properties"]["alphas"]["default"]
    assert all(isinstance(a, int | float) for a in alphas)


def _reversed(value):
    """``value`` with every mapping's keys in reverse order (the same config, reordered)."""
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    return [_reversed(v) for v in value] if isinstance(value, list) else value


def test_reordered_keys_give_the_same_validated_config():
    """Rule params are compared as written: the validated config must not depend on key
    order (the datasets and models keep theirs: the figures' panel order)."""
    raw = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    a, b = validate_config(raw, SCHEMA), validate_config(_reversed(raw), SCHEMA)
    for section in ("datasets", "models"):
        assert list(b[section]) == list(reversed(list(a[section])))
        a[section], b[section] = dict(sorted(a[section].items())), dict(sorted(b[section].items()))
    assert repr(a) == repr(b)


@pytest.mark.parametrize("name", ["my data", "org/tiny", "..", "a..b", "-x"])
def test_names_usable_as_folders_and_wildcards(name):
    bad = {"datasets": {name: {"source": "demo"}}, "models": MINIMAL["models"]}
    with pytest.raises(ConfigError, match=r"datasets: name .* letters, digits"):
        validate_config(bad, SCHEMA)
    bad = {"datasets": MINIMAL["datasets"], "models": {name: MINIMAL["models"]["m"]}}
    with pytest.raises(ConfigError, match=r"models: name"):
        validate_config(bad, SCHEMA)


def test_more_alphas_than_an_index_byte_holds_fail_at_validation():
    bad = {**MINIMAL, "encoding": {"alphas": list(range(1, 258))}}
    with pytest.raises(ConfigError, match=r"encoding\.alphas"):
        validate_config(bad, SCHEMA)


def test_torch_cuda_without_cuda_names_the_key():
    import torch

    from brainattr.encoding import resolve_backend

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible: torch_cuda is valid here")
    with pytest.raises(ValueError, match=r"encoding\.backend = 'torch_cuda' but no CUDA"):
        resolve_backend("torch_cuda")
    assert resolve_backend("auto") == "numpy" and resolve_backend("numpy") == "numpy"


def test_a_control_entry_takes_its_models_keys():
    models = {
        "m": {**MINIMAL["models"]["m"], "layers": [1, 2, 3, 4]},
        "m-pca": {"control_of": "m", "pca_components": 8},
        "m-nofn": {"control_of": "m", "remove": ["function"], "layers": [1, 3, 4]},
    }
    cfg = validate_config({**MINIMAL, "models": models}, SCHEMA)
    assert cfg["models"]["m-pca"] == {**cfg["models"]["m"], "control_of": "m", "pca_components": 8}
    assert cfg["models"]["m-nofn"]["layers"] == [1, 3, 4]
    assert cfg["models"]["m-nofn"]["path"] == "x"
    assert list(cfg["models"]) == ["m", "m-pca", "m-nofn"]  # the panels' order


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"control_of": "nope", "pca_components": 2}, r"control_of = 'nope'.*models: \['m'\]"),
        ({"control_of": "m", "pca_components": 2, "dtype": "bfloat16"}, r"remove \['dtype'\]"),
        ({"control_of": "m"}, "exactly one of pca_components"),
        ({"control_of": "m", "pca_components": 2, "remove": ["a"]}, "exactly one of"),
        ({"control_of": "m", "remove": ["a"], "layers": [1, 2, 9]}, r"layers: \[9\] are not"),
        ({"control_of": "m", "pca_components": 0}, "pca_components"),
    ],
)
def test_a_bad_control_entry_is_named(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({**MINIMAL, "models": {**MINIMAL["models"], "c": entry}}, SCHEMA)


def test_revisions_become_one_model_per_checkpoint():
    models = {
        "p": {"source": "huggingface", "id": "EleutherAI/pythia-160m", "layers": [1, 6, 12],
              "revisions": ["step1000", "step143000"]},
        "t": {"source": "local", "path": "ck", "layers": [1, 2, 3], "revisions": ["s0", "s9"]},
        "t-pca": {"control_of": "t-s9", "pca_components": 4},
    }  # fmt: skip
    cfg = validate_config({**MINIMAL, "models": models}, SCHEMA)
    assert list(cfg["models"]) == ["p-step1000", "p-step143000", "t-s0", "t-s9", "t-pca"]
    late = cfg["models"]["p-step143000"]
    assert (late["revision"], late["step"], late["checkpoint_of"]) == ("step143000", 143000, "p")
    assert cfg["models"]["t-s0"]["path"] == "ck/s0" and cfg["models"]["t-s0"]["step"] == 0
    # a control of a checkpoint is not itself a checkpoint (it is no point of the curve)
    assert "checkpoint_of" not in cfg["models"]["t-pca"]
    assert cfg["models"]["t-pca"]["path"] == "ck/s9"
    assert validate_config(cfg, SCHEMA) == cfg  # validating again changes nothing


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"source": "local", "path": "x", "layers": [1, 2, 3], "revisions": ["final", "step2"]},
         r"'final' has no number"),
        ({"source": "gguf_package", "package": "p", "gguf_file": "f", "layers": [1, 2, 3],
          "revisions": ["s1", "s2"]}, "not source 'gguf_package'"),
        ({"source": "local", "path": "x", "layers": [1, 2, 3], "revisions": ["s1"]}, "two or more"),
        ({"source": "local", "layers": [1, 2, 3], "revisions": ["s1", "s2"]}, "subfolders of path"),
        ({"source": "local", "path": "x", "layers": [1, 2, 3], "revisions": ["s1", "s1"]},
         "distinct names"),
    ],
)  # fmt: skip
def test_bad_revisions_are_named(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({**MINIMAL, "models": {"c": entry}}, SCHEMA)


def test_feature_kinds_list_the_activations_first():
    cfg = validate_config({**MINIMAL, "features": {"kinds": ["activations", "nwp_attribution"]}},
                          SCHEMA)  # fmt: skip
    assert cfg["features"]["attribution_words"] == 16
    assert cfg["encoding"]["banded_iterations"] == 20
    with pytest.raises(ConfigError, match=r"features.kinds = \['nwp_attribution'\]: list act"):
        validate_config({**MINIMAL, "features": {"kinds": ["nwp_attribution"]}}, SCHEMA)
    with pytest.raises(ConfigError, match=r"features.kinds.*'gradients'.*nwp_attribution"):
        validate_config({**MINIMAL, "features": {"kinds": ["activations", "gradients"]}}, SCHEMA)


def _schema_keys(node: dict, path: tuple = ()):
    """(path, is_section) of every key of the schema; ``<name>`` for a free-named entry."""
    for key, child in node.get("properties", {}).items():
        yield (
            (*path, key),
            "properties" in child or isinstance(child.get("additionalProperties"), dict),
        )
        yield from _schema_keys(child, (*path, key))
    if isinstance(node.get("additionalProperties"), dict):
        yield (*path, "<name>"), True
        yield from _schema_keys(node["additionalProperties"], (*path, "<name>"))


def test_config_readme_documents_every_key():
    """config/README.md's table names every key of the schema (a leaf, or its object's row)."""
    import re

    documented = set()
    for row in (REPO / "config/README.md").read_text().splitlines():
        if not row.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", row.split("|")[1])
        first = names[0].split(".")
        # `a.b.c`, `d` documents a.b.c and its sibling a.b.d
        documented |= {names[0]} | {".".join([*first[:-1], n]) for n in names[1:]}
    schema = yaml.safe_load(SCHEMA.read_text())
    missing = [
        ".".join(path)
        for path, is_section in _schema_keys(schema)
        if not is_section and not {".".join(path), ".".join(path[:-1])} & documented
    ]
    assert not missing, f"config/README.md lacks rows for {missing}"
