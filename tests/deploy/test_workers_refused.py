"""``modelyard serve`` refuses several workers it cannot keep exact, and bad worker counts,
before it creates or changes anything: one line on standard error, a non-zero status."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy.servers import COMMAND


def _serve(home: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MODELYARD_HOME": str(home), **env}
    for name in ("MODELYARD_REDIS_URL", "MODELYARD_WORKERS", "MODELYARD_MASTER_KEY"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [*COMMAND, *args, "--port", "41050"],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--workers", "2"], {}),
        ([], {"MODELYARD_WORKERS": "3"}),
        (["--workers", "2"], {"MODELYARD_REDIS_URL": ""}),
    ],
    ids=["flag", "setting", "empty-redis-url"],
)
def test_several_workers_without_redis_are_refused_naming_redis(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    done = _serve(tmp_path, args, env)
    assert done.returncode == 1, done
    assert "MODELYARD_REDIS_URL" in done.stderr
    assert "per worker" in done.stderr or "on its own" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []  # no database, no key file, no admin


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--workers", "0"], {}, "--workers"),
        ([], {"MODELYARD_WORKERS": "many"}, "MODELYARD_WORKERS"),
    ],
    ids=["flag-zero", "setting-not-a-number"],
)
def test_a_bad_worker_count_is_refused_naming_it(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    done = _serve(tmp_path, args, env)
    assert done.returncode == 1, done
    assert named in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []
