"""What the plans, subscriptions and credits pages share: reading their forms into a
service's input (a blank field is "none"), the status a refused form answers with, the
page offset."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from fastapi import Request
from starlette.datastructures import FormData

from modelyard.api.web.console.inputs import offset_of
from modelyard.api.web.forms import text
from modelyard.errors import Conflict, ModelyardError, NotFound
from modelyard.registry.common import PageRequest

PAGE_SIZE = 50
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def values(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The named fields' text as typed (to show the form again)."""
    return {name: text(form, name) for name in names}


def optional(typed: Mapping[str, str], names: Iterable[str]) -> dict[str, str | None]:
    """The named fields for a service's input: blank is None (no limit, none)."""
    return {name: typed.get(name, "").strip() or None for name in names}


def listed(value: str) -> list[str] | None:
    """A list typed one per line or comma-separated; nothing typed is None (any)."""
    items = [part.strip() for part in re.split(r"[,\n]", value) if part.strip()]
    return items or None


def instant(value: str) -> str | None:
    """A time from a ``datetime-local`` field, which has no zone, read as UTC."""
    value = value.strip()
    if not value:
        return None
    return f"{value}Z" if _LOCAL_TIME.match(value) else value


def status_of(exc: ModelyardError) -> int:
    """A refused form's status: 409 for a conflict, 404 when what it names is gone, else
    422 (the input)."""
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, NotFound):
        return 404
    return 422


def page_request(request: Request, size: int = PAGE_SIZE) -> PageRequest:
    """The page a list shows: ``?offset=`` (digits; anything else is the first page)."""
    return PageRequest(limit=size, offset=offset_of(request))
