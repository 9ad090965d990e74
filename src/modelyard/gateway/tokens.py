"""OAuth access tokens on the hot path: after a token's first use, a call costs what an API
key's does (one SHA-256, one dict lookup, one expiry comparison) and touches no database.

API keys live in the snapshot (all of them, loaded with it). Access tokens cannot: they are
minted without an audited change, so no snapshot would know a token issued after it was
built. Instead a token's first use asks the database once (:func:`~modelyard.registry.
oauth_access.find`, one indexed query) and the answer is kept here, tied to the snapshot's
generation:

* a new generation (every revocation, family revocation, consent revocation, client
  disable and user suspension is audited, so it bumps the generation, and every replica's
  snapshot moves within a second) drops every answer: the next use asks again;
* an answer read before the generation this cache is at is used once but not kept (it may
  predate the revocation that moved it);
* expiry is checked on every call against the kept expiry;
* refusals are kept too, for ``REFUSED_TTL_S`` and at most ``MAX_REFUSED`` of them, so a
  client retrying a bad token does not query per call; a token not even shaped like one is
  refused without a query; concurrent first uses of one token share one query, and at most
  ``MAX_LOOKUPS`` queries run at once, so a flood of made-up tokens holds a few database
  connections at most, never the pool.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime

from modelyard.errors import Unauthenticated
from modelyard.gateway.snapshot import KeyEntry
from modelyard.registry.oauth_access import DENIED, digest, find, well_formed
from modelyard.registry.tx import Database

MAX_VALID = 100_000  # tokens kept; the oldest goes first beyond it
MAX_REFUSED = 10_000  # refused token hashes kept
REFUSED_TTL_S = 60.0
MAX_LOOKUPS = 4  # database lookups in flight at once


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
    ) -> None:
        self.db = db
        self.max_valid = max_valid
        self.max_refused = max_refused
        self.refused_ttl_s = refused_ttl_s
        self.generation = -1
        self._valid: dict[str, KeyEntry] = {}
        self._refused: dict[str, float] = {}  # hash -> monotonic time it may be asked again
        self._pending: dict[str, asyncio.Future[tuple[int, KeyEntry | None]]] = {}
        self._gate = asyncio.Semaphore(max_lookups)
        self.lookups = 0  # database lookups made (metrics and tests)

    def __len__(self) -> int:
        return len(self._valid)

    async def authenticate(self, token: str, generation: int, now: datetime) -> KeyEntry:
        """The caller behind ``token`` (a ``myat_`` text) under the snapshot of
        ``generation``, or UNAUTHENTICATED without saying why."""
        if generation != self.generation:
            self._valid.clear()
            self._refused.clear()
            self.generation = generation
        key = digest(token)
        entry = self._valid.get(key)
        if entry is None:
            entry = await self._miss(token, key)
        if entry.expires_at is not None and entry.expires_at <= now:
            self._valid.pop(key, None)
            self._refuse(key)
            raise Unauthenticated(DENIED)
        return entry

    async def _miss(self, token: str, key: str) -> KeyEntry:
        again = self._refused.get(key)
        if again is not None:
            if again > time.monotonic():
                raise Unauthenticated(DENIED)
            del self._refused[key]
        if not well_formed(token):
            raise Unauthenticated(DENIED)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._lookup(key))
            pending.add_done_callback(functools.partial(self._finished, key))
        _generation, entry = await asyncio.shield(pending)
        if entry is None:
            raise Unauthenticated(DENIED)
        return entry

    async def _lookup(self, key: str) -> tuple[int, KeyEntry | None]:
        async with self._gate:
            self.lookups += 1
            generation, access = await find(self.db, key)
        if access is None:
            return generation, None
        return generation, KeyEntry(
            key_id=None,
            user_id=access.user_id,
            role=access.role,
            scopes=access.scopes,
            expires_at=access.expires_at,
            user_rpm_limit=access.user_rpm_limit,
            user_tpm_limit=access.user_tpm_limit,
            client_id=access.client_id,
        )

    def _finished(self, key: str, done: asyncio.Future[tuple[int, KeyEntry | None]]) -> None:
        """Keep the answer if it is not older than the generation this cache is at."""
        self._pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:  # retrieved: not cached
            return
        generation, entry = done.result()
        if generation < self.generation:
            return  # read before the change that moved the generation: used once, not kept
        if entry is None:
            self._refuse(key)
        else:
            if len(self._valid) >= self.max_valid:
                del self._valid[next(iter(self._valid))]
            self._valid[key] = entry

    def _refuse(self, key: str) -> None:
        if len(self._refused) >= self.max_refused:
            del self._refused[next(iter(self._refused))]
        self._refused[key] = time.monotonic() + self.refused_ttl_s
