"""What callers send and see of an OAuth client: the create and update specs (each field
checked by the rules in :mod:`~modelyard.registry.oauth_client_rules`) and the views, which
never hold a secret's hash; the one view with the secret is the answer that makes it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from modelyard.registry.common import Spec, View
from modelyard.registry.oauth_client_rules import (
    ClientType,
    GrantType,
    check_client_id,
    check_redirect_uris,
    check_scopes,
)


class OAuthClientView(View):
    id: uuid.UUID
    client_id: str
    name: str
    description: str
    client_type: str
    secret_prefix: str | None
    redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    service_user_id: uuid.UUID | None
    skip_consent: bool
    enabled: bool
    config_version: int
    created_at: datetime
    updated_at: datetime


class NewOAuthClient(View):
    """The one response that carries a confidential client's secret; it is never shown
    again (``client_secret`` is null for a public client)."""

    client_secret: str | None
    client: OAuthClientView


def _code_grant() -> list[GrantType]:
    return ["authorization_code"]


class OAuthClientCreate(Spec):
    client_id: str = Field(description="a slug such as 'textassistant-desktop'")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    client_type: ClientType = Field(
        description="public: an app that cannot keep a secret (PKCE, no secret); "
        "confidential: a server, given a secret once"
    )
    redirect_uris: list[str] = Field(
        default_factory=list,
        description="exact URIs: https, http://127.0.0.1 or http://[::1] (any port), or a "
        "private-use scheme such as com.example.app:/callback",
    )
    grant_types: list[GrantType] = Field(default_factory=_code_grant)
    scopes: list[str] = Field(description="scopes the client may ask for, OIDC's included")
    service_user_id: uuid.UUID | None = Field(
        default=None, description="the user a client_credentials client acts as"
    )
    skip_consent: bool = False
    enabled: bool = True

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        return check_client_id(value)

    @field_validator("redirect_uris")
    @classmethod
    def _uris(cls, value: list[str]) -> list[str]:
        return check_redirect_uris(value)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return check_scopes(value)

    @field_validator("grant_types")
    @classmethod
    def _grants(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class OAuthClientUpdate(Spec):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    redirect_uris: list[str] | None = None
    grant_types: list[GrantType] | None = None
    scopes: list[str] | None = None
    service_user_id: uuid.UUID | None = None
    skip_consent: bool | None = None
    enabled: bool | None = None

    not_null = frozenset(
        {"name", "description", "redirect_uris", "grant_types", "scopes", "skip_consent"}
        | {"enabled"}
    )

    @field_validator("redirect_uris")
    @classmethod
    def _uris(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_redirect_uris(value)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_scopes(value)

    @field_validator("grant_types")
    @classmethod
    def _grants(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))
