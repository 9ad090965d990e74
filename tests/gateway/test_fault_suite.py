"""The fault suite: many concurrent callers, half of them streaming, while the upstream (a
real HTTP server) answers with a storm of 429s carrying Retry-After, then a mix of answers,
500s, connections reset before the answer and answers cut off in the middle (mid-stream).

Afterwards the books balance exactly: one usage row per client request, each matching what
its caller was answered; the rows' attempts add up to the requests the upstream received; the
credit ledger's usage debits equal the rows' charged credits; no parallel slot is held, no
credit reserved, every rate window counts exactly the tokens the rows used, and the stopped
gateway leaves no credit hold. On SQLite and PostgreSQL, with limits in memory and in Redis.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import orjson

from modelyard.gateway.breaker import CircuitBreaker
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.fault_rig import ASK, PATH, STREAM, Billed, Script, all_released, billed_rig

CALLS = 120
STORM = 40  # the upstream's first requests all get 429 with Retry-After
MIX = {"ok": 40, "429": 15, "500": 15, "reset": 15, "cut": 15}


def storm_then_mix(seed: int) -> Script:
    rng = random.Random(seed)
    actions, weights = list(MIX), list(MIX.values())

    def script(n: int, body: dict[str, Any]) -> str:
        return "429" if n < STORM else rng.choices(actions, weights)[0]

    return script


async def _ask(client: httpx.AsyncClient, rig: Billed, n: int) -> httpx.Response:
    body = STREAM if n % 2 else ASK
    return await client.post(PATH, json=body, headers={"authorization": f"Bearer {rig.key}"})


def _outcome(response: httpx.Response) -> tuple[str, str | None]:
    """What the caller was told: ("ok", None), or ("error", its code), checking its shape."""
    if response.status_code != 200:
        assert response.status_code in (429, 502, 503), response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code", "param"}
        return "error", error["code"].upper()
    if response.headers["content-type"] == "application/json":
        assert response.json()["choices"]
        return "ok", None
    events = response.content.strip().split(b"\n\n")
    if events[-1] == b"data: [DONE]":
        return "ok", None
    error = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
    return "error", error["code"].upper()


async def test_under_429_storms_500s_and_resets_every_call_is_recorded_once_and_nothing_leaks(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    limits: tuple[str, str] | None,
) -> None:
    async with billed_rig(
        settings, registry, admin, tmp_path, script=storm_then_mix(12), max_parallel=8, redis=limits
    ) as rig:
        # a lenient breaker keeps the upstream in the mix (a tripped one answers without it)
        rig.gateway.pipeline.breaker = CircuitBreaker(failure_threshold=10_000)
        pool = httpx.Limits(max_connections=CALLS)
        async with httpx.AsyncClient(base_url=rig.url, timeout=30, limits=pool) as client:
            responses = await asyncio.gather(*(_ask(client, rig, n) for n in range(CALLS)))
        left = await rig.leftovers()
        rows = await rig.rows()
        debits = await rig.debits()
    told = {r.headers["x-request-id"]: _outcome(r) for r in responses}
    assert len(told) == CALLS
    recorded = {row.request_id: (row.status, row.error_code) for row in rows}
    assert recorded == told  # one row per request, each as its caller was answered
    received = len(rig.upstream.received)
    assert sum(row.attempts for row in rows) == received == rig.scripted.count
    actions = set(rig.scripted.actions)
    assert actions == set(MIX), actions  # every kind of fault happened
    assert {"ok", "error"} <= {status for status, _ in told.values()}
    assert debits == sum(row.charged_credits or 0 for row in rows) > 0
    used = sum(row.prompt_tokens + row.completion_tokens for row in rows)
    all_released(left, dict.fromkeys(rig.windows, used))
    assert await rig.holds() == 0
