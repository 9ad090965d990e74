"""usageTotals and usageEvents: the same figures as REST's /api/v1/usage for the same
filters, members limited to their own calls, paging, and bad filters named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelyard.services import Registry
from tests.api.graphql.activity_rest import instants, like_graphql
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok
from tests.api.usage_rows import NEWEST_FIRST, insert_rows, sample

USAGE, EVENTS = f"{API}/usage", f"{API}/usage/events"
TOTAL_FIELDS = (
    "day userId userEmail model provider calls errors promptTokens completionTokens cost"
    " currency credits"
)
EVENT_FIELDS = (
    "id requestId clientRequestId occurredAt userId userEmail apiKeyId provider model"
    " operation status errorCode promptTokens completionTokens cachedTokens cacheWriteTokens"
    " estimated latencyMs ttftMs attempts cost currency credits"
)
ARGS = (
    "$userId: ID, $model: String, $provider: String, $clientRequestId: String,"
    " $since: DateTime, $until: DateTime"
)
PASS = (
    "userId: $userId, model: $model, provider: $provider, clientRequestId: $clientRequestId,"
    " since: $since, until: $until"
)
TOTALS = f"""query($groupBy: [String!], {ARGS}) {{
  usageTotals(groupBy: $groupBy, {PASS}) {{ {TOTAL_FIELDS} }}
}}"""
EVENTS_QUERY = f"""query($first: Int, $after: String, $status: String, {ARGS}) {{
  usageEvents(first: $first, after: $after, status: $status, {PASS}) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
  }}
}}"""


@dataclass
class World:
    client: httpx.AsyncClient
    ids: dict[str, str]  # admin, alice, bob -> user id (admin's unused)
    keys: dict[str, str]  # admin, alice, bob -> API key
    rows: list[dict[str, Any]]  # as inserted, in SAMPLE's order

    async def rest(self, path: str, who: str, **params: Any) -> Any:
        return ok(await self.client.get(path, headers=auth(self.keys[who]), params=params))

    async def totals(self, who: str, **variables: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await data(self.client, self.keys[who], TOTALS, variables))[
            "usageTotals"
        ]
        return found

    async def events(self, who: str, **variables: Any) -> dict[str, Any]:
        found: dict[str, Any] = (await data(self.client, self.keys[who], EVENTS_QUERY, variables))[
            "usageEvents"
        ]
        return found


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_key: str, registry: Registry) -> World:
    ids, keys = {"admin": ""}, {"admin": admin_key}
    for name in ("alice", "bob"):
        member = await make_member(client, admin_key, scopes=["llm.inference", "registry.read"])
        ids[name], keys[name] = member.id, member.key
    rows = sample(ids)
    await insert_rows(registry.db.engine, rows)
    return World(client, ids, keys, rows)


def rest_params(variables: dict[str, Any]) -> dict[str, Any]:
    """GraphQL variables as REST's query parameters."""
    names = {"groupBy": "group_by", "userId": "user_id", "clientRequestId": "client_request_id"}
    return {names.get(k, k): v for k, v in variables.items()}


FILTERS = [
    pytest.param({}, id="default-groups"),
    pytest.param({"groupBy": ["model"]}, id="model"),
    pytest.param({"groupBy": ["day", "provider"]}, id="day-provider"),
    pytest.param({"groupBy": ["provider,day"]}, id="comma-separated"),
    pytest.param({"groupBy": ["user"]}, id="user-two-currencies"),
    pytest.param({"userId": "bob", "groupBy": ["model"]}, id="user-id"),
    pytest.param({"model": "gpt-4o"}, id="model-filter"),
    pytest.param({"provider": "anthropic"}, id="provider-filter"),
    pytest.param({"since": "2030-01-02T00:00:00Z"}, id="since"),
    pytest.param(
        {"since": "2030-01-01T11:00:00Z", "until": "2030-01-01T12:00:00+00:00"}, id="range"
    ),
    pytest.param({"clientRequestId": "job-7"}, id="client-request-id"),
    pytest.param({"provider": "openai", "model": "claude"}, id="nothing"),
]


@pytest.mark.parametrize("variables", FILTERS)
@pytest.mark.parametrize("who", ["admin", "alice"])
async def test_totals_are_rests_for_the_same_filters(
    world: World, who: str, variables: dict[str, Any]
) -> None:
    if "userId" in variables:
        variables = variables | {"userId": world.ids[variables["userId"]]}
    totals = await world.totals(who, **variables)
    rest = await world.rest(USAGE, who, **rest_params(variables))
    assert totals == [like_graphql(t) for t in rest]


async def test_totals_hold_exact_amounts_and_64_bit_counts(world: World) -> None:
    totals = await world.totals("admin", groupBy=["model"])
    assert [
        (t["model"], t["calls"], t["promptTokens"], t["cost"], t["credits"]) for t in totals
    ] == [
        ("claude", 1, 200, "0.003", "2"),
        ("gpt-4o", 3, 1110, "0.007515", "1.5"),
        ("gpt-4o-mini", 2, 45, "0.01", "0.25"),
    ]


