"""/api/v1/usage and /api/v1/usage/events: grouping, filters, who sees what, pages, CSV, and
bad input; on usage rows written straight into the database."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelyard.services import Registry
from tests.api.helpers import API, assert_error, auth, ok
from tests.api.usage_rows import NEWEST_FIRST, insert_rows, sample
from tests.api.usage_rows import row as usage_row

USAGE, EVENTS = f"{API}/usage", f"{API}/usage/events"
SUMS = ("calls", "errors", "prompt_tokens", "completion_tokens", "cost", "currency", "credits")


@dataclass
class World:
    client: httpx.AsyncClient
    admin_key: str
    ids: dict[str, str]  # alice, bob -> user id
    keys: dict[str, str]  # alice, bob -> API key
    rows: list[dict[str, Any]]  # as inserted, in SAMPLE's order

    async def get(self, path: str, who: str = "admin", **params: Any) -> Any:
        key = self.admin_key if who == "admin" else self.keys[who]
        return ok(await self.client.get(path, headers=auth(key), params=params))

    def request_ids(self, *indexes: int) -> list[str]:
        return [self.rows[i]["request_id"] for i in indexes]


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_key: str, registry: Registry) -> World:
    ids, keys = {}, {}
    for name in ("alice", "bob"):
        body = {"email": f"{name}@example.com", "role": "member"}
        user = ok(await client.post(f"{API}/users", headers=auth(admin_key), json=body), 201)
        body = {"name": name, "user_id": user["id"], "scopes": ["llm.inference", "registry.read"]}
        key = ok(await client.post(f"{API}/keys", headers=auth(admin_key), json=body), 201)
        ids[name], keys[name] = user["id"], key["key"]
    rows = sample(ids)
    await insert_rows(registry.db.engine, rows)
    return World(client, admin_key, ids, keys, rows)


def brief(totals: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    """The named fields, then the sums, of each total (emails shortened to the name)."""
    return [
        tuple(
            (t[f] or "").removesuffix("@example.com") if f == "user_email" else t[f]
            for f in (*fields, *SUMS)
        )
        for t in totals
    ]


# -- totals ------------------------------------------------------------------------------


async def test_default_groups_are_day_user_and_model(world: World) -> None:
    totals = await world.get(USAGE)
    assert brief(totals, "day", "user_email", "model") == [
        ("2030-01-01", "alice", "gpt-4o", 2, 1, 110, 50, "0.000015", "USD", "1.5"),
        ("2030-01-01", "bob", "gpt-4o", 1, 0, 1000, 500, "0.0075", "USD", None),
        ("2030-01-02", "alice", "claude", 1, 0, 200, 100, "0.003", "USD", "2"),
        # the unpriced call joins the group's one currency
        ("2030-01-02", "bob", "gpt-4o-mini", 2, 1, 45, 21, "0.01", "EUR", "0.25"),
    ]
    assert {t["user_id"] for t in totals} == set(world.ids.values())
    assert {t["provider"] for t in totals} == {None}  # not grouped by


async def test_group_by_model_gives_one_row_per_model_over_the_whole_range(
    world: World,
) -> None:
    totals = await world.get(USAGE, group_by="model")
    assert brief(totals, "model") == [
        ("claude", 1, 0, 200, 100, "0.003", "USD", "2"),
        ("gpt-4o", 3, 1, 1110, 550, "0.007515", "USD", "1.5"),
        ("gpt-4o-mini", 2, 1, 45, 21, "0.01", "EUR", "0.25"),
    ]
    assert {(t["day"], t["user_id"], t["user_email"], t["provider"]) for t in totals} == {
        (None, None, None, None)
    }


async def test_group_by_day_and_provider_repeated_or_comma_separated(world: World) -> None:
    repeated = await world.get(USAGE, group_by=["day", "provider"])
    assert brief(repeated, "day", "provider") == [
        ("2030-01-01", "openai", 3, 1, 1110, 550, "0.007515", "USD", "1.5"),
        ("2030-01-02", "anthropic", 1, 0, 200, 100, "0.003", "USD", "2"),
        ("2030-01-02", "openai", 2, 1, 45, 21, "0.01", "EUR", "0.25"),
    ]
    assert await world.get(USAGE, group_by="day,provider") == repeated
    flipped = await world.get(USAGE, group_by=["provider", "day"])  # sorted as grouped
    assert brief(flipped, "provider", "day")[:2] == [
        ("anthropic", "2030-01-02", 1, 0, 200, 100, "0.003", "USD", "2"),
        ("openai", "2030-01-01", 3, 1, 1110, 550, "0.007515", "USD", "1.5"),
    ]


async def test_two_currencies_in_one_group_are_never_added_up(world: World) -> None:
    totals = await world.get(USAGE, group_by="user")
    assert brief(totals, "user_email") == [
        ("alice", 3, 1, 310, 150, "0.003015", "USD", "3.5"),
        ("bob", 1, 0, 40, 20, "0.01", "EUR", "0.25"),
        ("bob", 1, 0, 1000, 500, "0.0075", "USD", None),
        ("bob", 1, 1, 5, 1, "0", None, None),  # unpriced: no single currency to join
    ]


@pytest.mark.parametrize(
    ("params", "indexes"),
    [
        pytest.param({"user_id": "bob"}, {3, 4, 5}, id="user"),
        pytest.param({"model": "gpt-4o"}, {0, 1, 3}, id="model"),
        pytest.param({"provider": "anthropic"}, {2}, id="provider"),
        pytest.param({"since": "2030-01-02T00:00:00Z"}, {2, 4, 5}, id="since"),
        pytest.param({"until": "2030-01-02T00:00:00+00:00"}, {0, 1, 3}, id="until"),
        pytest.param(
            {"since": "2030-01-01T11:00:00Z", "until": "2030-01-01T12:00:00Z"},
            {3},
            id="since-inclusive-until-exclusive",
        ),
        pytest.param({"since": "2030-01-01T12:00:00+01:00"}, {1, 2, 3, 4, 5}, id="other-zone"),
        pytest.param({"provider": "openai", "model": "claude"}, set(), id="nothing"),
        pytest.param({"client_request_id": "job-7"}, {1, 3}, id="client-request-id"),
        pytest.param({"client_request_id": "job-8"}, set(), id="client-request-id-none"),
    ],
)
async def test_filters_apply_to_totals_and_events(
    world: World, params: dict[str, str], indexes: set[int]
) -> None:
    if "user_id" in params:
        params = params | {"user_id": world.ids[params["user_id"]]}
    totals = await world.get(USAGE, **params, group_by="model")
    assert sum(t["calls"] for t in totals) == len(indexes)
    events = await world.get(EVENTS, **params)
    assert events["total"] == len(indexes)
    assert {e["request_id"] for e in events["items"]} == set(world.request_ids(*indexes))


async def test_members_see_only_their_own_usage_whatever_they_ask(world: World) -> None:
    bob = world.ids["bob"]
    for params in ({}, {"user_id": bob}):
        totals = await world.get(USAGE, "alice", **params)
        assert {t["user_email"] for t in totals} == {"alice@example.com"}
        assert sum(t["calls"] for t in totals) == 3
        events = await world.get(EVENTS, "alice", **params)
        assert events["total"] == 3
        assert {e["user_id"] for e in events["items"]} == {world.ids["alice"]}
    mine = await world.get(EVENTS, "bob", status="aborted")
    assert [e["request_id"] for e in mine["items"]] == world.request_ids(4)
    # bob chose the same client request id as alice: he finds his call, not hers
    tagged = await world.get(EVENTS, "bob", client_request_id="job-7")
    assert [e["request_id"] for e in tagged["items"]] == world.request_ids(3)
    everyone = await world.get(EVENTS)
    assert everyone["total"] == 6


# -- events ------------------------------------------------------------------------------


async def test_events_are_newest_first_and_paged(world: World) -> None:
    everything = await world.get(EVENTS)
    assert (everything["total"], everything["limit"], everything["offset"]) == (6, 100, 0)
    assert [e["request_id"] for e in everything["items"]] == world.request_ids(*NEWEST_FIRST)
    seen = []
    for offset in (0, 2, 4, 6):
        page = await world.get(EVENTS, limit=2, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (6, 2, offset)
        seen += [e["request_id"] for e in page["items"]]
    assert seen == world.request_ids(*NEWEST_FIRST)
    assert (await world.get(EVENTS, limit=1000))["total"] == 6
    keyed: list[str] = []  # keyset pages: each starts right after the last call seen
    while len(keyed) < 6:
        before = {"before": keyed[-1]} if keyed else {}
        keyed += [e["id"] for e in (await world.get(EVENTS, limit=4, **before))["items"]]
    assert keyed == [e["id"] for e in everything["items"]]
    assert (await world.get(EVENTS, before=keyed[-1]))["items"] == []


async def test_an_event_carries_the_call_and_nothing_secret(world: World) -> None:
    (event,) = (await world.get(EVENTS, status="error"))["items"]
    assert event == {
        "id": event["id"],
        "request_id": world.rows[1]["request_id"],
        "client_request_id": "job-7",
        "occurred_at": "2030-01-01T12:00:00Z",
        "user_id": world.ids["alice"],
        "user_email": "alice@example.com",
        "api_key_id": None,
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "status": "error",
        "error_code": "upstream_error",
        "prompt_tokens": 10,
        "completion_tokens": 0,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "estimated": False,
        "latency_ms": 120,
        "ttft_ms": None,
        "attempts": 1,
        "cost": "0.0000025",
        "currency": "USD",
        "credits": None,
    }


# -- CSV ---------------------------------------------------------------------------------


def parse_csv(response: httpx.Response, filename: str) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    return list(csv.reader(io.StringIO(response.text, newline="")))


async def test_totals_as_csv_have_the_grouped_columns_and_exact_amounts(world: World) -> None:
    params = {"group_by": "day,model", "user_id": world.ids["alice"], "format": "csv"}
    response = await world.client.get(USAGE, headers=auth(world.admin_key), params=params)
    assert parse_csv(response, "usage.csv") == [
        ["day", "model", *SUMS],
        ["2030-01-01", "gpt-4o", "2", "1", "110", "50", "0.000015", "USD", "1.5"],
        ["2030-01-02", "claude", "1", "0", "200", "100", "0.003", "USD", "2"],
    ]
    response = await world.client.get(
        USAGE, headers=auth(world.keys["bob"]), params={"format": "csv"}
    )
    header, *rows = parse_csv(response, "usage.csv")
    assert header[:4] == ["day", "user_id", "user_email", "model"]
    bob = (world.ids["bob"], "bob@example.com")
    assert rows == [
        ["2030-01-01", *bob, "gpt-4o", "1", "0", "1000", "500", "0.0075", "USD", ""],
        ["2030-01-02", *bob, "gpt-4o-mini", "2", "1", "45", "21", "0.01", "EUR", "0.25"],
    ]


async def test_csv_never_hands_a_spreadsheet_a_formula(world: World, registry: Registry) -> None:
    hostile = usage_row(
        world.ids["alice"],
        "2030-01-03T00:00:00Z",
        "+provider",
        '=HYPERLINK("http://x.example","open")',
        request_id="@SUM(A1:A9)",
        cost="-0.5",  # an amount, not text: written as the number it is
    )
    await insert_rows(registry.db.engine, [hostile])
    params = {"format": "csv", "since": "2030-01-03T00:00:00Z"}
    response = await world.client.get(EVENTS, headers=auth(world.admin_key), params=params)
    header, row = parse_csv(response, "usage-events.csv")
    cells = dict(zip(header, row, strict=True))
    assert cells["request_id"] == "'@SUM(A1:A9)"
    assert cells["model"] == '\'=HYPERLINK("http://x.example","open")'
    assert cells["provider"] == "'+provider"
    assert cells["cost"] == "-0.5"
    params = {"format": "csv", "since": "2030-01-03T00:00:00Z", "group_by": "model"}
    response = await world.client.get(USAGE, headers=auth(world.admin_key), params=params)
    header, row = parse_csv(response, "usage.csv")
    assert dict(zip(header, row, strict=True))["model"].startswith("'=HYPERLINK")
    as_json = await world.get(EVENTS, since="2030-01-03T00:00:00Z")  # JSON is left as stored
    assert as_json["items"][0]["request_id"] == "@SUM(A1:A9)"


async def test_events_as_csv_write_every_field_exactly(world: World) -> None:
    params = {"model": "gpt-4o", "user_id": world.ids["alice"]}
    as_json = await world.get(EVENTS, **params)
    response = await world.client.get(
        EVENTS, headers=auth(world.admin_key), params=params | {"format": "csv", "limit": 1}
    )
    header, *rows = parse_csv(response, "usage-events.csv")
    assert response.headers["x-total-count"] == "2"
    assert header == list(as_json["items"][0])
    assert len(rows) == 1
    assert dict(zip(header, rows[0], strict=True)) == {
        "id": as_json["items"][0]["id"],
        "request_id": world.rows[1]["request_id"],
        "client_request_id": "job-7",
        "occurred_at": "2030-01-01T12:00:00Z",
        "user_id": world.ids["alice"],
        "user_email": "alice@example.com",
        "api_key_id": "",
        "provider": "openai",
        "model": "gpt-4o",
        "operation": "chat",
        "status": "error",
        "error_code": "upstream_error",
        "prompt_tokens": "10",
        "completion_tokens": "0",
        "cached_tokens": "0",
        "cache_write_tokens": "0",
        "estimated": "false",
        "latency_ms": "120",
        "ttft_ms": "",
        "attempts": "1",
        "cost": "0.0000025",
        "currency": "USD",
        "credits": "",
    }
    response = await world.client.get(
        EVENTS, headers=auth(world.admin_key), params=params | {"format": "csv", "offset": 1}
    )
    _, oldest = parse_csv(response, "usage-events.csv")
    assert oldest[header.index("cost")] == "0.0000125"
    assert oldest[header.index("credits")] == "1.5"
    assert oldest[header.index("occurred_at")] == "2030-01-01T10:00:00Z"


async def test_json_stays_the_default_format(world: World) -> None:
    response = await world.client.get(
        USAGE, headers=auth(world.admin_key), params={"format": "json"}
    )
    assert response.headers["content-type"] == "application/json"
    assert response.json() == await world.get(USAGE)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "where", "says"),
    [
        (USAGE, {"group_by": "week"}, "group_by", "'week' is not a group"),
        (USAGE, {"group_by": ["day", "model,weekly"]}, "group_by", "'weekly' is not a group"),
        (USAGE, {"format": "xml"}, "format", "'xml' is not a format"),
        (EVENTS, {"format": "xlsx"}, "format", "'xlsx' is not a format"),
        (EVENTS, {"limit": 0}, "limit", "greater than or equal to 1"),
        (EVENTS, {"limit": 1001}, "limit", "less than or equal to 1000"),
        (EVENTS, {"offset": -1}, "offset", "greater than or equal to 0"),
        (EVENTS, {"status": "bogus"}, "status", "'ok', 'error' or 'aborted'"),
        (EVENTS, {"before": "not-a-uuid"}, "before", "UUID"),
        (EVENTS, {"before": "00000000-0000-0000-0000-00000000000a"}, "before", "no call"),
        (USAGE, {"since": "2030-01-01T00:00:00"}, "since", "timezone"),
        (USAGE, {"user_id": "not-a-uuid"}, "user_id", "UUID"),
        (EVENTS, {"client_request_id": "x" * 101}, "client_request_id", "at most 100"),
        (
            USAGE,
            {"since": "2030-02-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            "until",
            "must not be before since",
        ),
        (
            EVENTS,
            {"since": "2030-02-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            "until",
            "must not be before since",
        ),
    ],
)
async def test_bad_input_is_refused_naming_the_problem(
    client: httpx.AsyncClient,
    admin_key: str,
    path: str,
    params: dict[str, Any],
    where: str,
    says: str,
) -> None:
    response = await client.get(path, headers=auth(admin_key), params=params)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert says in error["message"], error
    assert [e["path"] for e in error["details"]["errors"]] == [where]


async def test_usage_needs_a_key(client: httpx.AsyncClient) -> None:
    for path in (USAGE, EVENTS):
        assert_error(await client.get(path, params={"format": "csv"}), 401, "UNAUTHENTICATED")


async def test_openapi_lists_the_usage_routes(client: httpx.AsyncClient) -> None:
    paths = ok(await client.get("/openapi.json"))["paths"]
    assert set(paths[USAGE]) == set(paths[EVENTS]) == {"get"}
    parameters = {p["name"] for p in paths[EVENTS]["get"]["parameters"]}
    assert {"format", "limit", "offset", "status", "since", "until", "user_id"} <= parameters
    assert "text/csv" in paths[USAGE]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-15T12:00:00Z", "group_by": "model"},
        {"since": "9999-12-15T12:00:00Z", "until": "9999-12-30T00:00:00Z", "group_by": "user"},
        {"since": "0001-01-03T00:00:00Z", "until": "9999-12-30T00:00:00Z", "group_by": "model"},
        {"until": "0001-01-02T12:00:00Z", "group_by": "provider"},
    ],
)
async def test_ranges_at_the_ends_of_the_calendar_answer(
    world: World, params: dict[str, Any]
) -> None:
    """Whole months are read from the monthly roll-ups: a range in the calendar's last
    December has no month after it, and one over all of time reads every month."""
    response = await world.client.get(USAGE, headers=auth(world.admin_key), params=params)
    assert response.status_code == 200, response.text
    totals = response.json()
    if params.get("since", "").startswith("0001"):
        assert sum(t["calls"] for t in totals) == len(world.rows)
    else:
        assert totals == []
