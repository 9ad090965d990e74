"""GraphQL inputs to the plain dicts the registry services validate.

A mutation's input type mirrors the service's spec with every optional field defaulting to
``UNSET``: a field left out of the input is left out of the dict (the service keeps the
current value), a field given as ``null`` is passed as ``None`` (the service decides whether
that clears it or is an error). The service validates the dict, so the rules and the error
(VALIDATION_FAILED naming each field, camelCased by :mod:`.errors`) are REST's."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from strawberry.types.base import has_object_definition
from strawberry.types.unset import UNSET


def raw(value: Any) -> Any:
    """A JSON-like copy of ``value``: input objects become dicts without their unset
    fields, enums their values, lists element by element."""
    if has_object_definition(value) and dataclasses.is_dataclass(value):
        return {
            f.name: raw(v)
            for f in dataclasses.fields(value)
            if (v := getattr(value, f.name)) is not UNSET
        }
    if isinstance(value, list):
        return [raw(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


__all__ = ["raw"]
