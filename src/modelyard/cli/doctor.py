"""``modelyard doctor``: is this installation healthy? Each check says ok or what to fix."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import dataclass

import typer
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from modelyard.db.auth_tables import OAuthSigningKey
from modelyard.db.engine import create_engine
from modelyard.db.migrate import current_revision, head_revision
from modelyard.db.tables import Provider
from modelyard.errors import Misconfigured, SecretUnreadable
from modelyard.kinds.base import kinds, problems
from modelyard.registry.secrets import Keyring, sealed_parts
from modelyard.registry.signing_keys import sealing_context
from modelyard.registry.tx import Database
from modelyard.services import Registry
from modelyard.settings import Settings

from ._common import ACTOR, JsonFlag, describe, load_settings, print_json, table
from ._database import require_database


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _settings_check(settings: Settings) -> Check:
    """Settings parsed; the key file, if one is used, is private to its owner (0600)."""
    name = "settings"
    path = settings.master_key_file
    if settings.master_key is None and path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Check(name, False, f"{path} has mode {mode:04o}; run `chmod 600 {path}`")
        return Check(name, True, f"values valid; key file {path} has mode {mode:04o}")
    return Check(name, True, "values valid")


def _keyring(settings: Settings) -> tuple[Check, Keyring | None]:
    try:
        keyring = Keyring.from_settings(settings)
    except (Misconfigured, OSError) as exc:
        return Check("master key", False, describe(exc)), None
    detail = f"{len(keyring.keys)} key(s) readable, primary {keyring.primary_id}"
    return Check("master key", True, detail), keyring


async def _secrets(registry: Registry, keyring: Keyring | None) -> Check:
    """Every sealed secret (provider keys, ID-token signing keys) opens with the configured
    master keys (what a server's readiness checks too); a failure names the providers or
    keys and why, never key material."""
    name = "sealed secrets"
    async with registry.db.read(ACTOR) as tx:
        providers = await tx.session.execute(
            select(Provider.id, Provider.name, Provider.api_key_sealed).where(
                Provider.api_key_sealed.is_not(None)
            )
        )
        signing = await tx.session.execute(
            select(OAuthSigningKey.kid, OAuthSigningKey.private_sealed)
        )
        rows = [(f"provider:{pid}", provider, sealed) for pid, provider, sealed in providers]
        rows += [(sealing_context(kid), f"signing key {kid}", sealed) for kid, sealed in signing]
    by_key: dict[str, int] = {}
    unreadable: list[str] = []
    for context, provider, sealed in rows:
        try:
            kid = sealed_parts(sealed or "")[1]
            if keyring is None:
                raise SecretUnreadable("no master key is configured")
            keyring.open(sealed or "", context=context)
            by_key[kid] = by_key.get(kid, 0) + 1
        except SecretUnreadable as exc:
            unreadable.append(f"{provider} ({exc.message})")
    counts = ", ".join(f"{kid}: {n}" for kid, n in sorted(by_key.items())) or "none sealed"
    if unreadable:
        return Check(
            name,
            False,
            f"{len(unreadable)} of {len(rows)} cannot be opened: {'; '.join(unreadable)}; "
            "configure the key that sealed them",
        )
    return Check(name, True, f"{len(rows)} open ({counts})")


async def _kinds(registry: Registry) -> Check:
    """Every plug-in loaded, and every provider's kind installed."""
    name, installed = "provider kinds", kinds()
    async with registry.db.read(ACTOR) as tx:
        rows = (await tx.session.execute(select(Provider.name, Provider.kind))).all()
    trouble = list(problems())
    missing = sorted(f"{provider} ({kind})" for provider, kind in rows if kind not in installed)
    if missing:
        trouble.append(
            f"providers of kinds not installed, skipped by the gateway: {', '.join(missing)}; "
            "install their plug-ins or delete them"
        )
    if trouble:
        return Check(name, False, "; ".join(trouble))
    return Check(name, True, f"{len(installed)} installed: {', '.join(sorted(installed))}")


async def _database(settings: Settings, keyring: Keyring | None) -> list[Check]:
    try:
        require_database(settings)  # connecting would create an empty SQLite file
    except Misconfigured as exc:
        return [Check("database reachable", False, describe(exc))]
    registry = Registry(Database(create_engine(settings.database_url, pool_size=1), keyring))
    checks: list[Check] = []
    try:
        async with registry.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks.append(Check("database reachable", True, _safe_url(settings.database_url)))
        revision, head = await current_revision(registry.db.engine), head_revision()
        if revision != head:
            at = f"at {revision}" if revision else "no schema yet"
            checks.append(Check("migrations", False, f"{at}, head is {head}; run `modelyard init`"))
            return checks
        checks.append(Check("migrations", True, f"at head {head}"))
        checks.append(await _secrets(registry, keyring))
        checks.append(await _kinds(registry))
        report = await registry.audit.verify(ACTOR)
        detail = f"{report.checked} events intact"
        if not report.ok:
            detail = f"broken at event {report.broken_at}: {report.reason}"
        checks.append(Check("audit trail", report.ok, detail))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        failed = "database reachable" if not checks else "database query"
        checks.append(Check(failed, False, describe(exc)))
    finally:
        await registry.close()
    return checks


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def run_checks() -> list[Check]:
    try:
        settings = load_settings()
    except Misconfigured as exc:
        return [Check("settings", False, describe(exc))]
    key_check, keyring = _keyring(settings)
    checks = [_settings_check(settings), key_check]
    return checks + asyncio.run(_database(settings, keyring))


def doctor(as_json: JsonFlag = False) -> None:
    """Check the database, migrations, master key, sealed secrets, provider kinds, settings."""
    checks = run_checks()
    ok = all(c.ok for c in checks)
    if as_json:
        print_json({"ok": ok, "checks": checks})
    else:
        table(
            ("check", "status", "detail"),
            ((c.name, "ok" if c.ok else "FAIL", c.detail) for c in checks),
        )
    if not ok:
        raise typer.Exit(1)
