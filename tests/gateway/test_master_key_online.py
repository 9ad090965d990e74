"""Master-key rotation is online: a running server keeps serving a keyed provider, with zero
failed calls and the right key upstream, while another process runs ``modelyard master-key
rotate``, ``reseal`` and ``retire`` on the same key file and database; and a provider key
planted before the rotation appears nowhere: not in the commands' output, the server's logs,
the audit trail or the readiness answer."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from modelyard.db.tables import AuditEvent, Provider
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.secrets import Keyring, generate_key, read_key_file, write_key_file
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.gateway.upstream import fake_upstream, fixture, json_reply

CHAT = ("POST", "/v1/chat/completions")
MODEL = "gpt-4o-mini"
WORKERS = 4


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition``; the bound is a guard against a hang, not a measure."""
    for _ in range(6000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw {what}")


class Load:
    """A steady stream of chat calls (and readiness probes) until told to stop."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.statuses: Counter[int] = Counter()
        self.ready: Counter[int] = Counter()
        self.failures: list[str] = []
        self.stop = asyncio.Event()

    async def worker(self, http: httpx.AsyncClient) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": f"Bearer {self.key}"}
        while not self.stop.is_set():
            answer = await http.post(f"{self.url}/v1/chat/completions", json=body, headers=headers)
            self.statuses[answer.status_code] += 1
            if answer.status_code != 200:
                self.failures.append(answer.text)

    async def prober(self, http: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            answer = await http.get(f"{self.url}/health/ready")
            self.ready[answer.status_code] += 1
            if answer.status_code != 200:
                self.failures.append(answer.text)
            await asyncio.sleep(0.05)

    @property
    def served(self) -> int:
        return self.statuses[200]

    async def until_served(self, more: int) -> None:
        """Let at least ``more`` further calls complete (a count, not a duration)."""
        target = self.served + more
        await until(lambda: self.served >= target or bool(self.failures), f"{more} more calls")


class Cli:
    """``modelyard`` run as a separate process on the test's database and key file."""

    def __init__(self, settings: Settings) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")} | {
            "MODELYARD_DATABASE_URL": settings.database_url,
            "MODELYARD_MASTER_KEY_FILE": str(settings.master_key_file),
            "COLUMNS": "200",
        }
        self.output: list[str] = []

    async def __call__(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "modelyard.cli",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        self.output += [out.decode(), err.decode()]
        assert proc.returncode == 0, (args, out.decode(), err.decode())
        return out.decode()


async def _keyed_provider(registry: Registry, admin: Actor, url: str, api_key: str) -> str:
    provider = await registry.providers.create(
        admin, {"name": "openai-up", "kind": "openai", "base_url": f"{url}/v1", "api_key": api_key}
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "capabilities": ["text"],
            "price": {"input_per_mtok": "2", "output_per_mtok": "8"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    return (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key


async def _caught_up(registry: Registry, app: Any) -> None:
    """Wait until the server's snapshot holds the registry's current generation."""
    generation = await registry.generation()
    await until(lambda: app.state.gateway.holder.get().generation >= generation, "the refresh")


async def _audit(registry: Registry) -> list[str]:
    async with registry.db.engine.connect() as conn:
        rows = await conn.execute(select(AuditEvent.__table__))
        return [repr(tuple(row)) for row in rows]


async def test_rotate_reseal_retire_under_load_fail_no_call(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="modelyard")
    planted = "sk-PLANTED-" + uuid.uuid4().hex
    cli = Cli(settings)
    first_key = Keyring.from_settings(settings).primary_id
    async with fake_upstream({CHAT: json_reply(fixture("openai/chat_completion.json"))}) as up:
        key = await _keyed_provider(registry, admin, up.url, planted)
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with running(local, registry) as (url, app), httpx.AsyncClient(timeout=30) as http:
            load = Load(url, key)
            tasks = [asyncio.create_task(load.worker(http)) for _ in range(WORKERS)]
            tasks.append(asyncio.create_task(load.prober(http)))
            try:
                await load.until_served(10)
                rotated = orjson.loads(await cli("master-key", "rotate", "--json"))
                await _caught_up(registry, app)
                await load.until_served(20)
                assert orjson.loads(await cli("master-key", "reseal", "--json")) == {"resealed": 1}
                await _caught_up(registry, app)
                await load.until_served(20)
                retired = orjson.loads(await cli("master-key", "retire", "--json"))
                await _caught_up(registry, app)
                await load.until_served(20)
                status = orjson.loads(await cli("master-key", "status", "--json"))
                await cli("doctor")
                await load.until_served(10)
            finally:
                load.stop.set()
                await asyncio.gather(*tasks)
            ready = await http.get(f"{url}/health/ready")
            server_keys = app.state.registry.db.keyring.ids()

    assert load.failures == []
    assert set(load.statuses) == {200}
    assert set(load.ready) == {200}
    assert ready.status_code == 200
    assert ready.json()["checks"]["secrets"] == "ok"
    assert load.served >= 80
    assert rotated["resealed"] == 1
    assert retired == {"retired": [first_key]}
    assert status["readable"] == [rotated["primary"]]
    assert status["sealed_by"] == {rotated["primary"]: 1}
    assert server_keys == [rotated["primary"]]  # the server followed the key file
    assert len(read_key_file(settings.master_key_file)) == 1
    # every upstream call carried the right key, before, during and after the rotation
    assert len(up.received) == load.served
    assert {r.headers.get("Authorization") for r in up.received} == {f"Bearer {planted}"}

    audit = await _audit(registry)
    assert any("master_key.rotate" in row for row in audit)
    assert any("master_key.retire" in row for row in audit)
    texts = [
        *cli.output,
        *audit,
        ready.text,
        caplog.text,
        *(repr(r.args) for r in caplog.records),
    ]
    assert [t for t in texts if planted in t] == []


async def test_readiness_names_a_provider_whose_key_cannot_be_opened_until_its_key_arrives(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Path
) -> None:
    planted = "sk-PLANTED-" + uuid.uuid4().hex
    stranger = generate_key()  # a key this server has never been given
    async with fake_upstream({CHAT: json_reply(fixture("openai/chat_completion.json"))}) as up:
        key = await _keyed_provider(registry, admin, up.url, planted)
        alice = await registry.users.create(admin, UserCreate(email="alice@example.com"))
        member = await registry.keys.authenticate(
            (await registry.keys.create(admin, ApiKeyCreate(name="a", user_id=alice.id))).key
        )
        mine = await registry.providers.create(
            member,
            {
                "name": "alices",
                "kind": "openai",
                "base_url": "https://api.example.com/v1",
                "api_key": planted,
            },
        )
        ring = Keyring.from_texts([stranger], "stranger")
        async with registry.db.engine.begin() as conn:
            for row in await conn.execute(select(Provider.id)):
                await conn.execute(
                    update(Provider)
                    .where(Provider.id == row.id)
                    .values(api_key_sealed=ring.seal(planted, context=f"provider:{row.id}"))
                )
        local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
        async with running(local, registry) as (url, _app), httpx.AsyncClient() as http:
            answer = await http.get(f"{url}/health/ready")
            assert answer.status_code == 503
            body = answer.json()
            assert body["status"] == "not ready"
            assert body["checks"]["secrets"] == "2 provider key(s) cannot be opened by this server"
            reason = (
                f"a secret is sealed with master key {ring.primary_id}, which is not configured"
            )
            assert body["unreadable_secrets"] == [
                {"provider": "openai-up", "owner": "system", "reason": reason},
                {"provider_id": str(mine.id), "owner": "member", "reason": reason},
            ]
            assert planted not in answer.text
            assert stranger not in answer.text
            assert "alices" not in answer.text  # a member's names are their own

            # the operator adds the missing key to the key file: ready again, no restart
            keys = read_key_file(settings.master_key_file)
            write_key_file(settings.master_key_file, [*keys, stranger])
            for _ in range(6000):  # a guard against a hang, not a measure
                answer = await http.get(f"{url}/health/ready")
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.01)
            assert answer.json()["checks"]["secrets"] == "ok"
            call = await http.post(
                f"{url}/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {key}"},
            )
            assert call.status_code == 200
    assert [r.headers["Authorization"] for r in up.received] == [f"Bearer {planted}"]
