"""``modelyard chat``: one prompt through the gateway in process, streamed to the terminal."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from modelyard.db.engine import create_engine
from modelyard.db.tables import UsageEvent
from tests.cli.conftest import Cli


def _usage(database_url: str) -> list[tuple[str, int]]:
    async def read() -> list[tuple[str, int]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(select(UsageEvent.status, UsageEvent.completion_tokens))
                return [(status, tokens) for status, tokens in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _fake_model(ready: Cli) -> None:
    ready.ok(
        "providers",
        "add",
        "--name=demo",
        "--kind=fake",
        '--config={"reply": "streamed from the fake provider", "stream_chunks": 4}',
    )
    ready.ok(
        "models",
        "add",
        "--provider=demo",
        "--model-id=demo-model",
        "--input-price=1",
        "--output-price=2",
    )


def test_chat_streams_the_answer_and_records_usage(ready: Cli) -> None:
    _fake_model(ready)
    result = ready.ok("chat", "hello", "--model", "demo-model")
    assert result.stdout.strip() == "streamed from the fake provider"
    reply = ready.json("chat", "hello", "--model", "demo-model")
    assert reply["choices"][0]["message"]["content"] == "streamed from the fake provider"
    usage = _usage(ready.database_url)
    assert len(usage) == 2
    assert all(status == "ok" and tokens > 0 for status, tokens in usage)


def test_chat_names_an_unknown_model_and_an_uninitialised_database(cli: Cli) -> None:
    assert "run `modelyard init`" in cli.fails("chat", "hello")
    cli.ok("init")
    assert "MODEL_NOT_FOUND" in cli.fails("chat", "hello", "--model", "nope")


def test_usage_totals_follow_chat_calls(ready: Cli) -> None:
    _fake_model(ready)
    ready.ok("chat", "one", "--model", "demo-model")
    ready.ok("chat", "two", "--model", "demo-model")
    (total,) = ready.json("usage", "--model", "demo-model")
    assert total["calls"] == 2
    assert total["user_email"] == "admin@example.com"
    assert ready.json("usage", "--model", "other") == []
    assert "--since" in ready.fails("usage", "--since", "yesterday")
