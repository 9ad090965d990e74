"""The one typed settings object.

Built once at the edge (the app factory, the CLI) from ``MODELYARD_*`` environment variables
and passed down explicitly; nothing reads the environment anywhere else. Every field carries a
default and a help text, and ``docs/configuration.md`` documents each one (a test checks).

Files live in one data directory, ``MODELYARD_HOME`` (default: the user's data directory,
``$XDG_DATA_HOME/modelyard`` or ``~/.local/share/modelyard``). A relative SQLite path, key
file or outbox is resolved against it, never against the working directory, so the server
and the CLI find the same registry wherever they are started.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from modelyard.settings_operations import OperationsSettings

DATABASE_FILE = "modelyard.db"


def default_home() -> Path:
    """The user's data directory for modelyard: ``$XDG_DATA_HOME/modelyard``, else
    ``~/.local/share/modelyard``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "modelyard"


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not database_url.startswith("sqlite"):
        return None
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class Settings(OperationsSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore", frozen=True)

    home: Path = Field(
        default_factory=default_home,
        validate_default=True,
        description=(
            "Data directory: relative paths of the SQLite database, the key file and the usage "
            "outbox are resolved against it, not against the working directory. Created by "
            "`modelyard init` / `modelyard serve`."
        ),
    )
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DATABASE_FILE}",
        validate_default=True,
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
        default=Path("modelyard.key"),
        validate_default=True,
        description=(
            "File holding the master key(s), one per line, newest first; created with mode 0600 "
            "by `modelyard init` / the first `modelyard serve` when MODELYARD_MASTER_KEY is unset."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=4100, ge=1, le=65535, description="Port the HTTP server binds to.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "HTTP worker processes of `modelyard serve`, sharing its socket (at most 64). Above "
            "1 needs MODELYARD_REDIS_URL, so that limits are counted once for all of them."
        ),
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "The server's public URL, as browsers and apps reach it (`https://llm.example.com`): "
            "the OAuth / OpenID Connect issuer and the base of its endpoints. Default: "
            "http://<host>:<port>. Sign-in cookies are marked Secure when it is https."
        ),
    )
    oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer URL of an upstream OpenID provider people may sign in through (its "
            "discovery document is <issuer>/.well-known/openid-configuration). Unset: no "
            "upstream sign-in. Needs MODELYARD_OIDC_CLIENT_ID and MODELYARD_OIDC_CLIENT_SECRET."
        ),
    )
    oidc_client_id: str | None = Field(
        default=None, description="modelyard's client id at the upstream OpenID provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description=(
            "modelyard's client secret at the upstream OpenID provider (sent with HTTP Basic "
            "authentication to its token endpoint)."
        ),
    )
    oidc_name: str = Field(
        default="",
        max_length=100,
        description=(
            "The provider's name on the sign-in page's button (\"Sign in with <name>\"); "
            "default: the issuer's host name."
        ),
    )
    oidc_create_users: bool = Field(
        default=True,
        description=(
            "Create a member for a person the upstream provider vouches for (verified email) "
            "who has no account here yet; false: only existing users may sign in through it."
        ),
    )
    admin_email: str = Field(
        default="admin@modelyard.local",
        description="Email of the admin user created when the database is bootstrapped.",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the database schema to the newest revision when the server starts.",
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
    redis_timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description=(
            "Seconds a limiter command (or connecting) may take before Redis counts as "
            "unreachable and limits fall back to this replica's own for a few seconds."
        ),
    )
    usage_outbox: Path = Field(
        default=Path("modelyard-usage.outbox"),
        validate_default=True,
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
    credit_hold_ttl_s: float = Field(
        default=120.0,
        ge=1,
        le=3600,
        description=(
            "How long a gateway process's credit hold outlives the process if it dies without "
            "releasing it (seconds): after a crash, the user's credits it held are spendable "
            "through the other replicas after at most this long. Holds are renewed every "
            "sixth of it."
        ),
    )

    partition_interval_s: float = Field(
        default=3600.0,
        ge=0,
        le=86_400,
        description=(
            "PostgreSQL: how often the server runs the usage partition maintenance (months "
            "made ahead, retention; seconds; 0 turns it off, e.g. when a cron job runs "
            "`modelyard usage partitions --maintain` instead)."
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

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL SQLAlchemy can read") from None
        if value.startswith("sqlite") and (url.host or url.port):
            raise ValueError(
                "a SQLite URL names a file after three slashes: sqlite+aiosqlite:///x.db"
            )
        path, home = sqlite_path(value), info.data.get("home")
        if path is None or home is None:
            return value
        resolved = path.expanduser()
        if not resolved.is_absolute():
            resolved = home / resolved
        if resolved == path:
            return value
        return make_url(value).set(database=str(resolved)).render_as_string(hide_password=False)

    @field_validator("master_key_file", "usage_outbox")
    @classmethod
    def _under_home(cls, value: Path, info: ValidationInfo) -> Path:
        home = info.data.get("home")
        value = value.expanduser()
        return value if home is None or value.is_absolute() else home / value

    @field_validator("public_url")
    @classmethod
    def _origin_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL with a host, like https://llm.example.com")
        if url.query or url.fragment or url.username or url.password:
            raise ValueError("must have no query, fragment or credentials")
        return value.rstrip("/")

    @field_validator("oidc_issuer")
    @classmethod
    def _oidc_issuer_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL with a host, like https://id.example.com")
        if url.query or url.fragment or url.username or url.password:
            raise ValueError("must have no query, fragment or credentials")
        return value  # as the provider spells it: ID tokens' `iss` must equal it

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        """Half a provider's configuration is a mistake to report, not to ignore."""
        given = [self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret]
        if any(given) and not all(given):
            raise ValueError(
                "MODELYARD_OIDC_ISSUER, MODELYARD_OIDC_CLIENT_ID and "
                "MODELYARD_OIDC_CLIENT_SECRET are set together or not at all"
            )
        return self

    @property
    def upstream_oidc(self) -> bool:
        """Sign-in through an upstream OpenID provider is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def issuer(self) -> str:
        """The OAuth issuer: the public URL, or where the server listens."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_file(self) -> Path | None:
        """The SQLite database's file (absolute), or None for PostgreSQL / in memory."""
        return sqlite_path(self.database_url)
