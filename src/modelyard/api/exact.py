"""Exact numbers in request bodies: a JSON number with a fraction is read as a
:class:`~decimal.Decimal`, never through a float, so ``12.345678`` credits arrive as exactly
that (a float would round amounts past 15-17 significant digits without a word).

Routers whose bodies carry amounts use :class:`ExactRoute` as their ``route_class``; their
bodies are still typed pydantic models (validated and documented in OpenAPI as usual).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class ExactRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactRequest(request.scope, request.receive))

        return exact
