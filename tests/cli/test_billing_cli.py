"""`modelyard plans`, `subscriptions`, `credits` and `billing`: every command with --json (which
must parse) and as a table, bad input refused with one clear line and nothing changed, every
change audited, and `billing renew --now` across a period boundary granting once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from modelyard.billing.credits import Adjustment
from modelyard.billing.subscriptions import SubscriptionCreate
from modelyard.db.types import utcnow
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.cli.conftest import Cli

BOB = "bob@example.com"


@pytest.fixture
def bob(ready: Cli) -> Cli:
    """The CLI after init, with a member bob@example.com."""
    ready.ok("users", "add", f"--email={BOB}")
    return ready


def credit_state(cli: Cli, user: str = BOB) -> list[Any]:
    """What a refused credit or subscription change must leave as it was."""
    return [
        cli.json("credits", "balance", f"--user={user}"),
        cli.json("credits", "ledger", f"--user={user}"),
        cli.json("subscriptions", "list"),
        cli.json("audit", "list", "--limit=1"),
    ]


def test_plans(ready: Cli) -> None:
    assert [p["name"] for p in ready.json("plans", "list")] == ["free", "pro", "enterprise"]
    pro = ready.json("plans", "show", "pro")
    assert (pro["monthly_credits"], pro["rollover"], pro["rollover_cap"]) == (
        "10000",
        "capped",
        "5000",
    )
    assert ready.json("plans", "show", pro["id"]) == pro
    team = ready.json(
        "plans",
        "create",
        "--name=team",
        "--monthly-credits=2500.5",
        "--rollover=capped",
        "--rollover-cap=100",
        "--rpm=60",
        "--model=gpt-4o",
        "--model=gpt-4o-mini",
    )
    assert (team["monthly_credits"], team["rollover_cap"], team["rpm_limit"]) == (
        "2500.5",
        "100",
        60,
    )
    assert team["allowed_models"] == ["gpt-4o", "gpt-4o-mini"]
    changed = ready.json("plans", "update", "team", "--any-model", "--rollover=full", "--tpm=1000")
    assert (changed["allowed_models"], changed["rollover"], changed["rollover_cap"]) == (
        None,
        "full",
        None,
    )
    assert changed["tpm_limit"] == 1000
    assert ready.json("plans", "update", "team", "--inactive")["active"] is False
    assert "team" not in [p["name"] for p in ready.json("plans", "list")]
    assert "team" in [p["name"] for p in ready.json("plans", "list", "--all")]
    assert ready.json("plans", "update", "team", "--active")["active"] is True
    listing = ready.ok("plans", "list").stdout
    assert "enterprise" in listing
    assert "team" in listing
    assert "2500.5" in ready.ok("plans", "show", "team").stdout
    actions = [e["action"] for e in ready.json("audit", "list", "--entity-type=plan")["items"]]
    assert actions == ["plan.update"] * 3 + ["plan.create"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "--name=x", "--monthly-credits=-1"], "monthly_credits: Input should be"),
        (["create", "--name=x", "--monthly-credits=1.0000001"], "monthly_credits: Decimal input"),
        (["create", "--name=x", "--monthly-credits=lots"], "monthly_credits:"),
        (["create", "--name=Bad", "--monthly-credits=1"], "name: String should match"),
        (["create", "--name=x", "--monthly-credits=1", "--rollover=capped"], "needs rollover_cap"),
        (["create", "--name=pro", "--monthly-credits=1"], "(NAME_TAKEN)"),
        (["update", "pro"], "nothing to change"),
        (["update", "pro", "--any-model", "--model=m"], "--any-model: conflicts with --model"),
        (["update", "free", "--rollover=capped"], "rollover_cap:"),
        (["update", "nope", "--rpm=5"], "(PLAN_NOT_FOUND)"),
        (["show", "nope"], "(PLAN_NOT_FOUND)"),
    ],
)
def test_bad_plans_are_refused(ready: Cli, args: list[str], says: str) -> None:
    before = [ready.json("plans", "list", "--all"), ready.json("audit", "list", "--limit=1")]
    assert says in ready.fails("plans", *args)
    assert [
        ready.json("plans", "list", "--all"),
        ready.json("audit", "list", "--limit=1"),
    ] == before


def test_a_subscription_through_its_states(bob: Cli) -> None:
    sub = bob.json("subscriptions", "create", f"--user={BOB}", "--plan=pro", "--customer-id=cus_1")
    assert (sub["plan"], sub["status"], sub["external_customer_id"]) == ("pro", "active", "cus_1")
    assert bob.json("credits", "balance", f"--user={BOB}")["available"] == "10000"
    assert bob.json("subscriptions", "show", BOB) == bob.json("subscriptions", "show", sub["id"])
    page = bob.json("subscriptions", "list", f"--user={BOB}", "--status=active")
    assert [s["id"] for s in page["items"]] == [sub["id"]]
    assert bob.json("subscriptions", "list", "--status=cancelled")["total"] == 0

    assert bob.json("subscriptions", "suspend", BOB)["status"] == "suspended"
    assert bob.json("subscriptions", "resume", BOB)["status"] == "active"
    later = bob.json("subscriptions", "cancel", BOB, "--at-period-end")
    assert (later["status"], later["cancel_at_period_end"]) == ("active", True)
    kept = bob.json(
        "subscriptions", "update", sub["id"], "--plan=enterprise", "--keep", "--customer-id=cus_2"
    )
    assert (kept["plan"], kept["cancel_at_period_end"]) == ("enterprise", False)
    assert kept["external_customer_id"] == "cus_2"
    assert "enterprise" in bob.ok("subscriptions", "list").stdout
    cancelled = bob.json("subscriptions", "cancel", sub["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None

    before = credit_state(bob)
    message = bob.fails("subscriptions", "resume", sub["id"])
    assert "a subscription that is cancelled cannot become active (INVALID_TRANSITION)" in message
    assert "(SUBSCRIPTION_NOT_FOUND)" in bob.fails("subscriptions", "suspend", BOB)
    assert credit_state(bob) == before

    audited = [
        e["action"] for e in bob.json("audit", "list", "--entity-type=subscription")["items"]
    ]
    assert audited == [
        "subscription.cancelled",
        "subscription.update",
        "subscription.update",
        "subscription.active",
        "subscription.suspended",
        "subscription.create",
    ]
    again = bob.json("subscriptions", "create", f"--user={BOB}", "--plan=free")
    assert again["status"] == "active"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", f"--user={BOB}", "--plan=pro"], "(SUBSCRIPTION_EXISTS)"),
        (["create", "--user=carol@example.com", "--plan=nope"], "(PLAN_NOT_FOUND)"),
        (["create", "--user=carol@example.com", "--plan=gone"], "plan 'gone' is retired"),
        (["create", "--user=nobody@example.com", "--plan=free"], "(USER_NOT_FOUND)"),
        (["create", f"--user={BOB}"], "Missing option '--plan'"),
        (["list", "--status=paused"], "--status: is one of"),
        (["show", "not-an-id"], "(SUBSCRIPTION_NOT_FOUND)"),
        (["show", str(uuid.UUID(int=1))], "(SUBSCRIPTION_NOT_FOUND)"),
        (["update", BOB], "nothing to change"),
        (["update", BOB, "--plan=nope"], "(PLAN_NOT_FOUND)"),
    ],
)
def test_bad_subscription_input_is_refused(bob: Cli, args: list[str], says: str) -> None:
    bob.ok("users", "add", "--email=carol@example.com")
    bob.ok("plans", "create", "--name=gone", "--monthly-credits=5", "--inactive")
    bob.ok("subscriptions", "create", f"--user={BOB}", "--plan=pro")
    before = credit_state(bob)
    assert says in bob.fails("subscriptions", *args)
    assert credit_state(bob) == before


def test_credits(bob: Cli) -> None:
    granted = bob.json(
        "credits",
        "grant",
        f"--user={BOB}",
        "--amount=12.345678",
        "--expires=2099-01-01T00:00:00Z",
        "--reason=invoice 7",
    )
    assert (granted["balance"], granted["grants"][0]["expires_at"]) == (
        "12.345678",
        "2099-01-01T00:00:00Z",
    )
    bob.json("credits", "adjust", f"--user={BOB}", "--amount", "25", "--reason=goodwill")
    after = bob.json("credits", "adjust", f"--user={BOB}", "--amount=-0.345678", "--reason=back")
    assert (after["balance"], after["available"]) == ("37", "37")
    ledger = bob.json("credits", "ledger", f"--user={BOB}")
    assert [(e["kind"], e["amount"], e["reason"]) for e in ledger["items"]] == [
        ("adjustment", "-0.345678", "back"),
        ("grant", "25", "goodwill"),
        ("grant", "12.345678", "invoice 7"),
    ]
    assert sum(Decimal(e["amount"]) for e in ledger["items"]) == Decimal(after["balance"])
    assert len(bob.json("credits", "ledger", f"--user={BOB}", "--limit=1")["items"]) == 1
    assert "invoice 7" in bob.ok("credits", "ledger", f"--user={BOB}").stdout
    table = bob.ok("credits", "balance", f"--user={BOB}").stdout
    assert "available" in table
    assert "adjustment" in table  # the +25 is a grant of source adjustment
    events = bob.json("audit", "list", "--limit=3")["items"]
    assert [e["action"] for e in events] == ["credits.adjust", "credits.adjust", "credits.grant"]
    assert events[0]["after"]["reason"] == "back"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["grant", f"--user={BOB}", "--amount=-5"], "amount: Input should be greater than 0"),
        (["grant", f"--user={BOB}", "--amount=0"], "amount: Input should be greater than 0"),
        (["grant", f"--user={BOB}", "--amount=1.0000001"], "amount: Decimal input"),
        (["grant", f"--user={BOB}", "--amount=5", "--source=plan"], "source: Input should be"),
        (["grant", f"--user={BOB}", "--amount=5", "--expires=2030-01-01T00:00:00"], "--expires"),
        (["grant", f"--user={BOB}", "--amount=5", "--expires=2001-01-01T00:00:00Z"], "expires_at"),
        (["grant", "--user=nobody@example.com", "--amount=5"], "(USER_NOT_FOUND)"),
        (["adjust", f"--user={BOB}", "--amount=-5"], "Missing option '--reason'"),
        (["adjust", f"--user={BOB}", "--amount=-5", "--reason= "], "reason: String should have"),
        (["adjust", f"--user={BOB}", "--amount=0", "--reason=x"], "amount: must not be zero"),
        (
            ["adjust", f"--user={BOB}", "--amount=-100.000001", "--reason=x"],
            "the user has 100 available (INSUFFICIENT_CREDITS)",
        ),
        (["balance"], "--user: is required"),
        (["ledger"], "--user: is required"),
    ],
)
def test_bad_credit_input_is_refused(bob: Cli, args: list[str], says: str) -> None:
    bob.ok("credits", "grant", f"--user={BOB}", "--amount=100")
    before = credit_state(bob)
    assert says in bob.fails("credits", *args)
    assert credit_state(bob) == before


def _subscribe_in_the_past(cli: Cli, email: str, plan: str, use: str = "0") -> str:
    """Subscribe (and use ``use`` credits) through a registry whose clock is 40 days behind,
    so that the CLI, on the real clock, finds the first period over."""
    user_id = uuid.UUID(cli.json("users", "add", f"--email={email}")["id"])

    async def work() -> str:
        settings = Settings(database_url=cli.database_url, master_key_file=cli.key_file)
        registry = Registry.open(settings, clock=lambda: utcnow() - timedelta(days=40))
        actor = Actor.operator("test")
        try:
            sub = await registry.subscriptions.create(
                actor, SubscriptionCreate(user_id=user_id, plan=plan)
            )
            if use != "0":
                taken = Adjustment(user_id=user_id, amount=-Decimal(use), reason="usage stand-in")
                await registry.credits.adjust(actor, taken)
            return str(sub.id)
        finally:
            await registry.close()

    return asyncio.run(work())


def test_billing_renew_now_twice_crosses_the_boundary_and_grants_once(ready: Cli) -> None:
    ready.ok("plans", "create", "--name=full", "--monthly-credits=100", "--rollover=full")
    renewing = _subscribe_in_the_past(ready, BOB, "full", use="30")
    ending = _subscribe_in_the_past(ready, "carol@example.com", "free")
    ready.ok("subscriptions", "cancel", ending, "--at-period-end")
    lapsing = _subscribe_in_the_past(ready, "dave@example.com", "free")
    ready.ok("subscriptions", "suspend", lapsing)
    assert "--now: is required" in ready.fails("billing", "renew")

    first = ready.json("billing", "renew", "--now")
    assert (first["renewed"], first["cancelled"], first["expired"]) == (
        [renewing],
        [ending],
        [lapsing],
    )
    assert (first["written_off"], first["grants_expired"]) == ("200", 2)  # free: 100 each
    second = ready.json("billing", "renew", "--now")
    assert second == {
        "renewed": [],
        "cancelled": [],
        "expired": [],
        "written_off": "0",
        "grants_expired": 0,
        "holds_dropped": 0,
    }
    assert "renewed: 0" in ready.ok("billing", "renew", "--now").stdout

    balance = ready.json("credits", "balance", f"--user={BOB}")
    assert balance["balance"] == "170"  # 70 rolled over in full, 100 for the new period
    assert sorted(g["source"] for g in balance["grants"]) == ["plan", "rollover"]
    kinds = [e["kind"] for e in ready.json("credits", "ledger", f"--user={BOB}")["items"]]
    assert kinds.count("grant") == 3  # the first period's plan grant, the rollover, the new one
    statuses = {s["id"]: s["status"] for s in ready.json("subscriptions", "list")["items"]}
    assert statuses == {renewing: "active", ending: "cancelled", lapsing: "expired"}
    for user in ("carol@example.com", "dave@example.com"):
        assert ready.json("credits", "balance", f"--user={user}")["balance"] == "0"
    renewals = ready.json("audit", "list", "--action=subscription.renew")
    assert [e["entity_id"] for e in renewals["items"]] == [renewing]
