"""An OpenAI-compatible upstream on 127.0.0.1 for servers run as real processes: it answers
chat completions at once, or after :data:`SLOW_S` for a model whose name starts with
``slow``, and counts how many calls it held at the same time (a parallelism limit across
several worker processes can only be seen from here)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.mock_openai import COMPLETION_TOKENS, GOOD_KEY, PROMPT_TOKENS

SLOW_S = 1.0


@dataclass
class Upstream:
    url: str  # ends in /v1
    calls: int = 0
    in_flight: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.calls = self.most_at_once = 0


def _answer(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-upstream",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
    ).encode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a burst of calls from two workers, not refused at connect
    daemon_threads = True
    state: Upstream


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.headers.get("Authorization") != f"Bearer {GOOD_KEY}":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        state, model = self.server.state, str(body.get("model", ""))
        with state.lock:
            state.calls += 1
            state.in_flight += 1
            state.most_at_once = max(state.most_at_once, state.in_flight)
        try:
            if model.startswith("slow"):
                time.sleep(SLOW_S)
        finally:
            with state.lock:
                state.in_flight -= 1
        data = _answer(model)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def upstream() -> Iterator[Upstream]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = Upstream(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
