"""Telling a dependency's failure from a bug: the database or Redis being unreachable is a
503 the caller may retry (:class:`~modelyard.errors.DependencyDown`); anything else that is
not a :class:`~modelyard.errors.ModelyardError` is a fault of modelyard's own (500).

Used wherever an unexpected exception is turned into an answer: the admin API's handler, the
/v1 handler and the call's settlement (its usage row's error code)."""

from __future__ import annotations

import asyncio

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from modelyard.errors import DependencyDown, ModelyardError

_DATABASE = (
    sa_errors.OperationalError,
    sa_errors.InterfaceError,
    sa_errors.DisconnectionError,
    sa_errors.TimeoutError,  # the connection pool's
)
_REDIS = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError)
# Every exception class :func:`dependency_down` may recognise: a web framework can handle
# these like any other error (Starlette re-raises what only a catch-all handler took).
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    sa_errors.DBAPIError,
    *_DATABASE,
    *_REDIS,
    ConnectionError,
    TimeoutError,
)


def dependency_down(exc: BaseException) -> DependencyDown | None:
    """The 503 for ``exc`` when it says a dependency is unreachable, else None."""
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return DependencyDown("database")
    if isinstance(exc, _DATABASE):
        return DependencyDown("database")
    if isinstance(exc, _REDIS):
        return DependencyDown("redis")
    if isinstance(exc, ConnectionError | asyncio.TimeoutError | TimeoutError):
        # asyncpg and aiosqlite raise plain OSErrors when the server goes away
        return DependencyDown("database")
    return None


def as_error(exc: BaseException) -> ModelyardError:
    """``exc`` as the error a caller is answered with: itself, a 503 for an unreachable
    dependency, or a 500 INTERNAL_ERROR that says nothing of the exception."""
    if isinstance(exc, ModelyardError):
        return exc
    return dependency_down(exc) or ModelyardError("an unexpected error occurred")
