"""A small schema of the kinds of fields the areas build (plain leaves, nested plain objects,
lists of lists, enums, the extra scalars, relations with resolvers, connections, a null in a
non-null field), served by the real /graphql endpoint in place of the registry's schema:
the limits and the executor are tested on what the areas will hold, whatever they hold now.

:func:`serving` swaps it in; :func:`reference` is the same schema run by plain graphql-core
(no shortcut), for the differential test."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from modelyard.api.graphql import endpoint
from modelyard.api.graphql.context import Info
from modelyard.api.graphql.executor import Executor, plain_types
from modelyard.api.graphql.limits import Limits
from modelyard.api.graphql.pagination import Connection, from_list, window
from modelyard.api.graphql.scalars import JSON, SCALARS, BigInt, Decimal
from modelyard.registry.scopes import REGISTRY_WRITE

WHEN = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Leaf:
    name: str
    size: BigInt
    price: Decimal | None
    colour: Colour
    tags: list[str]
    grid: list[list[int | None]] | None
    when: dt.datetime
    blob: JSON | None


@strawberry.type
class Node:
    id: strawberry.ID
    name: str
    label: str | None
    must: str  # None on the broken node: an error at its path, its parent null
    leaf: Leaf
    leaves: list[Leaf]
    maybe_leaf: Leaf | None
    number: int

    @strawberry.field
    def children(self, first: int | None = None, after: str | None = None) -> Connection[Node]:
        return from_list(tree(self.number), window(first, after), lambda n: n)

    @strawberry.field
    async def twin(self) -> Node:
        return node(self.number + 100)


def leaf(n: int) -> Leaf:
    return Leaf(
        name=f"leaf {n}",
        size=BigInt(2**40 + n),
        price=Decimal(decimal.Decimal("1.25") * n) if n % 2 else None,
        colour=Colour.RED if n % 2 else Colour.GREEN,
        tags=[f"t{i}" for i in range(n % 4)],
        grid=[[n, None], [n + 1]] if n % 3 else None,
        when=WHEN + dt.timedelta(days=n),
        blob={"n": n, "nested": [n, {"x": None}]} if n % 2 == 0 else None,
    )


def node(n: int, *, broken: bool = False) -> Node:
    return Node(
        id=strawberry.ID(f"node-{n}"),
        name=f"node {n}",
        label=None if n % 2 else f"label {n}",
        must=None if broken else f"must {n}",  # type: ignore[arg-type]
        leaf=leaf(n),
        leaves=[leaf(n + i) for i in range(3)],
        maybe_leaf=leaf(n) if n % 2 else None,
        number=n,
    )


def tree(n: int) -> list[Node]:
    return [node(n * 10 + i) for i in range(4)]


@strawberry.type
class Query:
    @strawberry.field
    def root(self, info: Info) -> Node:
        return node(1)

    @strawberry.field
    def roots(self, info: Info) -> list[Node]:
        return [node(i, broken=i == 3) for i in range(5)]

    @strawberry.field
    def nodes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Node]:
        return from_list([node(i) for i in range(20)], window(first, after), lambda n: n)

    @strawberry.field
    def written(self, info: Info) -> str | None:
        """Needs registry.write, as a mutation's field would: a key without it gets null
        here and INSUFFICIENT_SCOPE at this path, its siblings their answers."""
        return info.context.need(REGISTRY_WRITE).label

    @strawberry.field
    def broken(self, info: Info) -> Node | None:
        return node(7, broken=True)

    plain: Node = strawberry.field(default_factory=lambda: node(2))
    plain_list: list[Node] = strawberry.field(
        default_factory=lambda: [node(i, broken=i == 2) for i in range(4)]
    )


def _build(executor: type[Executor] | None) -> strawberry.Schema:
    options: dict[str, Any] = {}
    if executor is not None:
        options["execution_context_class"] = executor
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map=dict(SCALARS)),
        extensions=[Limits],
        **options,
    )


@cache
def fast() -> strawberry.Schema:
    """The rig under the shortcut executor (its own plans: the app's stay untouched)."""

    class RigExecutor(Executor):
        plans = {}

    built = _build(RigExecutor)
    RigExecutor.plans = plain_types(built._schema)
    return built


@cache
def reference() -> strawberry.Schema:
    """The rig executed by graphql-core's own machinery only."""
    return _build(None)


@contextmanager
def serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """/graphql answers from the rig for the duration."""
    with monkeypatch.context() as patch:
        patch.setattr(endpoint, "schema", fast)
        yield
