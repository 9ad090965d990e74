"""JSON log lines: one object per line with the request id and the current span's ids when
known, a fault's traceback as a field; uvicorn's and the exporter's lines through the same
handler; text stays the default."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import context, trace

from modelyard.settings import Settings
from modelyard.telemetry import logs
from tests.telemetry.rig import in_memory

LOGGERS = ("modelyard", "uvicorn", "uvicorn.error", "uvicorn.access", "opentelemetry")


@pytest.fixture
def restored() -> Iterator[None]:
    """The loggers as they were: to_stderr changes process-wide state."""
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate,
                 logging.getLogger(n).level) for n in LOGGERS}  # fmt: skip
    try:
        yield
    finally:
        for name, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    parsed: dict[str, object] = json.loads(text)
    return parsed


def test_a_line_outside_any_request_has_no_ids() -> None:
    record = logging.LogRecord("modelyard.x", logging.INFO, __file__, 1, "%s ok", ("it",), None)
    line = _line(record)
    assert line.keys() == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "modelyard.x", "it ok")


def test_a_line_in_a_request_carries_its_request_id_and_span() -> None:
    tracing, _ = in_memory()
    span = tracing.child("chat m", {})
    token = context.attach(trace.set_span_in_context(span))
    request = logs.REQUEST_ID.set("req_0123")
    try:
        record = logging.LogRecord("modelyard.gateway", logging.WARNING, __file__, 1, "x", (), None)
        line = _line(record)
    finally:
        logs.REQUEST_ID.reset(request)
        context.detach(token)
        span.end()
        tracing.close()
    ids = span.get_span_context()
    assert line["request_id"] == "req_0123"
    assert line["trace_id"] == f"{ids.trace_id:032x}"
    assert line["span_id"] == f"{ids.span_id:016x}"


def test_a_fault_carries_its_traceback_in_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("m", logging.ERROR, __file__, 1, "bad", (), sys.exc_info())
    line = _line(record)
    assert "RuntimeError: boom" in str(line["exception"])


@pytest.mark.usefixtures("restored")
def test_json_sends_uvicorn_and_the_exporter_through_modelyards_handler() -> None:
    logging.config.dictConfig(logs.config(Settings(log_format="json")))
    (handler,) = logging.getLogger("modelyard").handlers
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # uvicorn.run sets it so
    logging.getLogger("uvicorn.access").info('%s - "%s"', "127.0.0.1:1", "GET /")
    logging.getLogger("opentelemetry.exporter").warning("Failed to export span batch")
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["uvicorn.access", "opentelemetry.exporter"]
    assert lines[0]["message"] == '127.0.0.1:1 - "GET /"'


@pytest.mark.usefixtures("restored")
def test_text_is_the_default_and_keeps_uvicorns_own_config() -> None:
    config = logs.config(Settings())
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]  # uvicorn's own
    logging.config.dictConfig(config)
    (handler,) = logging.getLogger("modelyard").handlers
    assert handler.formatter is not None
    assert not isinstance(handler.formatter, logs.JsonFormatter)
    assert handler.formatter._fmt == logs.TEXT_FORMAT
