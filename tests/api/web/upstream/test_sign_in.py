"""Signing in to modelyard (A) through an upstream OpenID provider, a second modelyard (B)
running as a real server: the browser goes A -> B's sign-in and consent -> A, and is signed
in on A as a new, a matched or a returning user."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select

from modelyard.db.auth_tables import UserIdentity, WebSession
from modelyard.db.tables import AuditEvent, User
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from tests.api.web.browser import form
from tests.api.web.upstream.flow import (
    FLOW,
    OPERATOR,
    SESSION,
    Browsers,
    actions,
    counts,
    identity_of,
    sign_in_through_b,
    signed_in_as,
)
from tests.api.web.upstream.instance_b import InstanceB, through_b


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
    async with registry.db.read(OPERATOR) as tx:
        events = list(await tx.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session = await tx.session.scalar(select(WebSession).where(WebSession.user_id == user.id))
    assert {e.actor_label for e in events[-2:]} == {f"oidc:{b.issuer}"}
    assert session is not None
    assert session.via == f"oidc:{b.issuer}"


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


async def test_next_stays_on_this_server(
    browsers: Browsers, registry: Registry, b: InstanceB
) -> None:
    person = b.person()
    http = await browsers()
    start = "/login/upstream?" + urlencode({"next": "https://evil.example/x"})
    answer = await http.get(await through_b(http, start, person))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"


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
