"""The import contracts in pyproject.toml ([tool.importlinter]) hold. `make check` runs
lint-imports; CI runs only `make test`, so this test runs it too, with the interpreter that
runs the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_import_contracts_are_kept() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, f"lint-imports failed:\n{output}"
    assert " 0 broken" in done.stdout, f"lint-imports checked no contract:\n{output}"
