"""Fixtures for import and export: the fixture files, their environment, a registry with
something of everything in it, and a second, empty database to import into."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from modelyard.billing.plans import PlanCreate
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.support import pg

FIXTURES = Path(__file__).parent.parent / "fixtures" / "transfer"
SEED004 = FIXTURES / "admin_settings.json"
LITELLM = FIXTURES / "litellm_config.yaml"
SEED004_KEY = "gsk_FAKEfixtureKEY0123456789abcdefNOTREAL"
LITELLM_ENV = {
    "FIXTURE_OPENAI_API_KEY": "sk-fixtureOPENAIkey000000000001",
    "FIXTURE_ANTHROPIC_API_KEY": "sk-ant-fixtureANTHROPICkey0001",
    "FIXTURE_GROQ_API_KEY": "gsk_fixtureGROQkey000000000001",
    "FIXTURE_GEMINI_API_KEY": "AIzaFixtureGEMINIkey0000000001",
}
# Every secret the fixture files hold or point at: none may appear in any output.
SECRETS = (SEED004_KEY, *LITELLM_ENV.values(), "sk-fixture-master-NOTREAL", "user:pass")
JAN, MAR = "2030-01-01T00:00:00+00:00", "2030-03-01T00:00:00+00:00"


@pytest.fixture(scope="session")
def pg_second_database(pg_database: str | None) -> Iterator[str | None]:
    """A second PostgreSQL database for the run (made on first use, migrated once)."""
    if pg_database is None:
        yield None
        return
    name = f"modelyard_second_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(pg.create_database(name))
    try:
        yield url
    finally:
        asyncio.run(pg.drop_database(name))


@pytest.fixture
def second_url(
    database_url: str,
    tmp_path: Path,
    sqlite_template: Path,
    request: pytest.FixtureRequest,
) -> str:
    """Another fresh, migrated database on the same engine as ``database_url``."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "second.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str | None = request.getfixturevalue("pg_second_database")
    assert url is not None  # database_url is on PostgreSQL, so the server answers
    asyncio.run(pg.reset(url))
    return url


@pytest.fixture
async def second(settings: Settings, second_url: str) -> AsyncIterator[Registry]:
    """A registry on the second database, with the same master key file."""
    reg = Registry.open(settings.model_copy(update={"database_url": second_url}))
    yield reg
    await reg.close()


async def populate(registry: Registry, admin: Actor) -> dict[str, Any]:
    """Something of every kind: enabled and disabled providers, a key, models with a price
    history, a deprecated model, defaults, the active provider, settings and a plan."""
    fake = await registry.providers.create(
        admin, {"name": "demo", "kind": "fake", "rpm_limit": 60, "weight": 3}
    )
    await registry.providers.create(
        admin,
        {
            "name": "openai",
            "kind": "openai",
            "api_key": "sk-populateOPENAIkey0000000001",
            "display_name": "OpenAI",
            "timeout_ms": 30_000,
        },
    )
    await registry.providers.create(
        admin, {"name": "anthropic", "kind": "anthropic", "enabled": False}
    )
    price = {"input_per_mtok": "2.50", "output_per_mtok": "10", "effective_from": JAN}
    chat = await registry.models.create(
        admin,
        {
            "provider_id": fake.id,
            "model_id": "demo-chat",
            "capabilities": ["text", "streaming", "vision"],
            "context_window": 128000,
            "fallbacks": ["demo/demo-old"],
            "price": price,
        },
    )
    later = {"input_per_mtok": "1.25", "output_per_mtok": "5", "effective_from": MAR}
    await registry.prices.set(admin, chat.id, later | {"credits_per_1k": "0.5"})
    old = await registry.models.create(admin, {"provider_id": fake.id, "model_id": "demo-old"})
    await registry.models.set_status(admin, old.id, "DEPRECATED")
    await registry.models.set_default(admin, chat.id)
    await registry.providers.set_default(admin, fake.id)
    await registry.providers.activate(admin, fake.id)
    await registry.settings.set(admin, "gateway.retry", {"max_attempts": 3})
    await registry.settings.set(admin, "defaults.chat_model", "demo/demo-chat")
    await registry.settings.set(admin, "custom.team", {"name": "platform"})
    plan = PlanCreate(
        name="team", monthly_credits=Decimal(2500), rollover="capped", rollover_cap=Decimal(500)
    )
    await registry.plans.create(admin, plan)
    return {"fake": fake, "chat": chat}
