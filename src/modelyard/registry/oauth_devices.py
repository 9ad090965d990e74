"""Device authorizations (RFC 8628): a CLI or headless app asks for a device code, shows its
user a short user code, and polls while that user approves it in a browser at ``/device``.

Rules kept here, whatever the HTTP layer on top:

- the device code is a long random string stored only as its SHA-256; the user code is short
  (``BDWP-HQPK``, see :mod:`modelyard.registry.oauth_user_codes`);
- a code lives ``auth.device_code_ttl_s`` seconds (a system setting, 900 by default); expired
  rows are kept an hour so a late poll hears ``expired_token`` rather than "unknown", then
  deleted by the next start;
- an app has at most 1000 codes waiting for approval at once, so a public client's id
  (which anyone may send) cannot be used to fill the table;
- a poll sooner than the code's interval after the previous one answers ``slow_down`` and
  adds 5 seconds to the interval for this and every later poll (RFC 8628 section 3.5);
- an approved code yields tokens once: the poll that sees it approved marks it used in the
  same transaction, so two racing polls cannot both get tokens;
- wrong user codes entered by one signed-in user are counted: past 10 in 15 minutes they
  are refused for a while (RFC 8628 section 5.1);
- approving remembers the scopes as the user's consent to the client (so the app shows up
  under connected apps, where it can be revoked); issuing and approving codes are not
  configuration changes and are not audited.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select

from modelyard.db.auth_tables import OAuthClient, OAuthDeviceCode
from modelyard.db.tables import User
from modelyard.errors import Conflict, NotFound, TooManyAttempts
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_codes import add_consent
from modelyard.registry.oauth_user_codes import admit, miss, new_user_code, normalize_user_code
from modelyard.registry.system_settings import setting_value
from modelyard.registry.tx import Database, Tx

TTL_SETTING = "auth.device_code_ttl_s"
DEFAULT_INTERVAL_S = 5
SLOW_DOWN_STEP_S = 5
MAX_INTERVAL_S = 60
KEEP_AFTER_EXPIRY = timedelta(hours=1)
MAX_WAITING_PER_CLIENT = 1000  # codes nobody approved yet: a flood fills no table

Outcome = Literal["pending", "slow_down", "expired", "denied", "approved", "invalid"]


@dataclass(frozen=True)
class DeviceStart:
    """What the device authorization endpoint answers (the device code is shown only here)."""

    device_code: str
    user_code: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class DeviceRequest:
    """A pending request as the /device page shows it to the signed-in user."""

    user_code: str
    client_id: str
    client_name: str
    scopes: list[str]
    expires_at: datetime


@dataclass(frozen=True)
class Poll:
    """One poll's verdict; ``user_id`` and ``scopes`` are set when ``outcome`` is approved."""

    outcome: Outcome
    interval: int = DEFAULT_INTERVAL_S
    user_id: uuid.UUID | None = None
    scopes: tuple[str, ...] = ()


