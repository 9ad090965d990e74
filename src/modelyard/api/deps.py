"""Request dependencies: the registry, and the actor behind the bearer credential.

Every admin operation takes its actor through one of the scoped aliases below (``Reader``,
``Writer``, ``ModelsReader``, ``CreditsReader``, ``ProfileReader``): the alias names the scope
the operation needs, FastAPI carries it into the OpenAPI (``api/openapi.py`` turns it into the
operation's security and ``x-required-scope``), and :func:`scoped` refuses a credential
without it (403 INSUFFICIENT_SCOPE naming it, before any parameter is looked at)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from modelyard.errors import Unauthenticated
from modelyard.registry import oauth_access
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.fields import INT64_MAX, unstorable
from modelyard.registry.oauth_tokens import ACCESS_PREFIX
from modelyard.registry.scopes import (
    CREDITS_READ,
    MODELS_READ,
    REGISTRY_READ,
    REGISTRY_WRITE,
    USER_INFO,
)
from modelyard.services import Registry

bearer = HTTPBearer(
    auto_error=False, description="a modelyard API key (myk_...) or OAuth access token (myat_...)"
)


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def credential_actor(registry: Registry, credential: str) -> Actor:
    """The actor behind an API key (``myk_``) or an OAuth access token (``myat_``: its user,
    held to the token's scopes, labelled with its app: ``user:<email> via <client_id>``)."""
    if credential.startswith(ACCESS_PREFIX):
        return await oauth_access.authenticate(registry.db, credential)
    return await registry.keys.authenticate(credential)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The actor behind the request's bearer credential (401 without a valid one). Its
    scopes are checked by :func:`scoped`, not here."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "send an API key or OAuth access token as 'Authorization: Bearer <credential>'"
        )
    return await credential_actor(get_registry(request), credentials.credentials)


async def scoped(
    security: SecurityScopes, actor: Annotated[Actor, Depends(authenticated)]
) -> Actor:
    """The authenticated actor, refused unless it holds every scope the operation declares
    (``Security(scoped, scopes=[...])``)."""
    for scope in security.scopes:
        actor.require_scope(scope)
    return actor


async def storable_params(request: Request) -> None:
    """No path or query parameter holds NUL or a lone surrogate (no database stores or
    compares them): a 422 naming the parameter, before any lookup."""
    for where, items in (
        ("path", list(request.path_params.items())),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in items:
            problem = unstorable(value)
            if problem:
                loc = (where, name)
                raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": problem}])


def paging(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX, description="items to skip")] = 0,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


RegistryDep = Annotated[Registry, Depends(get_registry)]
Reader = Annotated[Actor, Security(scoped, scopes=[REGISTRY_READ])]  # reads of the registry
Writer = Annotated[Actor, Security(scoped, scopes=[REGISTRY_WRITE])]  # every change
ModelsReader = Annotated[Actor, Security(scoped, scopes=[MODELS_READ])]  # models, prices
CreditsReader = Annotated[Actor, Security(scoped, scopes=[CREDITS_READ])]  # balances, ledger
ProfileReader = Annotated[Actor, Security(scoped, scopes=[USER_INFO])]  # the caller's profile
Paging = Annotated[PageRequest, Depends(paging)]
