"""A two-worker server set up for the tests: providers on the upstream, keys with limits, a
member paying in credits; and calls sent as many clients send them, each on its own
connection so that the kernel hands them to either worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.deploy.servers import Served
from tests.deploy.upstream import Upstream
from tests.support.mock_openai import COMPLETION_TOKENS, GOOD_KEY, PROMPT_TOKENS

RPM = 30
PARALLEL = 2
PAID_CALLS = 4  # the member's credits pay for this many calls
# One message whose estimate (4 per message + 22 chars / 4 + 2) is the upstream's 12 prompt
# tokens: a call's hold (prompt + max_tokens) is then exactly what it is charged.
PROMPT = "Say hello to everyone!"
CALL_CREDITS = PROMPT_TOKENS + COMPLETION_TOKENS  # at one credit per token
API = "/api/v1"


@dataclass
class Site:
    served: Served
    upstream: Upstream
    rpm_key: str = field(repr=False)  # keys stay out of failure messages
    payer_key: str = field(repr=False)
    payer_id: str
    wide_id: str

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.served.base,
            headers={"Authorization": f"Bearer {self.served.admin_key}"},
            timeout=60,
        )

    def calls(self, n: int, model: str, key: str | None = None, **extra: Any) -> list[int]:
        """``n`` chat calls at once, each on a fresh connection; their statuses."""
        return asyncio.run(self._calls(n, model, key or self.served.admin_key, extra))

    async def _calls(self, n: int, model: str, key: str, extra: dict[str, Any]) -> list[int]:
        body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], **extra}
        fresh = httpx.Limits(max_keepalive_connections=0, max_connections=n)
        async with httpx.AsyncClient(base_url=self.served.base, limits=fresh, timeout=90) as c:
            headers = {"Authorization": f"Bearer {key}"}
            answers = await asyncio.gather(
                *(c.post("/v1/chat/completions", json=body, headers=headers) for _ in range(n))
            )
        return [a.status_code for a in answers]

    def per_worker(self, counter: str, where: Callable[[dict[str, str]], bool]) -> dict[int, int]:
        """A counter summed per worker from the documents the workers publish."""
        totals: dict[int, int] = {}
        for pid, document in self.served.worker_states().items():
            rows = document["state"].get(counter, [])
            totals[pid] = sum(int(v) for labels, v in rows if where(dict(labels)))
        return totals

    def settled(
        self, counter: str, where: Callable[[dict[str, str]], bool], total: int
    ) -> dict[int, int]:
        """:meth:`per_worker` once the workers' documents add up to ``total`` (they are
        published once a second); fails if they never do."""
        deadline = time.monotonic() + 30
        while True:
            counts = self.per_worker(counter, where)
            if sum(counts.values()) == total or time.monotonic() > deadline:
                assert sum(counts.values()) == total, counts
                return counts
            time.sleep(0.2)


def configure(served: Served, upstream: Upstream) -> Site:
    """Providers ``wide`` (no limit) and ``narrow`` (PARALLEL at once) on the upstream, their
    models, a key of RPM requests a minute and a member with credits for PAID_CALLS calls."""
    admin = httpx.Client(
        base_url=served.base,
        headers={"Authorization": f"Bearer {served.admin_key}"},
        timeout=60,
    )

    def made(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = admin.request(method, API + path, json=body)
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, Any] = answer.json()
        return result

    with admin:
        where = {"kind": "openai_compatible", "base_url": upstream.url, "api_key": GOOD_KEY}
        wide = made("POST", "/providers", {"name": "wide", **where})["id"]
        narrow = made("POST", "/providers", {"name": "narrow", **where, "max_parallel": PARALLEL})
        made("POST", "/models", {"provider_id": wide, "model_id": "mock-1"})
        made("POST", "/models", {"provider_id": narrow["id"], "model_id": "slow-1"})
        zero = {"input_per_mtok": "0", "output_per_mtok": "0"}
        price = {**zero, "credits_per_1k": "1000"}  # one credit per token
        made("POST", "/models", {"provider_id": wide, "model_id": "paid-1", "price": price})
        made("PUT", "/settings/billing.min_completion_tokens", {"value": COMPLETION_TOKENS})
        rpm_key = made("POST", "/keys", {"name": "rpm", "rpm_limit": RPM})["key"]
        payer = made(
            "POST", "/users", {"email": "payer@example.com", "display_name": "P", "role": "member"}
        )["id"]
        payer_key = made("POST", "/keys", {"name": "payer", "user_id": payer})["key"]
        amount = str(CALL_CREDITS * PAID_CALLS)
        made("POST", "/credits/grants", {"user_id": payer, "amount": amount})
    return Site(served, upstream, rpm_key, payer_key, payer, wide)
