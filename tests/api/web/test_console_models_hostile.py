"""The Models and Infrastructure pages against what a client may post or ask for: members
get 404 everywhere, unknown and garbage ids 404 (never a 500), a form without its CSRF
token 403, numbers past any column and NUL characters an error page or an inline error,
and nothing is saved by any of them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.registry.model_views import ModelView
from modelyard.services import Registry
from tests.api.web.browser import ORIGIN, Browser, form, text
from tests.api.web.conftest import make_person
from tests.registry.helpers import db_state, ollama

HUGE = "9" * 40


@pytest.fixture
async def model(registry: Registry, admin: Actor) -> ModelView:
    provider = await registry.providers.create(admin, ollama("local"))
    return await registry.models.create(admin, {"provider_id": provider.id, "model_id": "m1"})


@pytest.fixture
async def signed_admin(browser: Browser, registry: Registry, admin: Actor) -> Browser:
    person = await make_person(registry, role="admin")
    answer = await browser.sign_in(person.email, person.password)
    assert answer.status_code == 303, answer.text
    return browser


def pages(model_id: str) -> list[str]:
    return [
        "/console/models",
        "/console/models/new",
        f"/console/models/{model_id}",
        f"/console/models/{model_id}/edit",
        f"/console/models/{model_id}/deprecate",
        "/console/infrastructure",
    ]


def posts(model_id: str) -> list[str]:
    return [
        "/console/models/new",
        f"/console/models/{model_id}/edit",
        f"/console/models/{model_id}/prices",
        f"/console/models/{model_id}/default",
        f"/console/models/{model_id}/deprecate",
        f"/console/models/{model_id}/reactivate",
        f"/console/models/{model_id}/delete",
        "/console/infrastructure",
        "/console/infrastructure/reset",
    ]


async def test_admin_pages_render(signed_admin: Browser, model: ModelView) -> None:
    for path in [*pages(str(model.id)), "/console/models?offset=abc&status=x&scope=zz"]:
        answer = await signed_admin.get(path)
        assert answer.status_code == 200, f"{path}: {answer.text}"
        assert "text/html" in answer.headers["content-type"]


async def test_members_find_nothing(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, model: ModelView
) -> None:
    person = await make_person(registry)
    await browser.sign_in(person.email, person.password)
    token = form((await browser.get("/logout")).text, "/logout")["csrf_token"]
    before = await db_state(registry)
    for path in pages(str(model.id)):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in text(answer.text)
    for path in posts(str(model.id)):
        data = {"csrf_token": token, "key": "models.deprecated_policy", "value": "reject"}
        answer = await web_client.post(path, data=data, headers={"Origin": ORIGIN})
        assert answer.status_code == 404, path
    assert await db_state(registry) == before


@pytest.mark.parametrize("ident", ["garbage", str(uuid.uuid4()), "%00", "1" * 300])
async def test_unknown_and_garbage_ids_are_not_found(
    signed_admin: Browser, web_client: httpx.AsyncClient, model: ModelView, ident: str
) -> None:
    token = form((await signed_admin.get("/console/models/new")).text, "/console/models/new")
    for path in pages(ident)[2:5]:
        answer = await signed_admin.get(path)
        assert answer.status_code == 404, f"{path}: {answer.status_code}"
    for path in posts(ident)[1:7]:
        data = token | {"input_per_mtok": "1", "output_per_mtok": "1"}
        answer = await web_client.post(path, data=data, headers={"Origin": ORIGIN})
        assert answer.status_code == 404, f"{path}: {answer.status_code} {answer.text}"


async def test_forms_without_their_token_are_refused(
    signed_admin: Browser, web_client: httpx.AsyncClient, registry: Registry, model: ModelView
) -> None:
    before = await db_state(registry)
    for path in posts(str(model.id)):
        data = {"key": "models.deprecated_policy", "value": "reject", "model_id": "x"}
        answer = await web_client.post(path, data=data, headers={"Origin": ORIGIN})
        assert answer.status_code == 403, path
    assert await db_state(registry) == before


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"context_window": HUGE}, "context_window", 422),
        ({"context_window": "-5"}, "context_window", 422),
        ({"max_output_tokens": "1e400"}, "max_output_tokens", 422),
        ({"context_window": "9" * 5000}, "context_window", 422),
        ({"capabilities": "telepathy"}, "capabilities", 422),
        ({"fallbacks": "no-slash"}, "fallbacks", 422),
        ({"price_input_per_mtok": HUGE, "price_output_per_mtok": "1"}, "price_input_per_mtok", 422),
        ({"price_input_per_mtok": "1"}, "price_output_per_mtok", 422),
        (
            {
                "price_input_per_mtok": "1",
                "price_output_per_mtok": "1",
                "price_effective_from": "99999-01-01T00:00",
            },
            "price_effective_from",
            422,
        ),
        ({"model_id": "m1"}, "model_id", 409),
        ({"provider_id": str(uuid.uuid4())}, "provider_id", 422),
        ({"provider_id": "nope"}, "provider_id", 422),
    ],
)
async def test_bad_models_are_refused_beside_their_field(
    signed_admin: Browser,
    registry: Registry,
    model: ModelView,
    fields: dict[str, str],
    field: str,
    status: int,
) -> None:
    page = await signed_admin.get("/console/models/new")
    data = {"provider_id": str(model.provider_id), "model_id": "new-one"} | fields
    before = await db_state(registry)
    answer = await signed_admin.submit(page, "/console/models/new", data)
    assert answer.status_code == status, answer.text
    assert f'id="error-{field}"' in answer.text
    assert "Nothing was saved" in text(answer.text)
    assert await db_state(registry) == before


async def test_nul_characters_are_refused(
    signed_admin: Browser, registry: Registry, model: ModelView
) -> None:
    page = await signed_admin.get("/console/models/new")
    before = await db_state(registry)
    data = {"provider_id": str(model.provider_id), "model_id": "nul\x00here"}
    answer = await signed_admin.submit(page, "/console/models/new", data)
    assert answer.status_code == 400
    page = await signed_admin.get("/console/infrastructure")
    data = {"key": "models.deprecated_policy", "value": "warn\x00"}
    assert (await signed_admin.submit(page, "/console/infrastructure", data)).status_code == 400
    assert await db_state(registry) == before


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("gateway.retry", "{not json", "not valid JSON"),
        ("gateway.retry", '{"max_attempts": 0}', "at max_attempts:"),
        ("gateway.retry", '{"schedule_ms": [1, "x"]}', "at schedule_ms[1]:"),
        ("billing.credits_per_usd", HUGE, "less than or equal"),
        ("billing.worst_case_completion_tokens", "9" * 5000, "exceeded maximum size"),
        ("defaults.chat_model", "local/none", "no system model"),
        ("models.deprecated_policy", "ignore", "warn"),
        ("gateway.fallback_to_active_provider", "maybe", "valid boolean"),
        ("security.member_allowed_private_cidrs", '["not a net"]', "at [0]:"),
    ],
)
async def test_bad_settings_are_refused_beside_their_control(
    signed_admin: Browser, registry: Registry, model: ModelView, key: str, value: str, says: str
) -> None:
    page = await signed_admin.get("/console/infrastructure")
    before = await db_state(registry)
    answer = await signed_admin.submit(
        page, "/console/infrastructure", {"key": key, "value": value}
    )
    assert answer.status_code == 422, answer.text
    slug = key.replace(".", "-")
    assert f'id="e-{slug}"' in answer.text
    assert says in text(answer.text)
    assert await db_state(registry) == before


async def test_unknown_setting_keys_are_not_found(
    signed_admin: Browser, web_client: httpx.AsyncClient
) -> None:
    page = await signed_admin.get("/console/infrastructure")
    token = form(page.text, "/console/infrastructure")["csrf_token"]
    for key in ("gateway.nope", "", "custom.", "x" * 5000):
        for action in ("/console/infrastructure", "/console/infrastructure/reset"):
            data = {"csrf_token": token, "key": key, "value": "1"}
            answer = await web_client.post(action, data=data, headers={"Origin": ORIGIN})
            assert answer.status_code == 404, (key, action)


async def test_the_table_pages_and_filters(
    signed_admin: Browser, registry: Registry, admin: Actor, model: ModelView
) -> None:
    for n in range(3):
        await registry.models.create(admin, {"provider_id": model.provider_id, "model_id": f"x{n}"})
    listed = await signed_admin.get("/console/models?q=X1")
    assert "x1" in text(listed.text)
    assert "m1" not in text(listed.text)
    await registry.providers.create(admin, ollama("empty"))
    everything = text((await signed_admin.get("/console/models")).text)
    assert "empty (empty, ollama)" in everything
    assert "No models yet." in everything
    assert "No models yet." not in text((await signed_admin.get("/console/models?q=x")).text)
    far = await signed_admin.get(f"/console/models?offset={10**13}")
    assert far.status_code == 200
    total = (await registry.models.list(admin, PageRequest())).total
    assert f"{total} models" in text((await signed_admin.get("/console/models")).text)
