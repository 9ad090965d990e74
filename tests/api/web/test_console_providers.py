"""The provider pages without a browser: every page and form as an admin and a member,
the hostile cases (ids that are not theirs or not ids at all, no CSRF token, NUL
characters, huge numbers, broken JSON), and no key ever in a page after it is entered."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT
from modelyard.registry.actors import Actor
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from tests.api.web.browser import ORIGIN, Browser, form, text
from tests.api.web.conftest import Person, make_person
from tests.gateway.upstream import fake_upstream, json_reply

KEY = "sk-console-Secret-0123456789abcdef"
NEW = "/console/providers/new"


@pytest.fixture
async def admin_person(registry: Registry) -> Person:
    return await make_person(registry, role="admin")


async def _signed(browser: Browser, who: Person) -> Browser:
    answer = await browser.sign_in(who.email, who.password)
    assert answer.status_code == 303, answer.text
    return browser


async def _create(browser: Browser, kind: str, fields: dict[str, str]) -> httpx.Response:
    page = await browser.get(f"{NEW}?kind={kind}")
    assert page.status_code == 200, page.text
    return await browser.submit(page, NEW, fields)


async def _providers(registry: Registry, admin: Actor) -> list[str]:
    listed = await registry.providers.list(admin, PageRequest(limit=100))
    return [p.name for p in listed.items]


async def test_an_admin_adds_edits_and_sees_a_provider_without_its_key(
    browser: Browser, admin_person: Person, registry: Registry, admin: Actor
) -> None:
    await _signed(browser, admin_person)
    made = await _create(
        browser,
        "openai_compatible",
        {
            "name": "groq",
            "base_url": "https://api.groq.example/v1",
            "api_key": KEY,
            "config.vendor": "groq",
            "enabled": "on",
        },
    )
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    page = await browser.get(location)
    assert page.status_code == 200
    assert "The provider was added." in page.text
    assert KEY not in page.text
    assert KEY[:12] not in page.text
    listing = await browser.get("/console/providers")
    assert "groq" in listing.text
    assert KEY not in listing.text
    pid = location.split("/")[-1].split("?")[0]
    edit = await browser.get(f"/console/providers/{pid}/edit")
    assert edit.status_code == 200
    assert KEY not in edit.text
    saved = await browser.submit(
        edit,
        f"/console/providers/{pid}/edit",
        {
            "name": "groq",
            "display_name": "Groq",
            "base_url": "https://api.groq.example/v1",
            "config.vendor": "groq",
            "config.chat_path": "/chat/completions",
            "config.embeddings_path": "/embeddings",
            "weight": "3",
        },
    )
    assert saved.status_code == 303, saved.text
    view = await registry.providers.get(admin, pid)
    assert (view.display_name, view.weight) == ("Groq", 3)


async def test_the_declarative_json_editor_names_the_path(
    browser: Browser, admin_person: Person, registry: Registry, admin: Actor
) -> None:
    await _signed(browser, admin_person)
    broken = {
        **EXAMPLE_OPENAI_CHAT,
        "request_builder": {
            "version": "1.0",
            "payload_structure": {"model": {"source": 5}},
        },
    }
    answer = await _create(
        browser,
        "declarative",
        {
            "name": "decl",
            "base_url": "https://api.example.com",
            "api_key": KEY,
            "config": json.dumps(broken),
        },
    )
    assert answer.status_code == 422
    assert "config.request_builder.payload_structure.model.source" in answer.text
    assert 'id="error-config"' in answer.text
    assert KEY not in answer.text  # the key is never echoed back
    not_json = await _create(
        browser, "declarative", {"name": "decl", "base_url": "https://a.example", "config": "{"}
    )
    assert not_json.status_code == 422
    assert "is not valid JSON (line 1, column 2)" in not_json.text
    assert "decl" not in await _providers(registry, admin)


async def test_bad_numbers_and_names_are_shown_beside_their_fields(
    browser: Browser, admin_person: Person, registry: Registry, admin: Actor
) -> None:
    await _signed(browser, admin_person)
    answer = await _create(
        browser, "fake", {"name": "fine", "timeout_ms": "12x", "weight": "9" * 40}
    )
    assert answer.status_code == 422
    assert 'id="error-timeout_ms"' in answer.text
    huge = await _create(browser, "fake", {"name": "fine", "weight": "9" * 40})
    assert huge.status_code == 422
    assert 'id="error-weight"' in huge.text
    bad_name = await _create(browser, "fake", {"name": "Not A Name"})
    assert bad_name.status_code == 422
    assert 'id="error-name"' in bad_name.text
    assert await _providers(registry, admin) == []


async def test_a_member_sees_system_providers_read_only_and_only_their_own(
    browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    system = await registry.providers.create(
        admin, {"name": "sys", "kind": "openai", "api_key": KEY}
    )
    await _signed(browser, person)
    listing = await browser.get("/console/providers")
    assert listing.status_code == 200
    assert "sys" in text(listing.text)
    assert "sk-c" not in listing.text  # not even the hint of a system key
    page = await browser.get(f"/console/providers/{system.id}")
    assert page.status_code == 200
    assert f"/console/providers/{system.id}/edit" not in page.text
    assert "Test connection" not in page.text
    for path in ("edit",):
        answer = await browser.get(f"/console/providers/{system.id}/{path}")
        assert answer.status_code == 404
        assert "Not found" in answer.text


async def test_a_member_cannot_reach_what_is_not_theirs(
    browser: Browser,
    web_client: httpx.AsyncClient,
    person: Person,
    registry: Registry,
    admin: Actor,
) -> None:
    system = await registry.providers.create(admin, {"name": "sys", "kind": "fake"})
    other = await make_person(registry)
    other_actor = Actor(uuid.UUID(other.id), "member", "other", admin.scopes)
    theirs = await registry.providers.create(other_actor, {"name": "theirs", "kind": "fake"})
    await _signed(browser, person)
    mine = await _create(browser, "fake", {"name": "mine", "enabled": "on"})
    assert mine.status_code == 303, mine.text
    own = await browser.get(mine.headers["location"])
    for pid in (theirs.id, "not-an-id", "1" * 5000, str(uuid.uuid4())):
        for path in ("", "/edit"):
            answer = await browser.get(f"/console/providers/{pid}{path}")
            assert answer.status_code == 404, (pid, path)
    for pid in (system.id, theirs.id, "garbage"):
        for action in ("enable", "disable", "default", "activate", "delete", "key", "test", "edit"):
            answer = await web_client.post(
                f"/console/providers/{pid}/{action}",
                data={"csrf_token": _csrf(own.text), "api_key": "x"},
                headers={"Origin": ORIGIN},
            )
            assert answer.status_code == 404, (pid, action, answer.status_code)
    assert (await registry.providers.get(admin, theirs.id)).enabled


async def test_forms_without_a_token_or_with_nul_are_refused(
    browser: Browser,
    web_client: httpx.AsyncClient,
    person: Person,
    registry: Registry,
    admin: Actor,
) -> None:
    await _signed(browser, person)
    made = await _create(browser, "fake", {"name": "mine", "enabled": "on"})
    pid = made.headers["location"].split("/")[-1].split("?")[0]
    page = await browser.get(f"/console/providers/{pid}")
    no_token = await web_client.post(
        f"/console/providers/{pid}/disable", data={"x": "1"}, headers={"Origin": ORIGIN}
    )
    assert no_token.status_code == 403
    nul = await browser.submit(page, f"/console/providers/{pid}/key", {"api_key": "sk\x00x"})
    assert nul.status_code == 400
    created_nul = await _create(browser, "fake", {"name": "evil\x00"})
    assert created_nul.status_code == 400
    assert (await registry.providers.get(admin, pid)).enabled
    assert sorted(await _providers(registry, admin)) == ["mine"]


async def test_a_members_loopback_url_is_refused_beside_the_field(
    browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    await _signed(browser, person)
    answer = await _create(
        browser,
        "openai_compatible",
        {"name": "local", "base_url": "http://127.0.0.1:9/v1", "api_key": KEY},
    )
    assert answer.status_code == 422
    assert 'id="error-base_url"' in answer.text
    assert "public addresses" in answer.text
    assert await _providers(registry, admin) == []


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_the_connection_test_works_without_script_and_as_a_fragment(
    browser: Browser, admin_person: Person, registry: Registry, admin: Actor
) -> None:
    listed = {"object": "list", "data": [{"id": "m-1"}, {"id": "m-2"}]}
    async with fake_upstream({("GET", "/v1/models"): json_reply(listed)}) as upstream:
        made = await registry.providers.create(
            admin,
            {
                "name": "up",
                "kind": "openai_compatible",
                "base_url": f"{upstream.url}/v1",
                "api_key": KEY,
            },
        )
        await _signed(browser, admin_person)
        page = await browser.get(f"/console/providers/{made.id}")
        action = f"/console/providers/{made.id}/test"
        whole = await browser.submit(page, action)
        assert whole.status_code == 200
        assert "<html" in whole.text
        assert "2 models listed: m-1, m-2" in whole.text
        fragment = await browser.client.post(
            action,
            data=form(page.text, action),
            headers={"Origin": ORIGIN, "X-Partial": "1"},
        )
        assert fragment.status_code == 200
        assert "<html" not in fragment.text
        assert "2 models listed: m-1, m-2" in fragment.text
        assert KEY not in whole.text + fragment.text
    assert len(upstream.received) == 2


async def test_a_key_is_replaced_or_removed_where_the_kind_allows(
    browser: Browser, admin_person: Person, registry: Registry, admin: Actor
) -> None:
    optional = await registry.providers.create(
        admin,
        {"name": "local", "kind": "openai_compatible", "base_url": "http://h.example/v1"},
    )
    needed = await registry.providers.create(
        admin, {"name": "oa", "kind": "openai", "api_key": KEY}
    )
    await _signed(browser, admin_person)
    page = await browser.get(f"/console/providers/{optional.id}")
    empty = await browser.submit(page, f"/console/providers/{optional.id}/key", {"api_key": ""})
    assert empty.status_code == 422
    assert 'id="error-api_key"' in empty.text
    spaced = await browser.submit(
        page, f"/console/providers/{optional.id}/key", {"api_key": "sk with spaces"}
    )
    assert spaced.status_code == 422
    assert "must not contain whitespace" in spaced.text
    assert "sk with spaces" not in spaced.text
    set_key = await browser.submit(page, f"/console/providers/{optional.id}/key", {"api_key": KEY})
    assert set_key.status_code == 303
    assert (await registry.providers.get(admin, optional.id)).has_api_key
    page = await browser.get(f"/console/providers/{optional.id}")
    removed = await browser.submit(page, f"/console/providers/{optional.id}/key/remove")
    assert removed.status_code == 303
    assert not (await registry.providers.get(admin, optional.id)).has_api_key

    page = await browser.get(f"/console/providers/{needed.id}")
    refused = await browser.submit(page, f"/console/providers/{needed.id}/key/remove")
    assert refused.status_code == 422
    assert "is required for kind" in refused.text
    assert (await registry.providers.get(admin, needed.id)).has_api_key


async def test_list_pages_take_any_filter_or_offset(
    browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    for n in range(3):
        await registry.providers.create(admin, {"name": f"sys-{n}", "kind": "fake"})
    await _signed(browser, person)
    for query in (
        "?owner=system&kind=fake",
        "?owner=nobody&kind=%00",
        "?offset=99999999999999999999999",
        "?offset=-1",
        "?owner=mine",
    ):
        answer = await browser.get(f"/console/providers{query}")
        assert answer.status_code == 200, query
    mine = await browser.get("/console/providers?owner=mine")
    assert "sys-0" not in mine.text
    new = await browser.get("/console/providers/new?kind=nonsense")
    assert new.status_code == 200
    assert "First choose its kind" in new.text
