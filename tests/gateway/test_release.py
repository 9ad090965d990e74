"""Everything a call acquires is released on every exit, and every exit is answered and
recorded: a failure injected at each step of admission (the caller's rate windows, the plan's
parallel slot, the credit hold), of the attempt (the provider's limits, the pipeline, the
adapter), of the stream relay and of settlement (tpm correction, credits, metrics, the usage
row) leaves no parallel slot held, no tpm charge beyond what was used, no credit reserved;
the caller gets a JSON error in OpenAI's shape that says nothing of the exception, and a usage
row keeps the error code it was answered with. So do callers that leave at any point.

A new step is one line in ``STEPS`` (or ``LEAVES``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.adapters.base import StreamChunk
from modelyard.adapters.openai import OpenAIAdapter
from modelyard.api.openai import stream as v1_stream
from modelyard.db.engine import create_engine
from modelyard.gateway import request
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.record import UsageRecord
from tests.gateway.fault_rig import ASK, PATH, STREAM, Billed, all_released, billed_rig

PLANTED = "planted-fault-7f3a"  # the injected exceptions' text: never in a reply
BODIES = {"json": ASK, "stream": STREAM}
BUDGET = request.prompt_estimate(ASK, "chat") + ASK["max_tokens"]  # what a call charges first
Inject = Callable[[Billed, pytest.MonkeyPatch], None]


def _bug(*_: Any, **__: Any) -> Any:
    raise RuntimeError(PLANTED)


async def _async_bug(*_: Any, **__: Any) -> Any:
    raise RuntimeError(PLANTED)


async def _database_down(*_: Any, **__: Any) -> Any:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, PLANTED))


def _on(part: str, name: str, replacement: Any) -> Inject:
    """Replace ``gateway.<part>.<name>``."""

    def inject(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(getattr(rig.gateway, part), name, replacement)

    return inject


def _slot_fails(prefix: str) -> Inject:
    """The limiter fails to give the slot whose key starts with ``prefix``."""

    def inject(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
        limiter = rig.gateway.limiter
        real = limiter.acquire_slot

        async def acquire(key: str, limit: int, timeout_s: float) -> Any:
            if key.startswith(prefix):
                raise RuntimeError(PLANTED)
            return await real(key, limit, timeout_s)

        monkeypatch.setattr(limiter, "acquire_slot", acquire)

    return inject


def _adapter_fails(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OpenAIAdapter, "chat", _async_bug)

    async def stream(*_: Any) -> AsyncIterator[StreamChunk]:
        raise RuntimeError(PLANTED)
        yield  # an async generator

    monkeypatch.setattr(OpenAIAdapter, "stream", stream)


def _pipeline_fails(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rig.gateway.pipeline, "chat", _async_bug)
    monkeypatch.setattr(rig.gateway.pipeline, "stream", _async_bug)


def _relay_fails_mid_stream(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    real = OpenAIAdapter.stream

    async def breaks(self: Any, *args: Any) -> AsyncIterator[StreamChunk]:
        async for item in real(self, *args):
            yield item
            raise RuntimeError(PLANTED)

    monkeypatch.setattr(OpenAIAdapter, "stream", breaks)


def _headers_fail(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v1_stream, "response_headers", _bug)


def _recorder_fails(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    def record(row: UsageRecord) -> None:
        rig.records.append(row)  # what settle made of the call, for the test
        raise RuntimeError(PLANTED)

    monkeypatch.setattr(rig.gateway.recorder, "record", record)


@dataclass(frozen=True)
class Step:
    name: str
    inject: Inject
    status: int  # what the caller is answered: 200 is the answer (a stream may end in an error)
    code: str | None  # the error the caller gets and the usage row keeps; None: the call is ok
    row: bool = True  # a usage row is written
    bodies: tuple[str, ...] = ("json", "stream")
    windows: str = "used"  # what the rate windows count afterwards: "used", or the "budget"


DOWN = "DEPENDENCY_UNAVAILABLE"
BUG = "INTERNAL_ERROR"
STEPS = [
    # admission
    Step("limiter.hit_many", _on("limiter", "hit_many", _async_bug), 500, BUG),
    Step("acquire_slot (plan)", _slot_fails("plan-parallel:"), 500, BUG),
    Step("credits.reserve", _on("credits", "reserve", _database_down), 503, DOWN),
    # attempt
    Step("limiter.hit (provider)", _on("limiter", "hit", _async_bug), 500, BUG),
    Step("acquire_slot (provider)", _slot_fails("parallel:"), 500, BUG),
    Step("pipeline", _pipeline_fails, 500, BUG),
    Step("adapter", _adapter_fails, 500, BUG),
    # stream relay
    Step("response headers", _headers_fail, 500, BUG, bodies=("stream",)),
    Step("relay mid-stream", _relay_fails_mid_stream, 200, BUG, bodies=("stream",)),
    # settlement: the caller has the answer; what the call held is released all the same
    Step("settler.correct", _on("settler", "correct", _bug), 200, None, windows="budget"),
    Step("credits.settle", _on("credits", "settle", _bug), 200, None),
    Step("metrics.call", _on("metrics", "call", _bug), 200, None),
    Step("recorder.record", _recorder_fails, 200, None, row=False),
]


async def _ask(rig: Billed, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=rig.url, timeout=10) as client:
        return await client.post(PATH, json=body, headers={"authorization": f"Bearer {rig.key}"})


def _error_of(response: httpx.Response) -> dict[str, Any] | None:
    """The error the caller got: the JSON body, or a stream's closing error event."""
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/json"
        error: dict[str, Any] = response.json()["error"]
        return error
    if response.headers["content-type"] != "text/event-stream":
        return None
    last = response.content.strip().split(b"\n\n")[-1].removeprefix(b"data: ")
    return None if last == b"[DONE]" else orjson.loads(last)["error"]


