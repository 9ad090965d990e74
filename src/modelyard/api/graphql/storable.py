"""No string a document or its variables carry holds what no database stores or compares
(NUL, a lone surrogate): refused before anything runs, naming the argument or variable.

REST checks its path and query parameters the same way (``api/deps.py``); inputs the
services validate would be caught there too, but a filter argument (``kind``, ``model``)
goes straight into a query, where PostgreSQL would fail on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    visit,
)
from graphql.language import Visitor

from modelyard.registry.fields import unstorable

CODE = "VALIDATION_FAILED"


class _Strings(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: tuple[str, str] | None = None
        self._names: list[str] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self._names.append(node.name.value)

    def leave_argument(self, *_: Any) -> None:
        self._names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self._names.append(node.name.value)

    def leave_object_field(self, *_: Any) -> None:
        self._names.pop()

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        problem = unstorable(node.value)
        if problem and self.found is None:
            self.found = (".".join(self._names) or "(document)", problem)
            return Visitor.BREAK
        return None


MAX_DEPTH = 64  # JSON nested in one variable, looked at before its strings are


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests lists and objects deeper than :data:`MAX_DEPTH` (walked
    without recursion: a variable may be nested thousands deep)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def check(document: DocumentNode, variables: Mapping[str, Any]) -> GraphQLError | None:
    for name, value in variables.items():
        if _too_deep(value):
            return _error(f"${name}", f"is nested more than {MAX_DEPTH} deep")
        problem = unstorable(value)
        if problem:
            return _error(f"${name}", problem)
    strings = _Strings()
    visit(document, strings)
    if strings.found is not None:
        return _error(*strings.found)
    return None


def _error(where: str, problem: str) -> GraphQLError:
    return GraphQLError(
        f"{where}: {problem}",
        extensions={
            "code": CODE,
            "status": 422,
            "details": {"errors": [{"path": where, "message": problem}]},
        },
    )


__all__ = ["check"]
