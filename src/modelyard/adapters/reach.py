"""Where an upstream may be reached: the address policy of member-owned providers and the
shape of every base URL and path template.

- A provider owned by a member (not a system provider, not an admin's own) may reach only
  public addresses. :func:`refusal` says why an address is not one: loopback, private
  (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10),
  multicast, unspecified, reserved, CGNAT (100.64/10), and the IPv4-mapped, 6to4 and NAT64
  forms of those; an admin may list private networks members may reach anyway
  (``security.member_allowed_private_cidrs``).
- :func:`name_refusal` refuses cloud metadata names (``metadata.google.internal`` ...) and
  ``localhost`` (``*.localhost``, as the loopback address) by name alone, before any lookup.
- :class:`Reach` is checked on the address each connection is really made to (aiohttp's
  ``socket_factory``), so a name that resolved to a public address when the provider was
  saved and to ``127.0.0.1`` now (DNS rebinding) is refused too.
- :func:`url_credentials` finds a user or password in a URL (they belong in ``api_key``,
  sealed at rest) and :func:`masked_url` shows a stored one without them;
  :func:`path_problem` keeps a path template a path under the base URL.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.tencentyun.com",
        "metadata.oraclecloud.com",
    }
)
METADATA_SUFFIXES = (".metadata.google.internal", ".metadata.azure.com")
# Query parameters that carry a credential; a base URL with one is refused like userinfo.
KEY_PARAMS = re.compile(r"(?i)(^|[_-])(key|api[_-]?key|token|secret|password|auth|sig)$")


REFUSED = "a member's provider may reach only public addresses"


class AddressRefused(OSError):
    """A connection to a non-public address, refused for a member-owned provider. Its errno
    is EACCES, so that aiohttp's error for several refused addresses keeps the text."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)


def refused_in(exc: BaseException) -> bool:
    """Whether ``exc`` (aiohttp's connection error) is a refusal by :class:`Reach`."""
    os_error = getattr(exc, "os_error", None)
    return isinstance(os_error, AddressRefused) or (
        isinstance(os_error, OSError) and REFUSED in str(os_error)
    )


def refusal_of(exc: BaseException) -> str:
    """The refusal's text (every address's, when a name had several): no aiohttp wording."""
    reasons = re.findall(
        r"refused to connect: (.*?); " + REFUSED, str(getattr(exc, "os_error", ""))
    )
    return f"refused to connect: {', '.join(dict.fromkeys(reasons)) or 'not public'}; {REFUSED}"


def refusal(address: Address, allowed: Iterable[Network] = ()) -> str | None:
    """Why ``address`` is not public (``None`` when it is, or when ``allowed`` lists it)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            why = refusal(embedded, allowed)
            return f"{why} (as {address})" if why else None
    if any(address in net for net in allowed if net.version == address.version):
        return None
    for test, name in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared (CGNAT)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    ):
        if test:
            return f"{address} is a {name} address"
    return None


def name_refusal(host: str, allowed: Iterable[Network] = ()) -> str | None:
    """Why ``host`` (a name, not an address) is refused by name alone, or ``None``:
    a cloud metadata name always, ``localhost`` (``*.localhost``) as the loopback address."""
    name = host.rstrip(".").lower()
    if name in METADATA_NAMES or name.endswith(METADATA_SUFFIXES):
        return f"{host!r} is a cloud metadata host name"
    if is_local_name(name):
        why = refusal(ipaddress.IPv4Address("127.0.0.1"), allowed)
        return f"{host!r} is a loopback host name" if why else None
    return None


def is_local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def literal(host: str) -> Address | None:
    """``host`` as an IP address when it is one (brackets of IPv6 removed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings as networks (validated where the setting is saved)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


@dataclass
class Reach:
    """The address policy of one member-owned provider's connections: every address a socket
    is about to connect to must be public or in ``allowed``. ``allowed`` is updated in place
    when the setting changes, so a pooled session follows it."""

    provider: str
    allowed: tuple[Network, ...] = ()

    def socket(self, addr_info: Any) -> socket.socket:
        """aiohttp's ``socket_factory``: the socket for ``addr_info``, or AddressRefused."""
        family, kind, proto, _, sockaddr = addr_info
        address = literal(str(sockaddr[0]))
        why = "unknown address" if address is None else refusal(address, self.allowed)
        if why is not None:
            raise AddressRefused(f"refused to connect: {why}; {REFUSED}")
        sock = socket.socket(family=family, type=kind, proto=proto)
        sock.setblocking(False)
        return sock


def url_credentials(url: str) -> str | None:
    """What in ``url`` is a credential: its user/password, or a key-like query parameter."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return "a user name or password"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if KEY_PARAMS.search(name):
            return f"the query parameter {name!r}"
    return None


def masked_url(url: str) -> str:
    """``url`` with any user/password (stored before they were refused) shown as ``***``."""
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def without_credentials(url: str) -> str:
    """``url`` without its user/password (the gateway never sends a stored one)."""
    if "@" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def path_problem(path: str) -> str | None:
    """Why ``path`` would not stay a path under the base URL (None when it does)."""
    if not path.startswith("/") or path.startswith("//"):
        return "must start with a single '/' (a path under base_url, not a URL)"
    if "://" in path or "@" in path or "\\" in path:
        return "must be a path under base_url: no scheme, host, '@' or '\\'"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in path) or "#" in path:
        return "must not contain spaces, control characters or '#'"
    lowered = path.lower()
    segments = lowered.replace("%2e", ".").replace("%2f", "/").replace("%5c", "/").split("/")
    if any(s in {"..", "."} for s in segments):
        return "must not contain '.' or '..' segments"
    return None
