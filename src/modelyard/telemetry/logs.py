"""The server's log lines on standard error: modelyard's own and uvicorn's, as text or JSON.

``MODELYARD_LOG_FORMAT=json`` makes each line one JSON object: ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, and when known ``request_id`` (the ``/v1`` handler's id,
the usage row's key: :data:`REQUEST_ID`), ``trace_id`` and ``span_id`` (the current span's,
when traces are on), and ``exception`` (the traceback) for a fault. uvicorn's error and
access lines go through the same handler. The messages are the same as in text: none
carries a key (the handler and the adapters' edge keep them out).
"""

from __future__ import annotations

import copy
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
STDERR = "ext://sys.stderr"


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


def config(settings: Settings) -> dict[str, Any]:
    """How ``modelyard serve`` logs, as ``logging.config.dictConfig`` takes it; uvicorn applies
    it (``log_config``) in the server process and again in each worker process it starts.

    modelyard's own lines (``modelyard.*``: failed /v1 calls, faults, the usage recorder, the
    registry refresher ...) go to standard error at ``settings.log_level``, printed once
    whatever the root logger does. Text: as ``TEXT_FORMAT``, beside uvicorn's own default
    configuration. JSON: uvicorn's lines and the OpenTelemetry exporter's through the same
    handler and formatter."""
    level = settings.log_level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "modelyard", "stream": STDERR}
    own = {"handlers": ["modelyard"], "level": level, "propagate": False}
    if settings.log_format == "json":
        through = {"handlers": ["modelyard"], "propagate": False}
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"modelyard": {"()": f"{__name__}.JsonFormatter"}},
            "handlers": {"modelyard": handler},
            "loggers": {
                "modelyard": own,
                "uvicorn": {**through, "level": "INFO"},
                "uvicorn.error": {"level": "INFO"},  # through "uvicorn"
                "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
                "opentelemetry": through,
            },
        }
    text = copy.deepcopy(LOGGING_CONFIG)
    text["formatters"]["modelyard"] = {"format": TEXT_FORMAT}
    text["handlers"]["modelyard"] = handler
    text["loggers"]["modelyard"] = own
    return text
