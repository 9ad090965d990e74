"""The modelyard registry document: what ``modelyard export`` writes and every import reads.

Version 1, as JSON (keys in a fixed order, lists sorted by name, so equal registries give
byte-equal files)::

    {"format": "modelyard-registry", "version": 1,
     "providers": [{"name", "kind", "display_name", "description", "base_url",
                    "organization", "custom_headers", "config", "timeout_ms", "max_parallel",
                    "rpm_limit", "tpm_limit", "weight", "enabled", "is_default", "is_active",
                    "api_key": null | {"sealed_by", "value"},
                    "models": [{"model_id", "display_name", "context_window",
                                "max_output_tokens", "capabilities", "fallbacks", "status",
                                "is_default",
                                "prices": [{"effective_from", "input_per_mtok",
                                            "output_per_mtok", "cached_input_per_mtok",
                                            "credits_per_1k", "currency"}]}]}],
     "settings": {"<key>": <value>},
     "plans": [{"name", "display_name", "monthly_credits", "rollover", "rollover_cap",
                "rpm_limit", "tpm_limit", "max_parallel", "allowed_models",
                "allowed_capabilities", "active"}]}

System providers only: members' own providers, users, API keys, subscriptions, credits and
usage are not part of it. Amounts are strings (exact decimals), times ISO 8601 in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select

from modelyard.db.tables import Model, ModelPrice, Plan, Provider, SystemSetting
from modelyard.db.types import canonical
from modelyard.errors import SecretUnreadable
from modelyard.registry.tx import Tx
from modelyard.transfer.sealing import Sealer

FORMAT = "modelyard-registry"
VERSION = 1

PROVIDER_FIELDS = (
    "kind",
    "display_name",
    "description",
    "base_url",
    "organization",
    "custom_headers",
    "config",
    "timeout_ms",
    "max_parallel",
    "rpm_limit",
    "tpm_limit",
    "weight",
    "enabled",
    "is_default",
    "is_active",
)
MODEL_FIELDS = (
    "display_name",
    "context_window",
    "max_output_tokens",
    "capabilities",
    "fallbacks",
    "status",
    "is_default",
)
PRICE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "credits_per_1k",
    "currency",
)
PLAN_FIELDS = (
    "display_name",
    "monthly_credits",
    "rollover",
    "rollover_cap",
    "rpm_limit",
    "tpm_limit",
    "max_parallel",
    "allowed_models",
    "allowed_capabilities",
    "active",
)


@dataclass
class Incoming:
    """A file read into a registry document, with what travels beside it: provider keys in
    plaintext (kept out of the document and of ``repr``, sealed when applied) and every entry
    of the file modelyard cannot honour, as (where, why)."""

    format: str
    document: dict[str, Any]
    partial: bool  # a converted file: fields it leaves out keep their current values
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    unsupported: list[tuple[str, str]] = field(default_factory=list)


def empty_document() -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "providers": [], "settings": {}, "plans": []}


def plain(value: Any) -> Any:
    """A stored value as the document holds it: exact decimals as strings, UTC ISO times."""
    if isinstance(value, Decimal):
        return format(canonical(value), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


async def export_document(
    tx: Tx, sealer: Sealer | None = None, unreadable: list[str] | None = None
) -> dict[str, Any]:
    """The whole registry as a document; provider keys sealed by ``sealer``, else left out.
    With ``unreadable`` (a backup), a key this installation cannot open is left out and its
    provider's name added there, instead of failing."""
    providers = list(
        await tx.session.scalars(
            select(Provider).where(Provider.owner_user_id.is_(None)).order_by(Provider.name)
        )
    )
    ids = [p.id for p in providers]
    models: dict[Any, list[Model]] = {pid: [] for pid in ids}
    for model in await tx.session.scalars(
        select(Model).where(Model.provider_id.in_(ids)).order_by(Model.model_id)
    ):
        models[model.provider_id].append(model)
    prices: dict[Any, list[ModelPrice]] = {}
    model_ids = [m.id for group in models.values() for m in group]
    for price in await tx.session.scalars(
        select(ModelPrice)
        .where(ModelPrice.model_id.in_(model_ids))
        .order_by(ModelPrice.effective_from)
    ):
        prices.setdefault(price.model_id, []).append(price)
    settings = await tx.session.scalars(select(SystemSetting).order_by(SystemSetting.key))
    plans = await tx.session.scalars(select(Plan).order_by(Plan.name))
    return {
        "format": FORMAT,
        "version": VERSION,
        "providers": [
            _provider(tx, p, models[p.id], prices, sealer, unreadable) for p in providers
        ],
        "settings": {s.key: plain(s.value) for s in settings},
        "plans": [{"name": p.name} | {f: plain(getattr(p, f)) for f in PLAN_FIELDS} for p in plans],
    }


def _provider(
    tx: Tx,
    provider: Provider,
    models: list[Model],
    prices: dict[Any, list[ModelPrice]],
    sealer: Sealer | None,
    unreadable: list[str] | None,
) -> dict[str, Any]:
    entry = {"name": provider.name} | {f: plain(getattr(provider, f)) for f in PROVIDER_FIELDS}
    entry["api_key"] = None
    if sealer is not None and provider.api_key_sealed is not None:
        try:
            key = tx.keyring.open(provider.api_key_sealed, context=f"provider:{provider.id}")
        except SecretUnreadable:
            if unreadable is None:
                raise
            unreadable.append(provider.name)
        else:
            entry["api_key"] = sealer.seal(provider.name, key)
    entry["models"] = [
        {"model_id": m.model_id}
        | {f: plain(getattr(m, f)) for f in MODEL_FIELDS}
        | {"prices": [_price(p) for p in prices.get(m.id, [])]}
        for m in models
    ]
    return entry


def _price(price: ModelPrice) -> dict[str, Any]:
    return {"effective_from": plain(price.effective_from)} | {
        f: plain(getattr(price, f)) for f in PRICE_FIELDS
    }


def dumps(document: dict[str, Any]) -> bytes:
    """The document as the file holds it: indented JSON, keys in the document's order."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
