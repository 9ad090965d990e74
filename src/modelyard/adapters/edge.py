"""The HTTP edge every adapter shares with its upstream.

An adapter keeps its wire translation: the URL and headers it sends, its request and reply
shapes, how its vendor's error document looks and which domain error a failure is (its
:data:`Mapper`). What talking to any upstream needs is here:

- :func:`send` sends a JSON body and never follows a redirect (it would carry the key
  elsewhere); a reply of 300 or more becomes a :class:`Failure` with the status, the
  decoded error body (at most 64 KiB of it is read) and the reply's headers. An adapter
  raises a :class:`Failure` too for an error event that names a status mid-stream, and
  :func:`stream_failed` for one that names none.
- :func:`edge` wraps a call: a :class:`Failure` raised inside becomes the adapter's domain
  error, a timeout :class:`~modelyard.errors.UpstreamTimeout`, any ``aiohttp.ClientError``
  :class:`~modelyard.errors.UpstreamUnavailable`. Chaining is cut, so no aiohttp error (whose
  text may hold the URL) and no upstream body rides along.
- Messages name the provider and the status and carry at most 500 characters of the
  upstream's own message (:func:`describe`), cut only after they pass :func:`redact`, which
  replaces the key with ``***``: as sent, URL-, query- and JSON-encoded, and any run of 8 or
  more of its characters (an echo that the upstream itself cut short).
- :func:`from_status` is the common mapping of an HTTP status to a domain error;
  :func:`http_error` adds that a redirect is the provider's misconfigured ``base_url``.
  :func:`parse_retry_after` reads ``Retry-After``; :func:`bad` refuses a request before
  it is sent; :func:`loads` and :func:`json_object` decode bodies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import orjson
from yarl import URL

from modelyard.adapters.base import Target
from modelyard.adapters.reach import refusal_of, refused_in
from modelyard.errors import (
    RateLimited,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Json = dict[str, Any]
ERROR_BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 500


class Failure(Exception):
    """A reply of 300 or more (or an error event mid-stream), raised inside :func:`edge` and
    mapped there. ``body`` is the decoded error document (None when it is not JSON);
    ``headers`` are the reply's (none for an event)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body = status, body
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    @property
    def retry_after(self) -> float | None:
        """The standard ``Retry-After`` header, in seconds."""
        return parse_retry_after(self.headers.get("Retry-After"))


# How an adapter turns a failure into a domain error, in its vendor's terms.
Mapper = Callable[[Failure, Target], UpstreamError]


@asynccontextmanager
async def edge(target: Target, mapper: Mapper) -> AsyncIterator[None]:
    """Every upstream failure inside becomes a domain error here, with chaining cut."""
    name = target.provider_name
    try:
        yield
    except Failure as failure:
        raise mapper(failure, target) from None
    except TimeoutError:  # asyncio's, and aiohttp's ServerTimeoutError / ConnectionTimeoutError
        raise UpstreamTimeout(f"{name}: upstream did not answer in time") from None
    except aiohttp.ClientError as exc:  # refused, reset, disconnected, truncated body ...
        if refused_in(exc):  # a member's provider at a non-public address: not retried
            refused = UpstreamError(f"{name}: {refusal_of(exc)}")
            refused.code = "ADDRESS_REFUSED"
            raise refused from None
        detail = redact(f"{type(exc).__name__}: {exc}", target)
        raise UpstreamUnavailable(f"{name}: cannot reach upstream ({detail})") from None


async def send(
    http: aiohttp.ClientSession,
    target: Target,
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str],
    streaming: bool = False,
    method: str = "POST",
    params: Mapping[str, str] | None = None,
) -> aiohttp.ClientResponse:
    """The reply to ``payload`` sent as JSON; :class:`Failure` for a status of 300 or more.

    The whole call must end within ``timeout_s``; a stream may run long, so there only
    connecting and the silence between reads are timed. A ``payload`` of None sends no body
    (a GET)."""
    timeouts = target.memo.get("timeouts" if not streaming else "stream-timeouts")
    if timeouts is None:
        timeouts = aiohttp.ClientTimeout(total=target.timeout_s)
        if streaming:
            timeouts = aiohttp.ClientTimeout(
                sock_connect=target.timeout_s, sock_read=target.timeout_s
            )
        target.memo["timeouts" if not streaming else "stream-timeouts"] = timeouts
    response = await http.request(
        method,
        url,
        params=params,
        data=None if payload is None else orjson.dumps(payload),
        headers=headers,
        timeout=timeouts,
        allow_redirects=False,  # a redirect would carry the key elsewhere
    )
    if response.status >= 300:
        async with response:
            raw = await response.content.read(ERROR_BODY_LIMIT)
        raise Failure(response.status, loads(raw), response.headers)
    return response


