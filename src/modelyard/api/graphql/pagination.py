"""Relay-style connections over the registry's offset pages.

A list field takes ``first`` (default 50, at most 500, the REST API's page bounds) and
``after`` (a cursor from an earlier page's ``pageInfo.endCursor`` or an edge) and answers a
connection: ``edges { cursor node }``, ``nodes`` (the same nodes without cursors),
``pageInfo`` and ``totalCount``. Cursors are opaque; each stands for a position in the
list's order, so a row inserted before it shifts the next page by one, as REST's
``offset`` does. Paging is forward only (no ``last``/``before``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from modelyard.errors import ValidationFailed
from modelyard.registry.common import MAX_PAGE, Page, PageRequest
from modelyard.registry.fields import INT64_MAX

T = TypeVar("T")
V = TypeVar("V")

DEFAULT_FIRST = 50
_PREFIX = "modelyard:"


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One node of a list and the cursor just after which it follows.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="One page of a list: its edges (or just the nodes) and where it is.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    total_count: int = strawberry.field(description="items in the whole list, every page")


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> int:
    """The position a cursor stands for; anything this API did not give out is a 422
    naming ``argument``."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        position = int(text.removeprefix(_PREFIX))
    except (ValueError, UnicodeError, binascii.Error):
        raise ValidationFailed.at(argument, "is not a cursor this API gave out") from None
    if not 0 <= position < INT64_MAX:
        raise ValidationFailed.at(argument, "is not a cursor this API gave out")
    return position


@dataclass(frozen=True)
class Window:
    """``first`` and ``after`` checked: how many items, from which offset."""

    limit: int
    offset: int

    def request(self) -> PageRequest:
        return PageRequest(limit=self.limit, offset=self.offset)


def window(first: int | None, after: str | None) -> Window:
    limit = DEFAULT_FIRST if first is None else first
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.at("first", f"must be between 1 and {MAX_PAGE}")
    offset = 0 if after is None else decode_cursor(after) + 1
    return Window(limit=limit, offset=offset)


def connection(
    items: Sequence[V], total: int, at: Window, convert: Callable[[V], T]
) -> Connection[T]:
    """A connection of ``items`` (the page that starts at ``at.offset``) of a list of
    ``total``, each item made a node by ``convert``."""
    nodes = [convert(item) for item in items]
    edges = [Edge(cursor=encode_cursor(at.offset + i), node=n) for i, n in enumerate(nodes)]
    return Connection(
        edges=edges,
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=at.offset + len(nodes) < total,
            has_previous_page=at.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


def from_page(page: Page[V], at: Window, convert: Callable[[V], T]) -> Connection[T]:
    return connection(page.items, page.total, at, convert)


def from_list(items: Sequence[V], at: Window, convert: Callable[[V], T]) -> Connection[T]:
    """A connection over a list a service answers whole (it pages in memory)."""
    return connection(items[at.offset : at.offset + at.limit], len(items), at, convert)


__all__ = [
    "DEFAULT_FIRST",
    "Connection",
    "Edge",
    "PageInfo",
    "Window",
    "connection",
    "decode_cursor",
    "encode_cursor",
    "from_list",
    "from_page",
    "window",
]
