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


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", SCHEMA)


def test_yaml_float_forms_in_schema_defaults_are_numbers():
    schema = yaml.safe_load(SCHEMA.read_text())
    alphas = schema["properties"]["encoding"]["properties"]["alphas"]["default"]
    assert all(isinstance(a, int | float) for a in alphas)
