"""Helpers of the upstream sign-in tests: A's settings and browsers, what A's database
holds, the browser's way from A through B and back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from modelyard.api.app import create_app
from modelyard.api.web.upstream import FLOW_COOKIE
from modelyard.db.auth_tables import UserIdentity, WebSession
from modelyard.db.tables import AuditEvent, User
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.web.browser import form, text
from tests.api.web.upstream import instance_b
from tests.api.web.upstream.instance_b import A_ORIGIN, BPerson, InstanceB, through_b

OPERATOR = Actor.operator()
FLOW = f"__Host-{FLOW_COOKIE}"
SESSION = "__Host-modelyard_session"
Browsers = Callable[[], Awaitable[httpx.AsyncClient]]


def a_settings(settings: Settings, b: InstanceB, **extra: object) -> Settings:
    update: dict[str, object] = {
        "public_url": A_ORIGIN,
        "oidc_issuer": b.issuer,
        "oidc_client_id": instance_b.CLIENT_ID,
        "oidc_client_secret": SecretStr(b.client_secret),
        "oidc_name": "Yard B",
    }
    return settings.model_copy(update=update | extra)


async def open_browsers(config: Settings, registry: Registry) -> AsyncIterator[Browsers]:
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
