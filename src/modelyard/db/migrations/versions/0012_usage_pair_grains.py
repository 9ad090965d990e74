"""Two more roll-up grains in ``usage_daily``: per user and provider (grain 5) and per model
and provider (grain 6), so that totals grouped by those pairs read a row per pair and day
rather than the finest grain's row per user, model and provider (at 10 million calls, 1.2-1.6
seconds over 30 days). Both are summed from the finest grain (0) already kept, exactly: the
fractions are added as integers and carried into the whole part, as the writer does. Any
row of those grains already there is replaced, so the upgrade can run after a version that
wrote them. The downgrade deletes them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 20:40:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINEST, USER_PROVIDER, MODEL_PROVIDER = 0, 5, 6
_NO_USER = uuid.UUID(int=0)
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
_KEY = ("grain", "day", "user_id", "model_name", "provider_name", "currency")
_daily = sa.table(
    "usage_daily",
    *(sa.column(name, sa.BigInteger) for name in _COUNTS),
    *(sa.column(f"{m}_{p}", sa.BigInteger) for m in ("cost", "credits") for p in ("whole", "frac")),
    sa.column("grain", sa.SmallInteger),
    sa.column("day", sa.Date),
    sa.column("user_id", sa.Uuid),
    sa.column("model_name", sa.String),
    sa.column("provider_name", sa.String),
    sa.column("currency", sa.String),
)


def _sum(name: str) -> Any:
    return sa.cast(sa.func.sum(_daily.c[name]), sa.BigInteger)


def _fill(grain: int, keeps_user: bool) -> None:
    """Insert ``grain``'s rows summed from the finest grain's: the user or the model left
    out (no-user / no-name key)."""
    c = _daily.c
    kept = c.user_id if keeps_user else c.model_name
    user = c.user_id if keeps_user else sa.literal(_NO_USER, sa.Uuid)
    model = sa.literal("", sa.String) if keeps_user else c.model_name
    scale = sa.literal(_SCALE, sa.BigInteger)
    amounts = []
    for money in ("cost", "credits"):
        frac = _sum(f"{money}_frac")
        amounts += [_sum(f"{money}_whole") + frac // scale, frac % scale]
    query = (
        sa.select(
            sa.literal(grain, sa.SmallInteger),
            c.day,
            user,
            model,
            c.provider_name,
            c.currency,
            *(_sum(name) for name in _COUNTS),
            *amounts,
        )
        .where(c.grain == FINEST)
        .group_by(c.day, kept, c.provider_name, c.currency)
    )
    columns = [
        *_KEY,
        *_COUNTS,
        *(f"{m}_{p}" for m in ("cost", "credits") for p in ("whole", "frac")),
    ]
    op.execute(sa.insert(_daily).from_select(columns, query))


def upgrade() -> None:
    op.execute(sa.delete(_daily).where(_daily.c.grain.in_([USER_PROVIDER, MODEL_PROVIDER])))
    _fill(USER_PROVIDER, keeps_user=True)
    _fill(MODEL_PROVIDER, keeps_user=False)


def downgrade() -> None:
    op.execute(sa.delete(_daily).where(_daily.c.grain.in_([USER_PROVIDER, MODEL_PROVIDER])))
