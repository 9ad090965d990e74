"""auditEvents and verifyAuditChain: REST's /api/v1/audit trail (admins only) with its
filters and masked snapshots, and a tampered event named by the chain's check."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text, update

from modelyard.db.tables import AuditEvent
from modelyard.services import Registry
from tests.api.graphql.activity_rest import instants, like_graphql
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, make_model, make_provider, ok

AUDIT = f"{API}/audit"
PROVIDER_KEY = "sk-secret-plaintext-0123456789wxyz"
FIELDS = (
    "id occurredAt actorId actorLabel action entityType entityId before after configVersion"
    " prevHash hash"
)
EVENTS = f"""query($first: Int, $after: String, $entityType: String, $entityId: String,
    $action: String, $actorId: String, $since: DateTime, $until: DateTime) {{
  auditEvents(first: $first, after: $after, entityType: $entityType, entityId: $entityId,
      action: $action, actorId: $actorId, since: $since, until: $until) {{
    totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {FIELDS} }}
  }}
}}"""
VERIFY = "{ verifyAuditChain { ok checked brokenAt reason } }"


async def _some_history(client: httpx.AsyncClient, admin_key: str) -> dict[str, Any]:
    provider = await make_provider(client, admin_key, "openai", api_key=PROVIDER_KEY)
    path = f"{API}/providers/{provider['id']}"
    ok(await client.patch(path, headers=auth(admin_key), json={"rpm_limit": 10}))
    await make_model(client, admin_key, provider["id"])
    return provider


async def test_the_trail_is_rests_with_the_key_masked(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    provider = await _some_history(client, admin_key)
    response = await gql(client, admin_key, EVENTS)
    assert PROVIDER_KEY not in response.text
    page = response.json()["data"]["auditEvents"]
    rest = ok(await client.get(AUDIT, headers=auth(admin_key)))
    assert page["totalCount"] == rest["total"]
    assert [instants(e) for e in page["nodes"]] == [like_graphql(e) for e in rest["items"]]
    created = next(e for e in page["nodes"] if e["action"] == "provider.create")
    assert (created["entityType"], created["entityId"]) == ("provider", provider["id"])
    assert created["after"]["api_key"] == "sk-...wxyz"
    updated = next(e for e in page["nodes"] if e["action"] == "provider.update")
    assert (updated["before"]["rpm_limit"], updated["after"]["rpm_limit"]) == (None, 10)


@pytest.mark.parametrize(
    "variables",
    [
        {"entityType": "provider"},
        {"action": "model.create"},
        {"entityType": "model", "first": 1},
        {"action": "provider.create", "since": "2000-01-01T00:00:00Z"},
        {"action": "provider.create", "until": "2000-01-01T00:00:00Z"},
        {"actorId": "member"},
        {"entityId": "provider"},
    ],
)
async def test_filters_are_rests(
    client: httpx.AsyncClient, admin_key: str, variables: dict[str, Any]
) -> None:
    await _some_history(client, admin_key)
    member = await make_member(client, admin_key)
    mine = await make_provider(client, member.key, "mine")
    if variables.get("actorId") == "member":
        variables = {"actorId": member.id}
    if variables.get("entityId") == "provider":
        variables = {"entityId": mine["id"]}
    page = (await data(client, admin_key, EVENTS, variables))["auditEvents"]
    names = {"entityType": "entity_type", "entityId": "entity_id", "actorId": "actor_id"}
    params = {names.get(k, k).replace("first", "limit"): v for k, v in variables.items()}
    rest = ok(await client.get(AUDIT, headers=auth(admin_key), params=params))
    assert page["totalCount"] == rest["total"]
    assert [instants(e) for e in page["nodes"]] == [like_graphql(e) for e in rest["items"]]


async def test_the_trail_pages_newest_first(client: httpx.AsyncClient, admin_key: str) -> None:
    await _some_history(client, admin_key)
    seen: list[int] = []
    after = None
    while True:
        page = (await data(client, admin_key, EVENTS, {"first": 2, "after": after}))["auditEvents"]
        seen += [int(e["id"]) for e in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == page["totalCount"] >= 3


async def test_the_chain_verifies_as_rest_says(client: httpx.AsyncClient, admin_key: str) -> None:
    await _some_history(client, admin_key)
    report = (await data(client, admin_key, VERIFY))["verifyAuditChain"]
    rest = ok(await client.get(f"{AUDIT}/verify", headers=auth(admin_key)))
    assert report == {"ok": True, "checked": rest["checked"], "brokenAt": None, "reason": None}
    assert rest["checked"] >= 3


async def test_a_tampered_event_is_named(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    await _some_history(client, admin_key)
    events = (await data(client, admin_key, EVENTS))["auditEvents"]["nodes"]
    target = int(next(e for e in events if e["action"] == "provider.update")["id"])
    async with registry.db.engine.begin() as conn:  # behind the registry's back
        if registry.db.is_postgres:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            update(AuditEvent).where(AuditEvent.id == target).values(after={"rpm_limit": 99})
        )
    report = (await data(client, admin_key, VERIFY))["verifyAuditChain"]
    assert report["ok"] is False
    assert report["brokenAt"] == str(target)
    assert report["reason"]
    rest = ok(await client.get(f"{AUDIT}/verify", headers=auth(admin_key)))
    assert (rest["broken_at"], rest["reason"]) == (target, report["reason"])


@pytest.mark.parametrize(("query", "path"), [(EVENTS, AUDIT), (VERIFY, f"{AUDIT}/verify")])
async def test_members_may_not_read_the_trail_as_rest_refuses_them(
    client: httpx.AsyncClient, admin_key: str, query: str, path: str
) -> None:
    await _some_history(client, admin_key)
    member = await make_member(client, admin_key)
    found = await error(client, member.key, query, code="FORBIDDEN")
    rest = assert_error(await client.get(path, headers=member.headers), 403, "FORBIDDEN")
    assert found["extensions"]["status"] == 403
    assert found["message"] == rest["message"]


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"since": "2030-01-01T00:00:00"}, "since"),
        ({"until": "2030-01-01T00:00:00"}, "until"),
        ({"first": 501}, "first"),
    ],
)
async def test_bad_arguments_are_named(
    client: httpx.AsyncClient, admin_key: str, variables: dict[str, Any], argument: str
) -> None:
    found = await error(client, admin_key, EVENTS, variables, code="VALIDATION_FAILED")
    assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [argument]


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient) -> None:
    for query in (EVENTS, VERIFY):
        response = await gql(client, None, query)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
