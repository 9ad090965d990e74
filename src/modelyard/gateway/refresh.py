"""Keeping the snapshot current: a background task checks the configuration generation every
``interval_s`` and reloads when it moved. Changes committed in this process nudge it at once;
on PostgreSQL a dedicated connection LISTENs on the registry's change channel, so changes made
by any other replica or CLI arrive within milliseconds too. While the database is unreachable
the last good snapshot keeps serving; a gateway started without a database reports not-ready
and becomes ready by itself once the database answers. A secret this server cannot open
makes it not-ready (``/health/ready`` names the provider) until the key that sealed it arrives:
the key file is re-read when a snapshot meets an unknown key id, and checked on every tick
while something is unreadable. A snapshot that fails to build keeps the last one serving and
is retried every tick; the holder notes since when it is behind the database's generation,
and ``/health/ready`` fails once that lasts (``MODELYARD_READY_STALE_S``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from modelyard.db.tables import RegistryState
from modelyard.errors import NotReady
from modelyard.gateway.snapshot import Snapshot
from modelyard.gateway.snapshot_load import load
from modelyard.registry.actors import Actor
from modelyard.registry.tx import CHANGE_CHANNEL, Database

log = logging.getLogger("modelyard.gateway")


class SnapshotHolder:
    def __init__(self, db: Database, interval_s: float = 1.0) -> None:
        self.db = db
        self.interval_s = interval_s
        self._snapshot: Snapshot | None = None
        self.database_ok = False
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._nudge = asyncio.Event()
        self._reloading = asyncio.Lock()
        self.listening = False  # True while a LISTEN connection is up (PostgreSQL)
        # What readiness reports (monotonic times): the database's generation as last read,
        # when it was last read, and since when the snapshot served is older than it.
        self.database_generation: int | None = None
        self.checked_at: float | None = None
        self.behind_since: float | None = None

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def get(self) -> Snapshot:
        if self._snapshot is None:
            raise NotReady(
                "the gateway has not loaded its configuration yet; the database is unreachable"
            )
        return self._snapshot

    async def refresh(self) -> bool:
        """Reload if the generation moved; True if a new snapshot was installed. One reload
        at a time: a reload that began before a change committed must not install its older
        snapshot over the one a later reload made."""
        async with self._reloading:
            return await self._refresh()

    async def _refresh(self) -> bool:
        try:
            async with self.db.read(Actor.operator("gateway")) as tx:
                generation = int(await tx.session.scalar(select(RegistryState.generation)) or 0)
            self._saw(generation)
            if not self.database_ok and self._snapshot is not None:
                log.info("database reachable again")
            if (
                self._snapshot is not None
                and generation == self._snapshot.generation
                and not self._keys_arrived(self._snapshot)
            ):
                self.database_ok = True
                return False
            self._snapshot = await load(self.db)
            self.database_ok = True
            self._saw(self.database_generation or 0)
            return True
        except (SQLAlchemyError, OSError) as exc:
            if self.database_ok:
                log.warning(
                    "database unreachable (%s); serving the last snapshot", type(exc).__name__
                )
            self.database_ok = False
            return False

    def _saw(self, generation: int) -> None:
        self.database_generation, self.checked_at = generation, time.monotonic()
        if self._snapshot is None or self._snapshot.generation >= generation:
            self.behind_since = None
        elif self.behind_since is None:
            self.behind_since = self.checked_at

    def _keys_arrived(self, snapshot: Snapshot) -> bool:
        """While some secret cannot be opened: did the key file change (one ``stat``)? Then
        the snapshot is rebuilt even though the registry did not move."""
        return (
            bool(snapshot.unreadable) and self.db.keyring is not None and self.db.keyring.reload()
        )

    async def start(self) -> None:
        await self.refresh()
        self.db.on_change.append(self._nudge.set)  # changes made in this process: at once
        self._task = asyncio.create_task(self._loop(), name="modelyard-snapshot-refresh")
        if self.db.is_postgres:
            self._listener = asyncio.create_task(self._listen(), name="modelyard-registry-listen")

    async def stop(self) -> None:
        if self._nudge.set in self.db.on_change:
            self.db.on_change.remove(self._nudge.set)
        for task in (self._listener, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener = None

    async def _loop(self) -> None:
        failing = False  # logged once per run of failures
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), self.interval_s)
            self._nudge.clear()
            try:
                await self.refresh()
                failing = False
            except Exception:  # keep the last snapshot and retry; readiness fails if it lasts
                if not failing:
                    log.exception("loading the configuration failed; serving the last one")
                failing = True

    async def _listen(self) -> None:
        """Hold one LISTEN connection; reconnect after ``interval_s`` whenever it drops."""
        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            conn: Any = None
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(url, timeout=10)
                conn.add_termination_listener(lambda _c, done=lost: done.set())
                await conn.add_listener(CHANGE_CHANNEL, lambda *_a: self._nudge.set())
                self.listening = True
                self._nudge.set()  # catch up on anything missed while not listening
                await lost.wait()
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.debug("change listener unavailable: %s", type(exc).__name__)
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(self.interval_s)
