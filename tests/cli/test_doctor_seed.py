"""`modelyard doctor` and `modelyard seed`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import Cli, tamper

CHECKS = [
    "settings",
    "master key",
    "database reachable",
    "migrations",
    "sealed secrets",
    "provider kinds",
    "audit trail",
]


def test_doctor_passes_on_a_healthy_setup(ready: Cli) -> None:
    ready.ok(
        "providers",
        "add",
        "--name=openai",
        "--kind=openai",
        "--api-key-stdin",
        input="sk-0123456789abcdef",
    )
    report = ready.json("doctor")
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert all(c["ok"] for c in report["checks"])
    sealed = next(c for c in report["checks"] if c["name"] == "sealed secrets")
    assert sealed["detail"].startswith("1 open")
    table = ready.ok("doctor").stdout
    assert "FAIL" not in table
    assert "master key" in table


def _remove_key_file(cli: Cli) -> None:
    cli.key_file.unlink()


def _loosen_key_file(cli: Cli) -> None:
    cli.key_file.chmod(0o644)


def _forge_an_audit_event(cli: Cli) -> None:
    tamper(cli.database_url, 1)


@pytest.mark.parametrize(
    ("breakage", "failing", "says"),
    [
        pytest.param(
            _remove_key_file, {"master key", "sealed secrets"}, "does not exist", id="no-key-file"
        ),
        pytest.param(_loosen_key_file, {"settings"}, "chmod 600", id="key-file-readable-by-others"),
        pytest.param(
            _forge_an_audit_event, {"audit trail"}, "broken at event 1", id="audit-tampered"
        ),
    ],
)
def test_doctor_fails_and_says_what_is_wrong(
    ready: Cli, breakage: Callable[[Cli], None], failing: set[str], says: str
) -> None:
    ready.ok(
        "providers",
        "add",
        "--name=openai",
        "--kind=openai",
        "--api-key-stdin",
        input="sk-0123456789abcdef",
    )
    breakage(ready)
    result = ready("doctor", "--json")
    assert result.exit_code == 1
    table = ready("doctor")
    assert table.exit_code == 1
    assert "FAIL" in table.stdout
    report = orjson.loads(result.stdout)
    assert report["ok"] is False
    assert {c["name"] for c in report["checks"] if not c["ok"]} == failing
    assert any(says in c["detail"] for c in report["checks"] if not c["ok"])


def test_doctor_reports_an_unmigrated_database(tmp_path: Path) -> None:
    path = tmp_path / "unmigrated.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    report = Cli(f"sqlite+aiosqlite:///{path}", tmp_path / "k")("doctor", "--json")
    assert report.exit_code == 1
    assert "no schema yet" in report.stdout


def test_doctor_reports_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    report = Cli(f"sqlite+aiosqlite:///{path}", tmp_path / "k")("doctor", "--json")
    assert report.exit_code == 1
    assert f"no database at {path}" in report.stdout
    assert not path.exists()


def test_seed_is_idempotent(ready: Cli) -> None:
    first = ready.json("seed")
    assert first["providers_created"] > 0
    assert first["models_created"] > 0
    assert first["prices_added"] >= first["models_created"]
    assert ready.json("seed") == {
        "providers_created": 0,
        "models_created": 0,
        "prices_added": 0,
        "models_updated": 0,
        "oauth_clients_created": [],
    }
    assert ready.json("providers", "list")["total"] == first["providers_created"]
    assert "providers created" in ready.ok("seed").stdout
    ready.ok("audit", "verify")
