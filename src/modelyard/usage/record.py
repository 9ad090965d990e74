"""One gateway call as it is stored in ``usage_events``: the row, its checks, and its JSON
form for the outbox."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson

OPERATIONS = frozenset({"chat", "completion", "embedding", "function_call"})
STATUSES = frozenset({"ok", "error", "aborted"})
MONEY_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "cost",
    "credits",
    "charged_credits",
)
ID_FIELDS = ("user_id", "api_key_id", "provider_id", "model_id", "price_id")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One gateway call, as it will be stored in ``usage_events``."""

    request_id: str
    occurred_at: datetime
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    provider_id: uuid.UUID | None
    model_id: uuid.UUID | None
    provider_name: str | None
    model_name: str | None
    operation: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: bool
    latency_ms: int
    ttft_ms: int | None
    attempts: int
    status: str
    error_code: str | None
    price_id: uuid.UUID | None
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cached_input_per_mtok: Decimal | None
    currency: str | None
    cost: Decimal | None
    credits: Decimal | None
    meta: dict[str, Any]
    charged_credits: Decimal | None = None  # debited from the user's credit ledger
    client_request_id: str | None = None  # the caller's own id: correlation, never a key
    cache_write_tokens: int = 0  # prompt tokens written to the provider's prompt cache
    cache_write_per_mtok: Decimal | None = None

    def __post_init__(self) -> None:  # cheap checks: a bad row fails here, not in a batch
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {sorted(OPERATIONS)}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {sorted(STATUSES)}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        for name in MONEY_FIELDS:
            value = getattr(self, name)
            if value is not None and not (isinstance(value, Decimal) and value.is_finite()):
                raise TypeError(f"{name} must be a finite Decimal, never a float")

    def to_row(self) -> dict[str, Any]:
        row = dict(zip(_COLUMNS, _values_of(self), strict=True))
        row["metadata"] = self.meta
        return row

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_row(), default=str)

    @classmethod
    def from_json(cls, raw: bytes) -> UsageRecord:
        data = orjson.loads(raw)
        data["meta"] = data.pop("metadata")
        data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        for name in MONEY_FIELDS:
            data[name] = None if data.get(name) is None else Decimal(data[name])
        for name in ID_FIELDS:
            data[name] = None if data[name] is None else uuid.UUID(data[name])
        return cls(**data)


_COLUMNS = tuple(f.name for f in dataclasses.fields(UsageRecord) if f.name != "meta")
_values_of = attrgetter(*_COLUMNS)
