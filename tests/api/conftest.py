"""Fixtures shared by the HTTP tests: a system provider, and a model with two prices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import API, JAN, MAR, auth, make_model, make_provider, ok


@pytest.fixture
async def provider(client: httpx.AsyncClient, admin_key: str) -> dict[str, Any]:
    return await make_provider(client, admin_key, "openai")


@pytest.fixture
async def priced(
    client: httpx.AsyncClient, admin_key: str, provider: dict[str, Any]
) -> dict[str, Any]:
    """A system model priced 2.50/10 from January 2030 and 1.25/5 from March 2030."""
    price = {"input_per_mtok": "2.50", "output_per_mtok": "10", "effective_from": JAN}
    model = await make_model(client, admin_key, provider["id"], "gpt-4o", price=price)
    later = {"input_per_mtok": "1.25", "output_per_mtok": "5", "effective_from": MAR}
    path = f"{API}/models/{model['id']}/prices"
    ok(await client.post(path, headers=auth(admin_key), json=later), 201)
    return model
