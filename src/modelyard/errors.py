"""Domain errors: one hierarchy, each error with a stable ``code`` and its HTTP status.

This module is the one place where a failure is mapped to an HTTP status; the API renders
any :class:`ModelyardError` as ``{"error": {"code", "message", "details"}}`` and the CLI
prints its message and exits non-zero. Messages never contain secrets.

    ModelyardError                      500 INTERNAL_ERROR
    ├── ValidationFailed                422 VALIDATION_FAILED
    ├── NotFound                        404 NOT_FOUND (PROVIDER_NOT_FOUND, MODEL_NOT_FOUND, ...)
    ├── Conflict                        409 NAME_TAKEN, EMAIL_TAKEN, PROVIDER_DISABLED,
    │                                       PROVIDER_IS_ACTIVE, MODEL_DEPRECATED, ...
    ├── PaymentRequired                 402 INSUFFICIENT_CREDITS
    ├── Unauthenticated                 401 UNAUTHENTICATED
    ├── Forbidden                       403 FORBIDDEN, SUBSCRIPTION_SUSPENDED, MODEL_NOT_IN_PLAN
    └── Misconfigured                   500 MISCONFIGURED (master key missing, bad settings)

Gateway failures (rate limits, upstream errors) join this tree in their own subclasses.
"""

from __future__ import annotations

from typing import Any


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


class ValidationFailed(ModelyardError):
    status = 422
    code = "VALIDATION_FAILED"

    @classmethod
    def at(cls, path: str, message: str, **details: Any) -> ValidationFailed:
        """An error about one field, named by its JSON path (``config.request_builder``)."""
        return cls(
            f"{path}: {message}", details={"errors": [{"path": path, "message": message}]} | details
        )


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


class Misconfigured(ModelyardError):
    status = 500
    code = "MISCONFIGURED"
