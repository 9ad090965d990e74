"""A small OpenAI-compatible upstream on 127.0.0.1 for tests that run modelyard as its own
process (browser tests): a thread serving /v1/models, /v1/chat/completions and
/v1/embeddings. It answers calls with ``Authorization: Bearer`` + :data:`GOOD_KEY` and
refuses any other key as OpenAI does (401, ``invalid_api_key``); a model named
``broken`` gets a 500. A chat call with ``max_tokens`` uses exactly that many completion
tokens (so a test can make a call's worst case its actual cost). Every request is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_KEY = "sk-mock-upstream-good-0123456789"
PROMPT_TOKENS, COMPLETION_TOKENS = 12, 5


@dataclass
class MockOpenAI:
    url: str  # ends in /v1
    received: list[dict[str, Any]] = field(default_factory=list)


def _reply(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    model = str(body.get("model", ""))
    if model == "broken":
        return 500, {"error": {"message": "the upstream broke", "type": "server_error"}}
    if path.endswith("/embeddings"):
        return 200, {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "model": model,
            "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
        }
    most = body.get("max_tokens") or body.get("max_completion_tokens")
    completion = most if isinstance(most, int) and most > 0 else COMPLETION_TOKENS
    return 200, {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the mock upstream."},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": completion,
            "total_tokens": PROMPT_TOKENS + completion,
        },
    }


class _Server(ThreadingHTTPServer):
    state: MockOpenAI


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {GOOD_KEY}":
            return True
        refusal = {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
        self._send(401, {"error": refusal})
        return False

    def do_GET(self) -> None:
        self.server.state.received.append({"method": "GET", "path": self.path, "body": None})
        if not self._authorized():
            return
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "mock-1", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        self.server.state.received.append({"method": "POST", "path": self.path, "body": body})
        if not self._authorized():
            return
        status, payload = _reply(self.path, body if isinstance(body, dict) else {})
        self._send(status, payload)


@contextmanager
def mock_openai() -> Iterator[MockOpenAI]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = MockOpenAI(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
