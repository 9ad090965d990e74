"""Usage rows written straight into ``usage_events`` with their daily roll-ups, in one
transaction (as the gateway's writer does), for the usage report's HTTP and CLI tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.db import rollup
from modelyard.db.engine import create_engine
from modelyard.db.tables import UsageEvent

_serial = itertools.count(1)
# What the roll-ups sum that a row may leave to the column's default.
_ROLLED = {"cached_tokens": 0, "latency_ms": 0, "credits": None, "cost": None, "currency": None}


def row(
    user_id: str | uuid.UUID | None,
    at: str,
    provider: str | None,
    model: str | None,
    *,
    status: str = "ok",
    prompt: int = 0,
    completion: int = 0,
    cost: str | None = None,
    currency: str | None = None,
    credits: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One call at ``at`` (ISO 8601 with a zone); money as exact strings."""
    return {
        "request_id": f"req-{next(_serial)}",
        "occurred_at": datetime.fromisoformat(at),
        "user_id": None if user_id is None else uuid.UUID(str(user_id)),
        "provider_name": provider,
        "model_name": model,
        "operation": "chat",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "status": status,
        "error_code": None if status == "ok" else "upstream_error",
        "latency_ms": 120,
        "cost": None if cost is None else Decimal(cost),
        "currency": currency,
        "credits": None if credits is None else Decimal(credits),
    } | extra


async def insert_rows(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        for one in rows:
            await conn.execute(insert(UsageEvent).values(one))
        await rollup.add(conn, [_ROLLED | one for one in rows])


async def insert_at(database_url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_engine(database_url)
    try:
        await insert_rows(engine, rows)
    finally:
        await engine.dispose()


# who, when, provider, model, status, prompt and completion tokens, cost, currency, credits
SAMPLE = [
    ("alice", "2030-01-01T10:00:00Z", "openai", "gpt-4o", "ok", 100, 50, "0.0000125", "USD", "1.5"),
    ("alice", "2030-01-01T12:00:00Z", "openai", "gpt-4o", "error", 10, 0, "0.0000025", "USD", None),
    ("alice", "2030-01-02T09:00:00Z", "anthropic", "claude", "ok", 200, 100, "0.003", "USD", "2"),
    ("bob", "2030-01-01T11:00:00Z", "openai", "gpt-4o", "ok", 1000, 500, "0.0075", "USD", None),
    ("bob", "2030-01-02T23:59:59Z", "openai", "gpt-4o-mini", "aborted", 5, 1, None, None, None),
    ("bob", "2030-01-02T08:00:00Z", "openai", "gpt-4o-mini", "ok", 40, 20, "0.01", "EUR", "0.25"),
]
NEWEST_FIRST = [4, 2, 5, 1, 3, 0]  # SAMPLE's indexes by time, newest first
CLIENT_IDS = {1: "job-7", 3: "job-7"}  # the callers' own request ids: two users chose one


def sample(users: dict[str, str]) -> list[dict[str, Any]]:
    """Six calls over two days by two users (``users`` maps alice and bob to their ids), on
    three models of two providers, in two currencies, one call unpriced."""
    return [
        row(
            users[who],
            at,
            provider,
            model,
            status=status,
            prompt=prompt,
            completion=completion,
            cost=cost,
            currency=currency,
            credits=credits,
            client_request_id=CLIENT_IDS.get(index),
        )
        for index, (
            who,
            at,
            provider,
            model,
            status,
            prompt,
            completion,
            cost,
            currency,
            credits,
        ) in enumerate(SAMPLE)
    ]
