"""GraphQL errors in modelyard's words.

Every entry of ``errors[]`` carries ``message``, ``path`` (the field that failed) and
``locations`` as GraphQL has them, and ``extensions``: ``code`` (the same stable code as the
REST API's: PROVIDER_DISABLED, NAME_TAKEN, MODEL_NOT_FOUND, INSUFFICIENT_SCOPE...),
``status`` (the HTTP status REST answers the same failure with) and ``details`` (REST's,
with field paths named as the schema names them, :func:`schema_path`).

Errors GraphQL itself finds before anything runs keep their message (a document that does
not parse or validate) with ``GRAPHQL_PARSE_FAILED`` or ``GRAPHQL_VALIDATION_FAILED``, or
the code a limit set (``GRAPHQL_TOO_DEEP``...); so do variables that cannot be coerced,
less the value graphql-core quotes back (``found: {...}``, ``non string value: ...``): an
input with a misspelt field may hold a password or a key.
Anything else that fails while a field runs (a bug, a dependency down) is
masked: ``INTERNAL_ERROR`` or ``DEPENDENCY_UNAVAILABLE`` with no exception text, and logged
by class only (its text may hold a URL or a value)."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSyntaxError,
    get_named_type,
)

from modelyard.errors import ModelyardError
from modelyard.faults import as_error

log = logging.getLogger("modelyard.api.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
_CAMEL = re.compile(r"_([a-z0-9])")
# The value graphql-core quotes back in a coercion error, up to the end of the message (or
# to its "Did you mean" hint).
_FOUND = re.compile(r",?\s*\bfound: .*\Z", re.IGNORECASE | re.DOTALL)
_VALUE = re.compile(r"(cannot represent [^:]*value): .*?(?=\.? Did you mean|\Z)", re.DOTALL)


def camel(name: str) -> str:
    """``context_window`` -> ``contextWindow``."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


@cache
def _input_names() -> tuple[frozenset[str], frozenset[str]]:
    """The schema's input fields and arguments: all of them, and those holding free JSON
    (inside which the keys are the caller's own)."""
    from modelyard.api.graphql.schema import schema  # noqa: PLC0415 - the schema imports areas

    names: set[str] = set()
    free: set[str] = set()
    built = schema()._schema
    fields: list[tuple[str, Any]] = []
    for gql_type in built.type_map.values():
        if isinstance(gql_type, GraphQLInputObjectType):
            fields += list(gql_type.fields.items())
        elif isinstance(gql_type, GraphQLObjectType):
            fields += [a for f in gql_type.fields.values() for a in f.args.items()]
    for name, field in fields:
        names.add(name)
        if get_named_type(field.type).name == "JSON":
            free.add(name)
    return frozenset(names), frozenset(free)


def schema_path(path: str) -> str:
    """A service's field path as the schema names it: ``price.input_per_mtok`` ->
    ``price.inputPerMtok``, while inside free JSON (``config.request_builder``, an imported
    document's ``providers.0.timeout_ms``) the caller's own keys stay as they are."""
    names, free = _input_names()
    parts, structured = [], True
    for part in path.split("."):
        name = camel(part)
        if structured and name in names:
            parts.append(name)
            structured = name not in free
        elif structured and part.isdigit():
            parts.append(part)
        else:
            structured = False
            parts.append(part)
    return ".".join(parts)


def without_values(message: str) -> str:
    """``message`` without the input value graphql-core quotes in it (it may be a secret)."""
    cut = _VALUE.sub(r"\1", _FOUND.sub("", message))
    return cut if cut == message or cut.endswith((".", "?")) else cut + "."


def _camel_details(details: dict[str, Any]) -> dict[str, Any]:
    errors = details.get("errors")
    if not isinstance(errors, list):
        return details
    renamed = [
        {**e, "path": schema_path(e["path"])} if isinstance(e, dict) and "path" in e else e
        for e in errors
    ]
    return {**details, "errors": renamed}


def _domain(error: ModelyardError) -> tuple[str, dict[str, Any]]:
    details = _camel_details(error.details)
    message = error.message
    if details is not error.details:
        problems = [e for e in details["errors"] if isinstance(e, dict)]
        message = "; ".join(f"{e.get('path')}: {e.get('message')}" for e in problems[:5])
    extensions = {"code": error.code, "status": error.status, "details": details}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        extensions["retryAfter"] = retry_after
    return message or error.message, extensions


def format_error(error: GraphQLError, request_id: str = "") -> dict[str, Any]:
    """One ``errors[]`` entry, never with a traceback or an unexpected exception's text."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, ModelyardError):
        message, extensions = _domain(original)
        if original.status >= 500:
            log.error("graphql %s: %s (%s)", request_id, original.code, original.message)
    elif original is not None and error.path is not None:
        mapped = as_error(original)
        log.error(
            "graphql %s: unexpected %s at %s -> %s",
            request_id,
            type(original).__name__,
            ".".join(str(p) for p in error.path or ()),
            mapped.code,
        )
        message, extensions = _domain(mapped)
    else:  # found before execution: a bad document, variables or a limit; its text is ours
        message = without_values(error.message)
        code = (error.extensions or {}).get("code")
        if not isinstance(code, str):
            code = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
        extensions = {"status": 400, **(error.extensions or {}), "code": code}
    entry: dict[str, Any] = {"message": message}
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path is not None:
        entry["path"] = list(error.path)
    entry["extensions"] = extensions
    return entry


__all__ = [
    "PARSE_FAILED",
    "VALIDATION_FAILED",
    "camel",
    "format_error",
    "schema_path",
    "without_values",
]
