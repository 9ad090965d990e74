"""Monthly roll-ups in ``usage_daily``: each grain but the finest gets a twin (its number
plus 10) with a row per month (``day`` the month's first day), so that a report over
several months reads a row per whole month rather than one per day (a ranking of 2,000
models over 90 days: ~300 thousand rows before). Summed exactly from the daily rows already
kept (fractions added as integers and carried, as the writer does), replacing any monthly
row already there. The downgrade deletes them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINEST, MONTHLY = 0, 10
_SCALE = 10**10
_COUNTS = (
    "calls",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "latency_ms_total",
    "credited_calls",
)
_AMOUNTS = ("cost_whole", "cost_frac", "credits_whole", "credits_frac")
_DIMS = ("user_id", "model_name", "provider_name", "currency")
_daily = sa.table(
    "usage_daily",
    *(sa.column(name, sa.BigInteger) for name in (*_COUNTS, *_AMOUNTS)),
    sa.column("grain", sa.SmallInteger),
    sa.column("day", sa.Date),
    sa.column("user_id", sa.Uuid),
    sa.column("model_name", sa.String),
    sa.column("provider_name", sa.String),
    sa.column("currency", sa.String),
)


def _sum(name: str) -> Any:
    return sa.cast(sa.func.sum(_daily.c[name]), sa.BigInteger)


def upgrade() -> None:
    c = _daily.c
    op.execute(sa.delete(_daily).where(c.grain >= MONTHLY))
    if op.get_bind().dialect.name == "postgresql":
        month: Any = sa.cast(sa.func.date_trunc("month", c.day), sa.Date)
    else:
        month = sa.func.date(c.day, "start of month")
    scale = sa.literal(_SCALE, sa.BigInteger)
    amounts = []
    for money in ("cost", "credits"):
        frac = _sum(f"{money}_frac")
        amounts += [_sum(f"{money}_whole") + frac // scale, frac % scale]
    grain = c.grain + MONTHLY
    query = (
        sa.select(
            grain,
            month,
            *(c[name] for name in _DIMS),
            *(_sum(name) for name in _COUNTS),
            *amounts,
        )
        .where(c.grain != FINEST, c.grain < MONTHLY)
        .group_by(grain, month, *(c[name] for name in _DIMS))
    )
    columns = ["grain", "day", *_DIMS, *_COUNTS, *_AMOUNTS]
    op.execute(sa.insert(_daily).from_select(columns, query))


def downgrade() -> None:
    op.execute(sa.delete(_daily).where(_daily.c.grain >= MONTHLY))
