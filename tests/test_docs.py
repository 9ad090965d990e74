"""The docs keep up with the code: every setting documented, README's two commands present,
every relative link between the docs resolving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelyard.registry.system_settings import KNOWN
from modelyard.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text()
README = (ROOT / "README.md").read_text()
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(?:#[^)]*)?\)")
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_settings_field_is_documented(field: str) -> None:
    assert f"`MODELYARD_{field.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("key", sorted(KNOWN))
def test_every_known_system_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in CONFIGURATION


@pytest.mark.parametrize("command", ["make serve", "make test"])
def test_readme_shows_how_to_run_and_test(command: str) -> None:
    assert f"\n{command}\n" in README, f"README.md lacks a line with `{command}`"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    missing = [
        target
        for target in LINK.findall(page.read_text())
        if not (page.parent / target).resolve().exists()
    ]
    assert not missing, f"{page.name} links to missing files: {missing}"


HARD_CODED_ADDRESS = re.compile(r"https?://(?:127\.0\.0\.1|localhost):\d+/")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_commands_use_a_variable_for_the_servers_address(page: Path) -> None:
    """curl examples say `$MODELYARD_URL/...`, set once, not a port that may not be yours."""
    hard_coded = [
        line.strip()
        for line in page.read_text().splitlines()
        if HARD_CODED_ADDRESS.search(line) and not line.lstrip().startswith("MODELYARD_URL=")
    ]
    assert not hard_coded, f"{page.name} hard-codes the server's address: {hard_coded}"
