"""The rig the schemathesis test runs in: a seeded database, the real app, and an actor that
stays able to act however the fuzzer changes the data.

Seeded through the services (not the API under test): the bootstrap admin, a member with an
API key, a system provider of kind ``fake`` with one model, and credits for both users, so
calls that should succeed (``/v1`` ones too, once they are in the OpenAPI) can.

The fuzzer acts with one API key and may, legitimately, revoke that key, delete or demote its
user or set it an rpm limit of 1: the rest of the run would then test nothing but 401s. So
:class:`KeptActor` wraps the app: after each write that succeeded, it checks that the actor
is still what it was and, if not, puts the user back and issues a new key through the
services, as the CLI operator; requests carrying the original key are sent with the current
one. Everything else reaches the app unchanged.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from modelyard.billing.credits import GrantCreate
from modelyard.bootstrap import bootstrap
from modelyard.errors import Unauthenticated
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.models import ModelCreate
from modelyard.registry.providers import ProviderCreate
from modelyard.registry.scopes import SCOPES
from modelyard.registry.users import UserCreate, UserUpdate
from modelyard.services import Registry
from modelyard.settings import Settings

OPERATOR = Actor.operator("schemathesis rig")
FAKE_MODEL = "fake-model"


@dataclass(frozen=True)
class Seeded:
    admin_id: uuid.UUID
    admin_key: str
    member_id: uuid.UUID
    member_key: str


async def seed(settings: Settings) -> Seeded:
    registry = Registry.open(settings)
    try:
        boot = await bootstrap(settings, registry, migrate=False)
        assert boot.admin_key is not None
        admin = await registry.keys.authenticate(boot.admin_key)
        assert admin.user_id is not None
        member = await registry.users.create(OPERATOR, UserCreate(email="member@example.com"))
        key = await registry.keys.create(
            OPERATOR, ApiKeyCreate(name="member", user_id=member.id, scopes=list(SCOPES))
        )
        provider = await registry.providers.create(
            OPERATOR, ProviderCreate(name="fake", kind="fake", is_default=True)
        )
        await registry.models.create(
            OPERATOR, ModelCreate(provider_id=provider.id, model_id=FAKE_MODEL)
        )
        for user_id in (admin.user_id, member.id):  # calls succeed whatever the credit rules
            grant = GrantCreate(user_id=user_id, amount=Decimal(1_000_000), reason="rig")
            await registry.credits.grant(OPERATOR, grant)
        return Seeded(admin.user_id, boot.admin_key, member.id, key.key)
    finally:
        await registry.close()


@dataclass
class KeptActor:
    """ASGI wrapper keeping one user and their key usable through the run (see above)."""

    app: Any
    user_id: uuid.UUID
    role: str
    key: str
    current: str = ""
    checks: bool = False
    restored: int = 0
    _lock: asyncio.Lock | None = None

    def __post_init__(self) -> None:
        self.current = self.key

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one request at a time: a restore never races a request
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        if self.checks:
            await self._restore()
        scope = dict(scope, headers=[self._swap(h) for h in scope["headers"]])
        status = 0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if scope["method"] not in {"GET", "HEAD", "OPTIONS"} and 200 <= status < 300:
            self.checks = True

    def _swap(self, header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
        name, value = header
        if name == b"authorization" and value == f"Bearer {self.key}".encode():
            return name, f"Bearer {self.current}".encode()
        return header

    async def _restore(self) -> None:
        self.checks = False
        registry: Registry = self.app.state.registry
        user = await registry.users.get(OPERATOR, self.user_id)
        wanted = {"role": self.role, "status": "active", "rpm_limit": None, "tpm_limit": None}
        state = {name: getattr(user, name) for name in wanted}
        key_works = True
        try:
            await registry.keys.authenticate(self.current)
        except Unauthenticated:
            key_works = False
        if state == wanted and user.deleted_at is None and key_works:
            return
        self.restored += 1
        if user.deleted_at is not None:
            await registry.users.restore(OPERATOR, self.user_id)
        await registry.users.update(OPERATOR, self.user_id, UserUpdate.model_validate(wanted))
        new = await registry.keys.create(
            OPERATOR, ApiKeyCreate(name="schemathesis", user_id=self.user_id)
        )
        self.current = new.key
