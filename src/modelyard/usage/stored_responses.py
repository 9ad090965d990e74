"""Responses API answers kept for ``previous_response_id`` and ``GET /v1/responses/{id}``
(table ``stored_responses``): per user, until the ``responses.retention_days`` setting says
they expire.

A row holds the request's instructions and its own input items (not the earlier turns') and
the response object as answered. :meth:`ResponseStore.chain` walks a response's ancestors
through ``previous_response_id``, at most :data:`MAX_DEPTH` of them, this user's and
unexpired only: anything else is 404 naming the id, as OpenAI answers for an id it does not
know. Expired rows are deleted by :meth:`ResponseStore.purge`, which the server runs every
``interval_s`` (:meth:`ResponseStore.start`); until then they are invisible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from modelyard.db.tables import StoredResponse
from modelyard.errors import NotFound
from modelyard.registry.tx import Database

log = logging.getLogger("modelyard.gateway")
MAX_DEPTH = 100  # earlier turns a previous_response_id may bring in
TABLE = cast(Table, StoredResponse.__table__)


def not_found(response_id: str, param: str | None = None) -> NotFound:
    details = {"param": param} if param is not None else {}
    return NotFound(f"Response with id '{response_id}' not found.", details=details)


class ResponseStore:
    def __init__(self, db: Database, interval_s: float = 3600.0) -> None:
        self.db = db
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.engine.connect() as plain:
            conn = await plain.execution_options(modelyard_write=True)
            async with conn.begin():
                yield conn

    async def save(
        self,
        response: dict[str, Any],
        request: dict[str, Any],
        user_id: uuid.UUID,
        api_key_id: uuid.UUID | None,
        retention_days: int,
    ) -> None:
        now = self.db.clock()
        async with self._writing() as conn:
            await conn.execute(
                TABLE.insert().values(
                    id=response["id"],
                    user_id=user_id,
                    api_key_id=api_key_id,
                    previous_response_id=response.get("previous_response_id"),
                    model=str(response.get("model") or "")[:200],
                    request=request,
                    response=response,
                    created_at=now,
                    expires_at=now + timedelta(days=retention_days),
                )
            )

    async def get(self, user_id: uuid.UUID, response_id: str) -> StoredResponse:
        """This user's unexpired response ``response_id``, else 404."""
        now = self.db.clock()
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(TABLE).where(TABLE.c.id == response_id, TABLE.c.user_id == user_id)
                )
            ).first()
        if row is None or _expired(row.expires_at, now):
            raise not_found(response_id)
        return row  # type: ignore[return-value]

    async def chain(self, user_id: uuid.UUID, response_id: str) -> list[StoredResponse]:
        """``response_id`` and its ancestors, oldest first (at most :data:`MAX_DEPTH`)."""
        rows: list[StoredResponse] = []
        seen: set[str] = set()
        current: str | None = response_id
        while current is not None and current not in seen and len(rows) < MAX_DEPTH:
            seen.add(current)
            try:
                row = await self.get(user_id, current)
            except NotFound:
                if rows:  # an ancestor that expired or was deleted: the chain starts after it
                    break
                raise not_found(current, "previous_response_id") from None
            rows.append(row)
            current = row.previous_response_id
        rows.reverse()
        return rows

    async def delete(self, user_id: uuid.UUID, response_id: str) -> None:
        await self.get(user_id, response_id)
        async with self._writing() as conn:
            await conn.execute(
                delete(TABLE).where(TABLE.c.id == response_id, TABLE.c.user_id == user_id)
            )

    async def purge(self) -> int:
        """Delete every expired response; how many."""
        async with self._writing() as conn:
            result = await conn.execute(delete(TABLE).where(TABLE.c.expires_at <= self.db.clock()))
        return int(result.rowcount or 0)

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name="modelyard-responses-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                purged = await self.purge()
            except (SQLAlchemyError, OSError) as exc:
                log.warning(
                    "stored responses not purged: database unavailable (%s)", type(exc).__name__
                )
            else:
                if purged:
                    log.info("stored responses: %d expired deleted", purged)
            await asyncio.sleep(self.interval_s)


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    if expires_at is None:
        return False
    if expires_at.tzinfo is None and now.tzinfo is not None:
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return expires_at <= now
