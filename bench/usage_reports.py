"""Benchmark: every usage report at 10 million calls on PostgreSQL (issue 17).

Builds once (cached, see --drop-cache) a database of 50 users, 50 providers, 2,000 models and
``--rows`` calls over 95 days made in SQL (:mod:`_usage_reports_data`), with their daily
roll-ups; a re-run only migrates it to head (new indexes, once) and starts in seconds. The
reports only read, so they run on the cached database itself.

Each report shape is then requested ``--runs`` times after a warm-up through the real app in
this process (httpx's ASGI transport: routing, auth, validation, JSON or CSV, no socket), as
the admin and as a member where it differs, and printed with wall-clock p50/p95 in
milliseconds: the server's time, since there is no network. Ranges ending "now" start mid-day,
so each reads whole days from the roll-ups and two partial days from the calls.

Run with ``.venv/bin/python bench/usage_reports.py`` (first run: ~10-20 min on a busy
2-core machine), ``--runs 30``, ``--only events`` (shapes whose name holds it),
``--drop-cache``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import _console_data as console
import _usage_reports_data as data
import asyncpg
import httpx
from console_models import ORIGIN

from modelyard.api.app import create_app
from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from modelyard.usage.report import UsageFilter

CACHE = Path("/tmp/modelyard-usage-reports-bench")
PG = "127.0.0.1:5432"
DATABASE = "modelyard_usage_reports_cache"
VERSION = 3  # bump when what is built changes


_DEEP = "SELECT id FROM usage_events ORDER BY occurred_at DESC, id DESC OFFSET 99999 LIMIT 1"
_MEMBER = "SELECT id FROM users WHERE email = $1"
# A model in the long tail's head (the 21st busiest), and a provider.
_MODEL = """SELECT model_name FROM usage_daily WHERE grain = 2
    GROUP BY 1 ORDER BY sum(calls) DESC OFFSET 20 LIMIT 1"""
_PROVIDER = "SELECT provider_name FROM usage_daily WHERE grain = 3 GROUP BY 1 ORDER BY 1 LIMIT 1"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", default="", help="run the shapes whose name holds this")
    parser.add_argument("--drop-cache", action="store_true")
    parser.add_argument(
        "--reference-days",
        type=int,
        default=1,
        help="then time, once, the totals summed from the calls themselves (the code before "
        "issue 17) over this many days (0: skip)",
    )
    return parser.parse_args()


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://postgres@{PG}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def prepare(rows: int) -> tuple[Settings, dict[str, str]]:
    """The cached database (built if missing or stale), at head; its settings and keys."""
    url = f"postgresql+asyncpg://postgres@{PG}/{DATABASE}"
    stamp, keys_file = CACHE / "stamp.json", CACHE / "keys.json"
    settings = Settings(
        database_url=url,
        master_key_file=CACHE / "serve.key",
        admin_email=console.ADMIN_EMAIL,
        public_url=ORIGIN,
    )
    wanted = {"rows": rows, "version": VERSION}
    if _stale(stamp, wanted):
        await _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await _admin(f'CREATE DATABASE "{DATABASE}"')
        (CACHE / "serve.key").unlink(missing_ok=True)
        dsn = f"postgresql://postgres@{PG}/{DATABASE}"
        timings = await data.build(url, dsn, CACHE / "serve.key", rows)
        for step, seconds in timings.items():
            print(f"  {step}: {seconds:.1f} s", flush=True)
        registry = Registry.open(settings)
        try:
            keys = {}
            for role, email in (("admin", console.ADMIN_EMAIL), ("member", console.MEMBER_EMAIL)):
                operator = await console.actor(registry, console.ADMIN_EMAIL)
                who = await console.actor(registry, email)
                made = await registry.keys.create(
                    operator,
                    ApiKeyCreate(
                        name=f"reports-{role}", user_id=who.user_id, scopes=["registry.read"]
                    ),
                )
                keys[role] = made.key
        finally:
            await registry.close()
        keys_file.write_text(json.dumps(keys))
        keys_file.chmod(0o600)
        stamp.write_text(json.dumps(wanted))
    engine = create_engine(url)
    try:
        start = time.perf_counter()
        await upgrade_to_head(engine)  # new migrations' indexes: made once, then a no-op
        print(f"  migrated to head in {time.perf_counter() - start:.1f} s", flush=True)
    finally:
        await engine.dispose()
    return settings, json.loads(keys_file.read_text())


def _stale(stamp: Path, wanted: dict[str, int]) -> bool:
    """Whether the cache must be built (again); if so, its stamp is gone until it is."""
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return False
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    return True


def shapes(now: datetime, ids: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, role, path) of every report shape timed."""
    day = timedelta(days=1)

    def since(days: int) -> str:
        return (now - days * day).isoformat()

    def q(**params: Any) -> str:
        return urlencode(params, doseq=True)

    out: list[tuple[str, str, str]] = []
    for days in (1, 7, 30, 90):
        out.append(
            (
                f"totals by day {days}d",
                "admin",
                f"/api/v1/usage?{q(since=since(days), group_by='day')}",
            )
        )
    small = [
        "day",
        "user",
        "model",
        "provider",
        "day,user",
        "day,provider",
        "user,provider",
        "model,provider",
    ]
    for groups in small:
        out.append(
            (
                f"totals by {groups} 30d",
                "admin",
                f"/api/v1/usage?{q(since=since(30), group_by=groups)}",
            )
        )
    # Groupings whose answer is itself huge at this scale (tens of thousands of rows a week):
    # timed over one day, where the answer stays a few megabytes at most.
    large = [
        "day,model",
        "user,model",
        "day,user,model",
        "day,model,provider",
        "user,model,provider",
        "day,user,model,provider",
    ]
    for groups in large:
        out.append(
            (
                f"totals by {groups} 1d",
                "admin",
                f"/api/v1/usage?{q(since=since(1), group_by=groups)}",
            )
        )
    out.append(
        ("totals default groups (day,user,model) 1d", "admin", f"/api/v1/usage?{q(since=since(1))}")
    )
    whole = (now - 30 * day).date().isoformat() + "T00:00:00Z"
    path = f"/api/v1/usage?{q(since=whole, group_by='day')}"
    out.append(("totals by day, 30 whole days (no calls read)", "admin", path))
    out.append(("totals all time, by day", "admin", f"/api/v1/usage?{q(group_by='day')}"))
    for name, value in (
        ("user_id", ids["user"]),
        ("model", ids["model"]),
        ("provider", ids["provider"]),
    ):
        path = f"/api/v1/usage?{q(since=since(90), group_by='day', **{name: value})}"
        out.append((f"totals filter {name} 90d by day", "admin", path))
    path = f"/api/v1/usage?{q(client_request_id='client-4242')}"
    out.append(("totals filter client_request_id", "admin", path))
    path = f"/api/v1/usage?{q(since=since(90), group_by='day')}"
    out.append(("totals member 90d by day", "member", path))
    path = f"/api/v1/usage?{q(since=since(90), group_by='day,model', format='csv')}"
    out.append(("export totals csv 90d by day,model", "admin", path))
    out.append(("events first page", "admin", "/api/v1/usage/events"))
    out.append(("events first page member", "member", "/api/v1/usage/events"))
    out.append(("events deep page offset 100000", "admin", "/api/v1/usage/events?offset=100000"))
    path = f"/api/v1/usage/events?{q(before=ids['deep'])}"
    out.append(("events deep page keyset (before=) 100000", "admin", path))
    for name, value in (
        ("user_id", ids["user"]),
        ("model", ids["model"]),
        ("provider", ids["provider"]),
        ("status", "error"),
    ):
        out.append((f"events filter {name}", "admin", f"/api/v1/usage/events?{q(**{name: value})}"))
    path = f"/api/v1/usage/events?{q(since=since(7), until=since(6))}"
    out.append(("events one day range", "admin", path))
    path = f"/api/v1/usage/events?{q(limit=1000, format='csv')}"
    out.append(("export events csv 1000", "admin", path))
    out.append(("dashboard 30d", "admin-web", "/console"))
    out.append(("dashboard 90d", "admin-web", "/console?days=90"))
    out.append(("dashboard 90d member", "member-web", "/console?days=90"))
    out.append(("console usage explorer", "admin-web", "/console/usage"))
    out.append(("console usage explorer member", "member-web", "/console/usage"))
    for groups in ("day", "model", "day,provider"):
        query = (
            f'{{ usageTotals(groupBy: ["{groups}"], since: "{since(30)}") '
            "{ day model provider calls cost currency credits } }"
        )
        out.append((f"graphql usageTotals by {groups} 30d", "admin", "POST /graphql " + query))
    return out


