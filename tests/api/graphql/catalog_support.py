"""Shared pieces of the catalog's /graphql tests: a member's own provider, the audit trail
of one entity, and REST's view of providers and models to compare before and after."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import API, Member, auth, make_model, make_provider, ok

# A public address literal: a member's provider may reach no other (and no DNS lookup).
PUBLIC_URL = "http://93.184.215.14:11434"
UPSTREAM_KEY = "sk-test-0123456789abcd"  # make_provider's key: must never come back


async def own_provider(
    client: httpx.AsyncClient, member: Member, name: str = "mine", **fields: Any
) -> dict[str, Any]:
    """A member's own (ollama) provider with one model, ``local-model``."""
    provider = await make_provider(
        client, member.key, name, kind="ollama", base_url=PUBLIC_URL, api_key=None, **fields
    )
    provider["model"] = await make_model(client, member.key, provider["id"], "local-model")
    return provider


async def audit_actions(client: httpx.AsyncClient, admin_key: str, entity_id: str) -> list[str]:
    """The audit trail's actions on ``entity_id``, oldest first."""
    page = ok(
        await client.get(
            f"{API}/audit", params={"entity_id": entity_id, "limit": 500}, headers=auth(admin_key)
        )
    )
    return [e["action"] for e in reversed(page["items"])]


async def rest_state(client: httpx.AsyncClient, admin_key: str) -> list[Any]:
    """Every provider and model with prices as REST shows them to the admin now."""
    return [
        ok(await client.get(f"{API}/overview", headers=auth(admin_key))),
        ok(await client.get(f"{API}/audit/verify", headers=auth(admin_key)))["checked"],
    ]
