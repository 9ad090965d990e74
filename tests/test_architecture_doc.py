"""docs/architecture.md's "Package layout" lists every module under src/modelyard, and only
modules that exist; its layer list is the one the import contracts check.

How the layout is read (the first fenced block after the "## Package layout" heading):

* The tree starts at the line ``src/modelyard/``; the lines indented under it are its entries.
  The next line at column 0 (``tests/``, ``bench/`` ...) ends it.
* A line whose first word ends in ``.py`` or ``/`` names an entry: a module or a folder. Any
  other line continues the description of the line above it.
* An entry's path is its folder's path plus its first word; a folder holds the entries
  indented under it. So ``registry/users.py`` at the top and ``users.py`` under
  ``registry/`` name the same module.

A ``.py`` file counts as listed when its path relative to src/modelyard is an entry's path;
a package's ``__init__.py`` also when its folder is an entry; a file under
``db/migrations/versions/`` when that folder is an entry (one line covers the migrations).
Every entry has to exist under src/modelyard.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "modelyard"
DOC = (ROOT / "docs" / "architecture.md").read_text()
# Folders whose files one line covers.
COVERED_BY_FOLDER = ("db/migrations/versions/",)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def fenced_blocks(section: str) -> list[str]:
    """The fenced blocks of a ``## `` section of the page, in order."""
    start = DOC.index(f"\n## {section}\n")
    end = DOC.find("\n## ", start + 1)
    return FENCE.findall(DOC[start : end if end != -1 else None])


def layout_entries(block: str) -> list[str]:
    lines = block.splitlines()
    root = lines.index("src/modelyard/")
    entries: list[str] = []
    folders: list[tuple[int, str]] = []  # (indent, path) of the folders the line is under
    for line in lines[root + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break
        word = line.split()[0]
        if not word.endswith((".py", "/")):
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        path = (folders[-1][1] if folders else "") + word
        entries.append(path)
        if word.endswith("/"):
            folders.append((indent, path))
    return entries


ENTRIES = layout_entries(fenced_blocks("Package layout")[0])


def is_listed(module: str, entries: set[str]) -> bool:
    if module in entries:
        return True
    if module == "__init__.py":
        return True  # the tree's root line, src/modelyard/, is the package itself
    if module.endswith("/__init__.py") and module.removesuffix("__init__.py") in entries:
        return True
    return any(module.startswith(f) and f in entries for f in COVERED_BY_FOLDER)


def test_the_layout_is_read() -> None:
    assert "services.py" in ENTRIES
    assert "gateway/limits/redis.py" in ENTRIES
    assert "api/routers/" in ENTRIES


def test_every_module_is_in_the_layout() -> None:
    entries = set(ENTRIES)
    modules = sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py"))
    missing = [m for m in modules if not is_listed(m, entries)]
    assert not missing, f"docs/architecture.md's Package layout lacks: {missing}"


def test_every_layout_entry_exists() -> None:
    absent = [e for e in ENTRIES if not (SRC / e).exists()]
    assert not absent, f"docs/architecture.md's Package layout names what is not there: {absent}"


def test_no_module_is_listed_twice() -> None:
    twice = sorted({e for e in ENTRIES if ENTRIES.count(e) > 1})
    assert not twice, f"docs/architecture.md's Package layout lists twice: {twice}"


def test_the_layers_are_the_import_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    documented = fenced_blocks("Package layout")[1].splitlines()
    assert documented == layers, "docs/architecture.md's layers differ from pyproject.toml's"
