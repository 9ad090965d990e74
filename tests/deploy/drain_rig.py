"""What the drain and rolling-restart tests share: a slow OpenAI upstream, a paying caller,
``modelyard serve`` as a real process, and the usage rows a database holds.

The upstream answers by the last message's text: ``json <seconds>`` waits, then answers;
``stream <chunks> <seconds>`` writes one word per chunk, that many seconds apart, then the
usage (``PROMPT`` and the chunks' count) and ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import select

from modelyard.billing.credits import GrantCreate
from modelyard.billing.plans import PlanCreate
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.tables import CreditHold, UsageEvent
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.paced import DONE, chunk, event, usage_chunk
from tests.gateway.upstream import Upstream, fake_upstream

MODEL = "slow-model"
PROMPT = 9  # the prompt tokens the upstream reports
PORTS = range(41200, 41300)  # this test family's own ports (replicas restart on theirs)
# A guard against a server that never answers, not a measure (40 s seen on two busy cores).
STARTUP_TIMEOUT_S = 120.0


def ask(text: str, *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return body | {"stream": True} if stream else body


def _instruction(body: dict[str, Any]) -> list[str]:
    """The last message's text, as any ingress translated it (a string or text parts)."""
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content)
    return str(content).split()


async def _answer(request: web.Request) -> web.StreamResponse:
    how = _instruction(await request.json())
    if how[0] == "json":
        await asyncio.sleep(float(how[1]))
        return web.json_response(
            {
                "id": "chatcmpl-slow",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "done"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": PROMPT, "completion_tokens": 1, "total_tokens": 10},
            }
        )
    count, pause = int(how[1]), float(how[2])
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with suppress(ConnectionError):  # the gateway stopped reading (a stream it ended)
        for _ in range(count):
            await response.write(event(chunk("word ")))
            await asyncio.sleep(pause)
        await response.write(event(chunk(finish="stop")))
        await response.write(event(usage_chunk(PROMPT, count)) + DONE)
        await response.write_eof()
    return response


@asynccontextmanager
async def slow_upstream() -> AsyncIterator[Upstream]:
    async with fake_upstream({("POST", "/v1/chat/completions"): _answer}) as upstream:
        yield upstream


@dataclass
class Caller:
    key: str
    user_id: str


async def paying_caller(registry: Registry, admin: Actor, upstream_url: str) -> Caller:
    """A member on a metered plan with credits, calling ``MODEL`` at the slow upstream."""
    provider = await registry.providers.create(
        admin,
        {
            "name": "slow",
            "kind": "openai_compatible",
            "base_url": f"{upstream_url}/v1",
            "api_key": "sk-slow",
        },
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "capabilities": ["text", "streaming"],
            "price": {"input_per_mtok": "2", "output_per_mtok": "8", "credits_per_1k": "2"},
        },
    )
    await registry.plans.create(admin, PlanCreate(name="metered", monthly_credits=Decimal(0)))
    user = await registry.users.create(admin, UserCreate(email="payer@example.com"))
    await registry.subscriptions.create(admin, SubscriptionCreate(user_id=user.id, plan="metered"))
    await registry.credits.grant(admin, GrantCreate(user_id=user.id, amount=Decimal(100_000)))
    made = await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))
    return Caller(made.key, str(user.id))


_given: set[int] = set()  # ports handed out in this run: not bound yet while a replica starts


def free_port() -> int:
    start = random.randrange(len(PORTS))  # two runs at once rarely try the same port first
    for i in range(len(PORTS)):
        port = PORTS[(start + i) % len(PORTS)]
        if port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port in {PORTS}")


class Replica:
    """``modelyard serve`` on one port of ours; :meth:`start` again after :meth:`stop` is a
    restart on the same port, the log appended to."""

    def __init__(self, name: str, settings: Settings, tmp: Path, **env: str) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        self.env = {
            **os.environ,
            "MODELYARD_DATABASE_URL": settings.database_url,
            "MODELYARD_MASTER_KEY_FILE": str(settings.master_key_file),
            "MODELYARD_USAGE_OUTBOX": str(tmp / f"{name}.outbox"),
            "MODELYARD_LOG_LEVEL": "warning",
            "MODELYARD_REFRESH_INTERVAL_S": "0.25",
            "MODELYARD_BILLING_INTERVAL_S": "0",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        for name_ in ("MODELYARD_MASTER_KEY", "MODELYARD_REDIS_URL"):
            if name_ not in env:
                self.env.pop(name_, None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    async def ready(self) -> None:
        """Wait until /health/ready answers 200."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            while True:
                assert self.process is not None
                assert self.process.poll() is None, self.text()
                with suppress(httpx.TransportError):
                    if (await http.get("/health/ready")).status_code == 200:
                        return
                assert time.monotonic() < deadline, f"{self.name} not ready\n{self.text()}"
                await asyncio.sleep(0.1)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, within_s: float) -> int:
        """The exit code, once the process ended (at most ``within_s`` from now)."""
        assert self.process is not None
        deadline = time.monotonic() + within_s
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"{self.name} still running\n{self.text()}"
            await asyncio.sleep(0.05)
        return self.process.returncode

    def kill(self) -> None:
        """The last resort of a test's ``finally``."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


async def usage_rows(registry: Registry) -> dict[str, Any]:
    async with registry.db.engine.connect() as conn:
        rows = (await conn.execute(select(UsageEvent.__table__))).all()
    return {row.request_id: row for row in rows}


async def holds_left(registry: Registry) -> int:
    async with registry.db.engine.connect() as conn:
        return len((await conn.execute(select(CreditHold.holder))).all())
