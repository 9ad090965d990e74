"""OAuth's requests as Authlib reads them: the protocol parameters of a Starlette request
(the query of an authorization request, the bounded urlencoded body of a token request),
checked so that nothing Authlib chokes on reaches it (every refusal a 400, never a 500)."""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from fastapi import Request

from modelyard.settings import Settings

MAX_FORM = 16 * 1024  # token requests are a few hundred bytes
FORM_TYPE = "application/x-www-form-urlencoded"


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in params:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """One HTTP request as Authlib reads it. ``params`` are the protocol's parameters: the
    query of an authorization request, the form body of a token request."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Any,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        params: list[tuple[str, str]],
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class FormError(Exception):
    """A request body that is not a small urlencoded form: 400 invalid_request."""


async def read_form(request: Request) -> list[tuple[str, str]]:
    """A POST's urlencoded body, bounded; other bodies refused (never a 500). An empty
    body (a userinfo POST) is no parameters."""
    if request.method != "POST":
        return []
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError("the request body is too large")
    if not body:
        return []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise FormError(f"send the parameters as {FORM_TYPE}")
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise FormError("the request body is not a readable form") from None


def _has_nul(pairs: list[tuple[str, str]]) -> bool:
    return any("\x00" in k or "\x00" in v for k, v in pairs)


# Parameters Authlib quotes in error descriptions, which may only hold RFC 6749's
# %x20-21 / %x23-5B / %x5D-7E (anything else made Authlib raise ValueError: a 500). Every
# valid value of these is within it (URIs, scope tokens, client ids, grant names).
QUOTED = frozenset(
    {"redirect_uri", "response_type", "grant_type", "client_id", "scope", "prompt",
     "code_challenge_method", "response_mode"}
)  # fmt: skip
SAFE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


def _check_basic(header: str) -> None:
    """HTTP Basic client credentials must decode to UTF-8 text (Authlib's own decoding
    raised on anything else: a 500)."""
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic":
        return
    try:
        base64.b64decode(value.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        raise FormError("the Basic credentials are not base64 of UTF-8 text") from None


def _repeated(pairs: list[tuple[str, str]]) -> str | None:
    """The first parameter sent twice (RFC 6749 3.1/3.2 forbid it; Authlib would read the
    first value in one place and the last in another)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


def _unquotable(pairs: list[tuple[str, str]]) -> str | None:
    for key, value in pairs:
        if key in QUOTED and SAFE.fullmatch(value) is None:
            return key
    return None


async def oauth_request(request: Request, *, params_from: str = "auto") -> OAuthRequest:
    """``request`` as Authlib reads it. ``params_from``: "query", "form", or "auto" (the
    query for GET, the form for POST). The URI is on the issuer, as clients see it."""
    query = [(k, v) for k, v in request.query_params.multi_items()]
    form = await read_form(request)
    if _has_nul(query) or _has_nul(form):
        raise FormError("parameters must not contain NUL characters")
    twice = _repeated(query) or _repeated(form)
    if twice is not None:
        raise FormError(f"the {twice} parameter is sent more than once")
    bad = _unquotable(query) or _unquotable(form)
    if bad is not None:
        raise FormError(f"the {bad} parameter holds characters it never contains")
    _check_basic(request.headers.get("authorization", ""))
    source = (
        params_from if params_from != "auto" else ("form" if request.method == "POST" else "query")
    )
    params = form if source == "form" else query
    settings: Settings = request.app.state.settings
    uri = (
        settings.issuer + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    )
    return OAuthRequest(request.method, uri, request.headers, query, form, params)
