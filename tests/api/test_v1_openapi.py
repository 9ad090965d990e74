"""/v1 is in the app's OpenAPI, and what it says is true: the document validates against
the OpenAPI 3.1 meta-schema; the operations are there with bearer auth naming their scope,
their replies and every error status in OpenAI's error shape; the request schemas accept
every body the gateway serves and refuse every body it refuses; and bodies schemathesis
generates from them pass the gateway's parameter checks."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from modelyard.api.app import create_app
from modelyard.api.openai.spec import ERRORS, add_v1
from modelyard.errors import BadRequest
from modelyard.gateway.params import check_chat, check_embedding
from modelyard.gateway.params_completions import check_completion
from modelyard.gateway.params_responses import check_responses
from tests.gateway.responses_params_cases import BASE as RESPONSES_BASE
from tests.gateway.responses_params_cases import REFUSED as RESPONSES_REFUSED
from tests.gateway.responses_params_cases import VALID as RESPONSES_VALID
from tests.gateway.v1_params_cases import CHAT_REFUSED, CHAT_VALID, EMBED_REFUSED, EMBED_VALID

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
COMPLETE = "/v1/completions"
OPERATIONS = {
    (CHAT, "post"),
    (EMBED, "post"),
    (COMPLETE, "post"),
    ("/v1/models", "get"),
    ("/v1/models/{model}", "get"),
    ("/v1/responses", "post"),
    ("/v1/responses/{response_id}", "get"),
    ("/v1/responses/{response_id}", "delete"),
}
MESSAGES = {("/v1/messages", "post"), ("/v1/messages/count_tokens", "post")}
# Refused only once the model is known (its max output): no schema can say it.
MODEL_DEPENDENT = {"max_tokens-over-model", "max_completion_tokens-over-model"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def validator(document: dict[str, Any], name: str) -> Any:
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def test_the_document_with_v1_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    OPENAPI_31_VALIDATOR.validate(document)
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_every_v1_operation_is_listed_with_bearer_auth_and_every_error(
    document: dict[str, Any],
) -> None:
    listed = {
        (path, method)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
    }
    assert (
        listed == OPERATIONS | MESSAGES
    )  # the Messages API: tests/api/test_v1_messages_openapi.py
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method in OPERATIONS:
        operation = document["paths"][path][method]
        scope = "models.read" if path.startswith("/v1/models") else "llm.inference"
        assert operation["security"] == [{"OAuth2": [scope]}, {"HTTPBearer": [scope]}]
        assert operation["x-required-scope"] == scope
        responses = operation["responses"]
        assert {"200", "401", "403", "500", "503"} <= set(responses)
        for status, response in responses.items():
            if status != "200":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/OpenAIError"}
    for path in (CHAT, EMBED, COMPLETE, "/v1/responses"):
        assert set(document["paths"][path]["post"]["responses"]) == {"200"} | {
            str(status) for status in ERRORS
        }
    for path in (CHAT, COMPLETE):
        assert set(document["paths"][path]["post"]["responses"]["200"]["content"]) == {
            "application/json",
            "text/event-stream",
        }
    assert "404" in document["paths"]["/v1/models/{model}"]["get"]["responses"]


def test_v1_is_added_once_and_on_top_of_another_customisation() -> None:
    app = create_app()
    first = app.openapi()
    assert app.openapi() is first
    assert add_v1(first) is first
    assert any(path.startswith("/api/v1/") for path in first["paths"])  # the admin API stays


def test_the_request_schemas_accept_what_the_gateway_serves_and_refuse_what_it_refuses(
    document: dict[str, Any],
) -> None:
    chat, embed = (
        validator(document, "ChatCompletionRequest"),
        validator(document, "EmbeddingRequest"),
    )
    for name, body in CHAT_VALID:
        assert chat.is_valid(body), name
    for name, body in EMBED_VALID:
        assert embed.is_valid(body), name
    for name, body, _param, _code in CHAT_REFUSED:
        if name not in MODEL_DEPENDENT:
            assert not chat.is_valid(body), name
    for name, body, _param, _code in EMBED_REFUSED:
        assert not embed.is_valid(body), name


def test_an_openai_error_body_matches_the_error_schema(document: dict[str, Any]) -> None:
    error = validator(document, "OpenAIError")
    assert error.is_valid(
        {"error": {"message": "m", "type": "invalid_request_error", "code": "x", "param": None}}
    )
    assert not error.is_valid({"error": {"message": "m"}})


@pytest.mark.parametrize(
    ("path", "check"),
    [(CHAT, check_chat), (EMBED, check_embedding), (COMPLETE, check_completion)],
)
def test_bodies_generated_from_the_request_schema_pass_the_parameter_checks(
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


def test_the_responses_schema_accepts_what_the_gateway_serves_and_refuses_what_it_refuses(
    document: dict[str, Any],
) -> None:
    schema = validator(document, "ResponseRequest")
    for change in RESPONSES_VALID:
        assert schema.is_valid(RESPONSES_BASE | change), change
    for change, param, _code in RESPONSES_REFUSED:
        assert not schema.is_valid(RESPONSES_BASE | change), param


def test_bodies_generated_from_the_responses_schema_pass_the_parameter_checks(
    document: dict[str, Any],
) -> None:
    operation = schemathesis.openapi.from_dict(document)["/v1/responses"]["POST"]
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
        check_responses(case.body)

    passes()
    assert len(seen) >= 100


COMPLETION_VALID = [
    {"prompt": "hi"},
    {"prompt": ["a", "b"], "model": "m", "max_tokens": 0, "n": 2, "best_of": 3},
    {"prompt": "", "stop": ["x"], "logit_bias": {"50256": -100}, "echo": True, "suffix": "s"},
    {"prompt": "hi", "stream": True, "stream_options": {"include_usage": True}, "seed": 1},
    {"prompt": "hi", "temperature": None, "logprobs": 5, "user": "u"},
]
COMPLETION_REFUSED = [
    {},
    {"prompt": None},
    {"prompt": [1, 2]},
    {"prompt": []},
    {"prompt": "hi", "temperature": 7},
    {"prompt": "hi", "max_tokens": -1},
    {"prompt": "hi", "logprobs": 6},
    {"prompt": "hi", "best_of": 21},
    {"prompt": "hi", "stop": ["1", "2", "3", "4", "5"]},
    {"prompt": "hi", "echo": "yes"},
]


def test_the_completion_schema_accepts_what_the_checks_accept(document: dict[str, Any]) -> None:
    schema = validator(document, "CompletionRequest")
    for body in COMPLETION_VALID:
        assert schema.is_valid(body), body
        check_completion(dict(body))
    for body in COMPLETION_REFUSED:
        assert not schema.is_valid(body), body
        with pytest.raises(BadRequest):
            check_completion(dict(body))