@pytest.mark.parametrize(
    ("step", "body"),
    [pytest.param(step, body, id=f"{step.name}-{body}") for step in STEPS for body in step.bodies],
)
async def test_a_failure_at_any_step_releases_everything_and_is_answered_and_recorded(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: Step,
    body: str,
) -> None:
    caplog.set_level(logging.INFO, logger="modelyard.gateway")
    async with billed_rig(settings, registry, admin, tmp_path) as rig:
        step.inject(rig, monkeypatch)
        response = await _ask(rig, BODIES[body])
        left = await rig.leftovers()
        rows = await rig.rows()
        debits = await rig.debits()
    assert response.status_code == step.status
    error = _error_of(response)
    if step.code is None:
        assert error is None
    else:
        assert error is not None
        assert set(error) == {"message", "type", "code", "param"}
        assert error["code"] == step.code.lower()
        assert PLANTED not in response.text  # nothing of the exception reaches the caller
        assert ("retry-after" in response.headers) is (response.status_code == 503)
    if step.row:
        [row] = rows
        assert (row.status, row.error_code) == ("ok" if step.code is None else "error", step.code)
        assert row.request_id == response.headers["x-request-id"]
    else:
        assert rows == []
    if step.code is not None or not step.row:  # logged, with the request id
        assert f"(request {response.headers['x-request-id']})" in caplog.text
    used = sum(r.prompt_tokens + r.completion_tokens for r in rig.records)
    all_released(left, {w: BUDGET if step.windows == "budget" else used for w in rig.windows})
    assert debits == sum(row.charged_credits or 0 for row in rows)
    assert await rig.holds() == 0  # and the stopped gateway gave its hold back


