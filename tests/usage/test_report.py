"""Usage totals by day, user and model: the REST route and `modelyard usage`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import openai

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running


async def _key(registry: Registry, admin: Actor, email: str) -> str:
    user = await registry.users.create(admin, UserCreate(email=email))
    # calls models, then reads its own usage over the admin API
    spec = ApiKeyCreate(name="k", user_id=user.id, scopes=["llm.inference", "registry.read"])
    return (await registry.keys.create(admin, spec)).key


async def test_members_see_their_own_totals_and_admins_everyones(
    settings: Settings, registry: Registry, admin: Actor, admin_key: str, tmp_path: Any
) -> None:
    provider = await registry.providers.create(
        admin,
        {
            "name": "fake",
            "kind": "fake",
            "config": {"prompt_tokens": 100, "completion_tokens": 50},
        },
    )
    await registry.models.create(
        admin,
        {
            "provider_id": provider.id,
            "model_id": "m",
            "price": {"input_per_mtok": "3", "output_per_mtok": "15"},
        },
    )
    alice = await _key(registry, admin, "alice@example.com")
    bob = await _key(registry, admin, "bob@example.com")
    local = settings.model_copy(update={"usage_outbox": tmp_path / "outbox"})
    async with running(local, registry) as (url, _app):
        for key, calls in ((alice, 2), (bob, 1)):
            client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
            for _ in range(calls):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}]
                )
            await client.close()
    async with running(local, registry) as (url, _app), httpx.AsyncClient() as http:
        mine = (
            await http.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {alice}"})
        ).json()
        everyone = (
            await http.get(f"{url}/api/v1/usage", headers={"Authorization": f"Bearer {admin_key}"})
        ).json()
        naive = await http.get(
            f"{url}/api/v1/usage",
            params={"since": "2026-01-01T00:00:00"},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
    assert [(t["user_email"], t["calls"], t["prompt_tokens"]) for t in mine] == [
        ("alice@example.com", 2, 200)
    ]
    assert Decimal(mine[0]["cost"]) == Decimal("0.0021")  # 2 * (100 * 3 + 50 * 15) / 1e6
    assert sorted((t["user_email"], t["calls"]) for t in everyone) == [
        ("alice@example.com", 2),
        ("bob@example.com", 1),
    ]
    assert naive.status_code == 422
