"""The Models panel's table: the overview snapshot's providers and models (already in
memory, kept up to date by the registry) filtered and cut into pages of models, each page
keeping its models under their provider's heading. No query per model, none per page."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from modelyard.api.web.console.inputs import count_in

PAGE_SIZE = 100
STATUSES = ("ACTIVE", "DEPRECATED")
SCOPES = (("system", "System providers"), ("user", "Users' own providers"), ("all", "All"))
MAX_QUERY = 200  # a search longer than any model name finds nothing anyway


@dataclass(frozen=True)
class Wanted:
    """The table's filters, read leniently from the query string: an unknown value is
    ignored (the whole table), never an error page."""

    q: str = ""
    provider: str = ""
    status: str = ""
    scope: str = "system"
    offset: int = 0

    @classmethod
    def read(cls, params: QueryParams) -> Wanted:
        status = params.get("status", "")
        scope = params.get("scope", "system")
        offset = params.get("offset", "0")
        return cls(
            q=params.get("q", "").strip()[:MAX_QUERY],
            provider=params.get("provider", "")[:64],
            status=status if status in STATUSES else "",
            scope=scope if scope in {s for s, _ in SCOPES} else "system",
            offset=count_in(offset),
        )

    def query(self) -> str:
        """The filters as a query string for the pager, ending in ``?`` or ``&``."""
        text = urlencode([(k, v) for k, v in self._pairs() if v])
        return f"?{text}&" if text else "?"

    def here(self) -> str:
        """This page of the table, to come back to after a button in it."""
        return f"/console/models{self.query()}offset={self.offset}"

    def _pairs(self) -> list[tuple[str, str]]:
        return [("q", self.q), ("provider", self.provider), ("status", self.status)] + (
            [("scope", self.scope)] if self.scope != "system" else []
        )


@dataclass
class Row:
    model: dict[str, Any]
    provider: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.provider['name']}/{self.model['model_id']}"

    @property
    def can_be_default(self) -> bool:
        return (
            self.provider["owner_user_id"] is None
            and self.model["status"] == "ACTIVE"
            and not self.model["is_default"]
        )


@dataclass
class Group:
    provider: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    total: int = 0  # the provider's models matching the filters, on every page


@dataclass
class Table:
    groups: list[Group]
    total: int
    limit: int
    offset: int
    providers: list[tuple[str, str]]  # the provider filter's options: (id, label)


def _matches(model: dict[str, Any], wanted: Wanted) -> bool:
    if wanted.status and model["status"] != wanted.status:
        return False
    if wanted.q:
        needle = wanted.q.casefold()
        return needle in model["model_id"].casefold() or needle in (
            model["display_name"].casefold()
        )
    return True


def _in_scope(provider: dict[str, Any], scope: str) -> bool:
    system = provider["owner_user_id"] is None
    return scope == "all" or (scope == "system") == system


def table(providers: list[dict[str, Any]], wanted: Wanted) -> Table:
    """The page of the table ``wanted`` asks for, out of the overview's ``providers``."""
    options = [("", "Any provider")]
    groups: list[Group] = []
    total = 0
    end = wanted.offset + PAGE_SIZE
    for provider in providers:
        if not _in_scope(provider, wanted.scope):
            continue
        if provider["owner_user_id"] is None or provider["id"] == wanted.provider:
            options.append((provider["id"], provider["display_name"] or provider["name"]))
        if wanted.provider and provider["id"] != wanted.provider:
            continue
        group = Group(provider)
        for model in provider["models"]:
            if not _matches(model, wanted):
                continue
            if wanted.offset <= total < end:
                group.rows.append(Row(model, provider))
            total += 1
            group.total += 1
        empty_here = not provider["models"] and wanted.offset <= total <= end
        if group.rows or (empty_here and not (wanted.q or wanted.status)):
            groups.append(group)  # a provider without models yet shows too, to add one
    return Table(groups, total, PAGE_SIZE, wanted.offset, options)


def amount(value: str | None) -> Decimal | None:
    """A price from the snapshot's JSON (a decimal string) for the money filter."""
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None
