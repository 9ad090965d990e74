"""/v1/messages in the app's OpenAPI, and what it says is true: both operations with either
key header and every error in Anthropic's shape; the request schema accepts the bodies the
gateway serves and refuses those it refuses; bodies generated from it pass the checks."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from modelyard.api.anthropic.checks import check_count, check_message
from modelyard.api.app import create_app
from modelyard.api.openai.spec import ERRORS
from modelyard.errors import BadRequest

MESSAGES, COUNT = "/v1/messages", "/v1/messages/count_tokens"
ASK = [{"role": "user", "content": "hi"}]
VALID: list[Any] = [
    {"model": "m", "max_tokens": 5, "messages": ASK},
    {
        "model": "m",
        "max_tokens": 5,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "look", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a cat"}],
            },
        ],
        "tools": [{"name": "look", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "look"},
        "temperature": 1,
        "top_k": 3,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u1"},
        "stream": False,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    },
]
REFUSED: list[Any] = [
    {"model": "m", "messages": ASK},
    {"max_tokens": 5, "messages": ASK},
    {"model": "m", "max_tokens": 0, "messages": ASK},
    {"model": "m", "max_tokens": 5, "messages": []},
    {"model": "m", "max_tokens": 5, "messages": ASK, "temperature": 1.5},
    {"model": "m", "max_tokens": 5, "messages": ASK, "n": 1},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "x"}]}]},
    {"model": "m", "max_tokens": 5, "messages": ASK, "tool_choice": {"type": "tool"}},
    {
        "model": "m",
        "max_tokens": 5,
        "messages": ASK,
        "tools": [{"name": "a b", "input_schema": {}}],
    },
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def validator(document: dict[str, Any], name: str) -> Any:
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def test_both_operations_take_either_key_header_and_answer_errors_in_anthropic_shape(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["XApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    for path in (MESSAGES, COUNT):
        operation = document["paths"][path]["post"]
        need = ["llm.inference"]
        assert operation["security"] == [{"OAuth2": need}, {"HTTPBearer": need}, {"XApiKey": need}]
        assert operation["x-required-scope"] == "llm.inference"
        for status, response in operation["responses"].items():
            if status != "200":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/AnthropicError"}
    assert set(document["paths"][MESSAGES]["post"]["responses"]) == {"200"} | {
        str(s) for s in ERRORS
    }
    assert "402" not in document["paths"][COUNT]["post"]["responses"]


def test_the_request_schema_accepts_what_the_gateway_serves_and_refuses_what_it_refuses(
    document: dict[str, Any],
) -> None:
    schema = validator(document, "AnthropicMessageRequest")
    for body in VALID:
        check_message(body)
        assert schema.is_valid(body), body
    for body in REFUSED:
        with pytest.raises(BadRequest):
            check_message(body)
        assert not schema.is_valid(body), body
    error = validator(document, "AnthropicError")
    assert error.is_valid({"type": "error", "error": {"type": "api_error", "message": "m"}})


@pytest.mark.parametrize(("path", "check"), [(MESSAGES, check_message), (COUNT, check_count)])
def test_bodies_generated_from_the_request_schema_pass_the_checks(
    document: dict[str, Any], path: str, check: Any
) -> None:
    operation = schemathesis.openapi.from_dict(document)[path]["POST"]
    seen: list[Any] = []

    @given(operation.as_strategy())
    @settings(
        max_examples=150,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def passes(case: Any) -> None:
        seen.append(case.body)
        check(case.body)

    passes()
    assert len(seen) >= 100
