"""The workers of one server add up their metrics: each publishes its counters in a file,
a scrape merges its own live counters with the files of the workers still alive."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson

from modelyard.gateway.metrics import Metrics
from modelyard.gateway.metrics_shared import SharedMetrics


def _call(metrics: Metrics, status: str = "ok", seconds: float = 0.2) -> None:
    metrics.call(
        provider="p",
        model="m",
        operation="chat",
        status=status,
        seconds=seconds,
        prompt_tokens=12,
        completion_tokens=5,
        cost=Decimal("0.0001"),
        currency="USD",
        attempts=2,
        fallbacks=0,
    )


def test_state_absorbed_elsewhere_renders_the_same_text() -> None:
    metrics = Metrics()
    _call(metrics)
    _call(metrics, "error", 3.0)
    metrics.rejected("rpm")
    copy = Metrics()
    copy.absorb(orjson.loads(orjson.dumps(metrics.state())))
    assert copy.render(usage_pending=3) == metrics.render(usage_pending=3)


def test_a_scrape_adds_the_live_workers_and_drops_the_gone(tmp_path: Path) -> None:
    other = Metrics()
    _call(other)
    _call(other)
    # a live worker: this test's parent process (always alive while the test runs)
    (tmp_path / f"{os.getppid()}.json").write_bytes(
        orjson.dumps({"state": other.state(), "pending": 4})
    )
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp_path / f"{int(gone.stdout)}.json"
    dead.write_bytes(orjson.dumps({"state": other.state(), "pending": 100}))
    (tmp_path / "junk.json").write_bytes(b"not json")  # not a worker's: ignored

    mine = Metrics()
    _call(mine)
    shared = SharedMetrics(tmp_path, mine, lambda: 1)
    text = shared.render()
    assert 'modelyard_requests_total{model="m",operation="chat",provider="p",status="ok"} 3' in text
    assert 'modelyard_tokens_total{model="m",provider="p",type="prompt"} 36' in text
    assert 'modelyard_cost_total{currency="USD",model="m",provider="p"} 0.0003' in text
    assert "modelyard_usage_pending_rows 5" in text
    assert 'modelyard_request_duration_seconds_count{model="m",provider="p"} 3' in text
    assert not dead.exists()


async def test_a_worker_publishes_on_start_and_removes_its_file_on_stop(tmp_path: Path) -> None:
    metrics = Metrics()
    shared = SharedMetrics(tmp_path / "run", metrics, lambda: 0, interval_s=0.01)
    await shared.start()
    try:
        document = orjson.loads(shared.path.read_bytes())
        assert document == {"state": metrics.state(), "pending": 0}
        assert shared.path.name == f"{os.getpid()}.json"
    finally:
        await shared.stop()
    assert not shared.path.exists()


def test_a_worker_file_with_a_bad_amount_is_skipped_not_a_failed_scrape(tmp_path: Path) -> None:
    """A file another version wrote (or a hand edit) with an amount Decimal cannot read is
    skipped with a warning; /metrics still answers with the rest."""
    other = Metrics()
    _call(other)
    state = other.state()
    state["cost"] = [[[["currency", "USD"], ["model", "m"], ["provider", "p"]], "lots"]]
    (tmp_path / f"{os.getppid()}.json").write_bytes(orjson.dumps({"state": state, "pending": 0}))
    mine = Metrics()
    _call(mine)
    text = SharedMetrics(tmp_path, mine, lambda: 0).render()
    assert 'modelyard_cost_total{currency="USD",model="m",provider="p"} 0.0001' in text
