"""One pooled upstream HTTP client (aiohttp) per provider, reused across requests."""

from __future__ import annotations

import aiohttp

from modelyard.gateway.snapshot import ProviderEntry

KEEPALIVE_S = 30.0


class Clients:
    def __init__(self) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def get(self, provider: ProviderEntry) -> aiohttp.ClientSession:
        key = str(provider.id)
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, keepalive_timeout=KEEPALIVE_S, enable_cleanup_closed=True
            )
            session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
            self._sessions[key] = session
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