async def main() -> None:
    args = _args()
    if args.drop_cache:
        await _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        (CACHE / "stamp.json").unlink(missing_ok=True)
        return
    settings, keys = await prepare(args.rows)
    registry = Registry.open(settings)
    app = create_app(settings, registry=registry)
    conn = await asyncpg.connect(f"postgresql://postgres@{PG}/{DATABASE}")
    try:
        ids = {
            "deep": str(await conn.fetchval(_DEEP)),
            "user": str(await conn.fetchval(_MEMBER, console.MEMBER_EMAIL)),
            "model": await conn.fetchval(_MODEL),
            "provider": await conn.fetchval(_PROVIDER),
        }
        rows = await conn.fetchval("SELECT count(*) FROM usage_events")
    finally:
        await conn.close()
    transport = httpx.ASGITransport(app=app)
    clients = {
        role: httpx.AsyncClient(
            transport=transport,
            base_url=ORIGIN,
            timeout=600,
            headers={"Authorization": f"Bearer {key}"},
        )
        for role, key in keys.items()
    }
    for role, email, password in (
        ("admin-web", console.ADMIN_EMAIL, console.ADMIN_PASSWORD),
        ("member-web", console.MEMBER_EMAIL, console.MEMBER_PASSWORD),
    ):
        clients[role] = httpx.AsyncClient(transport=transport, base_url=ORIGIN, timeout=600)
        await _sign_in(clients[role], email, password)
    # As `modelyard serve` does once started (api/app.py): the heap built so far leaves the
    # collector's generations, whose full passes otherwise added ~100 ms to one run in 7.
    gc.collect()
    gc.freeze()
    print(f"{rows:,} calls; {args.runs} runs a shape after {args.warmup} warm-up")
    print(f"{'report shape':44} {'p50 ms':>8} {'p95 ms':>8} {'rows':>7} {'KiB':>6}")
    try:
        for name, role, path in shapes(datetime.now(UTC), ids):
            if args.only not in name:
                continue
            client = clients[role]
            first = await _request(client, path)
            assert first.status_code == 200, (name, first.status_code, first.text[:300])
            for _ in range(args.warmup):
                await _request(client, path)
            walls = []
            for _ in range(args.runs):
                start = time.perf_counter()
                answer = await _request(client, path)
                walls.append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, (name, answer.status_code)
            walls.sort()
            p95 = walls[max(0, round(0.95 * len(walls)) - 1)]
            median, size = statistics.median(walls), len(first.content) // 1024
            print(f"{name:44} {median:8.1f} {p95:8.1f} {_count(first):>7} {size:6}", flush=True)
        if args.reference_days:
            await _reference(registry, args.reference_days)
    finally:
        for client in clients.values():
            await client.aclose()
        await registry.close()


