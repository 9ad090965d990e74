"""Field paths in errors[].extensions.details are named as the schema names them, except
inside free JSON, where the keys are the caller's own."""

from __future__ import annotations

import pytest

from modelyard.api.graphql.errors import schema_path


@pytest.mark.parametrize(
    ("service", "schema"),
    [
        ("group_by", "groupBy"),  # an argument
        ("client_request_id", "clientRequestId"),
        ("document", "document"),
        ("document.providers.0.timeout_ms", "document.providers.0.timeout_ms"),  # JSON inside
        ("providers.0.timeout_ms", "providers.0.timeout_ms"),  # an imported document's own
        ("value.max_depth", "value.max_depth"),  # a setting's JSON value
        ("(body)", "(body)"),
    ],
)
def test_paths_follow_the_schema_outside_json(service: str, schema: str) -> None:
    assert schema_path(service) == schema
