"""Limits shared by every replica through Redis: one atomic Lua script per hit or acquire try.

Keys (``{key}`` is a Redis Cluster hash tag, so one key's state sits on one shard):

    <prefix>:{<key>}:win      hash s (window start, ms), r (requests), t (tokens)
    <prefix>:{<key>}:holders  zset holder id -> lease expiry (ms)
    <prefix>:{<key>}:queue    zset waiter id -> ticket (INCR of :ticket)
    <prefix>:{<key>}:alive    zset waiter id -> time its place lapses unless it polls again
    <prefix>:{<key>}:claim    string: the token of whoever claimed the key (SET NX PX)

Every key expires on its own once idle. Time is Redis's own clock (``TIME``), one clock for
all replicas; tests inject theirs.

What is guaranteed: never more than ``limit`` unexpired leases per key; a lease is renewed
while its holder runs, so a crashed holder frees its slot within ``lease_s``; rpm/tpm counts
are exact across replicas. What is best effort: FIFO order. Waiters take a ticket and are
admitted by ticket order when they poll (every 5-50 ms, and at once when a slot of this
replica is released), so a free slot can sit idle for one poll interval; a waiter that stops
polling for ``waiter_ttl_s`` loses its place (a stalled one rejoins at the back).

If Redis cannot be reached, this replica falls back to its own in-memory limits for
``retry_redis_s`` (logged), rather than refusing traffic or dropping limits.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from modelyard.errors import LimitExceeded, LimitName, ProviderBusy
from modelyard.gateway.limits.base import UNLIMITED, WINDOW_S, Scope, Slot, Window, exceeded
from modelyard.gateway.limits.memory import MemoryLimiter

log = logging.getLogger("modelyard.gateway")
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
POOL_SIZE = 100  # connections to Redis per replica

_NOW = """local now = tonumber(ARGV[1])
if now < 0 then local t = redis.call('TIME') now = t[1] * 1000 + math.floor(t[2] / 1000) end
"""
# ARGV: now, window_ms, rpm (-1: none), tpm (-1: none), tokens
#   -> {refused 0|1|2, r, t, reset, window start}
HIT = (
    _NOW
    + """local win, rpm, tpm, tokens = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local c = redis.call('HMGET', KEYS[1], 's', 'r', 't')
local s, r, t = tonumber(c[1]), tonumber(c[2]) or 0, tonumber(c[3]) or 0
if not s or now - s >= win then s, r, t = now, 0, 0 end
local reset = s + win - now
if rpm >= 0 and r >= rpm then return {1, r, t, reset, s} end
if tpm >= 0 and t + tokens > tpm then return {2, r, t, reset, s} end
redis.call('HSET', KEYS[1], 's', s, 'r', r + 1, 't', t + tokens)
redis.call('PEXPIRE', KEYS[1], reset + win)
return {0, r + 1, t + tokens, reset, s}"""
)
# ARGV: now, window_ms, tokens (< 0: a refund), since (-1: any window) -> 1 if counted
ADD_TOKENS = (
    _NOW
    + """local s = tonumber(redis.call('HGET', KEYS[1], 's'))
local tokens, since = tonumber(ARGV[3]), tonumber(ARGV[4])
if not s then return 0 end
if tokens < 0 and (since ~= s or now - s >= tonumber(ARGV[2])) then return 0 end
if now - s >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 's', now, 'r', 0, 't', tokens)
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
else
  local t = (tonumber(redis.call('HGET', KEYS[1], 't')) or 0) + tokens
  redis.call('HSET', KEYS[1], 't', math.max(0, t))
end
return 1"""
)
# KEYS: holders, queue, alive, ticket; ARGV: now, limit, lease_ms, id, place_ms (0: no queue)
ACQUIRE = (
    _NOW
    + """local limit, lease, id, place = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4],
  tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('ZREM', KEYS[2], gone) redis.call('ZREM', KEYS[3], gone)
end
local rank = redis.call('ZRANK', KEYS[2], id) or redis.call('ZCARD', KEYS[2])
local ttl = 2 * math.max(lease, place)
if rank < limit - redis.call('ZCARD', KEYS[1]) then
  redis.call('ZADD', KEYS[1], now + lease, id)
  redis.call('ZREM', KEYS[2], id) redis.call('ZREM', KEYS[3], id)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if place <= 0 then return 0 end
