import pytest
import yaml

from brainattr.attribution.core import METHODS
from brainattr.attribution.engines import ENGINES, get_engine

from ..conftest import SCHEMA


def test_the_schema_offers_exactly_the_registered_engines_and_methods():
    props = yaml.safe_load(SCHEMA.read_text())["properties"]["attribution"]["properties"]
    assert props["engine"]["enum"] == list(ENGINES)
    assert tuple(props["methods"]["items"]["enum"]) == METHODS


def test_get_engine_names_the_config_key():
    assert get_engine("shared").name == "shared"
    with pytest.raises(ValueError, match=r"attribution\.engine = 'fast'; allowed: per_target"):
        get_engine("fast")
