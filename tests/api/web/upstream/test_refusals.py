"""Upstream sign-ins that must fail with a clear page and change nothing: refused accounts,
answers that are not this browser's, declined consent, bad tokens, an unreachable provider,
hostile callbacks."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from modelyard.api.web.upstream import Flow, open_flow, seal_flow
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.browser import form, text
from tests.api.web.upstream import instance_b
from tests.api.web.upstream.flow import (
    FLOW,
    OPERATOR,
    SESSION,
    Browsers,
    a_settings,
    counts,
    open_browsers,
    sign_in_through_b,
)
from tests.api.web.upstream.instance_b import A_ORIGIN, InstanceB, through_b


@pytest.mark.parametrize("status", ["suspended", "deleted"])
async def test_a_suspended_or_deleted_user_is_refused(
    browsers: Browsers, registry: Registry, b: InstanceB, status: str
) -> None:
    person = b.person()
    mine = await registry.users.create(OPERATOR, UserCreate(email=person.email))
    if status == "suspended":
        await registry.users.update(OPERATOR, mine.id, UserUpdate(status="suspended"))
    else:
        await registry.users.delete(OPERATOR, mine.id)
    before = await counts(registry)
    http = await browsers()
    answer = await sign_in_through_b(http, person)
    assert answer.status_code == 403
    assert "suspended or deleted" in text(answer.text)
    assert SESSION not in http.cookies
    assert FLOW not in http.cookies
    assert await counts(registry) == before  # nothing linked, no session


async def test_an_unverified_email_is_neither_matched_nor_created(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person(verified=False)
    await registry.users.create(OPERATOR, UserCreate(email=person.email))
    before = await counts(registry)
    answer = await sign_in_through_b(await browsers(), person)
    assert answer.status_code == 403
    assert "did not confirm an email address" in text(answer.text)
    assert await counts(registry) == before


async def test_unknown_people_are_refused_when_creating_users_is_off(
    settings: Settings, registry: Registry, admin_key: str, b: InstanceB
) -> None:
    person = b.person()
    config = a_settings(settings, b, oidc_create_users=False)
    async for browsers in open_browsers(config, registry):
        before = await counts(registry)
        answer = await sign_in_through_b(await browsers(), person)
        assert answer.status_code == 403
        assert "no account here" in text(answer.text)
        assert await counts(registry) == before


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": state}
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_state_that_is_not_this_browsers_is_refused(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    page = await http.get("/login")
    fields = form(page.text, "/login/upstream")
    callback = await through_b(http, f"/login/upstream?{urlencode(fields)}", person)
    before = await counts(registry)
    answer = await http.get(_with_state(callback, "forged-state"))
    assert answer.status_code == 400
    assert "not for this browser" in text(answer.text)
    assert FLOW not in http.cookies
    # the genuine answer cannot be used afterwards either: the flow was taken
    again = await http.get(callback)
    assert again.status_code == 400
    assert "started too long ago, or in another browser" in text(again.text)
    # nor in another browser, which never started a sign-in
    other = await browsers()
    assert (await other.get(callback)).status_code == 400
    assert await counts(registry) == before
    assert SESSION not in http.cookies


async def test_declining_at_b_is_a_clear_page_and_changes_nothing(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    before = await counts(registry)
    answer = await sign_in_through_b(http, person, decision="deny")
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "Sign-in with Yard B was cancelled" in text(answer.text)
    assert await counts(registry) == before
    assert SESSION not in http.cookies


async def test_an_id_token_for_another_nonce_or_a_replayed_code_is_refused(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    """The flow cookie is re-sealed (with A's master key) to stand for a flow whose nonce
    is not the ID token's, then for a second use of the same code."""
    person = b.person()
    http = await browsers()
    page = await http.get("/login")
    fields = form(page.text, "/login/upstream")
    callback = await through_b(http, f"/login/upstream?{urlencode(fields)}", person)
    keyring = registry.db.keyring
    assert keyring is not None
    flow = open_flow(keyring, http.cookies[FLOW].strip('"'), b.issuer)  # set quoted
    assert flow is not None
    before = await counts(registry)

    def replant(changed: Flow) -> None:
        http.cookies.set(FLOW, seal_flow(keyring, changed), domain="a.modelyard.test")

    replant(replace(flow, nonce="not-the-nonce"))
    answer = await http.get(callback)
    assert answer.status_code == 400
    assert "identity token is not valid" in text(answer.text)
    replant(flow)  # the code was spent on the refused attempt: B refuses it now
    answer = await http.get(callback)
    assert answer.status_code == 400
    assert "did not accept this sign-in" in text(answer.text)
    replant(replace(flow, expires=time.time() - 1))
    assert (await http.get(callback)).status_code == 400
    assert await counts(registry) == before


async def test_an_unreachable_provider_is_a_clear_page(
    settings: Settings, registry: Registry, admin_key: str, b: InstanceB
) -> None:
    closed = f"http://127.0.0.1:{instance_b.free_port()}"
    config = a_settings(settings, b, oidc_issuer=closed)
    async for browsers in open_browsers(config, registry):
        http = await browsers()
        answer = await http.get("/login/upstream?next=/account/apps")
        assert answer.status_code == 502
        assert "could not be reached" in text(answer.text)
        assert FLOW not in http.cookies


async def test_without_configuration_there_is_no_button_and_no_route(
    settings: Settings, registry: Registry, admin_key: str
) -> None:
    config = settings.model_copy(update={"public_url": A_ORIGIN})
    async for browsers in open_browsers(config, registry):
        http = await browsers()
        page = await http.get("/login")
        assert page.status_code == 200
        assert "/login/upstream" not in page.text
        assert (await http.get("/login/upstream")).status_code == 404
        assert (await http.get("/login/upstream/callback?code=x&state=y")).status_code == 404


async def test_the_flow_cookie_is_sealed_short_lived_and_for_this_host_only(
    browsers: Browsers, b: InstanceB
) -> None:
    http = await browsers()
    answer = await http.get("/login/upstream?next=/account/apps%3Ftab%3D2")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}" == b.issuer
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == instance_b.A_CALLBACK
    assert query["client_id"] == instance_b.CLIENT_ID
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{FLOW}=")
    for attribute in ("HttpOnly", "Secure", "Path=/", "Max-Age=600"):
        assert attribute in cookie
    assert "samesite=lax" in cookie.lower()
    value = http.cookies[FLOW]
    for secret in (query["state"], query["nonce"], "tab"):
        assert secret not in value  # sealed, not merely encoded


