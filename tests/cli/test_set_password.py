"""`modelyard users set-password`: asked twice (hidden) or read from stdin; never echoed."""

from __future__ import annotations

import asyncio
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from modelyard.db.engine import create_engine
from modelyard.db.tables import AuditEvent, User
from tests.cli.conftest import Cli

PASSWORD = "a long enough passphrase"


def _stored(database_url: str, email: str) -> tuple[str | None, list[Any]]:
    """The user's password hash and the `after` of every user.password_set event."""

    async def _read() -> tuple[str | None, list[Any]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                stored = await conn.scalar(
                    select(User.password_hash).where(User.email_normalized == email)
                )
                events = await conn.scalars(
                    select(AuditEvent.after).where(AuditEvent.action == "user.password_set")
                )
                return stored, list(events)
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def test_set_from_stdin(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    result = ready.ok(
        "users", "set-password", "bob@example.com", "--password-stdin", input=PASSWORD + "\n"
    )
    assert PASSWORD not in result.output
    assert "Password set for bob@example.com" in result.output
    stored, events = _stored(ready.database_url, "bob@example.com")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, PASSWORD)
    assert events == [{"had_password": True, "by": "admin"}]


def test_asked_twice_hidden(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    result = ready.ok("users", "set-password", "bob@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in result.output
    stored, _ = _stored(ready.database_url, "bob@example.com")
    assert stored is not None
    assert PasswordHasher().verify(stored, PASSWORD)


def test_a_mismatch_is_asked_again(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    typed = f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n"
    result = ready.ok("users", "set-password", "bob@example.com", input=typed)
    assert "do not match" in result.output
    stored, _ = _stored(ready.database_url, "bob@example.com")
    assert stored is not None
    assert PasswordHasher().verify(stored, PASSWORD)


def test_the_policy_is_enforced(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    short = ready.fails(
        "users", "set-password", "bob@example.com", "--password-stdin", input="short\n"
    )
    assert "(VALIDATION_FAILED)" in short
    assert "at least 12 characters" in short
    assert "short\n" not in short
    email = ready.fails(
        "users", "set-password", "bob@example.com", "--password-stdin", input="Bob@Example.com\n"
    )
    assert "email" in email
    assert "(USER_NOT_FOUND)" in ready.fails(
        "users", "set-password", "nobody@example.com", "--password-stdin", input=PASSWORD
    )
    assert _stored(ready.database_url, "bob@example.com") == (None, [])
