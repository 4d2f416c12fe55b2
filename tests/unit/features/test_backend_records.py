"""The backend records (fmeval.features.families.BACKEND_RECORDS) are the one list of
backends: the implementations, the model checks, the schema and the families follow it."""

import pytest

from fmeval.config import load_schema
from fmeval.features.backbones import BACKENDS, Backend, register_backend
from fmeval.features.families import BACKEND_RECORDS, DEFAULT_BACKEND, FAMILIES
from fmeval.features.models import BACKEND_NAMES, ModelSpec


def test_every_record_has_an_implementation_and_the_names_are_derived():
    assert set(BACKENDS) == set(BACKEND_RECORDS) and BACKEND_NAMES == tuple(BACKEND_RECORDS)
    assert {f.backend for f in FAMILIES} <= set(BACKEND_RECORDS)


def test_the_schema_lists_the_records_and_their_default():
    backend = load_schema()["properties"]["models"]["additionalProperties"]["properties"]
    assert backend["backend"]["enum"] == list(BACKEND_RECORDS)
    assert backend["backend"]["default"] == DEFAULT_BACKEND
    assert ModelSpec.from_config("m", {"patch_size": 14}).backend == DEFAULT_BACKEND


def test_a_backend_without_a_record_cannot_be_registered():
    with pytest.raises(ValueError, match="no record"):
        register_backend("onnx", Backend(None, None, None))
    assert "onnx" not in BACKENDS