async def _reference(registry: Registry, days: int) -> None:
    """The same totals (by day) summed from the calls one by one, as before issue 17."""
    admin = await console.actor(registry, console.ADMIN_EMAIL)
    f = UsageFilter(since=datetime.now(UTC) - timedelta(days=days))
    start = time.perf_counter()
    fast = await registry.usage.totals(admin, f, ["day"])
    middle = time.perf_counter()
    slow = await registry.usage.totals_from_calls(admin, f, ["day"])
    end = time.perf_counter()
    assert fast == slow, "the roll-ups' totals differ from the calls'"
    print(
        f"by day over {days}d: {(middle - start) * 1000:.0f} ms from the roll-ups, "
        f"{(end - middle) * 1000:.0f} ms summing {sum(t.calls for t in slow):,} calls "
        "one by one (before issue 17); equal"
    )


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token on /login"
    form = {"csrf_token": token.group(1), "email": email, "password": password}
    answer = await client.post("/login", data=form, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.status_code


async def _request(client: httpx.AsyncClient, path: str) -> httpx.Response:
    if path.startswith("POST /graphql "):
        answer = await client.post("/graphql", json={"query": path.removeprefix("POST /graphql ")})
        assert "errors" not in answer.json(), answer.text[:300]
        return answer
    return await client.get(path)


def _count(answer: httpx.Response) -> str:
    kind = answer.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = answer.json()
        if isinstance(body, dict) and "data" in body:
            body = body["data"]["usageTotals"]
        return str(len(body) if isinstance(body, list) else len(body.get("items", [])))
    if kind.startswith("text/csv"):
        return str(answer.text.count("\n") - 1)
    return "html"


if __name__ == "__main__":
    asyncio.run(main())
