"""Small pieces every registry service uses: pages, id parsing, JSON snapshots (input
validation errors are built by :func:`modelyard.errors.check`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from modelyard.errors import NotFound

T = TypeVar("T")

# An exact amount, written in JSON as a plain decimal string ("0.0000001234", never "1.234E-7").
Amount = Annotated[
    Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
]
MAX_PAGE = 500


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Spec(BaseModel):
    """Input of a service call: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageRequest(BaseModel):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0)


def parse_id(value: uuid.UUID | str, what: str) -> uuid.UUID:
    """An id from the outside world; a malformed one is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found", code=f"{what.upper()}_NOT_FOUND") from None


def not_found(what: str, ident: object) -> NotFound:
    return NotFound(f"{what} {ident} not found", code=f"{what.upper()}_NOT_FOUND")


def jsonable(value: Any) -> Any:
    """A JSON-native copy of a snapshot: Decimals, times and ids as strings, no floats."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | uuid.UUID | float):
        return value.isoformat() if isinstance(value, datetime) else str(value)
    return value
