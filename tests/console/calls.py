"""Calls through a console test site's gateway (the mock upstream behind a priced model),
waited for until the usage writer has recorded them: what the dashboard and the usage
explorer's browser tests look at."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.console_site import Site
from tests.support.mock_openai import GOOD_KEY

MODEL = "gpt-mock"
BROKEN = "broken"  # the mock upstream answers this model with a 500
PROVIDER = "mock-upstream"
RECORD_TIMEOUT_S = 20


@dataclass(frozen=True)
class Calls:
    member_ok: int
    member_failed: int
    admin_ok: int

    @property
    def total(self) -> int:
        return self.member_ok + self.member_failed + self.admin_ok


def priced_model(site: Site) -> None:
    """A provider at the mock upstream with a priced model and one the upstream breaks on."""
    provider = site.api(
        "POST",
        "/api/v1/providers",
        json={
            "name": PROVIDER,
            "kind": "openai",
            "base_url": site.upstream.url,
            "api_key": GOOD_KEY,
        },
    ).json()
    for model in (MODEL, BROKEN):
        site.api(
            "POST",
            "/api/v1/models",
            json={
                "provider_id": provider["id"],
                "model_id": model,
                "price": {"input_per_mtok": "3", "output_per_mtok": "15", "credits_per_1k": "2"},
            },
        )


def chat(site: Site, key: str, model: str = MODEL) -> httpx.Response:
    return httpx.post(
        f"{site.base}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hello"}]},
        timeout=30,
    )


def make_calls(site: Site, calls: Calls) -> None:
    """The member's and the admin's calls, waited for until all are recorded."""
    priced_model(site)
    member = site.key_for(site.member, "usage test")
    _wait_for_models(site, member)
    for _ in range(calls.member_ok):
        answer = chat(site, member)
        assert answer.status_code == 200, answer.text
    for _ in range(calls.member_failed):
        answer = chat(site, member, BROKEN)
        assert answer.status_code >= 500, answer.text
    for _ in range(calls.admin_ok):
        answer = chat(site, site.admin_key)
        assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + RECORD_TIMEOUT_S
    while events(site)["total"] < calls.total:
        assert time.monotonic() < deadline, "the calls were not recorded in time"
        time.sleep(0.2)


def _wait_for_models(site: Site, key: str) -> None:
    """Until the gateway has reloaded its snapshot with the new models (it does so in the
    background after a change)."""
    deadline = time.monotonic() + RECORD_TIMEOUT_S
    while True:
        listed = httpx.get(
            f"{site.base}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        names = {m["id"] for m in listed.json().get("data", [])} if listed.is_success else set()
        if {MODEL, BROKEN} <= names:
            return
        assert time.monotonic() < deadline, f"the models never showed: {listed.text}"
        time.sleep(0.1)


def events(site: Site, key: str | None = None, **params: Any) -> Any:
    return site.api("GET", "/api/v1/usage/events", key=key, params=params).json()