async def test_a_billed_call_needing_more_hold_while_the_database_is_down_gets_a_503(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> None:
    """The reported case: the credit hold must grow while the database is unreachable (the
    real driver's error). Each call is answered 503 with Retry-After in OpenAI's shape and
    recorded; the plan's two parallel slots are not leaked (a third call would wait 30 s and
    get 429), and once the database is back the caller is served."""
    if settings.database_url.startswith("postgresql"):
        dead = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    else:
        dead = create_engine(f"sqlite+aiosqlite:///{tmp_path}/gone/modelyard.db")

    @asynccontextmanager
    async def unreachable() -> AsyncIterator[AsyncSession]:
        async with dead.connect() as conn, AsyncSession(bind=conn) as session:
            yield session

    async with billed_rig(settings, registry, admin, tmp_path, max_parallel=2) as rig:
        keeper = rig.gateway.credits
        real = keeper._session
        keeper._session = unreachable  # type: ignore[method-assign]
        down = [await _ask(rig, ASK) for _ in range(3)]
        keeper._session = real  # type: ignore[method-assign]
        back = await _ask(rig, ASK)
        left = await rig.leftovers()
        rows = await rig.rows()
    await dead.dispose()
    for response in down:
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        assert response.headers["retry-after"]
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert response.json()["error"]["type"] == "api_error"
    assert back.status_code == 200
    by_request = {row.request_id: row for row in rows}
    assert len(rows) == 4
    for response in down:
        row = by_request[response.headers["x-request-id"]]
        assert (row.status, row.error_code) == ("error", "DEPENDENCY_UNAVAILABLE")
    used = sum(r.prompt_tokens + r.completion_tokens for r in rig.records)
    all_released(left, dict.fromkeys(rig.windows, used))


async def test_a_call_refused_by_one_rate_window_leaves_no_tokens_in_the_others(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    limits: tuple[str, str] | None,
) -> None:
    """The plan's window (checked after the key's and the user's) refuses the second call:
    the key's and the user's windows keep no tokens for it."""
    async with billed_rig(settings, registry, admin, tmp_path, plan_rpm=1, redis=limits) as rig:
        served = await _ask(rig, ASK)
        refused = await _ask(rig, ASK)
        left = await rig.leftovers()
        rows = await rig.rows()
    assert served.status_code == 200
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "limit_exceeded"
    assert sorted((row.status, row.error_code) for row in rows) == [
        ("error", "LIMIT_EXCEEDED"),
        ("ok", None),
    ]
    used = sum(row.prompt_tokens + row.completion_tokens for row in rows)
    all_released(left, dict.fromkeys(rig.windows, used))


# -- callers that leave ---------------------------------------------------------------------

Leave = Callable[[Billed, pytest.MonkeyPatch], Awaitable[None]]


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the call never got there")


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()  # what an ASGI server does to a request whose client left, or on stop
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def _waiting_for_the_plan_slot(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's one slot is taken by a call the upstream keeps waiting; the next waits."""
    rig.scripted.script = lambda n, body: "wait"
    first = rig.exchange(ASK).run()
    await _until(lambda: rig.scripted.count == 1)
    second = rig.exchange(ASK).run()
    await _until(lambda: _waiting(rig))
    await _cancelled(second)
    rig.scripted.gate.set()
    await asyncio.wait_for(first, 10)


def _waiting(rig: Billed) -> bool:
    queue = rig.gateway.limiter._queues.get(f"plan-parallel:{rig.user_id}")  # type: ignore[attr-defined]
    return queue is not None and len(queue.waiters) == 1


async def _growing_the_credit_hold(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The credit hold is being grown (a database round trip that does not come back)."""
    entered = asyncio.Event()

    @asynccontextmanager
    async def stuck() -> AsyncIterator[AsyncSession]:
        entered.set()
        await asyncio.Event().wait()
        yield None  # type: ignore[misc]  # never reached

    with monkeypatch.context() as patch:  # undone before the gateway stops (it needs it)
        patch.setattr(rig.gateway.credits, "_session", stuck)
        task = rig.exchange(ASK).run()
        await asyncio.wait_for(entered.wait(), 10)
        await _cancelled(task)


def _waiting_for_the_upstream(body: dict[str, Any]) -> Leave:
    async def leave(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
        rig.scripted.script = lambda n, body: "wait"
        task = rig.exchange(body).run()
        await _until(lambda: rig.scripted.count == 1)
        await _cancelled(task)
        rig.scripted.gate.set()

    return leave


def _mid_stream(how: str) -> Leave:
    async def leave(rig: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
        rig.scripted.script = lambda n, body: "drip"
        exchange = rig.exchange(STREAM)
        task = exchange.run()
        assert (await exchange.next())["type"] == "http.response.start"
        await exchange.next()  # the first chunk
        if how == "disconnect":
            exchange.gone.set()
            await asyncio.wait_for(task, 10)
        else:
            await _cancelled(task)
        rig.scripted.gate.set()

    return leave


LEAVES = {
    "waiting for the plan's parallel slot": _waiting_for_the_plan_slot,
    "while the credit hold grows": _growing_the_credit_hold,
    "waiting for the upstream (json)": _waiting_for_the_upstream(ASK),
    "waiting for the upstream (stream)": _waiting_for_the_upstream(STREAM),
    "mid-stream, the client disconnects": _mid_stream("disconnect"),
    "mid-stream, the server cancels": _mid_stream("cancel"),
}


@pytest.mark.parametrize("leave", list(LEAVES.values()), ids=list(LEAVES))
async def test_a_caller_that_leaves_releases_everything_and_is_recorded_as_aborted(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    leave: Leave,
) -> None:
    async with billed_rig(settings, registry, admin, tmp_path, max_parallel=1) as rig:
        await leave(rig, monkeypatch)
        left = await rig.leftovers()
        rows = await rig.rows()
        debits = await rig.debits()
    statuses = sorted(row.status for row in rows)
    assert "aborted" in statuses
    assert len(rows) == len(rig.records)  # one row per call
    used = sum(r.prompt_tokens + r.completion_tokens for r in rig.records)
    all_released(left, dict.fromkeys(rig.windows, used))
    assert debits == sum(row.charged_credits or 0 for row in rows)
    assert await rig.holds() == 0
