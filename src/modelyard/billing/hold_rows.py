"""The ``credit_holds`` rows of one gateway process, as :class:`holds.CreditKeeper` reads and
writes them: each statement runs inside a short transaction the keeper opened under the
user's lock, so the rows of one user change one process at a time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import CreditHold
from modelyard.registry.tx import Database


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """One short write transaction on its own connection, off the registry's unit of work."""
    async with db.engine.connect() as plain:
        conn = await plain.execution_options(modelyard_write=True)
        async with AsyncSession(bind=conn, expire_on_commit=False) as session, session.begin():
            yield session


async def others(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, holder: str
) -> dict[str, Decimal]:
    """Every other process's unexpired hold for the user, by holder (one row per replica)."""
    rows = await session.execute(
        select(CreditHold.holder, CreditHold.amount).where(
            CreditHold.user_id == user_id,
            CreditHold.expires_at > now,
            CreditHold.holder != holder,
        )
    )
    return {name: amount for name, amount in rows.all()}


async def write(
    session: AsyncSession,
    postgres: bool,
    user_id: uuid.UUID,
    holder: str,
    amount: Decimal,
    expires: datetime,
) -> None:
    """Set this holder's hold for the user (none at all when ``amount`` is not positive)."""
    if amount <= 0:
        await session.execute(
            delete(CreditHold).where(CreditHold.user_id == user_id, CreditHold.holder == holder)
        )
        return
    dialect = postgresql if postgres else sqlite
    values = {"user_id": user_id, "holder": holder, "amount": amount, "expires_at": expires}
    statement = dialect.insert(CreditHold).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "holder"],
            set_={"amount": amount, "expires_at": expires},
        )
    )


async def extend(session: AsyncSession, holder: str, expires: datetime) -> None:
    await session.execute(
        update(CreditHold).where(CreditHold.holder == holder).values(expires_at=expires)
    )


async def release_all(session: AsyncSession, holder: str) -> None:
    await session.execute(delete(CreditHold).where(CreditHold.holder == holder))
