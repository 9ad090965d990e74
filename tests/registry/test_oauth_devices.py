"""Device authorizations (RFC 8628) in the registry: user codes, approval, polling, expiry."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from modelyard.db.auth_tables import OAuthConsent, OAuthDeviceCode
from modelyard.errors import NotFound, TooManyAttempts
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_devices import hash_code
from modelyard.registry.oauth_user_codes import (
    USER_CODE_ALPHABET,
    new_user_code,
    normalize_user_code,
)
from modelyard.services import Registry
from tests.registry.helpers import member
from tests.support.client_rows import Clock, add_client


def test_user_codes_use_the_unambiguous_alphabet() -> None:
    assert set(USER_CODE_ALPHABET).isdisjoint("AEIOUY01")
    codes = {new_user_code() for _ in range(200)}
    assert len(codes) == 200
    half = "[BCDFGHJKLMNPQRSTVWXZ]{4}"
    assert all(re.fullmatch(f"{half}-{half}", c) for c in codes)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("BDWP-HQPK", "BDWP-HQPK"),
        ("bdwphqpk", "BDWP-HQPK"),
        (" bdwp hqpk ", "BDWP-HQPK"),
        ("BDWP\u2013HQPK", "BDWP-HQPK"),  # an en dash
        ("BDWP-HQP", None),
        ("BDWP-HQPA", None),
        ("B0WP-HQPK", None),
        ("", None),
        ("x" * 10_000, None),
    ],
)
def test_user_codes_are_read_leniently(typed: str, stored: str | None) -> None:
    assert normalize_user_code(typed) == stored


@pytest.fixture
def clock(registry: Registry) -> Clock:
    moved = Clock()
    registry.db.clock = moved
    return moved


async def test_approve_then_one_poll_gets_the_grant(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    cli, _ = await add_client(registry, "cli")
    alice = await member(registry, admin)
    start = await registry.oauth_devices.start(cli, ["models.read", "llm.inference"])
    assert (start.expires_in, start.interval) == (900, 5)
    async with registry.db.read(admin) as tx:
        row = await tx.session.scalar(select(OAuthDeviceCode))
    assert row is not None
    assert row.device_hash == hash_code(start.device_code)
    assert start.device_code not in str(row.__dict__)

    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "pending"
    shown = await registry.oauth_devices.pending(alice, start.user_code.lower())
    assert (shown.client_id, shown.scopes) == ("cli", ["llm.inference", "models.read"])
    await registry.oauth_devices.decide(alice, start.user_code, approve=True)

    clock.advance(5)
    got = await registry.oauth_devices.poll(cli, start.device_code)
    assert (got.outcome, got.user_id, got.scopes) == (
        "approved",
        alice.user_id,
        ("llm.inference", "models.read"),
    )
    clock.advance(5)
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "invalid"
    async with registry.db.read(admin) as tx:
        consent = await tx.session.scalar(select(OAuthConsent))
    assert consent is not None
    assert consent.scopes == ["llm.inference", "models.read"]
    with pytest.raises(NotFound):
        await registry.oauth_devices.decide(alice, start.user_code, approve=False)


async def test_deny_answers_denied(registry: Registry, admin: Actor, clock: Clock) -> None:
    cli, _ = await add_client(registry, "cli")
    alice = await member(registry, admin)
    start = await registry.oauth_devices.start(cli, ["models.read"])
    await registry.oauth_devices.decide(alice, start.user_code, approve=False)
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "denied"
    async with registry.db.read(admin) as tx:
        assert await tx.session.scalar(select(OAuthConsent)) is None


async def test_polling_too_fast_slows_down_for_good(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    cli, _ = await add_client(registry, "cli")
    start = await registry.oauth_devices.start(cli, ["models.read"])
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "pending"
    clock.advance(2)
    slow = await registry.oauth_devices.poll(cli, start.device_code)
    assert (slow.outcome, slow.interval) == ("slow_down", 10)
    clock.advance(6)  # the old interval, no longer enough
    assert (await registry.oauth_devices.poll(cli, start.device_code)).interval == 15
    clock.advance(15)
    again = await registry.oauth_devices.poll(cli, start.device_code)
    assert (again.outcome, again.interval) == ("pending", 15)


async def test_expiry_follows_the_setting(registry: Registry, admin: Actor, clock: Clock) -> None:
    await registry.settings.set(admin, "auth.device_code_ttl_s", 120)
    cli, _ = await add_client(registry, "cli")
    alice = await member(registry, admin)
    start = await registry.oauth_devices.start(cli, ["models.read"])
    assert start.expires_in == 120
    clock.advance(121)
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "expired"
    with pytest.raises(NotFound):
        await registry.oauth_devices.decide(alice, start.user_code, approve=True)
    clock.advance(3600)  # long gone: the next start deletes it
    await registry.oauth_devices.start(cli, ["models.read"])
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "invalid"


async def test_another_client_cannot_poll_or_burn_the_code(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    cli, _ = await add_client(registry, "cli")
    other, _ = await add_client(registry, "other")
    alice = await member(registry, admin)
    start = await registry.oauth_devices.start(cli, ["models.read"])
    await registry.oauth_devices.decide(alice, start.user_code, approve=True)
    assert (await registry.oauth_devices.poll(other, start.device_code)).outcome == "invalid"
    assert (await registry.oauth_devices.poll(other, "garbage")).outcome == "invalid"
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "approved"


async def test_unknown_codes_and_disabled_clients_are_not_shown(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    off, _ = await add_client(registry, "off", enabled=False)
    alice = await member(registry, admin)
    start = await registry.oauth_devices.start(off, ["models.read"])
    for code in (start.user_code, "BCDF-GHJK", "nonsense"):
        with pytest.raises(NotFound) as caught:
            await registry.oauth_devices.pending(alice, code)
        assert caught.value.code == "DEVICE_CODE_NOT_FOUND"


async def test_wrong_codes_are_throttled_per_user(
    registry: Registry, admin: Actor, clock: Clock
) -> None:
    await registry.settings.set(admin, "auth.device_code_ttl_s", 3600)
    cli, _ = await add_client(registry, "cli")
    alice = await member(registry, admin)
    bob = await member(registry, admin, "bob")
    start = await registry.oauth_devices.start(cli, ["models.read"])
    for _ in range(10):
        with pytest.raises(NotFound):
            await registry.oauth_devices.pending(alice, "BCDF-GHJK")
    for call in (
        registry.oauth_devices.pending(alice, start.user_code),  # even a right one, for now
        registry.oauth_devices.decide(alice, start.user_code, approve=True),
    ):
        with pytest.raises(TooManyAttempts) as caught:
            await call
        assert caught.value.details["retry_after"] == 900
    assert (await registry.oauth_devices.pending(bob, start.user_code)).client_id == "cli"
    clock.advance(901)
    await registry.oauth_devices.decide(alice, start.user_code, approve=True)
    assert (await registry.oauth_devices.poll(cli, start.device_code)).outcome == "approved"
