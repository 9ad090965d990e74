"""``GET /v1/models``: the models this caller may use, ACTIVE first, with capabilities and
context window as extra fields (OpenAI clients ignore what they do not know). A plan that
names its allowed models narrows the list to those."""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.api.openai.inbound import Inbound
from modelyard.errors import NotFound
from modelyard.gateway.resolve import usable
from modelyard.gateway.snapshot import KeyEntry, ModelEntry, Snapshot


def _visible(snap: Snapshot, key: KeyEntry) -> list[tuple[str, ModelEntry]]:
    plan = snap.billing.get(key.user_id)
    allowed = plan.allowed_models if plan is not None else None
    found = []
    for model in snap.models.values():
        provider = snap.providers.get(model.provider_id)
        if provider is None or not usable(snap, key.user_id, provider):
            continue
        if allowed is None or {model.model_id, f"{provider.name}/{model.model_id}"} & allowed:
            found.append((provider.name, model))
    found.sort(key=lambda pm: (pm[1].status != "ACTIVE", pm[1].model_id, pm[0]))
    return found


def _entries(snap: Snapshot, key: KeyEntry) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for provider, model in _visible(snap, key):
        entry = entries.get(model.model_id)
        if entry is None:
            entries[model.model_id] = {
                "id": model.model_id,
                "object": "model",
                "created": int(model.created_at.timestamp()),
                "owned_by": provider,
                "display_name": model.display_name,
                "status": model.status,
                "capabilities": sorted(model.capabilities),
                "context_window": model.context_window,
                "max_output_tokens": model.max_output_tokens,
                "providers": [provider],
            }
        elif provider not in entry["providers"]:
            entry["providers"].append(provider)
    return entries


def list_models(snap: Snapshot, key: KeyEntry) -> bytes:
    return orjson.dumps({"object": "list", "data": list(_entries(snap, key).values())})


def get_model(snap: Snapshot, key: KeyEntry, model_id: str) -> bytes:
    entries = _entries(snap, key)
    if model_id in entries:
        return orjson.dumps(entries[model_id])
    provider, _, bare = model_id.partition("/")
    entry = entries.get(bare)
    if entry is not None and provider in entry["providers"]:
        return orjson.dumps(entry | {"id": model_id, "owned_by": provider})
    raise NotFound(
        f"model {model_id!r} does not exist or you have no access to it", code="MODEL_NOT_FOUND"
    )


async def listed(inbound: Inbound) -> None:
    """``GET /v1/models``."""
    await inbound.answer(list_models(inbound.snap, inbound.key))


async def one(inbound: Inbound) -> None:
    """``GET /v1/models/{id}`` (an id may hold a slash: ``provider/model``)."""
    model_id = inbound.model = inbound.path.removeprefix("/v1/models/")
    await inbound.answer(get_model(inbound.snap, inbound.key, model_id))