if not redis.call('ZSCORE', KEYS[2], id) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), id)
end
redis.call('ZADD', KEYS[3], now + place, id)
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
return 0"""
)
# KEYS: holders; ARGV: now, lease_ms, id -> 1 if still held
RENEW = (
    _NOW
    + """if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1"""
)

# KEYS: claim; ARGV: token -> 1 if it was this token's and is now gone
UNCLAIM = """if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"""


class RedisSlot(Slot):
    __slots__ = ("_holder", "_keys", "_limiter", "_renewal", "_timer", "key")

    def __init__(self, limiter: RedisLimiter, key: str, keys: list[str], holder: str) -> None:
        super().__init__()
        self._limiter, self.key, self._keys, self._holder = limiter, key, keys, holder
        self._renewal: asyncio.Task[None] | None = None
        self._timer = self._schedule()

    def _schedule(self) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(self._limiter.lease_s / 2, self._renew_soon)

    def _renew_soon(self) -> None:
        if self.held:
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        lim = self._limiter
        try:
            kept = await lim.renew_script(self._keys[:1], [lim.now(), lim.lease_ms, self._holder])
        except (RedisError, OSError) as exc:
            lim.unreachable(exc)
            kept = 1  # try again next time: the lease may still be there
        if not kept:
            log.warning("the parallel slot lease for %s expired while it was in use", self.key)
        elif self.held:
            self._timer = self._schedule()

    async def _release(self) -> None:
        self._timer.cancel()
        lim = self._limiter
        try:
            await lim.redis.zrem(self._keys[0], self._holder)
        except UNREACHABLE as exc:
            lim.unreachable(exc)  # the lease expires on its own
        lim.wake(self.key)


def _window(
    key: str, rpm: int | None, tpm: int | None, tokens: int, answer: Sequence[Any]
) -> Window:
    refused, requests, used, reset_ms, start = answer
    if refused:
        which: LimitName = "rpm" if refused == 1 else "tpm"
        value = rpm if refused == 1 else tpm
        raise exceeded(key, which, value or 0, reset_ms / 1000, tokens)
    return Window.left(rpm, requests, tpm, used, reset_ms / 1000, float(start))


class RedisLimiter:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        clock: Callable[[], float] | None = None,
        lease_s: float = 30.0,
        poll_s: tuple[float, float] = (0.005, 0.05),
        waiter_ttl_s: float = 2.0,
        retry_redis_s: float = 5.0,
    ) -> None:
        self.redis, self.prefix, self.lease_s, self.poll_s = redis, prefix, lease_s, poll_s
        self.lease_ms = int(lease_s * 1000)
        self._clock, self._place_ms, self._retry_s = clock, int(waiter_ttl_s * 1000), retry_redis_s
        self.hit_script = redis.register_script(HIT)
        self.add_script = redis.register_script(ADD_TOKENS)
        self.acquire_script = redis.register_script(ACQUIRE)
        self.renew_script = redis.register_script(RENEW)
        self.unclaim_script = redis.register_script(UNCLAIM)
        self._ids = itertools.count()
        self._me = uuid.uuid4().hex[:12]
        self._keys: dict[str, tuple[list[str], list[str]]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._local = MemoryLimiter(clock or time.monotonic)
        self._down_until = 0.0

    @classmethod
    def from_url(
        cls, url: str, prefix: str, *, timeout_s: float = 1.0, **options: Any
    ) -> RedisLimiter:
        """At most ``POOL_SIZE`` connections; a call finding them all busy waits up to
        ``timeout_s`` for one, rather than taking Redis for unreachable (a plain pool refuses
        the 101st concurrent call, and limits would fall back to per replica under load)."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        return cls(Redis.from_pool(pool), prefix, **options)

    def now(self) -> int:
        """Milliseconds on the injected clock, or -1: Redis's own clock."""
        return -1 if self._clock is None else int(self._clock() * 1000)

    def keys(self, key: str) -> tuple[list[str], list[str]]:
        """The window key, and the slot keys (holders, queue, alive, ticket) of one key."""
        found = self._keys.get(key)
        if found is None:
            base = f"{self.prefix}:{{{key}}}:"
            slots = [base + name for name in ("holders", "queue", "alive", "ticket")]
            found = self._keys[key] = ([base + "win"], slots)
        return found

    def unreachable(self, exc: BaseException) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time >= self._down_until:
            where = self.redis.connection_pool.connection_kwargs
            log.warning(
                "Redis at %s:%s is unreachable (%s: %s); limits are per replica for %g s",
                where.get("host"),
                where.get("port"),
                type(exc).__name__,
                exc,
                self._retry_s,
            )
        self._down_until = loop_time + self._retry_s

    def _up(self) -> bool:
        return asyncio.get_running_loop().time() >= self._down_until

    def per_replica_for_s(self) -> float:
        """Seconds this replica keeps its own limits before trying Redis again; 0: shared."""
        return max(0.0, self._down_until - asyncio.get_running_loop().time())

    async def ping(self, timeout_s: float) -> str | None:
        """None if Redis answers a PING within ``timeout_s`` through the limiter's own pool,
        else why not (the exception's class name: a URL may hold a password). Only reports:
        the calls themselves decide when to fall back."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return type(exc).__name__
        return None

    def wake(self, key: str) -> None:
        event = self._wakeups.pop(key, None)
        if event is not None:
            event.set()

    async def acquire_slot(self, key: str, limit: int, timeout_s: float) -> Slot:
        if not self._up():
            return await self._local.acquire_slot(key, limit, timeout_s)
        keys = self.keys(key)[1]
        holder = f"{self._me}:{next(self._ids)}"
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + timeout_s, self.poll_s[0]
        args: list[Any] = [0, limit, self.lease_ms, holder, self._place_ms if timeout_s > 0 else 0]
        try:
            while True:
                args[0] = self.now()
                if await self.acquire_script(keys, args):
                    return RedisSlot(self, key, keys, holder)
                left = deadline - loop.time()
                if left <= 0:
                    raise ProviderBusy(key, limit, timeout_s)
                await self._nap(key, min(pause, left))
                pause = min(2 * pause, self.poll_s[1])
        except UNREACHABLE as exc:
            self.unreachable(exc)
            return await self._local.acquire_slot(key, limit, max(0.0, deadline - loop.time()))
        except BaseException:
            await self._leave(keys, holder)
            raise

    async def _nap(self, key: str, seconds: float) -> None:
        event = self._wakeups.get(key) or self._wakeups.setdefault(key, asyncio.Event())
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass

    async def _leave(self, keys: list[str], holder: str) -> None:
        """Leave the queue (and a slot granted by a script whose answer was lost)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in keys[:3]:
                    pipe.zrem(name, holder)
                await pipe.execute()
        except UNREACHABLE as exc:
            self.unreachable(exc)

    async def hit(self, key: str, *, rpm: int | None, tpm: int | None, tokens: int) -> Window:
        if rpm is None and tpm is None:
            return UNLIMITED
        if not self._up():
            return await self._local.hit(key, rpm=rpm, tpm=tpm, tokens=tokens)
        limits = (-1 if rpm is None else rpm, -1 if tpm is None else tpm)
        args = [self.now(), int(WINDOW_S * 1000), *limits, tokens]
        try:
            refused, requests, used, reset_ms, start = await self.hit_script(
                self.keys(key)[0], args
            )
        except UNREACHABLE as exc:
            self.unreachable(exc)
            return await self._local.hit(key, rpm=rpm, tpm=tpm, tokens=tokens)
        return _window(key, rpm, tpm, tokens, (refused, requests, used, reset_ms, start))

    async def hit_many(self, scopes: Sequence[Scope], tokens: int) -> list[Window]:
        """Several keys in one round trip (a pipeline; each key on its own hash slot). Keys
        other than a refused one are counted too: a refusal may overcount by one request,
        but the tokens it counted elsewhere are taken back (one more round trip)."""
        limited = [s for s in scopes if s[1] is not None or s[2] is not None]
        if len(limited) < 2 or not self._up():
            return [await self.hit(k, rpm=r, tpm=t, tokens=tokens) for k, r, t in limited]
        window = int(WINDOW_S * 1000)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, rpm, tpm in limited:
                    limits = (-1 if rpm is None else rpm, -1 if tpm is None else tpm)
                    args = [self.now(), window, *limits, tokens]
                    await self.hit_script(self.keys(key)[0], args, client=pipe)
                answers = await pipe.execute()
        except UNREACHABLE as exc:
            self.unreachable(exc)
            return await self._local.hit_many(limited, tokens)
        passed: list[tuple[str, Window]] = []
        refused: LimitExceeded | None = None
        for (key, rpm, tpm), answer in zip(limited, answers, strict=True):
            try:
                passed.append((key, _window(key, rpm, tpm, tokens, answer)))
            except LimitExceeded as exc:
                refused = refused or exc
        if refused is not None:  # the call goes no further: take back its tokens
            for key, counted in passed:
                if tokens:
                    await self.add_tokens(key, -tokens, counted.start)
            raise refused
        return [counted for _, counted in passed]

    async def add_tokens(self, key: str, tokens: int, since: float | None = None) -> None:
        if not self._up():
            return await self._local.add_tokens(key, tokens, since)
        args = [self.now(), int(WINDOW_S * 1000), tokens, -1 if since is None else int(since)]
        try:
            await self.add_script(self.keys(key)[0], args)
        except UNREACHABLE as exc:
            self.unreachable(exc)
            await self._local.add_tokens(key, tokens, since)
        return None

    async def claim(self, key: str, token: str, ttl_s: float) -> bool:
        if not self._up():
            return await self._local.claim(key, token, ttl_s)
        name = f"{self.prefix}:{{{key}}}:claim"
        try:
            taken = await self.redis.set(name, token, nx=True, px=max(1, int(ttl_s * 1000)))
        except UNREACHABLE as exc:
            self.unreachable(exc)
            return await self._local.claim(key, token, ttl_s)
        return bool(taken)

    async def unclaim(self, key: str, token: str) -> None:
        await self._local.unclaim(key, token)  # claimed there while Redis was away
        if self._up():
            try:
                await self.unclaim_script([f"{self.prefix}:{{{key}}}:claim"], [token])
            except UNREACHABLE as exc:
                self.unreachable(exc)  # the claim expires on its own

    async def aclose(self) -> None:
        await self.redis.aclose()
