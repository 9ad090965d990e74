"""Signing in to modelyard (A) through an upstream OpenID provider: a second modelyard (B),
running as a real server, with the browser going A -> B's sign-in and consent -> A."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from modelyard.api.app import create_app
from modelyard.api.web.upstream import FLOW_COOKIE, Flow, open_flow, seal_flow
from modelyard.db.auth_tables import UserIdentity, WebSession
from modelyard.db.tables import AuditEvent, User
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web import upstream_b
from tests.api.web.browser import form, text
from tests.api.web.upstream_b import A_ORIGIN, BPerson, InstanceB, through_b

OPERATOR = Actor.operator()
FLOW = f"__Host-{FLOW_COOKIE}"
SESSION = "__Host-modelyard_session"
Browsers = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstanceB]:
    instance = upstream_b.start(tmp_path_factory.mktemp("instance-b"))
    yield instance
    upstream_b.stop(instance)


def a_settings(settings: Settings, b: InstanceB, **extra: object) -> Settings:
    update: dict[str, object] = {
        "public_url": A_ORIGIN,
        "oidc_issuer": b.issuer,
        "oidc_client_id": upstream_b.CLIENT_ID,
        "oidc_client_secret": SecretStr(b.client_secret),
        "oidc_name": "Yard B",
    }
    return settings.model_copy(update=update | extra)


async def _browsers(config: Settings, registry: Registry) -> AsyncIterator[Browsers]:
    app = create_app(config, registry=registry)
    opened: list[httpx.AsyncClient] = []

    async def new_browser() -> httpx.AsyncClient:
        mounts = {A_ORIGIN: httpx.ASGITransport(app=app)}
        http = httpx.AsyncClient(mounts=mounts, base_url=A_ORIGIN, trust_env=False, timeout=30)
        opened.append(http)
        return http

    yield new_browser
    for http in opened:
        await http.aclose()


@pytest.fixture
async def browsers(
    settings: Settings, registry: Registry, admin_key: str, b: InstanceB
) -> AsyncIterator[Browsers]:
    async for made in _browsers(a_settings(settings, b), registry):
        yield made


async def counts(registry: Registry) -> dict[str, int]:
    async with registry.db.read(OPERATOR) as tx:
        found = {}
        for name, table in [("users", User), ("identities", UserIdentity),
                            ("sessions", WebSession), ("audit", AuditEvent)]:  # fmt: skip
            found[name] = int(await tx.session.scalar(select(func.count()).select_from(table)))
        return found


async def sign_in_through_b(
    http: httpx.AsyncClient, person: BPerson, decision: str = "approve"
) -> httpx.Response:
    """From A's sign-in page, its upstream button, through B, to A's callback's answer."""
    page = await http.get("/login?next=/account/apps")
    assert page.status_code == 200
    assert "Sign in with Yard B" in text(page.text)
    fields = form(page.text, "/login/upstream")
    callback = await through_b(http, f"/login/upstream?{urlencode(fields)}", person, decision)
    return await http.get(callback)


async def signed_in_as(http: httpx.AsyncClient, email: str) -> None:
    page = await http.get("/account/apps")
    assert page.status_code == 200, page.text
    assert f"Signed in as {email}" in text(page.text)


async def identity_of(registry: Registry, email: str) -> list[UserIdentity]:
    async with registry.db.read(OPERATOR) as tx:
        rows = await tx.session.scalars(
            select(UserIdentity)
            .join(User, User.id == UserIdentity.user_id)
            .where(User.email_normalized == email.lower())
        )
        return list(rows)


async def actions(registry: Registry) -> list[str]:
    async with registry.db.read(OPERATOR) as tx:
        rows = await tx.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        return list(rows)


