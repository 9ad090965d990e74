"""Hostile or careless input to an import: the gateway's own secrets out of reach, YAML that
expands without bound, values no document holds, files written private whatever was there."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelyard.cli import transfer as cli_transfer
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.transfer import sealing
from modelyard.transfer.document import dumps
from modelyard.transfer.service import export_registry, import_registry
from tests.api.helpers import API, assert_error, auth, ok
from tests.cli.conftest import Cli
from tests.transfer.conftest import SEED004


async def _import(client: httpx.AsyncClient, key: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/import", headers=auth(key), json=body)


def _litellm(api_key: str, api_base: str = "https://llm.example.test/v1") -> str:
    return (
        "model_list:\n"
        "  - model_name: m\n"
        f"    litellm_params: {{model: openai/m, api_base: '{api_base}', api_key: '{api_key}'}}\n"
    )


async def test_an_import_never_reads_the_gateways_own_variables(
    client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_MASTER_KEY", "sk-hostile-master-NOTREAL-0123456789")
    content = _litellm("os.environ/MODELYARD_MASTER_KEY")
    response = await _import(client, admin_key, content=content)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert "MODELYARD_MASTER_KEY" in error["message"]
    assert "sk-hostile-master" not in response.text
    page = ok(await client.get(f"{API}/providers", headers=auth(admin_key)))
    assert page["items"] == []


BOMB = (  # each level ten of the one before: a million values from under a kilobyte
    "format: modelyard-registry\nversion: 1\nsettings:\n"
    "  custom.a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"  custom.{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(5)
    )
)


async def test_yaml_aliases_that_expand_without_bound_are_refused(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await _import(client, admin_key, content=BOMB, dry_run=True)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert "alias" in error["message"]


async def test_a_settings_value_no_json_holds_is_a_422(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    content = (
        "format: modelyard-registry\nversion: 1\n"
        "settings:\n  custom.when: {at: 2030-01-01, 1: two}\n"
    )
    response = await _import(client, admin_key, content=content)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == "settings.custom.when"
    assert "not a string: 1" in error["message"]
    dated = content.replace(", 1: two", "")
    ok(await _import(client, admin_key, content=dated))
    stored = ok(await client.get(f"{API}/settings/custom.when", headers=auth(admin_key)))
    assert stored["value"] == {"at": "2030-01-01"}


def test_an_export_is_private_whatever_was_left_beside_it(
    database_url: str, tmp_path: Path
) -> None:
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    target = tmp_path / "registry.json"
    left = tmp_path / ".registry.json.partial"  # from an earlier run that was stopped
    left.write_text("old")
    left.chmod(0o644)
    cli.ok("export", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert left.read_text() == "old"  # never written through
    assert sorted(p.name for p in tmp_path.glob(".registry.json*")) == [left.name]


@pytest.mark.parametrize(
    ("content", "path"),
    [
        (
            '{"format": "modelyard-registry", "version": 1, '
            '"providers": [{"name": "p", "kind": "fake", "base_url": "http://[::1"}]}',
            "providers[0] (p).base_url",
        ),
        (_litellm("sk-x", "http://[::1/v1"), "model_list[0].litellm_params.api_base"),
        (
            _litellm("sk-x", "http://llm.example.test:99999/v1"),
            "model_list[0].litellm_params.api_base",
        ),
    ],
)
async def test_a_base_url_that_is_no_url_is_a_422_naming_it(
    client: httpx.AsyncClient, admin_key: str, content: str, path: str
) -> None:
    error = assert_error(await _import(client, admin_key, content=content), 422)
    assert error["details"]["errors"][0]["path"] == path


@pytest.mark.parametrize(
    ("content", "path"),
    [
        (
            "format: modelyard-registry\nversion: 1\nsettings: {custom.x: 18446744073709551616}\n",
            "settings.custom.x",
        ),
        (
            "model_list:\n  - model_name: m\n    litellm_params: {model: openai/m}\n"
            "    model_info: {input_cost_per_token: 1e400}\n",
            "model_list[0].model_info",
        ),
    ],
)
async def test_a_number_modelyard_cannot_hold_is_a_422_naming_it(
    client: httpx.AsyncClient, admin_key: str, content: str, path: str
) -> None:
    response = await _import(client, admin_key, content=content)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == path


async def test_an_imported_key_reaches_no_answer_report_or_audit_event(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    key = "sk-hostile-literal-key-NOTREAL-42"
    content = _litellm(key)
    dry = await _import(client, admin_key, content=content, dry_run=True)
    real = await _import(client, admin_key, content=content)
    again = await _import(client, admin_key, content=_litellm(key + "x"))  # a rotation
    audit = await client.get(f"{API}/audit", headers=auth(admin_key), params={"limit": 200})
    exported = await client.post(f"{API}/export", headers=auth(admin_key), json={})
    for response in (dry, real, again, audit, exported):
        assert response.status_code == 200, response.text
        assert key not in response.text


def test_files_that_cannot_be_read_or_written_fail_with_one_line(
    database_url: str, tmp_path: Path
) -> None:
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    assert "nowhere" in cli.fails("export", str(tmp_path / "nowhere" / "registry.json"))
    assert str(tmp_path) in cli.fails("import", str(tmp_path))
    backup = tmp_path / "nowhere" / "backup.json"
    assert "nowhere" in cli.fails("import", str(SEED004), "--backup", str(backup))
    assert cli.json("providers", "list")["items"] == []  # the import rolled back


async def test_passphrase_sealing_derives_once_per_document_off_the_event_loop(
    registry: Registry, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two", "three"):
        await registry.providers.create(
            admin,
            {
                "name": name,
                "kind": "openai_compatible",
                "base_url": "http://h.test/v1",
                "api_key": f"sk-{name}-NOTREAL",
            },
        )
    derive, threads = sealing._derive, []

    def counted(passphrase: str, salt: bytes) -> bytes:
        threads.append(threading.current_thread())
        return derive(passphrase, salt)

    monkeypatch.setattr(sealing, "_derive", counted)
    passphrase = "correct horse battery staple"
    document = await export_registry(registry, admin, with_secrets=True, passphrase=passphrase)
    assert len(threads) == 1  # three keys, one scrypt run (~0.1 s of CPU each)
    threads.clear()
    await import_registry(
        registry,
        admin,
        dumps(document),
        source="x.json",
        with_secrets=True,
        passphrase=passphrase,
        dry_run=True,
    )
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread()  # the event loop's thread kept serving


@pytest.mark.parametrize(
    "content",
    [
        "x: " + "[" * 3000 + "]" * 3000,
        '{"groq": {"api_key": "gsk_x"}, "deep": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
        '{"format": "modelyard-registry", "version": 1, "settings": {"custom.x": '
        + "[" * 1000
        + "]" * 1000
        + "}}",
    ],
    ids=["yaml", "seed004", "document"],
)
async def test_a_file_nested_too_deeply_is_a_422(
    client: httpx.AsyncClient, admin_key: str, content: str
) -> None:
    response = await _import(client, admin_key, content=content, dry_run=True)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert "nests deeper than 32 levels" in error["message"]


def test_a_default_backup_never_replaces_an_earlier_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_transfer, "_stamped", lambda stem: f"{stem}-same-second.json")
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for path, name in ((first, "one"), (second, "two")):
        document = {"format": "modelyard-registry", "version": 1, "providers": [{"name": name}]}
        document["providers"][0]["kind"] = "fake"
        path.write_bytes(orjson.dumps(document))
        cli.ok("import", str(path))
    backups = sorted(tmp_path.glob("modelyard-backup-*.json"))
    assert [b.name for b in backups] == [
        "modelyard-backup-same-second-2.json",
        "modelyard-backup-same-second.json",
    ]
    before = [orjson.loads(b.read_bytes())["providers"] for b in backups]
    assert [[p["name"] for p in providers] for providers in before] == [["one"], []]
