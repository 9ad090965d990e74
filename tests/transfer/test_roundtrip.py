"""Export, import into an empty database, export again: the same document; secrets only
sealed; a dry run changes nothing; a real import writes a backup first."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from modelyard.bootstrap import bootstrap
from modelyard.db.tables import AuditEvent, Provider
from modelyard.errors import ModelyardError, ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.audit_log import AuditFilter
from modelyard.registry.common import PageRequest
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.transfer.document import dumps
from modelyard.transfer.service import export_registry, import_registry
from tests.transfer.conftest import populate

OPENAI_KEY = "sk-populateOPENAIkey0000000001"


async def _audit_count(registry: Registry) -> int:
    async with registry.db.read(Actor.operator()) as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def _key_of(registry: Registry, name: str) -> str | None:
    async with registry.db.read(Actor.operator()) as tx:
        provider = await tx.session.scalar(
            select(Provider).where(Provider.name == name, Provider.owner_user_id.is_(None))
        )
        assert provider is not None
        if provider.api_key_sealed is None:
            return None
        return tx.keyring.open(provider.api_key_sealed, context=f"provider:{provider.id}")


async def _into_second(settings: Settings, second: Registry) -> Actor:
    result = await bootstrap(settings, second, migrate=False)
    assert result.admin_key is not None
    return await second.keys.authenticate(result.admin_key)


async def test_export_import_export_gives_the_same_document(
    registry: Registry, admin: Actor, second: Registry, settings: Settings
) -> None:
    await populate(registry, admin)
    first = await export_registry(registry, admin)
    text = dumps(first)
    assert OPENAI_KEY.encode() not in text
    other = await _into_second(settings, second)
    report = await import_registry(second, other, text, source="export.json")
    assert report.format == "modelyard"
    assert report.counts()["created"] > 0
    assert dumps(await export_registry(second, other)) == dumps(_without_key_enabled(first))
    # the key was left out: the provider that had one is imported disabled, and says so
    assert any(c.name == "openai.enabled" for c in report.changes)
    assert await _key_of(second, "openai") is None


def _without_key_enabled(document: dict[str, Any]) -> dict[str, Any]:
    """The document as an import without secrets can rebuild it: keyed providers disabled."""
    copy: dict[str, Any] = orjson.loads(dumps(document))
    for provider in copy["providers"]:
        if provider["name"] == "openai":
            provider["enabled"] = False
    return copy


@pytest.mark.parametrize("passphrase", [None, "correct horse battery staple"])
async def test_secrets_travel_sealed_and_come_back(
    registry: Registry,
    admin: Actor,
    second: Registry,
    settings: Settings,
    passphrase: str | None,
) -> None:
    await populate(registry, admin)
    document = await export_registry(registry, admin, with_secrets=True, passphrase=passphrase)
    text = dumps(document)
    assert OPENAI_KEY.encode() not in text
    sealed = next(p["api_key"] for p in document["providers"] if p["name"] == "openai")
    assert sealed["sealed_by"] == ("passphrase" if passphrase else "master_key")
    other = await _into_second(settings, second)
    await import_registry(
        second, other, text, source="x.json", with_secrets=True, passphrase=passphrase
    )
    assert await _key_of(second, "openai") == OPENAI_KEY
    again = await export_registry(second, other)
    assert dumps(again) == dumps(await export_registry(registry, admin))


async def test_a_wrong_passphrase_is_refused_and_changes_nothing(
    registry: Registry, admin: Actor, second: Registry, settings: Settings
) -> None:
    await populate(registry, admin)
    text = dumps(await export_registry(registry, admin, with_secrets=True, passphrase="x" * 16))
    other = await _into_second(settings, second)
    before = dumps(await export_registry(second, other))
    with pytest.raises(ValidationFailed, match=r"providers\[\d\]\.api_key"):
        await import_registry(
            second, other, text, source="x.json", with_secrets=True, passphrase="y" * 16
        )
    assert dumps(await export_registry(second, other)) == before


async def test_a_dry_run_reports_and_changes_nothing(registry: Registry, admin: Actor) -> None:
    document = orjson.loads(dumps(await export_registry(registry, admin)))
    document["providers"].append(
        {"name": "extra", "kind": "fake", "models": [{"model_id": "extra-model"}]}
    )
    document["settings"]["custom.flag"] = True
    before, events = dumps(await export_registry(registry, admin)), await _audit_count(registry)
    report = await import_registry(
        registry, admin, orjson.dumps(document), source="d.json", dry_run=True
    )
    created = {(c.entity, c.name) for c in report.changes if c.action == "created"}
    assert created == {
        ("provider", "extra"),
        ("model", "extra/extra-model"),
        ("setting", "custom.flag"),
    }
    assert report.backup is None
    assert dumps(await export_registry(registry, admin)) == before
    assert await _audit_count(registry) == events


async def test_a_real_import_backs_up_first_and_audits_as_the_actor(
    registry: Registry, admin: Actor
) -> None:
    await populate(registry, admin)
    before = await export_registry(registry, admin)
    document = orjson.loads(dumps(before))
    document["providers"][0]["description"] = "changed by import"
    stored: list[bytes] = []

    def keep(content: bytes) -> str:
        stored.append(content)
        return "/backups/one.json"

    report = await import_registry(
        registry, admin, orjson.dumps(document), source="d.json", backup=keep
    )
    assert report.backup == "/backups/one.json"
    backup = orjson.loads(stored[0])
    assert [p["description"] for p in backup["providers"]] == [
        p["description"] for p in before["providers"]
    ]
    assert OPENAI_KEY.encode() not in stored[0]  # the backup keeps keys, sealed
    keyed = next(p for p in backup["providers"] if p["name"] == "openai")
    assert keyed["api_key"]["sealed_by"] == "master_key"
    page = await registry.audit.list(admin, PageRequest(), AuditFilter(action="provider.update"))
    assert page.items[0].actor_label == admin.label


async def test_importing_an_unchanged_export_changes_nothing(
    registry: Registry, admin: Actor
) -> None:
    await populate(registry, admin)
    text = dumps(await export_registry(registry, admin))
    events = await _audit_count(registry)
    report = await import_registry(registry, admin, text, source="same.json", backup=_no_backup)
    assert not report.changed
    assert report.backup is None
    assert await _audit_count(registry) == events


def _no_backup(content: bytes) -> str:
    raise AssertionError("nothing changed: no backup is needed")


def _demo(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in document["providers"] if p["name"] == "demo")
    return found


@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        (lambda d: _demo(d).update(kind="openai"), "KIND_MISMATCH", "(demo)"),
        (
            lambda d: _demo(d)["models"][0].update(prices="x"),
            "VALIDATION_FAILED",
            "prices",
        ),
        (lambda d: _demo(d).update(base_url=7), "VALIDATION_FAILED", "base_url"),
        (lambda d: d["providers"].append(d["providers"][0]), "VALIDATION_FAILED", "twice"),
        (lambda d: d.update(plans="none"), "VALIDATION_FAILED", "plans"),
        (
            lambda d: _demo(d)["models"][0]["prices"][0].update(input_per_mtok="lots"),
            "VALIDATION_FAILED",
            "input_per_mtok",
        ),
    ],
)
async def test_a_malformed_document_is_refused_whole(
    registry: Registry, admin: Actor, change: Any, code: str, where: str
) -> None:
    await populate(registry, admin)
    document = orjson.loads(dumps(await export_registry(registry, admin)))
    document["providers"][0]["description"] = "a change that must not land"
    change(document)
    before = dumps(await export_registry(registry, admin))
    with pytest.raises(ModelyardError) as caught:
        await import_registry(registry, admin, orjson.dumps(document), source="bad.json")
    assert caught.value.code == code
    assert where in caught.value.message
    assert dumps(await export_registry(registry, admin)) == before


async def test_a_key_that_cannot_be_opened_is_left_out_of_the_backup_and_said(
    registry: Registry, admin: Actor
) -> None:
    await populate(registry, admin)
    async with registry.db.engine.begin() as conn:
        await conn.execute(
            update(Provider).where(Provider.name == "openai").values(api_key_sealed="v1.gone.AAAA")
        )
    document = orjson.loads(dumps(await export_registry(registry, admin)))
    document["settings"]["custom.flag"] = True
    stored: list[bytes] = []
    report = await import_registry(
        registry,
        admin,
        orjson.dumps(document),
        source="d.json",
        backup=lambda b: str(stored.append(b)),
    )
    assert ("unsupported", "openai.api_key") in {(c.action, c.name) for c in report.changes}
    keyed = next(p for p in orjson.loads(stored[0])["providers"] if p["name"] == "openai")
    assert keyed["api_key"] is None


async def test_an_imported_key_replaces_one_this_installation_cannot_open(
    registry: Registry, admin: Actor
) -> None:
    await populate(registry, admin)
    document = await export_registry(registry, admin, with_secrets=True)
    async with registry.db.engine.begin() as conn:
        await conn.execute(
            update(Provider).where(Provider.name == "openai").values(api_key_sealed="v1.gone.AAAA")
        )
    report = await import_registry(
        registry, admin, dumps(document), source="d.json", with_secrets=True, backup=lambda b: "x"
    )
    assert ("updated", "openai", "api_key") in {
        (c.action, c.name, c.detail) for c in report.changes
    }
    assert await _key_of(registry, "openai") == OPENAI_KEY
