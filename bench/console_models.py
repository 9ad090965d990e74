"""Benchmark: the console's Models and Infrastructure pages at 50 providers and 2,000 models.

Migrates a fresh SQLite database (or uses ``--database-url``, an empty one), creates the
providers and models as ``registry_queries.py`` does (50 x 40, a price each, one in ten
deprecated), signs an admin in, then requests each page ``--runs`` times in process (the
ASGI app called directly, no socket) after a warm-up and prints, per page, wall-clock
p50/p95/max and the median CPU time of this process per request (which, unlike wall time,
does not grow when other processes compete for the CPU). The target is 150 ms a page.

Run with ``.venv/bin/python bench/console_models.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from registry_queries import populate

from modelyard.api.app import create_app
from modelyard.bootstrap import bootstrap
from modelyard.db.engine import create_engine
from modelyard.db.migrate import upgrade_to_head
from modelyard.registry.passwords import PasswordSet
from modelyard.services import Registry
from modelyard.settings import Settings

ORIGIN = "http://modelyard.bench"
PASSWORD = "a benchmark admin passphrase"


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite")
    parser.add_argument("--providers", type=int, default=50)
    parser.add_argument("--models", type=int, default=40, help="models per provider")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    return parser.parse_args()


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    """Through the sign-in form, as a browser would (its CSRF token, this origin)."""
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    data = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    answer = await client.post("/login", data=data, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text


async def main() -> None:
    args = _parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    engine = create_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    settings = Settings(
        database_url=url,
        master_key_file=workdir / "bench.key",
        admin_email="admin@example.com",
        public_url=ORIGIN,
    )
    registry = Registry.open(settings)
    made = await bootstrap(settings, registry, migrate=False)
    assert made.admin_key is not None
    admin = await registry.keys.authenticate(made.admin_key)
    count = await populate(registry, admin, args.providers, args.models)
    assert admin.user_id is not None
    await registry.passwords.set(admin, admin.user_id, PasswordSet(password=PASSWORD))
    app = create_app(settings, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        await sign_in(client, settings.admin_email or "")
        table = await client.get("/console/models")
        found = re.search(r'href="/console/models/([0-9a-f-]{36})"', table.text)
        assert found is not None, table.text
        model = found.group(1)
        pages = [
            "/console/models",
            "/console/models?offset=1900",
            "/console/models?q=model-01&status=ACTIVE",
            "/console/models/new",
            f"/console/models/{model}",
            f"/console/models/{model}/edit",
            f"/console/models/{model}/deprecate",
            "/console/infrastructure",
        ]
        where = url.split(":")[0]
        print(f"{args.providers} providers, {count} models; {args.runs} runs a page ({where})")
        print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu ms':>8} {'KiB':>6}")
        for path in pages:
            for _ in range(args.warmup):
                await client.get(path)
            walls, cpus = [], []
            size = 0
            for _ in range(args.runs):
                wall, cpu = time.perf_counter(), time.process_time()
                answer = await client.get(path)
                cpus.append((time.process_time() - cpu) * 1000)
                walls.append((time.perf_counter() - wall) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
                size = len(answer.content)
            walls.sort()
            label = path.replace(model, "{id}")
            p95 = walls[int(len(walls) * 0.95) - 1]
            print(
                f"{label:44} {statistics.median(walls):8.1f} {p95:8.1f} {walls[-1]:8.1f}"
                f" {statistics.median(cpus):8.1f} {size // 1024:6}"
            )
    await registry.close()


if __name__ == "__main__":
    asyncio.run(main())
