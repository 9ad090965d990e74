"""A CLIENT span per upstream HTTP request, from aiohttp's own request hooks.

Every adapter sends through a provider's pooled session (:mod:`modelyard.gateway.clients`);
when traces are on, that session carries :func:`trace_config`, so no adapter changes to be
traced. The span is a child of whatever is current when the request starts (the gateway's
attempt span) and ends when the reply's headers are in (a stream's body is the attempt's).

``url.full`` never holds a credential: no user or password, every query value replaced by
``REDACTED`` (Gemini's ``key=``, a declarative provider's token), and the provider's key,
should a base URL or a path carry it, replaced by ``***`` (the key the session was made with,
and any credential-sized value of the request's headers: the current key after a rotation).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from urllib.parse import quote

import aiohttp
from opentelemetry.trace import Status, StatusCode
from yarl import URL

from modelyard.telemetry.tracing import Tracing, failed

REDACTED = "REDACTED"
MIN_SECRET = 8  # shorter header values (a version, a content type) are not looked for


def trace_config(tracing: Tracing, secret: str | None) -> aiohttp.TraceConfig:
    """Hooks that trace each request of one provider's session (``secret``: its key)."""

    async def started(
        _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        url = params.url
        ctx.span = tracing.child(
            params.method,
            {
                "http.request.method": params.method,
                "server.address": url.host or "",
                "server.port": url.port or 0,
                "url.full": safe_url(url, secret, *_credentials(params.headers)),
            },
            client=True,
        )

    async def ended(
        _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        span = ctx.span
        status = params.response.status
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", str(status))
        span.end()

    async def raised(
        _: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        span = getattr(ctx, "span", None)
        if span is not None:
            failed(span, params.exception)
            span.end()

    config = aiohttp.TraceConfig()
    config.on_request_start.append(started)
    config.on_request_end.append(ended)
    config.on_request_exception.append(raised)
    return config


def safe_url(url: URL, *secrets: str | None) -> str:
    """``url`` as a span may show it: no credentials, query values redacted, none of
    ``secrets`` (as written or URL-encoded)."""
    shown = url.with_user(None).with_password(None).with_fragment(None)
    if shown.query:
        shown = shown.with_query([(name, REDACTED) for name in shown.query])
    text = str(shown)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def _credentials(headers: Mapping[str, str]) -> list[str]:
    """What the request's headers may carry as a key (the provider's current one, whatever
    the session was made with): each value of 8 characters or more, past a ``Bearer``."""
    found = []
    for value in headers.values():
        token = value.removeprefix("Bearer ").strip()
        if len(token) >= MIN_SECRET:
            found.append(token)
    return found