@pytest.mark.parametrize(
    "query",
    [
        "",
        "code=x",
        "state=",
        "state=%00&code=%00",
        "state=x&error=%3Cscript%3Ealert(1)%3C/script%3E",
        "error=access_denied",
        "state=" + "s" * 5000 + "&code=" + "c" * 5000,
        "state=x&state=y&code=a&code=b",
    ],
)
async def test_hostile_callbacks_are_a_clear_4xx_and_change_nothing(
    browsers: Browsers, registry: Registry, b: InstanceB, query: str
) -> None:
    before = await counts(registry)
    for started in (False, True):
        http = await browsers()
        if started:
            assert (await http.get("/login/upstream")).status_code == 303
        else:
            http.cookies.set(FLOW, "v1.deadbeef.%%%garbage", domain="a.modelyard.test")
        answer = await http.get(f"/login/upstream/callback?{query}")
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "<script>" not in answer.text
    assert await counts(registry) == before


@pytest.mark.parametrize(
    "issuer",
    [
        "ftp://id.example.com",
        "https://",
        "https://id.example.com/?x=1",
        "https://u:p@id.example.com",
    ],
)
def test_the_issuer_setting_is_an_http_url(issuer: str) -> None:
    with pytest.raises(ValueError, match="oidc_issuer"):
        Settings(oidc_issuer=issuer)


def test_the_button_is_named_after_the_issuer_by_default() -> None:
    from modelyard.api.web.oidc_client import provider_name

    assert provider_name("https://id.example.com/realms/x", "") == "id.example.com"
    assert provider_name("https://id.example.com", " Example ID ") == "Example ID"


def test_half_a_provider_configuration_stops_the_start() -> None:
    with pytest.raises(ValueError, match="set together or not at all"):
        Settings(oidc_issuer="https://id.example.com", oidc_client_id="gateway")
    with pytest.raises(ValueError, match="set together or not at all"):
        Settings(oidc_client_secret=SecretStr("x"))
    assert Settings(oidc_issuer="https://id.example.com", oidc_client_id="g",
                    oidc_client_secret=SecretStr("x")).upstream_oidc  # fmt: skip


async def test_an_answer_naming_another_issuer_is_refused(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    """RFC 9207: B names itself in its answer; an answer naming another provider (a mix-up)
    is refused."""
    person = b.person()
    http = await browsers()
    page = await http.get("/login")
    fields = form(page.text, "/login/upstream")
    callback = await through_b(http, f"/login/upstream?{urlencode(fields)}", person)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert query["iss"] == b.issuer  # B names itself
    before = await counts(registry)
    forged = urlunsplit(
        urlsplit(callback)._replace(query=urlencode(query | {"iss": "https://evil.example"}))
    )
    answer = await http.get(forged)
    assert answer.status_code == 400
    assert "comes from another provider" in text(answer.text)
    assert await counts(registry) == before
