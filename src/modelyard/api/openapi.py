"""The error answers of every operation, in the OpenAPI.

Each admin operation lists the error statuses it can really answer, all with the one error
schema ``{"error": {"code", "message", "details"}}``, derived from the route itself rather
than written by hand per endpoint (they are read from the operation's own OpenAPI, so an
operation added later gets its own):

=====  ==================================================  ====================================
 400   a body that is not JSON                             operations with a body
 401   no, or a bad, API key                               operations with a security scheme
 403   a key without the scope, a member doing admin work  operations with a security scheme
 404   an id (path, body or filter) that names nothing     with parameters or a body; writes
 408   the body did not arrive within the read timeout     operations with a body
 409   the change conflicts with the current state         writes (POST, PUT, PATCH, DELETE)
 422   a parameter or field that is not valid              operations with parameters or a body
 503   the database (behind every key check) is down       operations with a security scheme
=====  ==================================================  ====================================

Every operation with a security scheme names the one scope it needs (``api/security.py``):
the scope its actor dependency declares (``api/deps.py``) becomes its ``security`` (the
OAuth 2 scheme and the bearer key, each requiring it) and its ``x-required-scope``; its 403
says ``WWW-Authenticate`` names the scope when that is what is missing.

A route's own ``responses=`` (a CSV body, readiness' 503) win over these. FastAPI's
``HTTPValidationError`` is not used: validation errors are rendered by
:mod:`modelyard.api.errors` in the same shape as every other error. A 405 (a method the path
does not have) carries ``Allow``; it is not an operation's answer, so it is not listed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from modelyard.api import security

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SCHEMA_REF = "#/components/schemas/Error"
CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'RFC 6750: `Bearer` on a 401; `Bearer error="insufficient_scope", '
        'scope="<the scope>"` when the credential lacks the operation\'s scope',
        "schema": {"type": "string"},
    }
}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. VALIDATION_FAILED")
    message: str = Field(description="what went wrong, for people; names the field at fault")
    details: dict[str, Any] = Field(
        description="more about it; validation errors list {path, in, message} under `errors`"
    )


class Error(BaseModel):
    """Every error answer of the admin API."""

    error: ErrorDetail


DESCRIPTIONS = {
    400: "The body is not valid JSON",
    401: "No API key, or one that is invalid, expired or revoked",
    403: "The key or token lacks the operation's scope (INSUFFICIENT_SCOPE, `details.scope`: "
    "the `x-required-scope`), or the caller the role, for this",
    404: "Something the request names does not exist (or is not yours)",
    408: "The request body did not arrive within MODELYARD_BODY_TIMEOUT_S",
    409: "The change conflicts with the current state",
    422: "A parameter or field is not valid; `details.errors` names each one",
    503: "A dependency (the database) is unreachable; retry later",
}


def error_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer (see the table above), read from what
    the OpenAPI already says of it: its parameters, body, security and method."""
    statuses: set[int] = set()
    if "requestBody" in operation:
        statuses |= {400, 404, 408, 422}
    if operation.get("parameters"):
        statuses |= {404, 422}
    if operation.get("security"):  # the bearer key, checked against the database
        statuses |= {401, 403, 503}
    if method.upper() in WRITES:
        statuses |= {404, 409}
    return statuses


def _document(schema: dict[str, Any], prefix: str, issuer: str) -> None:
    for template, path in schema.get("paths", {}).items():
        if not template.startswith(prefix):
            continue
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            if _is_fastapi_422(responses.get("422")):
                del responses["422"]
            _scope(operation)
            for status in sorted(error_statuses(method, operation)):
                answer: dict[str, Any] = {
                    "description": DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": {"$ref": SCHEMA_REF}}},
                }
                if status in (401, 403):
                    answer["headers"] = CHALLENGE
                responses.setdefault(str(status), answer)
    security.add_scheme(schema, issuer)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "HTTPValidationError" not in str(schema.get("paths")):  # no longer used anywhere
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
    defs = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(defs.pop("$defs", {}))
    components["Error"] = defs


def _scope(operation: dict[str, Any]) -> None:
    """The scope the operation's dependencies declare (FastAPI lists it on the bearer
    scheme) made its security and ``x-required-scope``. An operation that declares none,
    or several, is left as it is: the scope walk (tests/api/test_scope_walk.py) fails on it."""
    declared = {
        scope for need in operation.get("security", []) for s in need.values() for scope in s
    }
    if len(declared) == 1:
        security.declare(operation, declared.pop())


def _is_fastapi_422(response: Any) -> bool:
    return "HTTPValidationError" in str(response) if response is not None else False


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """Every method the OpenAPI lists for ``path`` (for a 405's ``Allow``; Starlette's names
    only the first route matching the path), or None for a path it does not list."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "allow", None)
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = sorted(m.upper() for m in operations)
            if "GET" in methods:
                methods.append("HEAD")
            table.append((re.compile(f"^{regex}$"), methods))
        app.state.allow = table
    for compiled, methods in table:
        if compiled.match(path):
            return methods
    return None


def install(app: FastAPI, prefix: str) -> None:
    """Make ``app.openapi()`` list the errors of every operation under ``prefix`` (the admin
    API; ``/v1`` answers errors in OpenAI's shape and documents its own). Built once, then
    cached."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _document(schema, prefix, app.state.settings.issuer)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
