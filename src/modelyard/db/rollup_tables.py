"""The daily usage roll-ups' table (:mod:`modelyard.db.rollup` keeps it), registered on
the registry's ``Base`` by :mod:`modelyard.db.tables`."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.db.tables import Base


class UsageDaily(Base):
    """Daily roll-ups of ``usage_events``: one row per grain, UTC day, user, model, provider
    and currency, kept up to date in the transaction that stores the calls (see
    :mod:`modelyard.db.rollup`), so that charts and rankings never read the calls one by one.

    The key holds no NULL (PostgreSQL's unique keys treat NULLs as distinct): a call without
    a user has :data:`~modelyard.db.rollup.NO_USER`, one without a model, provider or
    currency has ``''``. ``user_id`` is no foreign key: purging a user folds their rows into
    the no-user rows, as ``ON DELETE SET NULL`` does to their calls. Money is summed exactly
    in SQL on both engines as two integers: ``*_whole`` (the sum of each amount's floor) and
    ``*_frac`` (the rest, in units of 10^-10, kept below 10^10 by carrying into ``*_whole``).
    """

    __tablename__ = "usage_daily"
    __table_args__ = (Index("ix_usage_daily_grain_user_day", "grain", "user_id", "day"),)
    # Which of user, model and provider the row keeps (modelyard.db.rollup.GRAINS).
    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)  # status other than ok
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    latency_ms_total: Mapped[int] = mapped_column(BigInteger)
    cost_whole: Mapped[int] = mapped_column(BigInteger)
    cost_frac: Mapped[int] = mapped_column(BigInteger)
    credits_whole: Mapped[int] = mapped_column(BigInteger)
    credits_frac: Mapped[int] = mapped_column(BigInteger)
    credited_calls: Mapped[int] = mapped_column(BigInteger)  # calls with credits (0: none)