def hash_code(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def client_actor(client_id: str) -> Actor:
    """Who acts when a client starts or polls: no user, no scopes (nothing here is audited)."""
    return Actor(user_id=None, role="member", label=f"oauth:{client_id}"[:200], scopes=frozenset())


async def _ttl_s(tx: Tx) -> int:
    return int(await setting_value(tx, TTL_SETTING))


def _unknown() -> NotFound:
    return NotFound(
        "that code is unknown, expired or already used; start again on your device",
        code="DEVICE_CODE_NOT_FOUND",
    )


class OAuthDevices:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def start(self, client: OAuthClient, scopes: list[str]) -> DeviceStart:
        """Issue a device code and a user code for ``client`` (already authenticated and its
        scopes already checked by the caller)."""
        async with self.db.write(client_actor(client.client_id)) as tx:
            await tx.session.execute(
                delete(OAuthDeviceCode).where(
                    OAuthDeviceCode.expires_at < tx.now - KEEP_AFTER_EXPIRY
                )
            )
            waiting = await tx.session.scalar(
                select(func.count())
                .select_from(OAuthDeviceCode)
                .where(
                    OAuthDeviceCode.client_pk == client.id,
                    OAuthDeviceCode.status == "pending",
                    OAuthDeviceCode.expires_at > tx.now,
                )
            )
            if (waiting or 0) >= MAX_WAITING_PER_CLIENT:
                raise TooManyAttempts(
                    "too many device sign-ins of this app are waiting for approval; try later",
                    DEFAULT_INTERVAL_S * 12,
                )
            ttl = await _ttl_s(tx)
            user_code = await _free_user_code(tx)
            device_code = secrets.token_urlsafe(32)
            tx.session.add(
                OAuthDeviceCode(
                    device_hash=hash_code(device_code),
                    user_code=user_code,
                    client_pk=client.id,
                    scopes=sorted(set(scopes)),
                    status="pending",
                    interval_s=DEFAULT_INTERVAL_S,
                    created_at=tx.now,
                    expires_at=tx.now + timedelta(seconds=ttl),
                )
            )
        return DeviceStart(device_code, user_code, ttl, DEFAULT_INTERVAL_S)

    async def pending(self, actor: Actor, user_code: str) -> DeviceRequest:
        """The pending request behind ``user_code``, for the user to review; NotFound when the
        code is unknown, expired or already decided (the page says so, nothing else), and
        TooManyAttempts after too many of those."""
        user_id = _user_of(actor)
        async with self.db.write(actor) as tx:
            key = await admit(tx, user_id)
            found = await _pending(tx, user_code)
            if found is None:
                miss(tx, key)
            else:
                row, client = found
                return DeviceRequest(
                    row.user_code, client.client_id, client.name, list(row.scopes), row.expires_at
                )
        raise _unknown()

    async def decide(self, actor: Actor, user_code: str, *, approve: bool) -> DeviceRequest:
        """The signed-in ``actor`` approves or denies the request behind ``user_code``."""
        user_id = _user_of(actor)
        async with self.db.write(actor) as tx:
            key = await admit(tx, user_id)
            found = await _pending(tx, user_code)
            user = await tx.session.get(User, user_id)
            if user is None or user.deleted_at is not None or user.status != "active":
                raise NotFound("no such user", code="USER_NOT_FOUND")
            if found is None:
                miss(tx, key)
            else:
                row, client = found
                row.status = "approved" if approve else "denied"
                row.user_id = user.id
                if approve:
                    await add_consent(tx, user.id, client.id, list(row.scopes))
                return DeviceRequest(
                    row.user_code, client.client_id, client.name, list(row.scopes), row.expires_at
                )
        raise _unknown()

    async def poll(self, client: OAuthClient, device_code: str) -> Poll:
        """The device's poll: pending (or slow_down), expired, denied, approved (once), or
        invalid for a code that is unknown, used, or another client's."""
        async with self.db.write(client_actor(client.client_id)) as tx:
            row = await tx.session.scalar(
                select(OAuthDeviceCode).where(OAuthDeviceCode.device_hash == hash_code(device_code))
            )
            if row is None or row.client_pk != client.id or row.status == "used":
                return Poll("invalid")
            if row.expires_at <= tx.now:
                return Poll("expired", row.interval_s)
            if row.status == "denied":
                return Poll("denied", row.interval_s)
            if row.status == "approved":
                row.status = "used"
                return Poll("approved", row.interval_s, row.user_id, tuple(row.scopes))
            too_soon = row.last_polled_at is not None and tx.now - row.last_polled_at < timedelta(
                seconds=row.interval_s
            )
            row.last_polled_at = tx.now
            if too_soon:
                row.interval_s = min(row.interval_s + SLOW_DOWN_STEP_S, MAX_INTERVAL_S)
                return Poll("slow_down", row.interval_s)
            return Poll("pending", row.interval_s)


async def _free_user_code(tx: Tx) -> str:
    """A user code no kept row has (a clash is one in billions; try a few times)."""
    for _ in range(8):
        code = new_user_code()
        taken = await tx.session.scalar(
            select(OAuthDeviceCode.id).where(OAuthDeviceCode.user_code == code)
        )
        if taken is None:
            return code
    raise Conflict("could not draw a free user code; try again", code="USER_CODE_BUSY")


def _user_of(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise Conflict("a device is approved by a signed-in user", code="NOT_A_USER")
    return actor.user_id


async def _pending(tx: Tx, user_code: str) -> tuple[OAuthDeviceCode, OAuthClient] | None:
    code = normalize_user_code(user_code)
    if code is None:
        return None
    found = (
        await tx.session.execute(
            select(OAuthDeviceCode, OAuthClient)
            .join(OAuthClient, OAuthClient.id == OAuthDeviceCode.client_pk)
            .where(
                OAuthDeviceCode.user_code == code,
                OAuthDeviceCode.status == "pending",
                OAuthDeviceCode.expires_at > tx.now,
                OAuthClient.enabled.is_(True),
            )
        )
    ).first()
    return None if found is None else (found[0], found[1])
