"""The settings of running the server rather than of what it serves: logs, traces,
readiness, metrics and the drain on SIGTERM. A part of :class:`modelyard.settings.Settings`
(which it is mixed into, under the same ``MODELYARD_`` prefix), kept apart to keep each
module readable; documented with the rest in ``docs/configuration.md``."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


class OperationsSettings(BaseSettings):
    log_level: str = Field(
        default="info",
        description=(
            "Log level of the server: debug, info, warning or error; `modelyard serve` prints "
            "modelyard's own log lines (one per failed /v1 call) on standard error at it."
        ),
    )
    access_log: bool = Field(
        default=False,
        description=(
            "Log one line per HTTP request (the server's access log). Off by default: it costs "
            "about a tenth of the gateway's CPU per call; failed /v1 calls are logged anyway."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "`text`, or `json`: one JSON object per line (time, level, logger, message, and "
            "the request id, trace id and span id when known), uvicorn's lines included."
        ),
    )
    otel_endpoint: str | None = Field(
        default=None,
        description=(
            "OTLP/HTTP (protobuf) traces endpoint, like http://collector:4318/v1/traces (a "
            "URL without a path gets /v1/traces). Unset: no traces and no cost."
        ),
    )
    otel_headers: SecretStr | None = Field(
        default=None,
        description=(
            "Headers sent with each export, as `name=value,name2=value2` (an ingest token, "
            "say); a secret, never logged."
        ),
    )
    otel_service_name: str = Field(
        default="modelyard", min_length=1, description="`service.name` of the exported spans."
    )
    otel_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description=(
            "Share of new traces kept (0 to 1); a caller's `traceparent` decision is followed."
        ),
    )
    ready_usage_backlog: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Usage rows waiting for the database (in memory and in the outbox) beyond which "
            "/health/ready reports the usage check degraded."
        ),
    )
    ready_stale_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "Seconds a replica may serve an older configuration generation than the database's "
            "before /health/ready fails its configuration check (503)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token that Prometheus sends to read /metrics "
            "(`Authorization: Bearer <token>`). An admin's API key is accepted too."
        ),
    )
    metrics_public: bool = Field(
        default=False,
        description=(
            "Serve /metrics to anyone, without a token (e.g. behind a private network). "
            "Off by default: /metrics then needs MODELYARD_METRICS_TOKEN or an admin's key."
        ),
    )
    drain_delay_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description=(
            "Seconds a server keeps accepting after SIGTERM while /health/ready answers 503, "
            "so that load balancers stop sending first; then the listener closes."
        ),
    )
    drain_timeout_s: float = Field(
        default=30.0,
        ge=0,
        le=86400,
        description=(
            "Seconds calls in flight may run once the listener has closed on SIGTERM; streams "
            "still running then end with a SERVER_SHUTTING_DOWN event (usage recorded)."
        ),
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return level

    @field_validator("otel_endpoint")
    @classmethod
    def _otlp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL, like http://collector:4318/v1/traces")
        if url.query or url.fragment or url.username or url.password:
            raise ValueError("must have no query, fragment or credentials (see OTEL_HEADERS)")
        return value if url.path.strip("/") else value.rstrip("/") + "/v1/traces"

    @field_validator("otel_headers")
    @classmethod
    def _otlp_headers(cls, value: SecretStr | None) -> SecretStr | None:
        for pair in value.get_secret_value().split(",") if value else ():
            name, sep, _ = pair.partition("=")
            if not sep or not name.strip():
                raise ValueError("must be name=value pairs separated by commas")
        return value
