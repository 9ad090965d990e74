"""What a replica's gateway knows about its own health, as named checks for ``/health/ready``.

Each check is ``ok``, ``degraded`` (calls are still served, from memory or with a fallback:
a load balancer should keep sending) or ``failed`` (this replica should get no traffic). The
rule is :func:`verdict`. Everything here is read from memory, except one Redis PING through
the limiter's own pool: cheap enough for a load balancer polling every second.

What is said is safe for anyone to read: no URL (it may hold a password), no key material,
system providers by name and members' by id (a member's names are their own).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from modelyard.gateway.refresh import SnapshotHolder
from modelyard.gateway.service import Gateway
from modelyard.gateway.snapshot import Snapshot
from modelyard.usage.recorder import Backlog

State = Literal["ok", "degraded", "failed"]
REDIS_PING_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    message: str = "ok"  # or what is wrong, for a person
    facts: dict[str, object] = field(default_factory=dict)


def verdict(checks: list[Check]) -> tuple[str, int]:
    """The status word and the HTTP status: any failed check is 503 (``draining`` while the
    replica shuts down, else ``not ready``); otherwise ``degraded`` or ``ready``, both 200."""
    failed = {c.name for c in checks if c.state == "failed"}
    if "draining" in failed:
        return "draining", 503
    if failed:
        return "not ready", 503
    if any(c.state == "degraded" for c in checks):
        return "degraded", 200
    return "ready", 200


async def gateway_checks(gateway: Gateway, *, backlog_limit: int, stale_s: float) -> list[Check]:
    """The gateway's checks; the Redis one only when limits are kept in Redis. (Draining is
    the caller's: it must never come from a cached answer.)"""
    checks: list[Check] = []
    holder = gateway.holder
    if not holder.ready:
        checks.append(Check("gateway", "failed", "configuration not loaded yet"))
    else:
        checks += [Check("gateway", "ok"), secrets(holder.get()), configuration(holder, stale_s)]
    checks.append(usage(gateway.recorder.backlog(), gateway.clock(), backlog_limit))
    redis = await redis_check(gateway)
    if redis is not None:
        checks.append(redis)
    return checks


def draining() -> Check:
    return Check("draining", "failed", "this replica is shutting down")


def secrets(snapshot: Snapshot) -> Check:
    """Whether every provider key opens on this server; else how many do not, and which,
    with the reason (the master key id needed; never key material)."""
    found = [
        {"provider": u.name, "owner": "system", "reason": u.reason}
        if u.owner is None
        else {"provider_id": str(pid), "owner": "member", "reason": u.reason}
        for pid, u in sorted(
            snapshot.unreadable.items(), key=lambda kv: (kv[1].owner is not None, kv[1].name)
        )
    ]
    if not found:
        return Check("secrets", "ok")
    message = f"{len(found)} provider key(s) cannot be opened by this server"
    return Check("secrets", "failed", message, {"unreadable": found})


def configuration(holder: SnapshotHolder, stale_s: float) -> Check:
    """The generation served against the database's as last read. Failed when this replica
    knows of a newer one it has not loaded for ``stale_s`` (a revoked key would still work
    here); degraded when it could not read the
    database's generation for ``stale_s`` (it cannot know whether it is current)."""
    now = time.monotonic()
    served = holder.get().generation
    facts: dict[str, object] = {
        "generation": served,
        "database_generation": holder.database_generation,
        "checked_s_ago": None if holder.checked_at is None else round(now - holder.checked_at, 1),
    }
    if holder.db.is_postgres:
        facts["listening"] = holder.listening
    behind = 0.0 if holder.behind_since is None else now - holder.behind_since
    if behind > stale_s:
        message = (
            f"serving generation {served}; the database has been at "
            f"{holder.database_generation} for {behind:.0f} s"
        )
        return Check("configuration", "failed", message, facts)
    if holder.checked_at is None or now - holder.checked_at > stale_s:
        message = f"not confirmed current for over {stale_s:g} s (database unreachable)"
        return Check("configuration", "degraded", message, facts)
    return Check("configuration", "ok", facts=facts)


def usage(backlog: Backlog, now: datetime, limit: int) -> Check:
    """Usage rows not in the database yet. Over ``limit`` only degraded: the calls are
    served and the rows are durable (the outbox is fsync'd); taking this replica out would
    not bring them to the database sooner."""
    age = None if backlog.oldest is None else max(0.0, (now - backlog.oldest).total_seconds())
    facts: dict[str, object] = {
        "waiting": backlog.rows,
        "in_memory": backlog.memory,
        "outbox": backlog.outbox,
        "oldest_s": None if age is None else round(age, 1),
    }
    if backlog.rows <= limit:
        return Check("usage", "ok", facts=facts)
    message = f"{backlog.rows} usage rows wait for the database (over {limit})"
    return Check("usage", "degraded", message, facts)


async def redis_check(gateway: Gateway) -> Check | None:
    """Whether Redis answers, and whether limits are shared or this replica's own (a
    limiter that met Redis unreachable keeps its own for ``retry_redis_s``). Degraded, not
    failed: every replica falls back alike, and calls go on being served."""
    from modelyard.gateway.limits.redis import RedisLimiter  # noqa: PLC0415 - only with Redis

    limiter = gateway.limiter
    if not isinstance(limiter, RedisLimiter):
        return None
    problem = await limiter.ping(REDIS_PING_TIMEOUT_S)
    local_s = limiter.per_replica_for_s()
    facts: dict[str, object] = {
        "reachable": problem is None,
        "limits": "per replica" if local_s or problem else "shared",
    }
    if problem is not None:
        message = f"unreachable ({problem}): limits fall back to this replica's memory"
        return Check("redis", "degraded", message, facts)
    if local_s:
        message = f"answers again; limits are per replica for {local_s:.1f} s more"
        return Check("redis", "degraded", message, facts)
    return Check("redis", "ok", facts=facts)
