"""The schema: every area's ``Query`` and ``Mutation`` merged into the root types, the
extra scalars, the limits extension and the plain-object executor.

``python -m modelyard.api.graphql.schema`` prints it in SDL (docs/schema.graphql is that
output; a test fails when the two differ)."""

from __future__ import annotations

import importlib
from functools import cache

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from modelyard.api.graphql import executor
from modelyard.api.graphql.limits import Limits
from modelyard.api.graphql.scalars import SCALARS

# The areas, in the order their fields appear in the root types.
AREAS = ("catalog", "settings", "accounts", "billing", "activity")


def _roots(kind: str) -> tuple[type, ...]:
    found = []
    for area in AREAS:
        module = importlib.import_module(f"modelyard.api.graphql.areas.{area}")
        root = getattr(module, kind, None)
        if root is not None:
            found.append(root)
    return tuple(found)


class _Schema(strawberry.Schema):
    """Strawberry's schema without its error log: strawberry logs each error with the
    exception's text and the document's lines around it, which may hold a secret (a
    provider key given inline) or a database URL. :func:`.errors.format_error` logs what
    is worth logging, by class and code only."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


@cache
def schema() -> strawberry.Schema:
    """The one schema, built on first use."""
    built = _Schema(
        query=merge_types("Query", _roots("Query")),
        mutation=merge_types("Mutation", _roots("Mutation")),
        config=StrawberryConfig(scalar_map=dict(SCALARS)),
        extensions=[Limits, lambda: ParserCache(maxsize=256)],
        execution_context_class=executor.Executor,
    )
    executor.install(built._schema)
    return built


def sdl() -> str:
    return schema().as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
