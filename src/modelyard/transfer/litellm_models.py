"""LiteLLM's ``model_info`` read as modelyard model fields: capabilities (``mode`` and the
``supports_*`` flags), context window, max output, and a price in USD per million tokens."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from modelyard.errors import ValidationFailed
from modelyard.transfer.document import plain

Note = Callable[[str, str], None]  # (where, why): an unsupported entry
INFO_FLAGS = {
    "supports_vision": "vision",
    "supports_function_calling": "function_calling",
    "supports_response_schema": "json_mode",
}
INFO_LIMITS = (
    ("max_input_tokens", "context_window"),
    ("max_output_tokens", "max_output_tokens"),
    ("max_tokens", "max_output_tokens"),
)
INFO_PRICES = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")
INFO_USED = frozenset({"mode", *INFO_FLAGS, *(s for s, _ in INFO_LIMITS), *INFO_PRICES})


def model_info(path: str, info: Any, note: Note) -> dict[str, Any]:
    """What a model_info mapping says about a model, as model fields."""
    model: dict[str, Any] = {}
    if not isinstance(info, dict):
        raise ValidationFailed.at(path, "must be a mapping")
    caps = _capabilities(path, info, note)
    if caps:
        model["capabilities"] = caps
    for source, field in INFO_LIMITS:
        if isinstance(info.get(source), int) and field not in model:
            model[field] = info[source]
    price = _price(path, info)
    if price is not None:
        model["prices"] = [price]
    for key in info:
        if key not in INFO_USED:
            note(f"{path}.{key}", "not used by modelyard")
    return model


def _capabilities(path: str, info: dict[str, Any], note: Note) -> list[str]:
    caps: list[str] = []
    mode = info.get("mode")
    if mode in {"chat", "completion", "responses"}:
        caps += ["text", "streaming"]
    elif mode == "embedding":
        return ["embedding"]
    elif mode is not None:
        note(f"{path}.mode", f"{mode!r} models are not served by modelyard")
    caps += [cap for flag, cap in INFO_FLAGS.items() if info.get(flag) is True]
    return ["text", *caps] if caps and "text" not in caps else caps


def _price(path: str, info: dict[str, Any]) -> dict[str, Any] | None:
    if "input_cost_per_token" not in info and "output_cost_per_token" not in info:
        return None
    price = {
        "input_per_mtok": _per_mtok(info.get("input_cost_per_token", 0), path),
        "output_per_mtok": _per_mtok(info.get("output_cost_per_token", 0), path),
    }
    if "cache_read_input_token_cost" in info:
        cached = _per_mtok(info["cache_read_input_token_cost"], path)
        price["cached_input_per_mtok"] = cached
    return price


def _per_mtok(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailed.at(path, "costs must be numbers (USD per token)")
    try:
        amount = Decimal(str(value)) * 1_000_000
        result: str = plain(amount)  # exact to modelyard's places; refuses what has none
    except (InvalidOperation, ArithmeticError):
        raise ValidationFailed.at(path, f"{value!r} is not a cost modelyard can hold") from None
    if not amount.is_finite():
        raise ValidationFailed.at(path, f"{value!r} is not a cost modelyard can hold")
    return result
