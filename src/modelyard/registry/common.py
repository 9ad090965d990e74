"""Small pieces every registry service uses: pages, id parsing, JSON snapshots (input
validation errors are built by :func:`modelyard.errors.check`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from modelyard.errors import NotFound
from modelyard.registry.fields import NonNegativeInt64, storable

T = TypeVar("T")

# An exact amount, written in JSON as a plain decimal string ("0.0000001234", never "1.234E-7").
Amount = Annotated[
    Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
]
MAX_PAGE = 500


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


def _not_null_schema(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """The JSON schema of a :class:`Spec`: its ``not_null`` fields do not offer ``null``."""
    properties = schema.get("properties", {})
    for name in getattr(cls, "not_null", ()):
        prop = properties.get(name)
        if not prop or "anyOf" not in prop:
            continue
        options = [o for o in prop["anyOf"] if o != {"type": "null"}]
        if len(options) == 1:
            del prop["anyOf"]
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        if prop.get("default", 0) is None:
            del prop["default"]


class Spec(BaseModel):
    """Input of a service call: unknown fields are an error, not silently dropped, and no
    text in any field (nested JSON too) holds what no database stores (NUL, lone surrogates;
    :func:`~modelyard.registry.fields.storable`).

    ``not_null`` names the fields that may be left out (their default, None, means "leave it
    as it is") but not sent as ``null``: their column is NOT NULL. Such a ``null`` is a 422
    naming the field, and the JSON schema does not offer it."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_not_null_schema
    )
    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _present_not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("may not be null; leave it out to keep the current value")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageRequest(BaseModel):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: NonNegativeInt64 = 0


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