async def test_a_member_sees_only_their_own_usage_whatever_they_ask(world: World) -> None:
    bob = world.ids["bob"]
    for variables in ({}, {"userId": bob}):
        totals = await world.totals("alice", **variables)
        assert {t["userId"] for t in totals} == {world.ids["alice"]}
        assert sum(t["calls"] for t in totals) == 3
        events = await world.events("alice", **variables)
        assert events["totalCount"] == 3
        assert {e["node"]["userId"] for e in events["edges"]} == {world.ids["alice"]}
    tagged = await world.events("bob", clientRequestId="job-7")
    assert [e["node"]["requestId"] for e in tagged["edges"]] == [world.rows[3]["request_id"]]
    assert (await world.events("admin"))["totalCount"] == 6


@pytest.mark.parametrize(
    "variables",
    [*FILTERS[5:], pytest.param({"status": "aborted"}, id="status")],
)
@pytest.mark.parametrize("who", ["admin", "bob"])
async def test_events_are_rests_for_the_same_filters(
    world: World, who: str, variables: dict[str, Any]
) -> None:
    if "userId" in variables:
        variables = variables | {"userId": world.ids[variables["userId"]]}
    variables = {k: v for k, v in variables.items() if k != "groupBy"}
    events = await world.events(who, **variables)
    rest = await world.rest(EVENTS, who, **rest_params(variables))
    assert events["totalCount"] == rest["total"]
    nodes = [instants(e["node"]) for e in events["edges"]]
    assert nodes == [like_graphql(e) for e in rest["items"]]


async def test_events_are_newest_first_and_paged_by_cursor(world: World) -> None:
    seen, after, pages = [], None, 0
    while True:
        page = await world.events("admin", first=4, after=after)
        assert page["totalCount"] == 6
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["requestId"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 2
    assert seen == [world.rows[i]["request_id"] for i in NEWEST_FIRST]
    assert (await world.events("admin", first=500))["totalCount"] == 6


@pytest.mark.parametrize(
    ("query", "variables", "argument", "says"),
    [
        (TOTALS, {"groupBy": ["week"]}, "groupBy", "'week' is not a group"),
        (TOTALS, {"groupBy": ["day", "model,weekly"]}, "groupBy", "'weekly' is not a group"),
        (
            TOTALS,
            {"since": "2030-02-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            "until",
            "must not be before since",
        ),
        (
            EVENTS_QUERY,
            {"since": "2030-02-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            "until",
            "must not be before since",
        ),
        (EVENTS_QUERY, {"status": "bogus"}, "status", "'ok', 'error' or 'aborted'"),
        (TOTALS, {"userId": "not-a-uuid"}, "userId", "UUID"),
        (EVENTS_QUERY, {"clientRequestId": "x" * 101}, "clientRequestId", "at most 100"),
        (TOTALS, {"since": "2030-01-01T00:00:00"}, "since", "timezone"),
        (EVENTS_QUERY, {"first": 501}, "first", "between 1 and 500"),
        (EVENTS_QUERY, {"first": 0}, "first", "between 1 and 500"),
        (EVENTS_QUERY, {"after": "not-ours"}, "after", "not a cursor"),
    ],
)
async def test_bad_filters_are_refused_naming_the_argument(
    world: World, query: str, variables: dict[str, Any], argument: str, says: str
) -> None:
    found = await error(
        world.client, world.keys["admin"], query, variables, code="VALIDATION_FAILED"
    )
    assert found["extensions"]["status"] == 422
    assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [argument]
    assert says in found["message"]
    assert found["path"] == ["usageTotals" if query is TOTALS else "usageEvents"]


async def test_the_events_page_of_1000_is_rests_only(world: World) -> None:
    """REST's events page takes up to 1000 calls; a connection's ``first`` at most 500."""
    assert (await world.rest(EVENTS, "admin", limit=1000))["total"] == 6
    await error(
        world.client, world.keys["admin"], EVENTS_QUERY, {"first": 1000}, code="VALIDATION_FAILED"
    )


async def test_without_registry_read_usage_is_refused_as_rest_refuses_it(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    narrow = await make_member(client, admin_key, scopes=["llm.inference"])
    for query, path in ((TOTALS, USAGE), (EVENTS_QUERY, EVENTS)):
        found = await error(client, narrow.key, query, code="INSUFFICIENT_SCOPE")
        assert found["extensions"]["status"] == 403
        assert_error(await client.get(path, headers=narrow.headers), 403, "INSUFFICIENT_SCOPE")


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient) -> None:
    for query in (TOTALS, EVENTS_QUERY):
        response = await gql(client, None, query)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
