"""OAuth access tokens (``myat_...``) on ``/v1``, through a real server with the official
``openai`` SDK as a desktop app would call it: calls and their usage rows, the three header
forms, scope denial, expiry, and a token's cost after its first use (no SQL)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import event, select

from modelyard.db.tables import UsageEvent
from modelyard.registry import oauth_access
from modelyard.registry.actors import Actor
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running
from tests.support import oauth_rows

MODEL = "fake-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Rig:
    url: str
    app: Any
    registry: Registry
    user_id: uuid.UUID

    async def mint(self, *scopes: str, ttl_s: float = 3600) -> str:
        chosen = scopes or ("llm.inference", "models.read")
        return await oauth_rows.mint(self.registry, self.user_id, chosen, ttl_s=ttl_s)

    async def post(self, token: str, body: dict[str, Any] = CHAT, **headers: str) -> httpx.Response:
        sent = headers or {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.url) as http:
            return await http.post("/v1/chat/completions", json=body, headers=sent)


@pytest.fixture
async def rig(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[Rig]:
    provider = await registry.providers.create(
        admin, {"name": "fake-a", "kind": "fake", "config": {"reply": "hello"}}
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": MODEL,
            "capabilities": ["text", "streaming", "embedding"],
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    await oauth_rows.client_pk(registry)  # registered (audited) before the servers start
    local = settings.model_copy(
        update={
            "usage_outbox": tmp_path / "usage.outbox",
            "billing_interval_s": 0,
            "refresh_interval_s": 60.0,  # no generation polls among the statements counted
            "partition_interval_s": 0,  # nor the usage partitions' upkeep
        }
    )
    async with running(local, registry) as (url, app):
        yield Rig(url, app, registry, user.id)


async def test_the_sdk_calls_with_an_access_token_and_usage_rows_name_the_app(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await rig.mint()
    client = openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=token, max_retries=0)
    reply = await client.chat.completions.create(model=MODEL, messages=CHAT["messages"])
    assert reply.choices[0].message.content == "hello"
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=CHAT["messages"],
        stream=True,  # type: ignore[arg-type]
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert len((await client.embeddings.create(model=MODEL, input=["a", "b"])).data) == 2
    assert MODEL in [m.id for m in (await client.models.list()).data]
    await client.close()
    await rig.app.state.gateway.recorder.flush()
    async with rig.registry.db.engine.connect() as conn:
        rows = (await conn.execute(select(UsageEvent))).all()
    assert len(rows) == 3  # chat, stream, embeddings (listing models is not a call)
    for row in rows:
        assert row.user_id == rig.user_id
        assert row.api_key_id is None
        assert row.metadata["oauth_client"] == oauth_rows.APP
        assert row.status == "ok"
    assert token not in caplog.text
    assert token[5:] not in caplog.text


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "api-key"])
async def test_a_token_is_taken_in_each_header(rig: Rig, header: str) -> None:
    token = await rig.mint()
    value = f"Bearer {token}" if header == "Authorization" else token
    response = await rig.post(token, **{header: value})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("scopes", "path", "needed"),
    [
        (("models.read",), "/v1/chat/completions", "llm.inference"),
        (("llm.inference",), "/v1/models", "models.read"),
        (("openid", "email", "profile", "offline_access"), "/v1/chat/completions", "llm.inference"),
        (("openid", "email", "profile", "offline_access"), "/v1/models", "models.read"),
        (("user.info", "credits.read"), "/v1/embeddings", "llm.inference"),
    ],
    ids=["models-only", "inference-only", "oidc-chat", "oidc-models", "profile-scopes"],
)
async def test_a_token_without_the_routes_scope_is_a_403_naming_it(
    rig: Rig, scopes: tuple[str, ...], path: str, needed: str
) -> None:
    token = await rig.mint(*scopes)
    async with httpx.AsyncClient(base_url=rig.url) as http:
        headers = {"Authorization": f"Bearer {token}"}
        if path == "/v1/models":
            response = await http.get(path, headers=headers)
        else:
            response = await http.post(path, json={**CHAT, "input": "hi"}, headers=headers)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert needed in error["message"]


async def test_the_sdk_sees_a_scope_denial_as_permission_denied(rig: Rig) -> None:
    token = await rig.mint("models.read")
    client = openai.AsyncOpenAI(base_url=f"{rig.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await client.chat.completions.create(model=MODEL, messages=CHAT["messages"])
    assert caught.value.code == "insufficient_scope"
    assert (await client.models.list()).data  # what it holds still works
    await client.close()


async def test_an_expired_token_is_refused_and_one_expiring_while_cached_too(rig: Rig) -> None:
    expired = await rig.mint(ttl_s=-1)
    response = await rig.post(expired)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    short = await rig.mint(ttl_s=1.0)
    assert (await rig.post(short)).status_code == 200  # now cached
    await asyncio.sleep(1.1)
    assert (await rig.post(short)).status_code == 401  # the expiry is checked per call


async def test_unknown_revoked_and_foreign_shaped_tokens_are_401s(rig: Rig) -> None:
    token = await rig.mint()
    await oauth_rows.revoke(rig.registry, token)
    for bad in (token, "myat_" + "x" * 43, "myat_", "myat_short", "myat_" + "-" * 43):
        response = await rig.post(bad)
        assert response.status_code == 401, bad
        assert bad not in response.text


async def test_a_used_token_costs_no_sql_and_garbage_queries_at_most_once(rig: Rig) -> None:
    token = await rig.mint()
    assert (await rig.post(token)).status_code == 200  # the first use asks the database
    gateway = rig.app.state.gateway
    await gateway.recorder.flush()
    gateway.recorder.flush_interval_s = 60.0
    statements: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    engine = rig.registry.db.engine.sync_engine
    lookups = gateway.tokens.lookups
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(30):
            assert (await rig.post(token)).status_code == 200
        assert _queries(statements) == []  # a known token: a dict lookup, like an API key
        garbage = "myat_" + "g" * 43
        malformed = ["myat_", "myat_!!", "myat_" + "z" * 500]
        for _ in range(30):
            assert (await rig.post(garbage)).status_code == 401
            for bad in malformed:
                assert (await rig.post(bad)).status_code == 401
        await asyncio.gather(*(rig.post("myat_" + "h" * 43) for _ in range(20)))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    token_queries = _queries(statements)
    assert all("oauth_tokens" in s for s in token_queries)
    assert len(token_queries) == 2  # one per distinct well-formed token, none for malformed
    assert gateway.tokens.lookups - lookups == 2


def _queries(statements: list[str]) -> list[str]:
    """The statements but the batched usage inserts (with their daily roll-ups) and
    transaction bounds."""
    return [
        s
        for s in statements
        if not s.lstrip()
        .upper()
        .startswith(("INSERT INTO USAGE_EVENTS", "INSERT INTO USAGE_DAILY"))
        and s.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")
    ]


async def test_with_the_database_unreachable_known_tokens_work_and_new_ones_get_a_503(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    known, new = await rig.mint(), await rig.mint()
    assert (await rig.post(known)).status_code == 200

    async def unreachable(*_a: Any) -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(oauth_access, "find_many", unreachable)
    assert (await rig.post(known)).status_code == 200  # from memory, as keys from the snapshot
    refused = await rig.post(new)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "dependency_unavailable"
    monkeypatch.undo()
    assert (await rig.post(new)).status_code == 200  # the fault was not remembered


async def test_anthropics_messages_take_a_token_in_x_api_key(rig: Rig) -> None:
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    token = await rig.mint()
    headers = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=rig.url) as http:
        answered = await http.post("/v1/messages", json=body, headers=headers)
        assert answered.status_code == 200, answered.text
        assert answered.json()["type"] == "message"
        lacking = await rig.mint("models.read")
        headers["x-api-key"] = lacking
        refused = await http.post("/v1/messages", json=body, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "error"
    assert "llm.inference" in refused.json()["error"]["message"]
