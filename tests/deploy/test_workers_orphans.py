"""A parent killed outright (SIGKILL: it cannot stop its workers) takes its workers with it:
each gets SIGTERM from the kernel and stops, instead of serving on unsupervised."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.deploy import servers


def test_workers_stop_when_their_parent_is_killed(
    tmp_path: Path, redis_env: dict[str, str]
) -> None:
    env = {
        **redis_env,
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'modelyard.db'}",
        "MODELYARD_LOG_LEVEL": "warning",
    }
    served = servers.start(tmp_path, env, workers=2)
    try:
        pids = set(served.worker_states())
        assert len(pids) == 2
        served.process.send_signal(signal.SIGKILL)
        served.process.wait()
        deadline = time.monotonic() + 60  # a guard, not a measure: they drain first
        while any(servers.alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in pids if servers.alive(pid)], served.output()
    finally:
        served.close()
