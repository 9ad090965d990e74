"""One request to ``/v1`` as its route sees it: the caller (authenticated), the ids, the
ASGI channel, and the helpers every route uses to read a JSON body and answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from modelyard.api.openai.wire import Headers, overhead, read_body, send_json
from modelyard.errors import BadRequest, PayloadTooLarge
from modelyard.gateway import request
from modelyard.gateway.service import Gateway
from modelyard.gateway.snapshot import KeyEntry, Snapshot

# The deepest a body may nest: the JSON encoder every upstream request goes through stops past
# 254 levels, and a translation wraps a caller's values in a few more (a tool's parameters
# in ``function``, a request in its envelope), so a body deeper than this is refused up front.
MAX_DEPTH = 200
_HEADROOM = 254 - MAX_DEPTH


@dataclass(slots=True)
class Inbound:
    gateway: Gateway
    snap: Snapshot
    key: KeyEntry
    request_id: str  # the server's own: the usage row's key
    client_id: str | None  # the caller's x-client-request-id / x-request-id
    idempotency_key: str | None
    method: str
    path: str
    scope: dict[str, Any]
    receive: Any
    send: Any
    started: float  # perf_counter when the request came in
    headers: Headers = field(default_factory=list)  # sent on every answer (x-request-id, ...)
    model: str | None = None  # the model asked for, once read (for the failure's log line)

    def header(self, name: bytes) -> bytes | None:
        """The first value of request header ``name`` (lower case), as sent."""
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value)
        return None

    async def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object: 413 past the size limit, 408 when it does not
        arrive in time, 400 when it is not a JSON object."""
        gateway = self.gateway
        limit = request.MAX_BODY_BYTES
        raw = await read_body(self.receive, limit, gateway.body_timeout_s, gateway.deadlines)
        if raw is None:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        # A body with no more brackets than MAX_DEPTH cannot nest deeper (bytes.count is C
        # speed; the exact check encodes the body once more, about 2 us)
        if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and not _shallow(body):
            raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels")
        model = body.get("model")
        self.model = model if isinstance(model, str) else None
        return body

    async def answer(self, body: bytes, headers: Headers | None = None, status: int = 200) -> None:
        """A JSON answer; ``headers`` replace the default ones (a call's own)."""
        if headers is None:
            headers = [*self.headers, overhead(self.started, 0.0)]
        await send_json(self.send, status, body, headers)


def _shallow(body: dict[str, Any]) -> bool:
    """Whether ``body`` nests at most :data:`MAX_DEPTH` levels: encoded inside the headroom's
    levels of lists, it still fits the encoder's limit (which is checked at C speed)."""
    wrapped: Any = body
    for _ in range(_HEADROOM):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return False
    return True
