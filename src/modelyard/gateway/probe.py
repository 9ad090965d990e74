"""Testing a provider's connection: one real, minimal call to its upstream with its stored
key, made the way the gateway makes calls (the kind's adapter, the shared HTTP edge, the
same client setup, so a member's provider reaches only the addresses the gateway lets it
reach), within the provider's timeout and at most :data:`PROBE_TIMEOUT_S`.

The call is the cheapest one the kind offers: listing the upstream's models when its
adapter can (:class:`~modelyard.adapters.base.ModelsAdapter`, no tokens spent), else a
one-token chat with the provider's first model. Whoever may change the provider may test
it (admins any; a member their own). The answer is never an exception for an upstream
failure: it says what came back (status, latency, a one-line summary) or what went wrong
(the adapter's message: the provider, the status and the upstream's own words, key
redacted)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from modelyard.adapters.base import ModelsAdapter
from modelyard.adapters.reach import parse_networks
from modelyard.db.tables import Model, Provider, SystemSetting, User
from modelyard.errors import UpstreamError
from modelyard.gateway.clients import Clients
from modelyard.gateway.snapshot import ProviderEntry
from modelyard.gateway.snapshot_load import open_key, provider_entry
from modelyard.kinds.base import adapter_for, kind_of_provider, typed_config
from modelyard.registry.actors import Actor
from modelyard.registry.lookup import provider_manageable
from modelyard.registry.system_settings import MEMBER_CIDRS
from modelyard.registry.tx import Database

PROBE_TIMEOUT_S = 15.0
SUMMARY_LIMIT = 200
NAMES_SHOWN = 5
ASK = "Reply with the single word OK."


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    call: str  # what was tried: "list models", "chat with <model>", or "none"
    status: int | None  # the upstream's HTTP status, when one came back
    latency_ms: int
    summary: str  # what came back, or what went wrong (never the key)
    code: str | None = None  # the domain error's code on failure


@dataclass(frozen=True)
class _Plan:
    entry: ProviderEntry
    model: str | None  # the provider's first model, for kinds that list none
    problem: str | None  # why no call can be made (no key, unreadable key)


async def probe(db: Database, actor: Actor, provider_id: uuid.UUID | str) -> ProbeResult:
    """One minimal call to the provider's upstream; NotFound/Forbidden as the registry
    decides who may manage the provider."""
    plan = await _plan(db, actor, provider_id)
    if plan.problem is not None:
        return ProbeResult(False, "none", None, 0, plan.problem, "NOT_CALLED")
    return await _call(plan)


async def _plan(db: Database, actor: Actor, provider_id: uuid.UUID | str) -> _Plan:
    async with db.read(actor) as tx:
        row: Provider = await provider_manageable(tx, provider_id)
        kind = kind_of_provider(row.name, row.kind)
        role = None
        if row.owner_user_id is not None:
            role = await tx.session.scalar(select(User.role).where(User.id == row.owner_user_id))
        setting = await tx.session.get(SystemSetting, MEMBER_CIDRS)
        model = await tx.session.scalar(
            select(Model.model_id)
            .where(Model.provider_id == row.id)
            .order_by(Model.status, Model.model_id)
            .limit(1)
        )
        member = row.owner_user_id is not None and role != "admin"
        allowed = parse_networks(setting.value if setting is not None and setting.value else ())
        api_key, unreadable = open_key(db, row)
        entry = provider_entry(
            row, api_key, usable=unreadable is None, reach=allowed if member else None
        )
        needs_key = kind.requires_key(typed_config(kind, row.config))
    problem = None
    if unreadable is not None:
        problem = f"its API key cannot be opened here: {unreadable}"
    elif api_key is None and needs_key:
        problem = "it has no API key: set one first"
    return _Plan(entry, model, problem)


async def _call(plan: _Plan) -> ProbeResult:
    entry = plan.entry
    adapter = adapter_for(entry.kind)
    lists = isinstance(adapter, ModelsAdapter)
    if not lists and plan.model is None:
        return ProbeResult(
            False,
            "none",
            None,
            0,
            "this kind lists no models, so the test is a one-token chat: add a model first",
            "NOT_CALLED",
        )
    timeout_s = min(entry.timeout_s, PROBE_TIMEOUT_S)
    target = dataclasses.replace(entry.target(plan.model or ""), timeout_s=timeout_s)
    call = "list models" if lists else f"chat with {plan.model}"
    clients = Clients()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s + 1):
            http = clients.get(entry)
            if isinstance(adapter, ModelsAdapter):
                names = await adapter.list_models(http, target)
                summary = _listed(names)
            else:
                body = {"model": plan.model, "messages": [{"role": "user", "content": ASK}]}
                result = await adapter.chat(http, target, body | {"max_tokens": 1})
                summary = _replied(result.body)
    except UpstreamError as exc:
        return ProbeResult(
            False, call, exc.upstream_status, _ms(started), exc.message[:600], exc.code
        )
    except TimeoutError:
        message = f"{entry.name}: upstream did not answer in {timeout_s:g} s"
        return ProbeResult(False, call, None, _ms(started), message, "UPSTREAM_TIMEOUT")
    finally:
        await clients.close()
    return ProbeResult(True, call, 200, _ms(started), summary)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _listed(names: list[str]) -> str:
    if not names:
        return "the upstream lists no models"
    shown = ", ".join(names[:NAMES_SHOWN]) + (", …" if len(names) > NAMES_SHOWN else "")
    noun = "model" if len(names) == 1 else "models"
    return f"{len(names)} {noun} listed: {shown}"[:SUMMARY_LIMIT]


def _replied(body: dict[str, object]) -> str:
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = first.get("message") if isinstance(first, dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    said = " ".join(str(text).split()) if text else "(no text)"
    return f"replied: {said}"[:SUMMARY_LIMIT]
