"""`modelyard usage [totals|events]`: grouping, filters, pages, JSON, CSV and tables, and bad
input giving one line and exit 1; on usage rows written straight into the database."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.usage_rows import NEWEST_FIRST, insert_at, sample
from tests.cli.conftest import Cli

SUM_COLUMNS = (
    "calls",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "currency",
    "credits",
)


@dataclass
class Stocked:
    cli: Cli
    ids: dict[str, str]  # alice, bob -> user id
    rows: list[dict[str, Any]]  # as inserted, in SAMPLE's order

    def request_ids(self, *indexes: int) -> list[str]:
        return [self.rows[i]["request_id"] for i in indexes]


@pytest.fixture
def stocked(ready: Cli) -> Stocked:
    ids = {
        name: ready.json("users", "add", f"--email={name}@example.com")["id"]
        for name in ("alice", "bob")
    }
    rows = sample(ids)
    asyncio.run(insert_at(ready.database_url, rows))
    return Stocked(ready, ids, rows)


def sums(totals: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return [
        tuple(t[f] for f in (*fields, "calls", "errors", "cost", "currency", "credits"))
        for t in totals
    ]


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_totals_default_to_day_user_and_model(stocked: Stocked) -> None:
    totals = stocked.cli.json("usage")
    assert sums(totals, "day", "user_email", "model") == [
        ("2030-01-01", "alice@example.com", "gpt-4o", 2, 1, "0.000015", "USD", "1.5"),
        ("2030-01-01", "bob@example.com", "gpt-4o", 1, 0, "0.0075", "USD", None),
        ("2030-01-02", "alice@example.com", "claude", 1, 0, "0.003", "USD", "2"),
        ("2030-01-02", "bob@example.com", "gpt-4o-mini", 2, 1, "0.01", "EUR", "0.25"),
    ]
    assert stocked.cli.json("usage", "totals") == totals
    table = stocked.cli.ok("usage").stdout
    for text in ("alice@example.com", "0.000015 USD", "gpt-4o-mini", "credits"):
        assert text in table


def test_by_groups_comma_separated_or_repeated(stocked: Stocked) -> None:
    by_model = stocked.cli.json("usage", "--by", "model")
    assert sums(by_model, "model") == [
        ("claude", 1, 0, "0.003", "USD", "2"),
        ("gpt-4o", 3, 1, "0.007515", "USD", "1.5"),
        ("gpt-4o-mini", 2, 1, "0.01", "EUR", "0.25"),
    ]
    repeated = stocked.cli.json("usage", "--by", "day", "--by", "provider")
    assert stocked.cli.json("usage", "--by", "day,provider") == repeated
    assert sums(repeated, "day", "provider") == [
        ("2030-01-01", "openai", 3, 1, "0.007515", "USD", "1.5"),
        ("2030-01-02", "anthropic", 1, 0, "0.003", "USD", "2"),
        ("2030-01-02", "openai", 2, 1, "0.01", "EUR", "0.25"),
    ]
    table = stocked.cli.ok("usage", "--by", "provider").stdout
    assert "anthropic" in table
    assert "day" not in table


@pytest.mark.parametrize(
    ("args", "indexes"),
    [
        pytest.param(["--user", "bob@example.com"], {3, 4, 5}, id="user-email"),
        pytest.param(["--user", "bob"], {3, 4, 5}, id="user-id"),  # replaced by bob's id
        pytest.param(["--model", "gpt-4o"], {0, 1, 3}, id="model"),
        pytest.param(["--provider", "anthropic"], {2}, id="provider"),
        pytest.param(["--client-request-id", "job-7"], {1, 3}, id="client-request-id"),
        pytest.param(["--since", "2030-01-02T00:00:00Z"], {2, 4, 5}, id="since"),
        pytest.param(["--until", "2030-01-02T00:00:00Z"], {0, 1, 3}, id="until"),
        pytest.param(
            ["--since", "2030-01-01T11:00:00Z", "--until", "2030-01-01T12:00:00Z"],
            {3},
            id="window",
        ),
    ],
)
def test_filters_apply_to_totals_and_events(
    stocked: Stocked, args: list[str], indexes: set[int]
) -> None:
    args = [stocked.ids.get(a, a) for a in args]
    totals = stocked.cli.json("usage", *args, "--by", "model")
    assert sum(t["calls"] for t in totals) == len(indexes)
    events = stocked.cli.json("usage", "events", *args)
    assert events["total"] == len(indexes)
    assert {e["request_id"] for e in events["items"]} == set(stocked.request_ids(*indexes))


def test_events_newest_first_paged_and_by_status(stocked: Stocked) -> None:
    everything = stocked.cli.json("usage", "events")
    assert (everything["total"], everything["limit"], everything["offset"]) == (6, 100, 0)
    assert [e["request_id"] for e in everything["items"]] == stocked.request_ids(*NEWEST_FIRST)
    page = stocked.cli.json("usage", "events", "--limit", "2", "--offset", "2")
    assert [e["request_id"] for e in page["items"]] == stocked.request_ids(*NEWEST_FIRST[2:4])
    errors = stocked.cli.json("usage", "events", "--status", "error")
    assert [e["request_id"] for e in errors["items"]] == stocked.request_ids(1)
    table = stocked.cli.ok("usage", "events", "--limit", "2").stdout
    assert "1-2 of 6" in table
    assert "aborted (upstream_error)" in table
    assert "none of 0" in stocked.cli.ok("usage", "events", "--model", "nope").stdout


def test_csv_totals_and_events_exactly(stocked: Stocked) -> None:
    out = stocked.cli.ok("usage", "--csv", "--by", "day,model", "--user", "alice@example.com")
    assert parse_csv(out.stdout) == [
        ["day", "model", *SUM_COLUMNS],
        ["2030-01-01", "gpt-4o", "2", "1", "110", "50", "0.000015", "USD", "1.5"],
        ["2030-01-02", "claude", "1", "0", "200", "100", "0.003", "USD", "2"],
    ]
    assert "\r" not in out.stdout
    alice = stocked.ids["alice"]
    out = stocked.cli.ok("usage", "events", "--csv", "--model", "gpt-4o", "--user", alice)
    header, *rows = parse_csv(out.stdout)
    assert header[:4] == ["id", "request_id", "client_request_id", "occurred_at"]
    got = [dict(zip(header, r, strict=True)) for r in rows]
    assert [
        (r["request_id"], r["client_request_id"], r["occurred_at"], r["cost"], r["credits"])
        for r in got
    ] == [
        (stocked.rows[1]["request_id"], "job-7", "2030-01-01T12:00:00Z", "0.0000025", ""),
        (stocked.rows[0]["request_id"], "", "2030-01-01T10:00:00Z", "0.0000125", "1.5"),
    ]


def test_csv_with_nothing_recorded_is_just_the_header(ready: Cli) -> None:
    assert parse_csv(ready.ok("usage", "--csv", "--by", "model").stdout) == [
        ["model", *SUM_COLUMNS]
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["--by", "week"], "--by: 'week' is not a group; choose from", id="by"),
        pytest.param(["--by", "day,"], "--by: '' is not a group", id="by-empty"),
        pytest.param(["--json", "--csv"], "--csv: cannot be combined with --json", id="json-csv"),
        pytest.param(
            ["--since", "2030-02-01T00:00:00Z", "--until", "2030-01-01T00:00:00Z"],
            "until: Value error, must not be before since",
            id="since-after-until",
        ),
        pytest.param(["--since", "2030-01-01"], "--since: must carry a timezone", id="naive"),
        pytest.param(["--limit", "5"], "--limit: applies to `modelyard usage events`", id="lim"),
        pytest.param(["events", "--by", "model"], "--by: applies to `modelyard usage totals`"),
        pytest.param(["events", "--limit", "0"], "Invalid value for '--limit'", id="limit-0"),
        pytest.param(["events", "--limit", "1001"], "Invalid value for '--limit'", id="lim-big"),
        pytest.param(["events", "--offset", "-1"], "Invalid value for '--offset'", id="offset"),
        pytest.param(["events", "--status", "bogus"], "status: Input should be 'ok'", id="st"),
        pytest.param(["weekly"], "'weekly' is not one of 'totals', 'events'", id="view"),
        pytest.param(["--user", "nobody@example.com"], "no user with email", id="user"),
        pytest.param(["--maintain"], "--maintain: applies to `modelyard usage partitions`"),
        pytest.param(["partitions", "--by", "model"], "partitions: takes only --maintain and"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(ready: Cli, args: list[str], says: str) -> None:
    assert says in ready.fails("usage", *args)


def test_partitions_are_listed_and_maintained_on_postgresql_only(ready: Cli) -> None:
    if ready.database_url.startswith("sqlite"):
        assert "partitioned on PostgreSQL only" in ready.fails("usage", "partitions", "--maintain")
        return
    data = ready.json("usage", "partitions", "--maintain")
    assert data["maintenance"]["ran"] is True
    this = datetime.now(UTC).strftime("%Y-%m-01")
    months = {p["month"]: p for p in data["partitions"]}
    assert months[None]["name"] == "usage_events_default"
    assert months[this]["attached"] is True
    shown = ready.ok("usage", "partitions").stdout
    assert "usage_events_default" in shown
    assert "attached" in shown
