"""The table of ``/v1`` endpoints: each path (or path prefix) with the methods it answers, the
function serving each, and the error shape its callers parse (OpenAI's, or Anthropic's on the
Messages API). The handler (:mod:`modelyard.api.openai.handler`) looks the route up before
it authenticates, so that even a refused key is answered in the route's own shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.api.openai.wire import error_body
from modelyard.registry.scopes import LLM_INFERENCE

if TYPE_CHECKING:
    from modelyard.api.openai.inbound import Inbound

Run = Callable[["Inbound"], Awaitable[None]]
# (status, code, message, param) -> the error body's bytes
ErrorShape = Callable[[int, str, str, "str | None"], bytes]


@dataclass(frozen=True, slots=True)
class Route:
    methods: dict[str, Run]
    error_shape: ErrorShape = error_body
    scope: str = LLM_INFERENCE  # the scope the route needs

    @property
    def allow(self) -> str:
        return ", ".join(self.methods)


class Routes:
    """Exact paths first, then the longest matching prefix (``/v1/models/{id}``)."""

    def __init__(self) -> None:
        self.exact: dict[str, Route] = {}
        self.prefixes: list[tuple[str, Route]] = []

    def add(self, path: str, route: Route) -> None:
        if path.endswith("/"):
            self.prefixes.append((path, route))
            self.prefixes.sort(key=lambda item: -len(item[0]))
        else:
            self.exact[path] = route

    def template(self, path: str) -> str:
        """``path`` as a span names it: a prefix route's id as ``{id}`` (few names, no ids)."""
        if path in self.exact:
            return path
        for prefix, _ in self.prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return prefix + "{id}"
        return "/v1/{unknown}"

    def find(self, path: str) -> Route | None:
        route = self.exact.get(path)
        if route is not None:
            return route
        for prefix, candidate in self.prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return candidate
        return None
