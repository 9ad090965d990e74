"""Domain errors: one tree, each error with its HTTP status and a stable ``code``.

This module is the one place where a failure is mapped to an HTTP status; the API renders
any :class:`ModelyardError` as ``{"error": {"code", "message", "details"}}`` and the CLI
prints its message and exits non-zero. Messages never contain secrets. A raise site may
name a narrower ``code`` (shown in parentheses); the status is always the class's.

    ModelyardError                  500 INTERNAL_ERROR
    ├── ValidationFailed            422 VALIDATION_FAILED
    │   ├── BadRequest              400 INVALID_REQUEST      a gateway call's body is unusable
    │   │                               (INVALID_TYPE, INVALID_VALUE, MISSING_REQUIRED_PARAMETER...)
    │   │   └── PayloadTooLarge     413 PAYLOAD_TOO_LARGE
    │   └── CapabilityMissing       400 CAPABILITY_MISSING   no candidate model can do it
    ├── NotFound                    404 NOT_FOUND (PROVIDER_NOT_FOUND, MODEL_NOT_FOUND, ...)
    ├── Conflict                    409 CONFLICT (NAME_TAKEN, EMAIL_TAKEN, PROVIDER_DISABLED,
    │                                   PROVIDER_IS_ACTIVE, MODEL_DEPRECATED, ...)
    ├── PaymentRequired             402 INSUFFICIENT_CREDITS (NO_CREDITS)
    ├── Unauthenticated             401 UNAUTHENTICATED
    ├── Forbidden                   403 FORBIDDEN (SUBSCRIPTION_SUSPENDED, MODEL_NOT_IN_PLAN,
    │   │                               MODEL_UNPRICED)
    │   └── InsufficientScope       403 INSUFFICIENT_SCOPE   the key or token lacks a scope
    ├── TooManyAttempts             429 TOO_MANY_ATTEMPTS    sign-in throttled
    ├── Misconfigured               500 MISCONFIGURED        master key missing, bad settings
    │   └── SecretUnreadable        500 SECRET_UNREADABLE    unknown master key, failed tag
    ├── RequestTimeout              408 REQUEST_TIMEOUT      a request body arrived too slowly
    ├── NotReady                    503 NOT_READY            gateway without a snapshot yet
    │   ├── DependencyDown          503 DEPENDENCY_UNAVAILABLE  database or Redis unreachable
    │   └── ShuttingDown            503 SERVER_SHUTTING_DOWN  a stream ended by the server's drain
    ├── ProviderBusy                429 PROVIDER_BUSY        no parallel slot freed in time
    ├── LimitExceeded               429 LIMIT_EXCEEDED       over a local rpm/tpm limit
    └── UpstreamError               502 UPSTREAM_ERROR       redirect, broken reply or stream
        │                                   (ADDRESS_REFUSED: a member's provider at a
        │                                   non-public address, refused on connecting)
        ├── RateLimited             429 RATE_LIMITED         retried (honours retry_after)
        ├── UpstreamTimeout         504 UPSTREAM_TIMEOUT     retried
        ├── UpstreamUnavailable     503 UPSTREAM_UNAVAILABLE retried (5xx, connection errors)
        ├── UpstreamAuthFailed      502 UPSTREAM_AUTH_FAILED not retried; next provider tried
        └── UpstreamBadRequest      400 UPSTREAM_BAD_REQUEST not retried; no fallback

``ProviderBusy`` and ``LimitExceeded`` differ from the upstream ``RATE_LIMITED``: the
provider was not called. Upstream failures are translated at each adapter's edge
(:mod:`modelyard.adapters.edge`); the gateway decides on retries and fallbacks from the
class alone (``retryable``, ``try_next_provider``), never from a provider's name or a
message.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

LimitName = Literal["rpm", "tpm"]


class ModelyardError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


# -- the caller's input -------------------------------------------------------------------


class ValidationFailed(ModelyardError):
    status = 422
    code = "VALIDATION_FAILED"

    @classmethod
    def at(cls, path: str, message: str, **details: Any) -> ValidationFailed:
        """An error about one field, named by its JSON path (``config.request_builder``)."""
        return cls(
            f"{path}: {message}", details={"errors": [{"path": path, "message": message}]} | details
        )


class BadRequest(ValidationFailed):
    status = 400
    code = "INVALID_REQUEST"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class CapabilityMissing(ValidationFailed):
    status = 400
    code = "CAPABILITY_MISSING"


def validation_failed(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    """Turn pydantic's errors into one error naming the JSON path of each problem."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in (*([prefix] if prefix else []), *err["loc"]))
        errors.append({"path": path or "(body)", "message": err["msg"]})
    summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
    return ValidationFailed(summary, details={"errors": errors})


