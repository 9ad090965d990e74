"""The Idempotency-Key of a call: one call per key per caller within a TTL.

A key is scoped to the caller's user (two users may use the same key) and claimed once, for
the ``gateway.idempotency_ttl_s`` setting, in the limiter (:meth:`Limiter.claim`: Redis
``SET NX PX`` when replicas share Redis, so one claim wins across them; this process's
memory otherwise). A repeat within the TTL, or a second call while the first runs, is
refused with 409 ``IDEMPOTENCY_KEY_REUSED`` and recorded as such: it is never served, so
never served unrecorded. A call that got no answer (refused, failed, or cancelled before its
reply began) gives its key back, so the caller's retry with the same key runs.

Calls without the header cost nothing here: no limiter or database round trip.
"""

from __future__ import annotations

import uuid

from modelyard.errors import Conflict
from modelyard.gateway.limits.base import Limiter
from modelyard.gateway.snapshot import Snapshot

TTL_SETTING = "gateway.idempotency_ttl_s"
DEFAULT_TTL_S = 86_400
CODE = "IDEMPOTENCY_KEY_REUSED"


async def claim(limiter: Limiter, snap: Snapshot, user_id: uuid.UUID, key: str, token: str) -> str:
    """Claim ``key`` for ``user_id`` under ``token`` (the call's request id); the limits key
    claimed, to give back with :meth:`Limiter.unclaim`. :class:`Conflict` when taken."""
    ttl_s = int(snap.settings.get(TTL_SETTING) or DEFAULT_TTL_S)
    name = f"idempotency:{user_id}:{key}"
    if not await limiter.claim(name, token, ttl_s):
        raise Conflict(
            f"Idempotency-Key {key!r} was already used by a call of yours in the last "
            f"{_duration(ttl_s)} (or that call is still running); that call was not repeated. "
            "Send a new Idempotency-Key for a new call; a call that got no answer frees its "
            "key, so a retry after a failure may reuse it",
            code=CODE,
            details={"param": "Idempotency-Key", "ttl_s": ttl_s},
        )
    return name


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
