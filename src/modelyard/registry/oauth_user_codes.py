"""User codes of device sign-in (RFC 8628 section 6.1): what the person types at ``/device``.

``BDWP-HQPK``: 8 letters from 20 consonants (about 35 bits), no vowels (so no words) and no
look-alikes (no 0/O, 1/I/L), read leniently: any case, with or without the dash or spaces.
Wrong codes a signed-in user enters are counted in ``login_failures`` under a key no email
can have (``device-code:<user id>``); past 10 in 15 minutes the user is refused for a while
(RFC 8628 section 5.1: nobody sweeps the code space from one account).
"""

from __future__ import annotations

import math
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select

from modelyard.db.auth_tables import LoginFailure
from modelyard.errors import TooManyAttempts
from modelyard.registry.tx import Tx

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_HALF = 4
MISSES_ALLOWED = 10
MISS_WINDOW = timedelta(minutes=15)
MISS_KEY = "device-code:"


def new_user_code() -> str:
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(2 * USER_CODE_HALF))
    return f"{letters[:USER_CODE_HALF]}-{letters[USER_CODE_HALF:]}"


def normalize_user_code(text: str) -> str | None:
    """A user code as typed (``bdwp hqpk``, ``BDWP-HQPK``) in its stored form, or None when
    it cannot be one (so nothing is looked up for garbage)."""
    letters = "".join(ch for ch in text.upper()[:64] if ch.isalnum())
    if len(letters) != 2 * USER_CODE_HALF or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return None
    return f"{letters[:USER_CODE_HALF]}-{letters[USER_CODE_HALF:]}"


async def admit(tx: Tx, user_id: uuid.UUID) -> str:
    """Refuse a user who entered too many wrong codes lately; their miss key otherwise."""
    key = f"{MISS_KEY}{user_id}"
    since = tx.now - MISS_WINDOW
    await tx.session.execute(
        delete(LoginFailure).where(LoginFailure.email_normalized == key, LoginFailure.at <= since)
    )
    misses = await tx.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email_normalized == key, LoginFailure.at > since)
    )
    if (misses or 0) >= MISSES_ALLOWED:
        oldest = await tx.session.scalar(
            select(func.min(LoginFailure.at)).where(
                LoginFailure.email_normalized == key, LoginFailure.at > since
            )
        )
        wait = max(1.0, ((oldest or tx.now) + MISS_WINDOW - tx.now).total_seconds())
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyAttempts(f"too many wrong device codes; try again in {minutes} minutes", wait)
    return key


def miss(tx: Tx, key: str) -> None:
    tx.session.add(LoginFailure(email_normalized=key, address="", at=tx.now))
