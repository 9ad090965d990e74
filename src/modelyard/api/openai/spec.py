"""``/v1`` in the app's OpenAPI. The OpenAI-compatible face is a raw ASGI handler ahead of
FastAPI's routing (:mod:`modelyard.api.openai.handler`), so FastAPI knows nothing of it: its
operations are added to the schema FastAPI builds, once, by :func:`install`.

Every operation names the scope it needs (``x-required-scope`` and its ``security``, see
:mod:`modelyard.api.security`), read from the route table the handler enforces
(:data:`modelyard.api.openai.handler.ROUTES`): ``models.read`` for the models,
``llm.inference`` for everything else. Every operation lists the errors it can really
answer, in OpenAI's error shape:

=====  ===========================================================  =====================
 400   a body that is not JSON, or a parameter OpenAI would refuse  calls
 401   no API key, or one that is invalid, expired or revoked       all
 402   not enough credits for the call                              calls
 403   a key or token without the route's scope; what the plan      all
       excludes
 404   an unknown model (or one not yours)                          calls, one model
 408   the body arrived too slowly                                  calls
 409   the model is deprecated, the provider disabled               calls
 413   the body is too large                                        calls
 429   over a limit (modelyard's or the provider's), Retry-After    calls
 500   a fault of modelyard's own                                   all
 502   the provider's answer was unusable                           calls
 503   not ready, a dependency or the provider unavailable          all
 504   the provider timed out                                       calls
=====  ===========================================================  =====================
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from modelyard.api import security
from modelyard.api.anthropic import spec as anthropic_spec
from modelyard.api.openai import spec_completions
from modelyard.api.openai.handler import ROUTES
from modelyard.api.openai.spec_messages import Schema, ref
from modelyard.api.openai.spec_responses import COMPONENTS as RESPONSES_COMPONENTS
from modelyard.api.openai.spec_schemas import COMPONENTS

SECURITY_SCHEME = "HTTPBearer"
ERRORS = {
    400: "A body that is not JSON, or a parameter OpenAI would refuse (`param` names it)",
    401: "No API key, or one that is invalid, expired or revoked",
    402: "Not enough credits for this call",
    403: "The key or token lacks the operation's scope (code insufficient_scope, the "
    "`x-required-scope`, named by WWW-Authenticate), or the plan does not allow this",
    404: "The model does not exist, or is not yours to use",
    408: "The request body arrived too slowly",
    409: "The model is deprecated or its provider disabled",
    413: "The request body is too large",
    429: "Over a rate, token or parallelism limit; retry after Retry-After seconds",
    500: "An unexpected fault in modelyard",
    502: "The provider's answer was unusable",
    503: "The gateway or a dependency (database, Redis, the provider) is unavailable",
    504: "The provider timed out",
}
CALL_ERRORS = tuple(ERRORS)
READ_ERRORS = (401, 403, 500, 503)
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}


EVENT = {
    "type": "object",
    "description": "one Server-Sent Event (OpenAPI 3.1: the schema describes each event)",
    "properties": {
        "data": {
            "type": "string",
            "description": "a chat.completion.chunk as JSON, an error object, or [DONE]",
        },
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}


CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'RFC 6750: `Bearer` on a 401; `Bearer error="insufficient_scope", '
        'scope="<the scope>"` when the credential lacks the operation\'s scope',
        "schema": {"type": "string"},
    }
}


def _errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": ERRORS[status],
            "content": {"application/json": {"schema": ref("OpenAIError")}},
        }
        if status in (429, 503):
            response["headers"] = RETRY_AFTER
        out[str(status)] = response
    return out


def _operation(
    summary: str, ok: dict[str, Any], errors: tuple[int, ...], **more: Any
) -> dict[str, Any]:
    return {
        "tags": ["OpenAI-compatible (/v1)"],
        "summary": summary,
        "security": [{SECURITY_SCHEME: []}],
        **more,
        "responses": {"200": ok, **_errors(errors)},
    }


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


PATHS: dict[str, Any] = {
    "/v1/chat/completions": {
        "post": _operation(
            "Create a chat completion",
            {
                "description": "The completion; with `stream: true`, Server-Sent Events of "
                "chat.completion.chunk objects ending with `data: [DONE]`",
                "content": {
                    "application/json": {"schema": ref("ChatCompletion")},
                    "text/event-stream": {"schema": EVENT},
                },
            },
            CALL_ERRORS,
            operationId="v1_chat_completions",
            requestBody=_body("ChatCompletionRequest"),
        )
    },
    "/v1/embeddings": {
        "post": _operation(
            "Create embeddings",
            _json(ref("Embeddings"), "The embeddings"),
            CALL_ERRORS,
            operationId="v1_embeddings",
            requestBody=_body("EmbeddingRequest"),
        )
    },
    "/v1/completions": {
        "post": _operation(
            "Create a completion (legacy: prompt in, text out)",
            {
                "description": "The text_completion; with `stream: true`, Server-Sent Events "
                "of text_completion chunks ending with `data: [DONE]`",
                "content": {
                    "application/json": {"schema": ref("TextCompletion")},
                    "text/event-stream": {"schema": spec_completions.EVENT},
                },
            },
            CALL_ERRORS,
            operationId="v1_completions",
            requestBody=_body("CompletionRequest"),
        )
    },
    "/v1/models": {
        "get": _operation(
            "List the models this key may use",
            _json(ref("V1ModelList"), "The models, ACTIVE first"),
            READ_ERRORS,
            operationId="v1_models",
        )
    },
    "/v1/models/{model}": {
        "get": _operation(
            "Retrieve a model",
            _json(ref("V1Model"), "The model"),
            (401, 403, 404, 500, 503),
            operationId="v1_model",
            parameters=[
                {
                    "name": "model",
                    "in": "path",
                    "required": True,
                    "description": "a model id, or provider/model",
                    "schema": {"type": "string"},
                }
            ],
        )
    },
}
RESPONSE_ID = [
    {
        "name": "response_id",
        "in": "path",
        "required": True,
        "description": "a response of yours (resp_...), stored and not expired",
        "schema": {"type": "string"},
    }
]
PATHS |= {
    "/v1/responses": {
        "post": _operation(
            "Create a response (OpenAI's Responses API)",
            {
                "description": "The response; with `stream: true`, Server-Sent Events of the "
                "Responses API's typed events (response.created ... response.completed)",
                "content": {
                    "application/json": {"schema": ref("Response")},
                    "text/event-stream": {"schema": EVENT},
                },
            },
            CALL_ERRORS,
            operationId="v1_responses_create",
            requestBody=_body("ResponseRequest"),
        )
    },
    "/v1/responses/{response_id}": {
        "get": _operation(
            "Retrieve a stored response",
            _json(ref("Response"), "The response as it was answered"),
            (401, 403, 404, 500, 503),
            operationId="v1_responses_get",
            parameters=RESPONSE_ID,
        ),
        "delete": _operation(
            "Delete a stored response",
            _json(ref("ResponseDeleted"), "The response is deleted"),
            (401, 403, 404, 500, 503),
            operationId="v1_responses_delete",
            parameters=RESPONSE_ID,
        ),
    },
}


def add_v1(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document) with ``/v1``'s operations, schemas and auth."""
    paths = schema.setdefault("paths", {})
    if "/v1/chat/completions" in paths:
        return schema
    paths.update(copy.deepcopy(PATHS))
    paths.update(copy.deepcopy(anthropic_spec.paths(ERRORS)))
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(copy.deepcopy(COMPONENTS))
    components["schemas"].update(copy.deepcopy(spec_completions.COMPONENTS))
    components["schemas"].update(copy.deepcopy(RESPONSES_COMPONENTS))
    components["schemas"].update(copy.deepcopy(anthropic_spec.COMPONENTS))
    schemes = components.setdefault("securitySchemes", {})
    schemes.setdefault(
        SECURITY_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "a modelyard API key (myk_...)"},
    )
    schemes.update(copy.deepcopy(anthropic_spec.SCHEMES))
    # The OAuth2 scheme the operations name is the admin API's (api/openapi.py adds it).
    for template, item in paths.items():
        if template.startswith("/v1/"):
            for operation in item.values():
                security.declare(operation, scope_of(template))
                for status in ("401", "403"):
                    operation["responses"][status].setdefault("headers", CHALLENGE)
    return schema


def scope_of(template: str) -> str:
    """The scope the handler requires on the path ``template`` (its route's)."""
    route = ROUTES.find(re.sub(r"\{[^/]+\}", "x", template))
    if route is None:
        raise LookupError(f"{template} is documented but not routed")
    return route.scope


def install(app: Any) -> None:
    """Make ``app.openapi()`` include ``/v1``. Wraps whatever ``app.openapi`` is now, so it
    is installed after any other customisation of the document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        return add_v1(build())

    app.openapi = openapi
