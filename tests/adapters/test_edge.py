"""The edge the HTTP adapters share: messages without the key, the status mapping, and the
adapters' independence from the rest of modelyard."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import quote

import pytest

from modelyard.adapters import edge
from modelyard.adapters.base import Target
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

KEY = "sk-edge/SECRET+key=42"
TARGET = Target("p1", "acme", "openai", "http://acme.invalid", KEY, "m1")
ADAPTERS = Path(edge.__file__).parent
FORBIDDEN = ("registry", "db", "gateway", "billing", "usage")


def test_messages_never_carry_the_key_as_sent_or_url_encoded() -> None:
    text = f"bad key {KEY} in ?key={quote(KEY, safe='')}"
    assert edge.redact(text, TARGET) == "bad key *** in ?key=***"
    assert edge.redact(text, Target("p1", "acme", "openai", "", None, "m1")) == text


def test_a_message_is_cut_to_500_characters_after_the_key_is_taken_out() -> None:
    straddling = "x" * (edge.MESSAGE_LIMIT - 5) + KEY  # the cut would fall inside the key
    message = edge.describe(TARGET, 400, straddling, "invalid_request_error")
    assert message.startswith("acme: upstream returned HTTP 400 invalid_request_error: xxx")
    assert KEY[:5] not in message
    assert message.endswith("x***")
    assert edge.describe(TARGET, 500, "", None) == "acme: upstream returned HTTP 500"
    assert str(edge.stream_failed(TARGET, 42)) == "acme: upstream stream failed"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UpstreamBadRequest),
        (401, UpstreamAuthFailed),
        (403, UpstreamAuthFailed),
        (404, UpstreamBadRequest),
        (408, UpstreamTimeout),
        (429, RateLimited),
        (500, UpstreamUnavailable),
        (504, UpstreamTimeout),
        (529, UpstreamUnavailable),
    ],
)
def test_statuses_map_to_domain_errors(status: int, error: type[UpstreamError]) -> None:
    mapped = edge.from_status(status, "m", retry_after=2.0)
    assert (type(mapped), mapped.upstream_status) == (error, status)
    assert edge.http_error(status, "m").code == mapped.code


def test_a_redirect_names_the_base_url() -> None:
    mapped = edge.http_error(302, "acme: upstream returned HTTP 302")
    assert type(mapped) is UpstreamError
    assert mapped.message.endswith("a redirect: check the provider's base_url")


@pytest.mark.parametrize(
    ("value", "seconds"), [("20", 20.0), ("1.5", 1.5), ("-1", None), ("soon", None), (None, None)]
)
def test_retry_after_is_read_in_delta_seconds(value: str | None, seconds: float | None) -> None:
    assert edge.parse_retry_after(value) == seconds
    assert edge.Failure(429, None, {"Retry-After": value} if value else None).retry_after == seconds


def test_adapters_import_nothing_of_the_registry_gateway_or_billing() -> None:
    imported: list[tuple[str, str]] = []
    for module in sorted(ADAPTERS.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported += [(module.name, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported += [(module.name, f"{node.module}.{a.name}") for a in node.names]
    assert ("edge.py", "modelyard.errors.UpstreamError") in imported
    forbidden = tuple(f"modelyard.{package}." for package in FORBIDDEN)
    assert [(m, name) for m, name in imported if name.startswith(forbidden)] == []


def test_an_echo_the_upstream_cut_short_is_redacted_before_the_cut() -> None:
    """The upstream cut its own echo at 500 characters, 15 of the key's left: no full match,
    yet none of it stays; so does an echo of the key's head, or its query-encoded form."""
    head = "x" * (edge.MESSAGE_LIMIT - 15)
    cut = (head + KEY)[: edge.MESSAGE_LIMIT]
    message = edge.describe(TARGET, 400, cut)
    assert message.endswith(("x***", "x***+", "xs***+", "xs***"))  # a character or two at most
    assert all(KEY[i : i + 4] not in message for i in range(1, 11))
    echoed = edge.describe(TARGET, 401, f"Incorrect API key provided: {KEY[:12]}****")
    assert KEY[:12] not in echoed
    assert edge.describe(TARGET, 400, "?key=sk-edge/SECRET%2Bkey%3D42").endswith("?key=***")
    short = Target("p1", "acme", "openai", "", "abc", "m1")  # shorter than a fragment
    assert edge.describe(short, 400, "abcdef abc") == "acme: upstream returned HTTP 400: ***def ***"
