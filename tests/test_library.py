"""modelyard in process (``modelyard.open``): a fault in the middle of a stream reaches the
caller, and the call is recorded as the error it was, with what it held released."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

import modelyard
from modelyard.adapters.base import StreamChunk
from modelyard.adapters.fake import FakeAdapter
from modelyard.db.tables import UsageEvent
from modelyard.settings import Settings


async def test_a_fault_mid_stream_is_raised_and_recorded_as_an_error(
    settings: Settings, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = FakeAdapter.stream

    async def breaks(self: Any, *args: Any) -> AsyncIterator[StreamChunk]:
        async for item in real(self, *args):
            yield item
            raise RuntimeError("a bug after the first chunk")

    monkeypatch.setattr(FakeAdapter, "stream", breaks)
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with modelyard.open(settings=local) as yard:
        provider = await yard.registry.providers.create(
            yard.actor, {"name": "fake", "kind": "fake", "config": {"reply": "one two three"}}
        )
        await yard.registry.models.create(yard.actor, {"provider_id": provider.id, "model_id": "m"})
        received: list[Any] = []

        async def relay() -> None:
            async for chunk in yard.stream([{"role": "user", "content": "hi"}], model="m"):
                received.append(chunk)

        with pytest.raises(RuntimeError):
            await relay()
        assert received
        await yard.gateway.settled()
        assert yard.gateway.limiter.in_use() == {}  # type: ignore[attr-defined]
        await yard.gateway.recorder.flush()
        async with yard.registry.db.engine.connect() as conn:
            rows = (await conn.execute(select(UsageEvent.status, UsageEvent.error_code))).all()
    assert [tuple(row) for row in rows] == [("error", "INTERNAL_ERROR")]