def check(model: type[BaseModel], raw: Any, prefix: str = "") -> Any:
    """``model`` validated from ``raw``; a :class:`ValidationFailed` naming each problem."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = validation_failed(exc, prefix)
    # Raised outside the handler so the error does not keep pydantic's (with the raw input,
    # perhaps a secret) as its __context__.
    raise error


# -- the registry's rules and access --------------------------------------------------------


class NotFound(ModelyardError):
    status = 404
    code = "NOT_FOUND"


class Conflict(ModelyardError):
    status = 409
    code = "CONFLICT"


class PaymentRequired(ModelyardError):
    status = 402
    code = "INSUFFICIENT_CREDITS"


class Unauthenticated(ModelyardError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(ModelyardError):
    status = 403
    code = "FORBIDDEN"


class InsufficientScope(Forbidden):
    """The API key or OAuth token lacks the scope the operation needs (RFC 6750's
    ``insufficient_scope``): the message and ``details.scope`` name it."""

    code = "INSUFFICIENT_SCOPE"

    def __init__(self, scope: str, credential: str = "API key or token") -> None:
        super().__init__(f"this {credential} lacks the {scope!r} scope", details={"scope": scope})
        self.scope = scope


class TooManyAttempts(ModelyardError):
    """Too many failed sign-ins for an account or from an address: try again after
    ``retry_after`` seconds."""

    status = 429
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, details={"retry_after": math.ceil(retry_after)})
        self.retry_after: float | None = retry_after


class Misconfigured(ModelyardError):
    status = 500
    code = "MISCONFIGURED"


class SecretUnreadable(Misconfigured):
    code = "SECRET_UNREADABLE"


# -- the gateway before any provider is called ----------------------------------------------


class RequestTimeout(ModelyardError):
    status = 408
    code = "REQUEST_TIMEOUT"


class NotReady(ModelyardError):
    status = 503
    code = "NOT_READY"


class DependencyDown(NotReady):
    """The database or Redis could not be reached: the caller may retry after a while
    (``retry_after`` seconds). Made from the driver's exception by
    :func:`modelyard.faults.dependency_down`, never with the driver's message."""

    code = "DEPENDENCY_UNAVAILABLE"

    def __init__(self, what: str, retry_after: float = 2.0) -> None:
        super().__init__(
            f"the {what} is unreachable; retry in a few seconds",
            details={"dependency": what},
        )
        self.retry_after: float | None = retry_after


class ShuttingDown(NotReady):
    """The server is stopping (SIGTERM) and its drain deadline has passed: told as the last
    event of a stream it ended (:mod:`modelyard.gateway.drain`); the client may ask again,
    another replica answers."""

    code = "SERVER_SHUTTING_DOWN"

    def __init__(self) -> None:
        super().__init__("the server is shutting down; the stream ended early, send it again")


def _scope(key: str) -> str:
    """The scope a limits key names: ``provider`` of ``"provider:<id>"``."""
    return key.partition(":")[0]


class ProviderBusy(ModelyardError):
    """No parallel slot freed in time. The message names the scope by what the caller knows
    it as (:meth:`named`: "the 'free' plan", "provider 'openai'"), its limits key until then."""

    status = 429
    code = "PROVIDER_BUSY"

    def __init__(self, key: str, limit: int, waited_s: float, retry_after: float = 1.0) -> None:
        self.key, self.limit, self.waited_s = key, limit, waited_s
        super().__init__(
            self._say(key),
            details={"key": key, "scope": _scope(key), "limit": limit, "waited_s": waited_s},
        )
        self.retry_after: float | None = retry_after

    def named(self, name: str) -> ProviderBusy:
        """Say the scope as ``name`` (a noun phrase: "the 'free' plan"); returns itself."""
        _rename(self, self._say(name), name)
        return self

    def _say(self, name: str) -> str:
        return (
            f"{name} already runs its maximum of {self.limit} parallel requests and none "
            f"finished within {self.waited_s:g} s; send fewer calls at once, or retry in a "
            "few seconds"
        )


class LimitExceeded(ModelyardError):
    """Over an rpm or tpm limit (the upstream was not called). ``retry_after`` is None when
    the request can never fit (it needs more tokens than the whole tpm). The message names
    the scope by what the caller knows it as (:meth:`named`), its limits key until then, and
    says what to do: wait, or send a lower ``max_tokens``."""

    status = 429
    code = "LIMIT_EXCEEDED"

    def __init__(
        self,
        key: str,
        limit: LimitName,
        value: int,
        retry_after: float | None,
        *,
        tokens: int = 0,
    ) -> None:
        self.key = key
        self.limit: LimitName = limit
        self.value, self.tokens = value, tokens
        self.retry_after = retry_after
        super().__init__(
            self._say(key),
            details={
                "key": key,
                "scope": _scope(key),
                "limit": limit,
                "value": value,
                "retry_after": retry_after,
            },
        )

    def named(self, name: str) -> LimitExceeded:
        """Say the scope as ``name`` (a noun phrase: "the 'free' plan"); returns itself."""
        _rename(self, self._say(name), name)
        return self

    def _say(self, name: str) -> str:
        limit, value, tokens = self.limit, self.value, self.tokens
        if self.retry_after is None:  # larger than the whole tpm: waiting will not help
            return (
                f"the request needs about {tokens} tokens, more than the whole {limit} limit "
                f"of {name} ({value} tokens per minute); send a shorter request or a lower "
                "max_tokens"
            )
        wait = f"wait {max(1, math.ceil(self.retry_after))} s before retrying"
        if limit == "rpm":
            return f"the rpm limit of {name} ({value} requests per minute) is reached; {wait}"
        return (
            f"the tpm limit of {name} ({value} tokens per minute) has no room for this request "
            f"(about {tokens} tokens, counting max_tokens); {wait}, or send a lower max_tokens"
        )


def _rename(exc: ModelyardError, message: str, name: str) -> None:
    exc.message = message
    exc.args = (message,)
    exc.details["name"] = name


# -- upstream failures, as each adapter's edge translates them ------------------------------


class UpstreamError(ModelyardError):
    status = 502
    code = "UPSTREAM_ERROR"
    retryable = False
    try_next_provider = True
    attempts = 1  # how many tries led to this error (set by the retry loop)

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class RateLimited(UpstreamError):
    status = 429
    code = "RATE_LIMITED"
    retryable = True


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "UPSTREAM_TIMEOUT"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class UpstreamAuthFailed(UpstreamError):
    status = 502
    code = "UPSTREAM_AUTH_FAILED"


class UpstreamBadRequest(UpstreamError):
    status = 400
    code = "UPSTREAM_BAD_REQUEST"
    try_next_provider = False
