"""The caller's key as clients send it, on every ``/v1`` route: ``Authorization: Bearer``
(OpenAI's SDKs), ``x-api-key`` (Anthropic's) and ``api-key`` (Azure style). A wrong key in
any of them is a 401, none a 401 naming the three ways; Authorization wins when several are
sent; an empty value counts as not sent; the key is never in a response or a log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

MODEL = "fake-model"
WRONG = "myk_wrongwrongwrongwrongwrongwrong"
ROUTES = [
    (
        "POST",
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    ),
    ("POST", "/v1/embeddings", {"model": MODEL, "input": "hi"}),
    ("POST", "/v1/completions", {"model": MODEL, "prompt": "hi"}),
    ("GET", "/v1/models", None),
    ("GET", f"/v1/models/{MODEL}", None),
]
ROUTE_IDS = ["chat", "embeddings", "completions", "models", "model"]
HEADERS = {
    "authorization": lambda key: {"Authorization": f"Bearer {key}"},
    "x-api-key": lambda key: {"x-api-key": key},
    "api-key": lambda key: {"api-key": key},
}


@pytest.fixture
async def server(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[tuple[str, str]]:
    provider = await registry.providers.create(
        admin, {"name": "fake-a", "kind": "fake", "config": {"reply": "hello"}}
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "capabilities": ["text", "embedding"],
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with running(local, registry) as (url, _app):
        yield url, key


async def call(url: str, route: tuple[str, str, Any], headers: dict[str, str]) -> httpx.Response:
    method, path, body = route
    async with httpx.AsyncClient(base_url=url) as http:
        return await http.request(method, path, json=body, headers=headers)


def leaks(response: httpx.Response, key: str) -> bool:
    shown = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
    return key in shown or key[8:] in shown


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
async def test_every_route_takes_the_key_in_each_header(
    server: tuple[str, str], route: tuple[str, str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, key = server
    caplog.set_level(logging.DEBUG)
    for name, header in HEADERS.items():
        response = await call(url, route, header(key))
        assert response.status_code == 200, (name, response.text)
        assert not leaks(response, key)
        refused = await call(url, route, header(WRONG))
        assert refused.status_code == 401, name
        assert refused.json()["error"]["code"] == "unauthenticated"
        assert not leaks(refused, WRONG)
    assert key not in caplog.text
    assert WRONG not in caplog.text


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"x-api-key": ""}, {"api-key": ""}, {"Authorization": "Bearer"}],
    ids=["none", "empty-authorization", "empty-x-api-key", "empty-api-key", "bearer-no-key"],
)
async def test_no_key_is_a_401_naming_the_three_ways(
    server: tuple[str, str], route: tuple[str, str, Any], headers: dict[str, str]
) -> None:
    url, _key = server
    response = await call(url, route, headers)
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    for way in ("Authorization: Bearer", "x-api-key", "api-key"):
        assert way in message


@pytest.mark.parametrize("other", ["x-api-key", "api-key"])
async def test_authorization_wins_over_the_other_headers(
    server: tuple[str, str], other: str
) -> None:
    url, key = server
    route = ROUTES[0]
    right_first = await call(url, route, {"Authorization": f"Bearer {key}", other: WRONG})
    assert right_first.status_code == 200
    wrong_first = await call(url, route, {"Authorization": f"Bearer {WRONG}", other: key})
    assert wrong_first.status_code == 401


@pytest.mark.parametrize("other", ["x-api-key", "api-key"])
async def test_an_empty_authorization_counts_as_not_sent(
    server: tuple[str, str], other: str
) -> None:
    url, key = server
    response = await call(url, ROUTES[0], {"Authorization": "", other: key})
    assert response.status_code == 200


async def test_a_key_sent_in_another_scheme_is_refused_without_showing_it(
    server: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, key = server
    caplog.set_level(logging.DEBUG)
    response = await call(url, ROUTES[0], {"Authorization": f"Basic {key}"})
    assert response.status_code == 401
    assert not leaks(response, key)
    assert key not in caplog.text
