"""`modelyard import` and `modelyard export` end to end through the CLI: dry runs, backups
beside the file, secrets never printed or written in plaintext, clear one-line errors."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import orjson
import pytest
from typer.testing import Result

from tests.cli.conftest import Cli
from tests.transfer.conftest import LITELLM, LITELLM_ENV, SECRETS, SEED004, SEED004_KEY


@pytest.fixture
def ready(database_url: str, tmp_path: Path) -> Cli:
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    return cli


def _no_secrets(result: Result) -> None:
    leaked = [s for s in SECRETS if s in result.stdout or s in result.stderr]
    assert not leaked, leaked


def _names(cli: Cli) -> list[str]:
    return sorted(p["name"] for p in cli.json("providers", "list")["items"])


def test_a_dry_run_lists_the_changes_and_makes_none(ready: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "admin_settings.json"
    shutil.copy(SEED004, copy)
    result = ready.ok("import", str(copy), "--dry-run")
    _no_secrets(result)
    assert "would change (dry run, nothing changed)" in result.stdout
    assert "groq.temperature" in result.stdout  # unsupported fields are listed
    assert _names(ready) == []
    assert not list(tmp_path.glob("modelyard-backup-*"))


def test_an_import_writes_a_private_backup_beside_the_file(ready: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "admin_settings.json"
    shutil.copy(SEED004, copy)
    report = orjson.loads(ready.ok("import", str(copy), "--json").stdout)
    assert report["format"] == "seed004"
    backups = list(tmp_path.glob("modelyard-backup-*.json"))
    assert [str(b) for b in backups] == [report["backup"]]
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert orjson.loads(backups[0].read_bytes())["providers"] == []  # the registry before
    assert _names(ready) == ["chatgpt", "google_ai", "groq", "openrouter"]
    again = ready.ok("import", str(copy))
    assert "nothing changed: no backup written" in again.stdout


def test_a_litellm_config_reads_keys_from_the_environment(ready: Cli, tmp_path: Path) -> None:
    result = ready.ok("import", str(LITELLM), "--backup", str(tmp_path / "b.json"), env=LITELLM_ENV)
    _no_secrets(result)
    assert "model_list[7]" in result.stdout  # azure: listed as unsupported
    assert "vllm.internal-8000" in _names(ready)
    missing = ready.fails("import", str(LITELLM), "--dry-run")
    assert "FIXTURE_OPENAI_API_KEY is not set" in missing
    assert "model_list[0].litellm_params.api_key" in missing


def test_export_import_export_round_trips_through_files(
    ready: Cli, tmp_path: Path, second_url: str
) -> None:
    ready.ok("import", str(LITELLM), "--backup", str(tmp_path / "b.json"), env=LITELLM_ENV)
    first = tmp_path / "first.json"
    ready.ok("export", str(first))
    sealed = tmp_path / "sealed.yaml"
    result = ready.ok(
        "export",
        str(sealed),
        "--with-secrets",
        "--passphrase-env",
        "EXPORT_PASSPHRASE",
        env={"EXPORT_PASSPHRASE": "correct horse battery staple"},
    )
    _no_secrets(result)
    for written in (first, sealed):
        assert not [s for s in SECRETS if s in written.read_text()]
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    other = Cli(second_url, ready.key_file)
    other.ok("init")
    other.ok(
        "import",
        str(sealed),
        "--with-secrets",
        "--passphrase-env",
        "EXPORT_PASSPHRASE",
        "--backup",
        str(tmp_path / "b2.json"),
        env={"EXPORT_PASSPHRASE": "correct horse battery staple"},
    )
    second = tmp_path / "second.json"
    other.ok("export", str(second))
    assert second.read_bytes() == first.read_bytes()
    keyed = [p for p in other.json("providers", "list")["items"] if p["api_key"]]
    assert {p["name"] for p in keyed} == {"openai", "anthropic", "groq", "gemini"}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("model_list: [\n  - {", "is not valid YAML at line"),
        ('{"groq": ', "is not valid JSON"),
        ("model_list:\n- model_name: a\n  litellm_params: {model: nope/a}", "unknown provider"),
        ("- just\n- a list", "cannot tell its format"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(
    ready: Cli, tmp_path: Path, content: str, says: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    message = ready.fails("import", str(bad))
    assert says in message
    assert _names(ready) == []


def test_an_unknown_format_or_a_missing_file_is_refused(ready: Cli, tmp_path: Path) -> None:
    assert "--format" in ready.fails("import", str(SEED004), "--format", "csv")
    assert "missing.json" in ready.fails("import", str(tmp_path / "missing.json"))


def test_the_seed004_key_never_reaches_the_output_even_as_json(ready: Cli) -> None:
    result = ready.ok("import", str(SEED004), "--json", "--dry-run")
    assert SEED004_KEY not in result.stdout


def test_seed_loads_the_seed004_preset(ready: Cli) -> None:
    report = ready.json("seed", "--preset", "seed004")
    assert report["providers_created"] == 4
    assert _names(ready) == ["chatgpt", "google_ai", "groq", "openrouter"]
    assert "not a preset" in ready.fails("seed", "--preset", "nope")
