"""The server's log lines on standard error: modelyard's own and uvicorn's, as text or JSON.

``MODELYARD_LOG_FORMAT=json`` makes each line one JSON object: ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, and when known ``request_id`` (the ``/v1`` handler's id,
the usage row's key: :data:`REQUEST_ID`), ``trace_id`` and ``span_id`` (the current span's,
when traces are on), and ``exception`` (the traceback) for a fault. uvicorn's error and
access lines go through the same handler. The messages are the same as in text: none
carries a key (the handler and the adapters' edge keep them out).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from modelyard.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The /v1 request being served (set by the handler when lines are JSON): each request runs
# in its own task, so the value never leaks into another request's lines.
REQUEST_ID: ContextVar[str | None] = ContextVar("modelyard_request_id", default=None)
OTHERS = ("uvicorn", "opentelemetry")  # libraries whose lines follow the format


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(_trace_ids())
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line, ensure_ascii=False, default=str)


def _trace_ids() -> dict[str, str]:
    """The current span's ids, if OpenTelemetry is in use in this process."""
    trace = sys.modules.get("opentelemetry.trace")  # imported by the tracer, never here
    if trace is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """modelyard's handler on standard error (one per process)."""


def to_stderr(settings: Settings) -> dict[str, Any] | None:
    """modelyard's own log lines (``modelyard.*``: failed /v1 calls, faults, the usage
    recorder, the registry refresher ...) on standard error at ``settings.log_level``, in
    ``settings.log_format``. Returns the ``log_config`` for uvicorn: its own default for
    text, None for JSON (its loggers then write through modelyard's handler)."""
    json_lines = settings.log_format == "json"
    formatter = JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    logger = logging.getLogger("modelyard")
    handler = next((h for h in logger.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr(sys.stderr)
        logger.addHandler(handler)
    handler.setFormatter(formatter)
    logger.setLevel(settings.log_level.upper())
    logger.propagate = False  # printed once, whatever the root logger does
    if not json_lines:
        return LOGGING_CONFIG
    for name in OTHERS:  # uvicorn's error and access lines, the exporter's complaints
        other = logging.getLogger(name)
        other.handlers = [handler]
        other.propagate = False
    for name in ("uvicorn.error", "uvicorn.access"):  # through "uvicorn"'s handler
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    return None
