"""subscriptions { plan } costs the same number of SQL statements for 5 subscriptions as for
30 (on as many plans): the page's plans come in one batched call, not one per subscription."""

from __future__ import annotations

import httpx
from sqlalchemy import event

from modelyard.services import Registry
from tests.api.billing_helpers import PLANS, SUBS
from tests.api.graphql.gql import data
from tests.api.helpers import API, auth, ok

QUERY = """{ subscriptions(first: 100) {
  totalCount nodes { id planName plan { id name monthlyCredits rollover } }
} }"""


async def _subscribe(client: httpx.AsyncClient, admin_key: str, n: int, plan: str) -> None:
    headers = auth(admin_key)
    user = ok(
        await client.post(f"{API}/users", headers=headers, json={"email": f"sub{n}@example.com"}),
        201,
    )
    ok(await client.post(SUBS, headers=headers, json={"user_id": user["id"], "plan": plan}), 201)


async def _statements(
    client: httpx.AsyncClient, registry: Registry, admin_key: str
) -> tuple[int, int, dict[str, str]]:
    """Statements one run of QUERY makes, those reading plans, and each subscription's plan."""
    # a write since the last request makes the next one reload cached settings: run once first
    await data(client, admin_key, QUERY)
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    engine = registry.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = (await data(client, admin_key, QUERY))["subscriptions"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    plans = {s["id"]: s["plan"]["name"] for s in page["nodes"]}
    assert all(s["plan"]["name"] == s["planName"] for s in page["nodes"])
    assert page["totalCount"] == len(plans)
    return len(seen), len([s for s in seen if "FROM plans" in s]), plans


async def test_subscription_plans_are_batched(
    client: httpx.AsyncClient, admin_key: str, registry: Registry
) -> None:
    headers = auth(admin_key)
    names = [f"tier{i}" for i in range(10)]
    for i, name in enumerate(names):
        body = {"name": name, "monthly_credits": str(i + 1)}
        ok(await client.post(PLANS, headers=headers, json=body), 201)
    for n in range(5):
        await _subscribe(client, admin_key, n, names[n])

    small, small_plans, five = await _statements(client, registry, admin_key)
    assert len(five) == 5
    assert sorted(five.values()) == names[:5]
    for n in range(5, 30):
        await _subscribe(client, admin_key, n, names[n % 10])
    large, large_plans, thirty = await _statements(client, registry, admin_key)
    assert len(thirty) == 30
    assert sorted(set(thirty.values())) == names
    assert (large, large_plans) == (small, small_plans)
    assert small_plans <= 2  # the page's plans (service) and the relation's (dataloader)
