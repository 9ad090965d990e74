"""The give-back messages of :mod:`modelyard.billing.giveback` over Redis pub/sub, for
processes that share a database without NOTIFY (several workers on one SQLite file) but
share a Redis: channel ``<prefix>:credits``, the same ``ask``/``gave`` payloads.

Unlike NOTIFY, a publish is not part of the transaction: an ask is published after the
resize that found the shortfall committed, an answer after the shrink committed. Pub/sub
delivers only to processes subscribed at that moment, and losing Redis loses messages: a
short process is then refused (the holds in the database, still the only truth, never
promise more than the balance), exactly as with no messages at all.

:func:`messages_for` picks a process's transport: NOTIFY wherever there is PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from modelyard.billing.giveback import RECONNECT_S, GiveBack, log
from modelyard.registry.tx import Database

LIBPQ_OPTIONS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "ssl",
        "sslnegotiation",
        "passfile",
        "service",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "host",
        "port",
    }
)


class RedisGiveBack(GiveBack):
    in_transaction = False

    def __init__(
        self, url: str, prefix: str, holder: str, on_ask: Callable[[uuid.UUID], None]
    ) -> None:
        super().__init__(url, holder, on_ask)
        self.channel = f"{prefix}:credits"
        self._client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    async def send(self, kind: str, user_id: uuid.UUID) -> None:
        try:
            await self._client.publish(self.channel, f"{kind} {user_id} {self.holder}")
        except (RedisError, OSError) as exc:
            log.debug("credit give-back message not sent: %s", type(exc).__name__)

    async def stop(self) -> None:
        await super().stop()
        await self._client.aclose()

    async def _listen(self) -> None:
        """One subscription; resubscribe after ``RECONNECT_S`` whenever it drops."""
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.listening = True
                        self._tried.set()
                    elif message["type"] == "message":
                        data = message["data"]
                        self.heard(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError) as exc:
                log.debug("credit give-back subscription unavailable: %s", type(exc).__name__)
            finally:
                self.listening = False
                self._tried.set()
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(RECONNECT_S)


def messages_for(
    db: Database,
    holder: str,
    on_ask: Callable[[uuid.UUID], None],
    redis_url: str | None,
    redis_prefix: str,
) -> GiveBack | None:
    """How this process asks the others for credits: NOTIFY on PostgreSQL, else Redis
    pub/sub when one is configured (several workers on one SQLite file), else not at all."""
    if db.is_postgres:
        # asyncpg reads an unknown query parameter of the DSN as a server setting, which the
        # server refuses: keep only the connection options libpq (and asyncpg) know.
        query = {k: v for k, v in db.engine.url.query.items() if k in LIBPQ_OPTIONS}
        url = db.engine.url.set(drivername="postgresql", query=query)
        return GiveBack(url.render_as_string(hide_password=False), holder, on_ask)
    if redis_url:
        return RedisGiveBack(redis_url, redis_prefix, holder, on_ask)
    return None
