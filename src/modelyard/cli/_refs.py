"""Naming things on the command line: providers by id or system name, models by id or
``provider-name/model-id``, users by id or email. Everything resolves through the registry
services, so what the operator may see is exactly what the API shows an admin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from modelyard.errors import NotFound
from modelyard.registry.common import MAX_PAGE, Page, PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.models import ModelFilter
from modelyard.registry.users import UserView
from modelyard.services import Registry

from ._common import ACTOR

T = TypeVar("T")


def as_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


async def every(fetch: Callable[[PageRequest], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Walk all pages of a listing."""
    offset = 0
    while True:
        page = await fetch(PageRequest(limit=MAX_PAGE, offset=offset))
        for item in page.items:
            yield item
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


async def provider_id(registry: Registry, ref: str) -> uuid.UUID:
    found = as_uuid(ref)
    if found is not None:
        return found
    system = ProviderFilter(owner="system")
    async for provider in every(lambda page: registry.providers.list(ACTOR, page, system)):
        if provider.name == ref:
            return provider.id
    raise NotFound(
        f"no system provider named {ref!r}; see `modelyard providers list`",
        code="PROVIDER_NOT_FOUND",
    )


async def model_id(registry: Registry, ref: str) -> uuid.UUID:
    found = as_uuid(ref)
    if found is not None:
        return found
    provider_ref, sep, upstream = ref.partition("/")
    if not sep or not upstream:
        raise NotFound(
            f"model {ref!r} not found: give its id or provider-name/model-id",
            code="MODEL_NOT_FOUND",
        )
    only = ModelFilter(provider_id=await provider_id(registry, provider_ref))
    async for model in every(lambda page: registry.models.list(ACTOR, page, only)):
        if model.model_id == upstream:
            return model.id
    raise NotFound(
        f"provider {provider_ref!r} has no model {upstream!r}; see `modelyard models list`",
        code="MODEL_NOT_FOUND",
    )


async def user_id(registry: Registry, ref: str) -> uuid.UUID:
    found = as_uuid(ref)
    if found is not None:
        return found
    wanted = ref.strip().lower()

    def live(page: PageRequest) -> Awaitable[Page[UserView]]:
        return registry.users.list(ACTOR, page)

    def deleted(page: PageRequest) -> Awaitable[Page[UserView]]:
        return registry.users.list(ACTOR, page, deleted=True)

    for listing in (live, deleted):
        async for user in every(listing):
            if user.email.lower() == wanted:
                return user.id
    raise NotFound(f"no user with email {ref!r}", code="USER_NOT_FOUND")
