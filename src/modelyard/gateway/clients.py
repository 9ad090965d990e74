"""One pooled upstream HTTP client (aiohttp) per provider, reused across requests.

A member-owned provider's session checks the address of every connection it opens
(:class:`~modelyard.adapters.reach.Reach`): public addresses only, or the private networks
an admin allowed, whatever the name resolves to now. When those networks change, the
session is replaced, so no kept-alive connection outlives the rule that allowed it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp

from modelyard.adapters.reach import Reach
from modelyard.gateway.snapshot import ProviderEntry

if TYPE_CHECKING:
    from modelyard.telemetry.tracing import Tracing

KEEPALIVE_S = 30.0


class Clients:
    """``tracing``: when traces are on, each session traces its requests
    (:mod:`modelyard.telemetry.http`)."""

    def __init__(self, tracing: Tracing | None = None) -> None:
        self._sessions: dict[uuid.UUID, tuple[aiohttp.ClientSession, Reach | None]] = {}
        self._retired: list[aiohttp.ClientSession] = []
        self._traced: Callable[[str | None], list[aiohttp.TraceConfig]] | None = None
        if tracing is not None:
            from modelyard.telemetry.http import trace_config  # noqa: PLC0415 - traces on

            self._traced = lambda secret: [trace_config(tracing, secret)]

    def get(self, provider: ProviderEntry) -> aiohttp.ClientSession:
        found = self._sessions.get(provider.id)
        allowed = provider.member_reach
        if found is not None and not found[0].closed:
            session, reach = found
            if reach is None and allowed is None:
                return session
            if reach is not None and allowed is not None and reach.allowed == allowed:
                return session
            # the owner's role or the allowed networks changed: no pooled connection survives
            self._retired.append(session)
        reach = None if allowed is None else Reach(provider.name, allowed)
        connector = aiohttp.TCPConnector(
            limit=0,
            keepalive_timeout=KEEPALIVE_S,
            enable_cleanup_closed=True,
            socket_factory=reach.socket if reach is not None else None,
        )
        traced = self._traced(provider.api_key) if self._traced is not None else None
        session = aiohttp.ClientSession(
            connector=connector, raise_for_status=False, trace_configs=traced
        )
        self._sessions[provider.id] = (session, reach)
        return session

    async def close(self) -> None:
        sessions = [s for s, _ in self._sessions.values()] + self._retired
        self._sessions, self._retired = {}, []
        for session in sessions:
            await session.close()
