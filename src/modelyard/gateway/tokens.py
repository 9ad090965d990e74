"""OAuth access tokens on the hot path: after a token's first use, a call costs what an API
key's does (one SHA-256, one dict lookup, one expiry comparison) and touches no database.

API keys live in the snapshot (all of them, loaded with it). Access tokens cannot: they are
minted without an audited change, so no snapshot would know a token issued after it was
built. Instead a token's first use asks the database (:func:`~modelyard.registry.
oauth_access.find_many`, one indexed query) and the answer is kept here, tied to the
snapshot's generation:

* a new generation (every revocation, family revocation, consent revocation, client
  disable and user suspension is audited, so it bumps the generation, and every replica's
  snapshot moves within a second) drops every answer: the next use asks again;
* an answer read before the generation this cache is at is used once but not kept (it may
  predate the revocation that moved it);
* expiry is checked on every call against the kept expiry;
* refusals are kept too, for ``REFUSED_TTL_S`` and at most ``MAX_REFUSED`` of them, so a
  client retrying a bad token does not query per call; a token not even shaped like one is
  refused without a query.

Lookups are batched: first uses of tokens arriving while a query runs wait for the next one,
which asks for all of them (up to ``BATCH``) at once, and at most ``MAX_LOOKUPS`` queries run
at a time. So after a generation moves, a replica serving thousands of tokens asks for them
in a few queries, not one each; concurrent first uses of one token share one answer; and a
flood of made-up tokens holds a few database connections at most, never the pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from datetime import datetime

from modelyard.errors import NotReady, Unauthenticated
from modelyard.gateway.snapshot import KeyEntry
from modelyard.registry import oauth_access
from modelyard.registry.oauth_access import DENIED, Access, digest, well_formed
from modelyard.registry.tx import Database

MAX_VALID = 100_000  # tokens kept; the oldest goes first beyond it
MAX_REFUSED = 10_000  # refused token hashes kept
REFUSED_TTL_S = 60.0
MAX_LOOKUPS = 4  # database queries in flight at once
BATCH = 256  # token hashes asked for in one query

Answer = asyncio.Future[KeyEntry | None]


class TokenCache:
    """Access token hash -> the caller it stands for, valid for one snapshot generation."""

    def __init__(
        self,
        db: Database,
        *,
        max_valid: int = MAX_VALID,
        max_refused: int = MAX_REFUSED,
        refused_ttl_s: float = REFUSED_TTL_S,
        max_lookups: int = MAX_LOOKUPS,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.max_valid = max_valid
        self.max_refused = max_refused
        self.refused_ttl_s = refused_ttl_s
        self.max_lookups = max_lookups
        self.batch = batch
        self.generation = -1
        self._valid: dict[str, KeyEntry] = {}
        self._refused: dict[str, float] = {}  # hash -> monotonic time it may be asked again
        self._answers: dict[str, Answer] = {}  # first uses waiting for the database
        self._queue: dict[str, None] = {}  # ... of which not yet asked (in arrival order)
        self._workers: set[asyncio.Task[None]] = set()
        self._running = 0  # workers still taking from the queue
        self.lookups = 0  # queries made (tests, diagnostics)

    def __len__(self) -> int:
        return len(self._valid)

    def known(self, token: str, generation: int, now: datetime) -> KeyEntry | None:
        """The caller behind ``token`` (a ``myat_`` text) under the snapshot of
        ``generation`` if this replica knows it (no await: the hot path), None when it must
        be asked for (:meth:`first_use`); UNAUTHENTICATED, without saying why, for a token
        refused or expired."""
        if generation != self.generation:
            self._valid.clear()
            self._refused.clear()
            self.generation = generation
        key = digest(token)
        entry = self._valid.get(key)
        if entry is None:
            again = self._refused.get(key)
            if again is None:
                return None
            if again > time.monotonic():
                raise Unauthenticated(DENIED)
            del self._refused[key]
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            self._valid.pop(key, None)
            self._refuse(key)
            raise Unauthenticated(DENIED)
        return entry

    async def first_use(self, token: str, generation: int, now: datetime) -> KeyEntry:
        """The caller behind a token :meth:`known` did not know, from the database."""
        entry = self.known(token, generation, now)  # another call may have asked meanwhile
        if entry is None:
            entry = await self._miss(token, digest(token))
        return entry

    async def authenticate(self, token: str, generation: int, now: datetime) -> KeyEntry:
        """:meth:`known`, else :meth:`first_use`."""
        entry = self.known(token, generation, now)
        return entry if entry is not None else await self.first_use(token, generation, now)

    async def _miss(self, token: str, key: str) -> KeyEntry:
        if not well_formed(token):
            raise Unauthenticated(DENIED)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = asyncio.get_running_loop().create_future()
            self._queue[key] = None
            if self._running < self.max_lookups:
                self._running += 1
                worker = asyncio.create_task(  # serves every request, not the one that starts it
                    self._work(), name="modelyard-token-lookup", context=contextvars.Context()
                )
                self._workers.add(worker)
                worker.add_done_callback(self._workers.discard)
        entry = await asyncio.shield(answer)  # a caller that leaves does not cancel the others
        if entry is None:
            raise Unauthenticated(DENIED)
        return entry

    async def _work(self) -> None:
        """Ask for queued hashes, a batch per query, until none is left. The count of
        running workers drops in the same step that finds the queue empty (no await between),
        so a hash queued afterwards always starts a worker of its own."""
        try:
            while self._queue:
                batch = list(itertools.islice(self._queue, self.batch))
                for key in batch:
                    del self._queue[key]
                self.lookups += 1
                try:
                    generation, found = await oauth_access.find_many(self.db, batch)
                except asyncio.CancelledError:
                    self._fail(batch, NotReady("the gateway is stopping"))
                    raise
                except Exception as exc:  # the database is down: every waiter gets the fault
                    self._fail(batch, exc)
                    continue
                self._answer(batch, generation, found)
        finally:
            self._running -= 1

    def _answer(self, batch: list[str], generation: int, found: dict[str, Access]) -> None:
        """Hand out the answers; keep them unless read before this cache's generation."""
        keep = generation >= self.generation
        for key in batch:
            access = found.get(key)
            entry = None if access is None else _entry(access)
            if keep:
                if entry is None:
                    self._refuse(key)
                else:
                    if len(self._valid) >= self.max_valid:
                        del self._valid[next(iter(self._valid))]
                    self._valid[key] = entry
            answer = self._answers.pop(key, None)
            if answer is not None and not answer.done():
                answer.set_result(entry)

    def _fail(self, batch: list[str], exc: BaseException) -> None:
        for key in batch:
            answer = self._answers.pop(key, None)
            if answer is not None and not answer.done():
                answer.set_exception(exc)
                answer.exception()  # retrieved: no warning when its caller has left

    def _refuse(self, key: str) -> None:
        if len(self._refused) >= self.max_refused:
            del self._refused[next(iter(self._refused))]
        self._refused[key] = time.monotonic() + self.refused_ttl_s

    async def close(self) -> None:
        """Stop the lookups in flight (their callers get NOT_READY)."""
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._fail(list(self._answers), NotReady("the gateway is stopping"))
        self._queue.clear()


def _entry(access: Access) -> KeyEntry:
    """A token's grant as the calls of the gateway see a caller (no key of its own, so no
    key limits; its user's limits and the client's id for the usage row)."""
    return KeyEntry(
        key_id=None,
        user_id=access.user_id,
        role=access.role,
        scopes=access.scopes,
        expires_at=access.expires_at,
        user_rpm_limit=access.user_rpm_limit,
        user_tpm_limit=access.user_tpm_limit,
        client_id=access.client_id,
    )