async def test_a_new_person_is_created_as_a_member_and_signed_in(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    answer = await sign_in_through_b(http, person)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/account/apps"
    assert SESSION in http.cookies
    assert FLOW not in http.cookies  # the flow is taken once
    await signed_in_as(http, person.email)
    async with registry.db.read(OPERATOR) as tx:
        user = await tx.session.scalar(select(User).where(User.email == person.email))
    assert user is not None
    assert (user.role, user.email_verified, user.display_name) == ("member", True, "B Person")
    [identity] = await identity_of(registry, person.email)
    assert identity.issuer == b.issuer
    assert identity.subject == person.id  # B's `sub` is its user id
    assert (await actions(registry))[-2:] == ["user.create", "user_identity.link"]


async def test_an_existing_user_is_matched_by_verified_email_and_linked(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    mine = await registry.users.create(OPERATOR, UserCreate(email=person.email.upper()))
    http = await browsers()
    answer = await sign_in_through_b(http, person)
    assert answer.status_code == 303, answer.text
    await signed_in_as(http, person.email.upper())
    [identity] = await identity_of(registry, person.email)
    assert identity.user_id == mine.id
    assert (await actions(registry))[-1] == "user_identity.link"


async def test_the_identity_is_reused_on_the_next_sign_in(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    first = await browsers()
    assert (await sign_in_through_b(first, person)).status_code == 303
    before = await counts(registry)
    second = await browsers()  # another browser: signs in at B again, consent remembered
    answer = await sign_in_through_b(second, person)
    assert answer.status_code == 303, answer.text
    await signed_in_as(second, person.email)
    after = await counts(registry)
    assert after == before | {"sessions": before["sessions"] + 1}  # nothing linked or audited
    assert len(await identity_of(registry, person.email)) == 1


async def test_the_identity_still_finds_its_user_after_an_email_change_here(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    assert (await sign_in_through_b(await browsers(), person)).status_code == 303
    [identity] = await identity_of(registry, person.email)
    async with registry.db.write(OPERATOR) as tx:
        row = await tx.session.get(UserIdentity, identity.id)
        assert row is not None
        user = await tx.session.get(User, row.user_id)
        assert user is not None
        user.email, user.email_normalized = "renamed@example.com", "renamed@example.com"
    http = await browsers()
    assert (await sign_in_through_b(http, person)).status_code == 303
    await signed_in_as(http, "renamed@example.com")


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
    async for browsers in _browsers(config, registry):
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
    settings: Settings, registry: Registry, admin_key: str, b: InstanceB, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{upstream_b.free_port()}"
    config = a_settings(settings, b, oidc_issuer=closed)
    async for browsers in _browsers(config, registry):
        http = await browsers()
        answer = await http.get("/login/upstream?next=/account/apps")
        assert answer.status_code == 502
        assert "could not be reached" in text(answer.text)
        assert FLOW not in http.cookies


async def test_without_configuration_there_is_no_button_and_no_route(
    settings: Settings, registry: Registry, admin_key: str
) -> None:
    config = settings.model_copy(update={"public_url": A_ORIGIN})
    async for browsers in _browsers(config, registry):
        http = await browsers()
        page = await http.get("/login")
        assert page.status_code == 200
        assert "/login/upstream" not in page.text
        assert (await http.get("/login/upstream")).status_code == 404
        assert (await http.get("/login/upstream/callback?code=x&state=y")).status_code == 404


async def test_next_stays_on_this_server(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    start = "/login/upstream?" + urlencode({"next": "https://evil.example/x"})
    answer = await http.get(await through_b(http, start, person))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account/apps"


async def test_a_new_signing_key_at_b_is_fetched_when_it_first_signs(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    first = b.person()
    assert (await sign_in_through_b(await browsers(), first)).status_code == 303  # JWKS cached
    kid = b.rotate_signing_key()
    second = b.person()
    http = await browsers()
    answer = await sign_in_through_b(http, second)
    assert answer.status_code == 303, answer.text
    await signed_in_as(http, second.email)
    jwks = (await http.get(f"{b.issuer}/oauth/jwks")).json()
    assert kid in [key["kid"] for key in jwks["keys"]]


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
    assert query["redirect_uri"] == upstream_b.A_CALLBACK
    assert query["client_id"] == upstream_b.CLIENT_ID
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{FLOW}=")
    for attribute in ("HttpOnly", "Secure", "Path=/", "Max-Age=600"):
        assert attribute in cookie
    assert "samesite=lax" in cookie.lower()
    value = http.cookies[FLOW]
    for secret in (query["state"], query["nonce"], "tab"):
        assert secret not in value  # sealed, not merely encoded


async def test_next_is_carried_through_the_provider(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    page = await http.get("/login?next=/account/apps%3Ftab%3D2")
    fields = form(page.text, "/login/upstream")
    assert fields == {"next": "/account/apps?tab=2"}
    answer = await http.get(await through_b(http, f"/login/upstream?{urlencode(fields)}", person))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account/apps?tab=2"


async def test_the_client_secret_is_never_shown_or_recorded(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    pages = [await http.get("/login"), await sign_in_through_b(http, person)]
    pages.append(await http.get("/account/apps"))
    async with registry.db.read(OPERATOR) as tx:
        events = list(await tx.session.scalars(select(AuditEvent)))
    recorded = " ".join(str((e.before, e.after, e.actor_label)) for e in events)
    for shown in [*(p.text for p in pages), recorded, str(http.cookies)]:
        assert b.client_secret not in shown


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
