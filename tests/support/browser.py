"""Debian's Chromium for the browser tests (Playwright drives it; Playwright's own browser
downloads are never used). Missing, it is installed with ``apt-get install -y chromium``
(after ``apt-get update`` when the package lists lack it). Under CI=true a browser that
cannot be had fails the run; elsewhere the tests that need it are skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_TIMEOUT_S = 900


def _apt(*args: str) -> str | None:
    """None when ``apt-get args`` succeeded, else why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "apt-get is not on this machine"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            [apt, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"apt-get {args[0]} took over {INSTALL_TIMEOUT_S} s"
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        return f"apt-get {args[0]} failed ({done.returncode}): {last[0]}"
    return None


@cache
def chromium() -> tuple[Path | None, str]:
    """Chromium's path (installing it when missing), or None and why it cannot be had."""
    if CHROMIUM.exists():
        return CHROMIUM, ""
    why = _apt("install", "-y", "--no-install-recommends", "chromium")
    if why is not None:
        _apt("update")
        why = _apt("install", "-y", "--no-install-recommends", "chromium")
    if CHROMIUM.exists():
        return CHROMIUM, ""
    return None, f"Chromium is not installed at {CHROMIUM} and could not be: {why}"
