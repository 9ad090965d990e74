"""The pages' tests: an app whose public URL is the test client's, browsers, users with
passwords."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from modelyard.api.app import create_app
from modelyard.registry.actors import Actor
from modelyard.registry.passwords import PasswordSet
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.browser import ORIGIN, Browser

OPERATOR = Actor.operator()
_serial = itertools.count(1)


@dataclass(frozen=True)
class Person:
    id: str
    email: str
    password: str


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": ORIGIN})


@pytest.fixture
async def web_client(
    web_settings: Settings, registry: Registry, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(web_settings, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
def browser(web_client: httpx.AsyncClient) -> Browser:
    return Browser(web_client)


async def make_person(registry: Registry, *, role: str = "member") -> Person:
    email = f"Person{next(_serial)}@Example.com"
    password = f"correct horse battery {email}"
    user = await registry.users.create(OPERATOR, UserCreate(email=email, role=role))
    await registry.passwords.set(OPERATOR, user.id, PasswordSet(password=password))
    return Person(id=str(user.id), email=email, password=password)


@pytest.fixture
async def person(registry: Registry) -> Person:
    return await make_person(registry)
