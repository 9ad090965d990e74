"""The building blocks of :mod:`modelyard.gateway.params`: refusing in OpenAI's words, and
the checks of one value (a number in a range, an integer, a boolean, one of a few strings).

A check is ``check(param, value)``: it returns when the value is good and raises
:class:`~modelyard.errors.BadRequest` naming ``param`` otherwise. Types are compared
exactly (``type(value) is int``), so ``true`` is no integer and ``1`` no boolean. A number
written with a fraction of zero (``64.0``) is the integer JSON Schema says it is: the check
returns it as an ``int`` for the caller to put in its place (every other check returns
None)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from modelyard.errors import BadRequest

Check = Callable[[str, Any], object]
INT64 = 2**63
SHOWN = 40  # characters of a refused value quoted back


def fail(param: str, message: str, code: str = "invalid_value") -> NoReturn:
    raise BadRequest(message, code=code.upper(), details={"param": param})


def missing(param: str) -> NoReturn:
    fail(param, f"Missing required parameter: '{param}'.", "missing_required_parameter")


KINDS = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a decimal",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def kind(value: Any) -> str:
    """How OpenAI names a JSON value's type in its messages."""
    return KINDS.get(type(value), type(value).__name__)


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def wrong_type(param: str, expected: str, value: Any) -> NoReturn:
    fail(
        param,
        f"Invalid type for '{param}': expected {expected}, but got {kind(value)} instead.",
        "invalid_type",
    )


def not_one_of(param: str, value: Any, allowed: Iterable[str]) -> NoReturn:
    names = ", ".join(f"'{name}'" for name in allowed)
    fail(param, f"Invalid value for '{param}': {show(value)}. Supported values are: {names}.")


def number(low: float, high: float) -> Check:
    """A JSON number (integer or decimal, not a boolean) within ``low..high``."""

    def check(param: str, value: Any) -> None:
        cls = type(value)
        if cls is not float and cls is not int:
            wrong_type(param, "a decimal", value)
        if value < low:
            fail(
                param,
                f"Invalid '{param}': decimal below minimum value. Expected a value >= {low}, "
                f"but got {value} instead.",
                "decimal_below_min_value",
            )
        if value > high or (cls is float and math.isnan(value)):  # NaN: an in-process caller
            fail(
                param,
                f"Invalid '{param}': decimal above maximum value. Expected a value <= {high}, "
                f"but got {value} instead.",
                "decimal_above_max_value",
            )

    return check


def as_integer(param: str, value: Any) -> int:
    """``value`` as an int when it is one written as a decimal (``64.0``), else a refusal."""
    if type(value) is float and value.is_integer() and -INT64 <= value < INT64:
        return int(value)
    wrong_type(param, "an integer", value)


def integer(low: int, high: int) -> Check:
    """A JSON integer (not a boolean) within ``low..high``; ``64.0`` is returned as 64."""

    def check(param: str, value: Any) -> int | None:
        fixed = None
        if type(value) is not int:
            value = fixed = as_integer(param, value)
        if value < low:
            fail(
                param,
                f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, "
                f"but got {value} instead.",
                "integer_below_min_value",
            )
        if value > high:
            fail(
                param,
                f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, "
                f"but got {value} instead.",
                "integer_above_max_value",
            )
        return fixed

    return check


def boolean(param: str, value: Any) -> None:
    if type(value) is not bool:
        wrong_type(param, "a boolean", value)


def string(param: str, value: Any) -> None:
    if type(value) is not str:
        wrong_type(param, "a string", value)


def object_(param: str, value: Any) -> None:
    if type(value) is not dict:
        wrong_type(param, "an object", value)


def enum(allowed: tuple[str, ...]) -> Check:
    """One of a few strings."""
    members = frozenset(allowed)

    def check(param: str, value: Any) -> None:
        if type(value) is not str:
            wrong_type(param, "a string", value)
        if value not in members:
            not_one_of(param, value, allowed)

    return check


def optional(obj: dict[str, Any], where: str, name: str, check: Check) -> None:
    """``obj[name]`` checked when present and not null."""
    value = obj.get(name)
    if value is not None:
        check(f"{where}.{name}", value)


def required_string(obj: dict[str, Any], where: str, name: str) -> str:
    value = obj.get(name)
    if type(value) is not str:
        if value is None:
            missing(f"{where}.{name}")
        wrong_type(f"{where}.{name}", "a string", value)
    return value


def required_object(obj: dict[str, Any], where: str, name: str) -> dict[str, Any]:
    value = obj.get(name)
    if type(value) is not dict:
        if value is None:
            missing(f"{where}.{name}")
        wrong_type(f"{where}.{name}", "an object", value)
    return value
