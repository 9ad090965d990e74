"""An audit event's before and after as a person reads them: the fields that changed, were
added or were removed, each named by its JSON path (``config.headers.x``), and both
documents in full, with anything that looks secret masked.

Audit payloads hold no secret to begin with (a provider's key is a hint, a client's secret
is never recorded); masking here is a second line of defence: a value under a key that
names a secret (``api_key``, ``password``, ``client_secret``, ``access_token``,
``Authorization``...) or a string that looks like a modelyard API key is never shown.
Values are compared before they are masked, so a rotated secret still shows as changed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

MASK = "•••••• (hidden)"
ROOT = "(value)"  # the path of a whole value that is not an object (a setting's value)

_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "private_key",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "cookie",
)
_SECRET_ENDINGS = ("token", "tokens")
_KEYLIKE = re.compile(r"myk_[A-Za-z0-9_-]{20,}")

Kind = Literal["changed", "added", "removed"]


def looks_secret(name: str) -> bool:
    """Whether a JSON key names a secret (``X-Api-Key``, ``client_secret``, ``id_token``)."""
    word = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return any(s in word for s in _SECRET_WORDS) or word.endswith(_SECRET_ENDINGS)


def _shown(value: Any) -> bool:
    """A secret key's value that says only whether there is one (``has_api_key: true``)."""
    return value is None or isinstance(value, bool)


def masked(value: Any, secret: bool = False) -> Any:
    """``value`` with every secret replaced by :data:`MASK`, at any depth."""
    if isinstance(value, dict):
        return {k: masked(v, secret or looks_secret(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, secret) for v in value]
    if secret and not _shown(value):
        return MASK
    if isinstance(value, str) and _KEYLIKE.search(value):
        return _KEYLIKE.sub(MASK, value)
    return value


@dataclass(frozen=True)
class Leaf:
    value: Any
    secret: bool


def _flatten(value: Any, path: str, secret: bool, into: dict[str, Leaf]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            _flatten(item, name, secret or looks_secret(str(key)), into)
    else:
        into[path or ROOT] = Leaf(value, secret)


def flatten(value: Any) -> dict[str, Leaf]:
    """Every scalar (or list, or empty object) of ``value`` by its dotted path."""
    found: dict[str, Leaf] = {}
    if value is not None:
        _flatten(value, "", False, found)
    return found


def text(leaf: Leaf | None) -> str:
    """One value as a line of text: strings as they are, the rest as JSON; masked."""
    if leaf is None:
        return ""
    value = masked(leaf.value, leaf.secret)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Change:
    path: str
    kind: Kind
    old: str
    new: str


def changes(before: Any, after: Any) -> list[Change]:
    """What differs between ``before`` and ``after``, in the documents' own order (the
    fields of ``before`` first, then those only ``after`` has)."""
    old, new = flatten(before), flatten(after)
    found: list[Change] = []
    for path in [*old, *(p for p in new if p not in old)]:
        was, now = old.get(path), new.get(path)
        if was is not None and now is not None:
            if was.value != now.value or type(was.value) is not type(now.value):
                found.append(Change(path, "changed", text(was), text(now)))
        elif was is not None:
            found.append(Change(path, "removed", text(was), ""))
        elif now is not None:
            found.append(Change(path, "added", "", text(now)))
    return found


def document(value: Any) -> str:
    """The whole of ``value``, masked, as indented JSON (``null`` when there is none)."""
    return json.dumps(masked(value), ensure_ascii=False, indent=2)
