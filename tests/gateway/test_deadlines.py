"""Deadlines without a timer per wait: a late wait is cancelled and told so; a wait that
ends in time, or a cancellation by someone else, is left alone."""

from __future__ import annotations

import asyncio

import pytest

from modelyard.gateway.deadlines import Deadlines


async def _wait(deadlines: Deadlines, timeout_s: float, seconds: float) -> str:
    with deadlines.guard(timeout_s) as expired:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if expired():
                return "timed out"
            raise
    return "done"


async def test_a_late_wait_is_cancelled_and_told_so() -> None:
    deadlines = Deadlines(tick_s=0.01)
    try:
        assert await _wait(deadlines, 0.02, 5) == "timed out"
        assert await _wait(deadlines, 5, 0) == "done"
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        assert deadlines._due == {}
        assert deadlines._expired == set()
    finally:
        await deadlines.close()


async def test_a_cancellation_by_someone_else_stays_a_cancellation() -> None:
    deadlines = Deadlines(tick_s=0.01)
    try:
        waiting = asyncio.create_task(_wait(deadlines, 5, 5))
        await asyncio.sleep(0.03)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert deadlines._due == {}
    finally:
        await deadlines.close()
