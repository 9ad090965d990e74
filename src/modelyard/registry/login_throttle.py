"""Sign-in throttling: failed attempts counted per account and per address in a window.

Each attempt is counted *before* its password is checked, in the same write transaction
that checks the limits (:func:`admit`), and uncounted when it succeeds (:func:`forgive`).
So concurrent guesses cannot slip past a limit while their hashes are being verified, and
unknown emails are counted exactly like known ones (nobody learns which accounts exist).
The limits are the system setting ``auth.login_throttle``.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select

from modelyard.db.auth_tables import LoginFailure
from modelyard.errors import TooManyAttempts
from modelyard.registry.system_settings import LoginThrottle, setting_value
from modelyard.registry.tx import Tx

THROTTLE = "auth.login_throttle"


async def limits(tx: Tx) -> LoginThrottle:
    return LoginThrottle.model_validate(await setting_value(tx, THROTTLE))


async def _retry_after(
    tx: Tx, where: ColumnElement[bool], since: datetime, limit: int, window: timedelta
) -> float | None:
    """Seconds until fewer than ``limit`` failures matching ``where`` are in the window,
    or None when there already are."""
    count = await tx.session.scalar(
        select(func.count()).select_from(LoginFailure).where(where, LoginFailure.at > since)
    )
    if (count or 0) < limit:
        return None
    # the failure whose leaving the window brings the count below the limit
    freeing = await tx.session.scalar(
        select(LoginFailure.at)
        .where(where, LoginFailure.at > since)
        .order_by(LoginFailure.at)
        .offset((count or 0) - limit)
        .limit(1)
    )
    assert freeing is not None
    return max(1.0, (freeing + window - tx.now).total_seconds())


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return f"{math.ceil(seconds)} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


async def admit(tx: Tx, email_normalized: str, address: str) -> uuid.UUID:
    """Refuse (TooManyAttempts, naming the account or the address and when to retry) or
    count this attempt as a failure until :func:`forgive` says otherwise; returns its id."""
    rules = await limits(tx)
    window = timedelta(seconds=rules.window_s)
    since = tx.now - window
    await tx.session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
    account = LoginFailure.email_normalized == email_normalized
    wait = await _retry_after(tx, account, since, rules.per_account, window)
    if wait is not None:
        raise TooManyAttempts(
            "too many failed sign-ins for this account; try again in " + _wait_text(wait), wait
        )
    wait = await _retry_after(tx, LoginFailure.address == address, since, rules.per_address, window)
    if wait is not None:
        raise TooManyAttempts(
            "too many failed sign-ins from this address; try again in " + _wait_text(wait), wait
        )
    row = LoginFailure(
        id=uuid.uuid4(), email_normalized=email_normalized[:320], address=address, at=tx.now
    )
    tx.session.add(row)
    await tx.session.flush()
    return row.id


async def forgive(tx: Tx, email_normalized: str) -> None:
    """A successful sign-in: the account's failures are forgotten (its address's stay, so
    one known password cannot reset an address's count of guesses at other accounts)."""
    await tx.session.execute(
        delete(LoginFailure).where(LoginFailure.email_normalized == email_normalized)
    )
