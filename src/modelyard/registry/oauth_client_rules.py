"""What an OAuth client may be registered with: its id, redirect URIs, grant types and scopes.

Redirect URIs are compared as exact strings (RFC 6749 10.6, OAuth 2.1): a registered URI is
``https`` with a host, a loopback ``http`` URI on an IP literal (``127.0.0.1`` or ``[::1]``,
RFC 8252 7.3; ``localhost`` is refused, RFC 8252 8.3, as it may resolve elsewhere), or a
private-use scheme in reverse-domain form (``com.example.app:/cb``, RFC 8252 7.1). None has
a fragment, credentials, whitespace or control characters. The one allowed difference at
request time is the port of a loopback URI: a native app listens on whatever port it gets,
so a registered ``http://127.0.0.1/callback`` matches ``http://127.0.0.1:53127/callback``.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from modelyard.registry import scopes as vocabulary

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type's name, not a secret
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, DEVICE_CODE)
GrantType = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
]
ClientType = Literal["public", "confidential"]

CLIENT_ID = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")
CLIENT_ID_MAX = 100
REDIRECT_URI_MAX = 2000  # oauth_codes.redirect_uri
REDIRECT_URIS_MAX = 20
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")
# A loopback URI as sent at request time: host, optional port, and the rest (path, query).
LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?([/?][^#]*)?$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
FORBIDDEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f#\\]")


def check_client_id(value: str) -> str:
    if len(value) > CLIENT_ID_MAX or not CLIENT_ID.match(value):
        raise ValueError(
            "must be a slug: lowercase letters and digits, separated by single '-' or '.' "
            f"(at most {CLIENT_ID_MAX} characters), such as 'textassistant-desktop'"
        )
    return value


def check_redirect_uri(uri: str) -> str:
    """``uri`` if it may be registered, else a ValueError saying why."""
    if not uri or len(uri) > REDIRECT_URI_MAX:
        raise ValueError(f"must be 1 to {REDIRECT_URI_MAX} characters")
    if FORBIDDEN_CHARS.search(uri):
        raise ValueError(
            "may not contain a fragment ('#'), whitespace, backslashes or control characters"
        )
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid URI: check its host and port") from None
    scheme = uri.split(":", 1)[0]
    if ":" not in uri or not SCHEME.match(scheme):
        raise ValueError("needs a lowercase scheme such as https")
    if parts.username is not None or parts.password is not None:
        raise ValueError("may not hold credentials")
    if scheme == "https":
        if not parts.hostname:
            raise ValueError("an https redirect URI needs a host")
    elif scheme == "http":
        _check_loopback(uri, port)
    else:
        _check_private_use(scheme, parts.netloc)
    return uri


def _check_loopback(uri: str, port: int | None) -> None:
    if LOOPBACK.match(uri) is None:
        raise ValueError(
            "plain http is allowed only on the loopback IP literals 127.0.0.1 or [::1] "
            "(RFC 8252; 'localhost' is not accepted), any other host needs https"
        )
    if port is not None and not 0 < port < 65536:
        raise ValueError("has a port out of range")


def _check_private_use(scheme: str, netloc: str) -> None:
    if "." not in scheme:
        raise ValueError(
            "a native app's private-use scheme must be a reverse domain name such as "
            "'com.example.app:/callback' (RFC 8252 7.1); use https or a loopback http URI "
            "otherwise"
        )
    if netloc:
        raise ValueError("a private-use scheme URI has no host: write 'com.example.app:/path'")


def check_redirect_uris(uris: list[str]) -> list[str]:
    if len(uris) > REDIRECT_URIS_MAX:
        raise ValueError(f"at most {REDIRECT_URIS_MAX} redirect URIs")
    for index, uri in enumerate(uris):
        try:
            check_redirect_uri(uri)
        except ValueError as exc:
            raise ValueError(f"[{index}] {uri[:100]!r} {exc}") from None
    return list(dict.fromkeys(uris))


def _loopback_parts(uri: str) -> tuple[str, str] | None:
    """(host, path-and-query) of a loopback URI with a valid (or no) port, else None."""
    found = LOOPBACK.match(uri)
    if found is None:
        return None
    port = found.group(2)
    if port is not None and not 0 < int(port) < 65536:
        return None
    return found.group(1), found.group(3) or ""


def redirect_uri_matches(registered: list[str], given: str) -> bool:
    """Whether ``given`` (from an authorization request) is one of ``registered``: exactly
    the same string, or, for a loopback URI, the same but for the port (RFC 8252 7.3)."""
    if given in registered:
        return True
    asked = _loopback_parts(given)
    if asked is None:
        return False
    return any(_loopback_parts(uri) == asked for uri in registered)


def check_scopes(names: list[str]) -> list[str]:
    unknown = vocabulary.unknown(names, oidc=True)
    if unknown:
        valid = [*vocabulary.SCOPES, *vocabulary.OIDC_SCOPES]
        raise ValueError(f"unknown scopes {unknown}; valid scopes are {valid}")
    if not names:
        raise ValueError("at least one scope is required")
    return vocabulary.normalize(names)


def grant_problems(
    client_type: str,
    grant_types: list[str],
    redirect_uris: list[str],
    has_service_user: bool,
) -> list[tuple[str, str]]:
    """(field, message) for each rule the combination breaks; empty when it is coherent."""
    problems: list[tuple[str, str]] = []
    grants = set(grant_types)
    if not grants:
        problems.append(("grant_types", "at least one grant type is required"))
    if CLIENT_CREDENTIALS in grants and client_type == "public":
        problems.append(
            ("grant_types", "a public client cannot use client_credentials (it has no secret)")
        )
    if CLIENT_CREDENTIALS in grants and not has_service_user:
        problems.append(
            ("service_user_id", "client_credentials needs the service user the client acts as")
        )
    if AUTHORIZATION_CODE in grants and not redirect_uris:
        problems.append(("redirect_uris", "authorization_code needs at least one redirect URI"))
    if grants == {REFRESH_TOKEN}:
        problems.append(
            ("grant_types", "refresh_token comes with authorization_code or the device grant")
        )
    return problems
