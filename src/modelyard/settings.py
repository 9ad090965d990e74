"""The one typed settings object.

Built once at the edge (the app factory, the CLI) from ``MODELYARD_*`` environment variables
and passed down explicitly; nothing reads the environment anywhere else. Every field carries a
default and a help text, and ``docs/configuration.md`` documents each one (a test checks).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///./modelyard.db",
        description=(
            "SQLAlchemy URL of the database. `sqlite+aiosqlite:///path.db` (embedded, WAL mode) "
            "or `postgresql+asyncpg://user@host:5432/db`."
        ),
    )
    master_key: SecretStr | None = Field(
        default=None,
        description=(
            "Master key(s) that seal provider API keys: base64 of 32 random bytes; several keys "
            "separated by commas, the first one sealing new secrets. Takes precedence over the "
            "key file. There is no built-in default."
        ),
    )
    master_key_file: Path = Field(
        default=Path("./modelyard.key"),
        description=(
            "File holding the master key(s), one per line, newest first; created with mode 0600 "
            "by `modelyard init` / the first `modelyard serve` when MODELYARD_MASTER_KEY is unset."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=4100, ge=1, le=65535, description="Port the HTTP server binds to.")
    admin_email: str = Field(
        default="admin@modelyard.local",
        description="Email of the admin user created when the database is bootstrapped.",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the database schema to the newest revision when the server starts.",
    )
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
    db_pool_size: int = Field(
        default=10, ge=1, description="Connections kept in the PostgreSQL pool per process."
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis URL (redis://127.0.0.1:6379/0). When set, rate limits and parallelism are "
            "shared by every replica through Redis; otherwise they are kept in this process."
        ),
    )
    redis_prefix: str = Field(
        default="modelyard", description="Prefix of every Redis key modelyard writes."
    )
    usage_outbox: Path = Field(
        default=Path("./modelyard-usage.outbox"),
        description=(
            "File where usage rows wait, durably, while the database is unreachable; they are "
            "written to the database when it returns."
        ),
    )
    refresh_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the gateway checks whether the registry changed (seconds).",
    )
    billing_interval_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description=(
            "How often the server runs billing periods: renewals, rollovers, expiries "
            "(seconds; 0 turns the scheduler off, e.g. when a cron job runs "
            "`modelyard billing renew --now` instead)."
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
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "Seconds a client has to send a request's whole body, from the start of the "
            "request; a slower or unfinished body gets 408 REQUEST_TIMEOUT (/v1 and the admin "
            "API)."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return level

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
