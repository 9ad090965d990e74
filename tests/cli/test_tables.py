"""Tables at 80 columns, on realistic data (long names and emails, uuids, big amounts): no
value cut into "…", every line within the terminal, ids and amounts whole; columns left out
are named, and --wide shows them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.usage_rows import insert_at, row
from tests.cli.conftest import Cli

EMAIL = "margaret.hamilton@engineering.example.com"
MODEL = "anthropic/claude-3-5-sonnet-20241022"
NARROW = {"COLUMNS": "80"}


@dataclass
class Stocked:
    cli: Cli
    user_id: str
    plan: dict[str, Any]
    ledger: list[dict[str, Any]]
    key_id: str


@pytest.fixture
def stocked(ready: Cli) -> Stocked:
    cli = ready
    user_id = cli.json("users", "add", f"--email={EMAIL}", "--display-name=Margaret Hamilton")["id"]
    plan = cli.json(
        "plans",
        "create",
        "--name=enterprise-europe-annual",
        "--display-name=Enterprise (Europe, billed annually)",
        "--monthly-credits=123456789.123456",
        "--rollover=capped",
        "--rollover-cap=98765432.5",
        "--rpm=100000",
        "--tpm=250000000",
        "--max-parallel=64",
        "--model=gpt-4o",
        f"--model={MODEL}",
    )
    cli.ok("subscriptions", "create", f"--user={EMAIL}", "--plan=enterprise-europe-annual")
    cli.ok(
        "credits",
        "grant",
        f"--user={EMAIL}",
        "--amount=987654321.654321",
        "--reason=invoice 2026-11-0042 for the annual enterprise plan",
    )
    cli.ok("credits", "adjust", f"--user={EMAIL}", "--amount=-0.000001", "--reason=rounding")
    key_id = cli.json("keys", "create", f"--user={EMAIL}", "--name=ci runner (nightly)")
    asyncio.run(
        insert_at(
            cli.database_url,
            [
                row(
                    user_id,
                    "2030-01-01T10:00:00+00:00",
                    "openrouter-eu-west",
                    MODEL,
                    prompt=1234567,
                    completion=7654321,
                    cost="1234.567890123",
                    currency="USD",
                    credits="98765.4321",
                    client_request_id="client-req-0a1b2c3d-4e5f-6789",
                )
            ],
        )
    )
    ledger = cli.json("credits", "ledger", f"--user={EMAIL}")["items"]
    return Stocked(cli, user_id, plan, ledger, key_id["api_key"]["id"])


def narrow(cli: Cli, *args: str) -> str:
    out = cli.ok(*args, env=NARROW).stdout
    assert "…" not in out, out
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, out
    return out


def hidden(out: str) -> list[str]:
    """The columns the note under the table names as left out."""
    note = " ".join(out[out.index("(not shown at this width: ") :].split())
    return note.removeprefix("(not shown at this width: ").split(";")[0].split(", ")


def test_plans_list_shows_names_and_amounts_whole(stocked: Stocked) -> None:
    out = narrow(stocked.cli, "plans", "list")
    for whole in ("enterprise-europe-annual", "123456789.123456", "98765432.5", "250000000"):
        assert whole in out, out
    assert hidden(out) == ["display name", "models", "active", "id"]
    wide = stocked.cli.ok("plans", "list", "--wide", env=NARROW).stdout
    for whole in (stocked.plan["id"], "Enterprise (Europe, billed annually)", MODEL):
        assert whole in wide, wide
    assert "not shown" not in wide


def test_usage_events_show_times_tokens_and_cost_whole(stocked: Stocked) -> None:
    out = narrow(stocked.cli, "usage", "events")
    for whole in ("2030-01-01", "10:00:00Z", "1234567", "7654321", "1234.567890123"):
        assert whole in out, out
    assert "client request id" in hidden(out)
    wide = stocked.cli.ok("usage", "events", "--wide", env=NARROW).stdout
    for whole in (EMAIL, MODEL, "openrouter-eu-west", "client-req-0a1b2c3d-4e5f-6789"):
        assert whole in wide, wide


def test_usage_totals_keep_amounts_whole(stocked: Stocked) -> None:
    out = narrow(stocked.cli, "usage")
    for whole in ("2030-01-01", "1234.567890123", "98765.4321"):
        assert whole in out, out


def test_credits_ledger_shows_ids_and_amounts_whole(stocked: Stocked) -> None:
    out = narrow(stocked.cli, "credits", "ledger", f"--user={EMAIL}")
    for entry in stocked.ledger:
        assert f" {entry['id']} │" in out, out
        assert entry["amount"] in out, out
    assert "987654321.654321" in out
    assert "-0.000001" in out
    grant_ids = {e["grant_id"] for e in stocked.ledger}
    wide = stocked.cli.ok("credits", "ledger", f"--user={EMAIL}", "--wide", env=NARROW).stdout
    assert all(g in wide for g in grant_ids), wide


@pytest.mark.parametrize(
    ("args", "whole"),
    [
        (("credits", "balance", f"--user={EMAIL}"), ["987654321.654321", "123456789.123456"]),
        (("keys", "list", f"--user={EMAIL}"), []),
        (("users", "list"), [EMAIL]),
        (("subscriptions", "list"), ["enterprise-europe-annual"]),
        (("audit", "list", "--limit=5"), ["credits.adjust"]),
        (("providers", "list"), []),
        (("models", "list"), []),
    ],
)
def test_other_lists_fit_80_columns(
    stocked: Stocked, args: tuple[str, ...], whole: list[str]
) -> None:
    out = narrow(stocked.cli, *args)
    for value in whole:
        assert value in out, out


def test_a_keys_id_stays_whole_for_revoking(stocked: Stocked) -> None:
    out = narrow(stocked.cli, "keys", "list", f"--user={EMAIL}")
    assert stocked.key_id in out, out


def test_json_is_not_affected_by_the_width(stocked: Stocked) -> None:
    assert stocked.cli.json("plans", "list", env=NARROW) == stocked.cli.json("plans", "list")


def test_even_a_very_narrow_terminal_cuts_nothing(stocked: Stocked) -> None:
    for args in (("plans", "list"), ("usage", "events"), ("credits", "ledger", f"--user={EMAIL}")):
        out = stocked.cli.ok(*args, env={"COLUMNS": "40"}).stdout
        assert "…" not in out, out
