"""Validation against Jira Cloud's OpenAPI document in the shared reference (skipped when it is absent)."""

import functools
import json

import pytest

from jarkdown_pipeline_tests.reference import REFERENCE_DIR


@functools.lru_cache(maxsize=1)
def openapi_spec() -> dict:
    path = REFERENCE_DIR / "jira-cloud-openapi-v3.json"
    if not path.exists():
        pytest.skip(f"Jira Cloud OpenAPI reference not found at {path}")
    return json.loads(path.read_text())


def assert_matches_spec(schema_name: str, value: object) -> None:
    """Validate against components/schemas/<name> of Jira Cloud's OpenAPI document."""
    jsonschema = pytest.importorskip("jsonschema")
    spec = openapi_spec()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
