from __future__ import annotations

import httpx


async def test_admin_creates_a_provider_and_reads_it_back(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_key}"}
    created = await client.post(
        "/api/v1/providers",
        headers=auth,
        json={"name": "openai", "kind": "openai", "api_key": "sk-smoke-0123456789abcd"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["api_key"] == "sk-...abcd"
    listed = await client.get("/api/v1/providers", headers=auth)
    assert listed.json()["total"] == 1
