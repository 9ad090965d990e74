"""Units of work: every registry operation runs in one transaction.

Writes are serialised (SQLite ``BEGIN IMMEDIATE``; a transaction-scoped advisory lock on
PostgreSQL), which keeps "set default" races, the audit hash chain and the configuration
generation exact on both engines. A write that records audit events bumps the generation
once at commit (and, on PostgreSQL, notifies ``CHANGE_CHANNEL`` so every replica's gateway
refreshes at once); a failure rolls everything back, events included.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from modelyard.db.tables import RegistryState
from modelyard.db.types import utcnow
from modelyard.errors import Conflict, Misconfigured
from modelyard.registry import audit
from modelyard.registry.actors import Actor
from modelyard.registry.secrets import Keyring

WRITE_LOCK_KEY = 0x6D6F64656C79  # "modely": the registry's advisory lock on PostgreSQL
CHANGE_CHANNEL = "modelyard_registry"  # NOTIFY channel: other replicas refresh at once

Clock = Callable[[], datetime]


class Tx:
    """One open transaction, with who is acting and the time it started."""

    def __init__(
        self, session: AsyncSession, actor: Actor, now: datetime, keyring: Keyring | None
    ) -> None:
        self.session = session
        self.actor = actor
        self.now = now
        self._keyring = keyring
        self._prev_hash: str | None = None
        self.changed = False

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise Misconfigured(
                "no master key is configured; set MODELYARD_MASTER_KEY or run `modelyard init`"
            )
        return self._keyring

    async def record(
        self,
        action: str,
        entity_type: str,
        entity_id: uuid.UUID | str,
        *,
        before: Any = None,
        after: Any = None,
        config_version: int | None = None,
    ) -> None:
        """Append one audit event in this transaction."""
        if self._prev_hash is None:
            self._prev_hash = await audit.last_hash(self.session)
        event = audit.new_event(
            prev_hash=self._prev_hash,
            occurred_at=self.now,
            actor_id=str(self.actor.user_id) if self.actor.user_id else None,
            actor_label=self.actor.label,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
            config_version=config_version,
        )
        self.session.add(event)
        self._prev_hash = event.hash
        self.changed = True


class Database:
    """The engine, the clock and the keyring; opens read and write transactions."""

    def __init__(self, engine: AsyncEngine, keyring: Keyring | None, clock: Clock = utcnow):
        self.engine = engine
        self.keyring = keyring
        self.clock = clock
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.is_postgres = engine.dialect.name == "postgresql"
        self.on_change: list[Callable[[], None]] = []  # called after a change commits

    @asynccontextmanager
    async def read(self, actor: Actor) -> AsyncIterator[Tx]:
        async with self._sessions() as session, session.begin():
            yield Tx(session, actor, self.clock(), self.keyring)

    @asynccontextmanager
    async def write(self, actor: Actor) -> AsyncIterator[Tx]:
        async with self.engine.connect() as plain:
            conn = await plain.execution_options(modelyard_write=True)
            session = AsyncSession(bind=conn, expire_on_commit=False)
            try:
                async with session.begin():
                    if self.is_postgres:
                        await session.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY}
                        )
                    tx = Tx(session, actor, self.clock(), self.keyring)
                    yield tx
                    await session.flush()
                    if tx.changed:
                        await session.execute(
                            update(RegistryState)
                            .where(RegistryState.id == 1)
                            .values(generation=RegistryState.generation + 1)
                        )
                        if self.is_postgres:  # delivered at commit, never for a rollback
                            await session.execute(
                                text("SELECT pg_notify(:channel, '')"),
                                {"channel": CHANGE_CHANNEL},
                            )
            except IntegrityError as exc:
                raise Conflict(
                    "the change conflicts with existing data",
                    code="CONFLICT",
                    details={"constraint": _constraint_name(exc)},
                ) from None
            finally:
                await session.close()
            if tx.changed:
                for listener in self.on_change:
                    listener()


def _constraint_name(exc: IntegrityError) -> str | None:
    orig = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(orig, "constraint_name", None)