def loads(raw: bytes | str) -> Any:
    """The JSON document in ``raw``, or None when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def json_object(raw: bytes, target: Target) -> Json:
    """A reply that must be a JSON object."""
    document = loads(raw)
    if not isinstance(document, dict):
        raise UpstreamError(f"{target.provider_name}: upstream reply is not a JSON object")
    return document


def redact(text: str, target: Target) -> str:
    """``text`` without the key: as sent, in every encoding a URL or a JSON document gives it,
    and any run of :data:`FRAGMENT` of its characters that looks like key material (holds a
    digit, or both cases): an echo the upstream cut short. A run of plain words is left, so
    a test key like ``secret-anthropic-key`` does not eat a message's ``anthropic``."""
    key = target.api_key
    if not key:
        return text
    forms, fragments = _key_forms(target, key)
    for form in forms:
        text = text.replace(form, "***")
    if fragments and len(text) >= FRAGMENT and _has_fragment(text, fragments):
        text = _without_fragments(text, fragments)
    return text


FRAGMENT = 8  # a key's run this long in a message counts as the key


def _key_forms(target: Target, key: str) -> tuple[tuple[str, ...], frozenset[str]]:
    found: tuple[tuple[str, ...], frozenset[str]] | None = target.memo.get("key-forms")
    if found is None:
        query = URL.build(query={"k": key}).raw_query_string[2:]
        forms = {key, quote(key, safe=""), quote(key), quote_plus(key), query}
        forms.add(orjson.dumps(key).decode()[1:-1])
        runs = (key[i : i + FRAGMENT] for i in range(len(key) - FRAGMENT + 1))
        fragments = frozenset(run for run in runs if _material(run))
        found = target.memo["key-forms"] = (tuple(sorted(forms, key=len, reverse=True)), fragments)
    return found


def _material(run: str) -> bool:
    return any(c.isdigit() for c in run) or (
        any(c.islower() for c in run) and any(c.isupper() for c in run)
    )


def _has_fragment(text: str, fragments: frozenset[str]) -> bool:
    return any(text[i : i + FRAGMENT] in fragments for i in range(len(text) - FRAGMENT + 1))


def _without_fragments(text: str, fragments: frozenset[str]) -> str:
    hidden = bytearray(len(text))
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in fragments:
            hidden[i : i + FRAGMENT] = b"\x01" * FRAGMENT
    out, previous = [], 0
    for i, char in enumerate(text):
        if not hidden[i]:
            out.append(char)
        elif not previous:
            out.append("***")
        previous = hidden[i]
    return "".join(out)


def _said(text: Any, target: Target) -> str:
    """``: <text>`` for an upstream message, cut to 500 characters only once the key, whole
    or in part, is out of it (cut first, a key across the cut would leave its head behind,
    and a head shorter than a fragment is no longer recognisable)."""
    if not isinstance(text, str) or not text:
        return ""
    return f": {redact(text, target)[:MESSAGE_LIMIT]}"


def describe(target: Target, status: int, text: Any = None, kind: Any = None) -> str:
    """``<provider>: upstream returned HTTP <status>[ <kind>][: <text>]``: ``kind`` is the
    vendor's error type, ``text`` its message (each only when a non-empty string)."""
    named = f" {redact(kind, target)}" if isinstance(kind, str) and kind else ""
    return f"{target.provider_name}: upstream returned HTTP {status}{named}{_said(text, target)}"


def stream_failed(target: Target, text: Any = None) -> UpstreamError:
    """An error reported mid-stream that names no HTTP status."""
    return UpstreamError(f"{target.provider_name}: upstream stream failed{_said(text, target)}")


def http_error(status: int, message: str, retry_after: float | None = None) -> UpstreamError:
    """:func:`from_status`, except that a redirect (never followed) names its likely cause."""
    if status < 400:
        message += ", a redirect: check the provider's base_url"
        return UpstreamError(message, upstream_status=status)
    return from_status(status, message, retry_after)


def from_status(status: int, message: str, retry_after: float | None = None) -> UpstreamError:
    """The domain error for an upstream HTTP status (the common mapping adapters share)."""
    if status == 429:
        return RateLimited(message, upstream_status=status, retry_after=retry_after)
    if status in (401, 403):
        return UpstreamAuthFailed(message, upstream_status=status)
    if status in (408, 504):
        return UpstreamTimeout(message, upstream_status=status)
    if status >= 500:
        return UpstreamUnavailable(message, upstream_status=status, retry_after=retry_after)
    return UpstreamBadRequest(message, upstream_status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def bad(message: str, param: str) -> UpstreamBadRequest:
    """A request the adapter refuses before sending it, naming the offending parameter."""
    return UpstreamBadRequest(message, details={"param": param})
