"""One place that renders every failure as ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from modelyard.api.openapi import allowed_methods
from modelyard.api.responses import JSONBody
from modelyard.api.security import challenge
from modelyard.errors import ModelyardError
from modelyard.faults import DEPENDENCY_ERRORS, as_error

log = logging.getLogger("modelyard.api")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: object = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> JSONBody:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", "Bearer")
    if retry_after is not None:
        extra["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONBody(body, status_code=status, headers=extra or None)


def _render(exc: ModelyardError) -> JSONBody:
    retry_after = getattr(exc, "retry_after", None)
    asks = challenge(exc)
    headers = {"WWW-Authenticate": asks} if asks else None
    return error_response(
        exc.status, exc.code, exc.message, exc.details, headers=headers, retry_after=retry_after
    )


async def _domain(_: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, ModelyardError)
    if exc.status >= 500:
        log.error("request failed: %s (%s)", exc.code, exc.message)
    return _render(exc)


async def _validation(_: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        errors.append({"path": ".".join(loc) or where, "in": where, "message": err.get("msg")})
    summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
    return error_response(422, "VALIDATION_FAILED", summary, {"errors": errors})


async def _http(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method the path has, not only its first route's
        methods = allowed_methods(request.app, request.url.path)
        if methods:
            headers["Allow"] = ", ".join(methods)
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


async def unexpected(request: Request, exc: Exception) -> JSONBody:
    """A database or Redis out of reach is 503 with Retry-After (faults.as_error); anything
    else 500. Neither says more than the exception's class (its text may hold a URL)."""
    error = as_error(exc)
    log_unexpected(request, exc, error)
    return _render(error)


def log_unexpected(request: Request, exc: Exception, error: ModelyardError) -> None:
    log.error(
        "unexpected %s on %s %s -> %d %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        error.status,
        error.code,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModelyardError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    # Handled like a domain error (Starlette re-raises, with its traceback and perhaps a
    # database URL, whatever only the catch-all below takes), yet answered by faults.as_error.
    for kind in DEPENDENCY_ERRORS:
        app.add_exception_handler(kind, unexpected)
    app.add_exception_handler(Exception, unexpected)
