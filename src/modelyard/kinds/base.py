"""Provider kinds: what a kind is, the checks every provider's fields pass, and the loading of
every installed kind from the ``modelyard.kinds`` entry points.

A kind is one :class:`Kind` object: its name, default base URL, whether its providers need an
API key, the pydantic model of their JSON ``config`` and the adapter that speaks its wire
protocol. The built-in kinds (``kinds/openai.py`` ...) and third-party plug-ins register the
same way, as entry points in the group ``modelyard.kinds``; nothing else in modelyard branches
on a kind's name. A broken or duplicate plug-in is logged and left out, never fatal.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from modelyard.adapters.base import Adapter
from modelyard.adapters.reach import path_problem, url_credentials
from modelyard.errors import Conflict, ValidationFailed, check

GROUP = "modelyard.kinds"
KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # providers.kind is a VARCHAR(32)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CREDENTIAL_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization"}

log = logging.getLogger("modelyard.kinds")


class KindConfig(BaseModel):
    """A base for a kind's config model: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Kind:
    """One provider kind. Subclass it to override :meth:`requires_key` or
    :meth:`catalog_config`; expose the instance as the target of a ``modelyard.kinds`` entry
    point named like the kind."""

    name: str
    config_model: type[BaseModel]
    adapter: Adapter
    default_base_url: str | None = None
    requires_api_key: bool = False

    def requires_key(self, config: BaseModel) -> bool:
        """Whether a provider with this (validated) config needs an API key to be enabled."""
        return self.requires_api_key

    def catalog_config(self, vendor: str) -> dict[str, Any]:
        """The config of a built-in catalog provider of this kind named ``vendor``."""
        return {}


# --- checks every provider's fields pass, whatever its kind ---------------------------------


def typed_config(kind: Kind, raw: dict[str, Any]) -> BaseModel:
    model: BaseModel = check(kind.config_model, raw, prefix="config")
    return model


def base_url_for(kind: Kind, given: str | None) -> str:
    url = given or kind.default_base_url
    if not url:
        raise ValidationFailed.at("base_url", f"is required for kind {kind.name!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port out of range raises here
    except ValueError:
        raise ValidationFailed.at("base_url", "is not a valid URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationFailed.at("base_url", "must be an http:// or https:// URL with a host")
    credential = url_credentials(url)
    if credential is not None:
        raise ValidationFailed.at(
            "base_url",
            f"must not carry credentials ({credential}): the key goes in api_key, sealed at rest",
        )
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in url):
        raise ValidationFailed.at("base_url", "must not contain spaces, control characters or '\\'")
    if parts.query or parts.fragment:
        raise ValidationFailed.at("base_url", "must not carry a query or fragment")
    return url.rstrip("/")


def checked_path(path: str) -> str:
    """A per-kind path template (pydantic validator): a path under the base URL."""
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(problem)
    return path


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        path = f"custom_headers.{name}"
        if not HEADER_NAME.match(name):
            raise ValidationFailed.at(path, "is not a valid HTTP header name")
        if "\r" in value or "\n" in value:
            raise ValidationFailed.at(path, "must not contain line breaks")
        if name.lower() in CREDENTIAL_HEADERS:
            raise ValidationFailed.at(
                path, "credentials belong in api_key (sealed at rest), not in custom headers"
            )
    return headers


def check_api_key(kind: Kind, config: BaseModel, api_key: str | None, *, creating: bool) -> None:
    if api_key is not None and not api_key.strip():
        raise ValidationFailed.at("api_key", "must not be empty")
    if api_key is not None and any(c.isspace() for c in api_key):
        raise ValidationFailed.at("api_key", "must not contain whitespace")
    if creating and api_key is None and kind.requires_key(config):
        raise ValidationFailed.at("api_key", f"is required for kind {kind.name!r}")


# --- the installed kinds ---------------------------------------------------------------------


@dataclass
class _Installed:
    kinds: dict[str, Kind] | None = None
    problems: list[str] = field(default_factory=list)


_INSTALLED = _Installed()
_ADAPTERS: dict[str, Adapter] = {}  # filled on loading; the gateway's per-call look-up


def kinds() -> Mapping[str, Kind]:
    """Every installed kind by name; the entry points are read once per process."""
    loaded = _INSTALLED.kinds
    return loaded if loaded is not None else _load()


def reload_kinds() -> Mapping[str, Kind]:
    """Read the entry points again (after installing or removing a plug-in)."""
    importlib.invalidate_caches()
    return _load()


def problems() -> tuple[str, ...]:
    """Why plug-ins were left out at the last loading (broken, duplicate)."""
    kinds()
    return tuple(_INSTALLED.problems)


def kind_of(name: str) -> Kind:
    """The kind a caller named; an unknown one is a validation error listing the valid ones."""
    kind = kinds().get(name)
    if kind is None:
        valid = ", ".join(sorted(kinds()))
        raise ValidationFailed.at("kind", f"{name!r} is not a valid kind; valid kinds: {valid}")
    return kind


def kind_of_provider(provider: str, name: str) -> Kind:
    """The kind of a stored provider, whose plug-in may have been uninstalled since."""
    kind = kinds().get(name)
    if kind is None:
        raise _not_installed(name, f"provider {provider!r} is of kind {name!r}", provider)
    return kind


def adapter_for(name: str) -> Adapter:
    """The adapter of kind ``name``: one dict look-up, as the gateway calls it per attempt."""
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        adapter = kinds()[name].adapter if name in kinds() else None  # loads on first use
    if adapter is None:
        raise _not_installed(name, f"kind {name!r}")
    return adapter


def _not_installed(name: str, what: str, provider: str | None = None) -> Conflict:
    installed = ", ".join(sorted(kinds()))
    return Conflict(
        f"{what}, which is not installed; installed kinds: {installed}",
        code="KIND_NOT_INSTALLED",
        details={"kind": name} | ({"provider": provider} if provider else {}),
    )


def _load() -> Mapping[str, Kind]:
    found: dict[str, Kind] = {}
    problems: list[str] = []
    points = _entry_points(problems)
    for point in points:
        if _built_in(point.module):
            _add(found, problems, point.name, _describe(point), point.load)
    for module in _unregistered_built_ins({p.module for p in points}):
        # the installed metadata predates this built-in kind (an old install): load it anyway
        _add(found, problems, None, module, partial(_kind_in, module))
    for point in points:
        if not _built_in(point.module):
            _add(found, problems, point.name, _describe(point), point.load)
    _INSTALLED.kinds, _INSTALLED.problems = found, problems
    _ADAPTERS.clear()
    _ADAPTERS.update({name: kind.adapter for name, kind in found.items()})
    return found


def _entry_points(problems: list[str]) -> list[metadata.EntryPoint]:
    try:
        return sorted(metadata.entry_points(group=GROUP), key=_order)
    except Exception as exc:  # unreadable metadata of some distribution: built-ins only
        problem = f"the {GROUP!r} entry points cannot be read: {type(exc).__name__}: {exc}"
        log.error(problem, exc_info=True)
        problems.append(problem)
        return []


def _kind_in(module: str) -> Kind | None:
    kind = getattr(importlib.import_module(module), "KIND", None)
    if isinstance(kind, Kind):
        log.warning("built-in kind %r has no entry point; reinstall modelyard", kind.name)
        return kind
    return None  # a helper module of the package, not a kind


def _add(
    found: dict[str, Kind],
    problems: list[str],
    entry: str | None,
    source: str,
    load: Callable[[], Any],
) -> None:
    """Add the kind ``load`` returns (``None``: nothing to add) unless it is broken or its
    name is taken; ``entry`` is the entry point's name, which must be the kind's."""
    try:
        value = load()
        if value is None and entry is None:
            return
        kind = _checked(value, entry)
    except Exception as exc:
        problem = f"provider kind plug-in {source} is left out: {type(exc).__name__}: {exc}"
        log.error(problem, exc_info=not isinstance(exc, _NotAKind))
        problems.append(problem)
        return
    taken = found.get(kind.name)
    if taken is kind:
        return  # the same object registered twice (an entry point and the package itself)
    if taken is not None:
        problem = f"provider kind plug-in {source} is left out: kind {kind.name!r} exists already"
        log.error(problem)
        problems.append(problem)
        return
    found[kind.name] = kind


class _NotAKind(TypeError):
    pass


def _checked(value: Any, entry: str | None) -> Kind:
    if not isinstance(value, Kind):
        raise _NotAKind(f"it is a {type(value).__name__}, not a modelyard.kinds.base.Kind")
    if not KIND_NAME.match(value.name):
        raise _NotAKind(f"{value.name!r} is not a kind name (lowercase letters, digits, _)")
    if entry is not None and value.name != entry:
        raise _NotAKind(f"the entry point is named {entry!r} but its kind {value.name!r}")
    if not (isinstance(value.config_model, type) and issubclass(value.config_model, BaseModel)):
        raise _NotAKind("its config_model is not a pydantic model")
    missing = [m for m in ("chat", "stream", "embed") if not callable(getattr(value.adapter, m, 0))]
    if missing:
        raise _NotAKind(f"its adapter lacks {', '.join(missing)}")
    return value


def _built_in(module: str) -> bool:
    return module.startswith(f"{__package__}.")


def _unregistered_built_ins(registered: set[str]) -> list[str]:
    package = importlib.import_module(str(__package__))
    names = (f"{__package__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))
    return sorted(n for n in names if n not in registered and n != __name__)


def _order(point: metadata.EntryPoint) -> tuple[bool, str, str]:
    dist = point.dist.name if point.dist is not None else ""
    return (not _built_in(point.module), dist, point.name)


def _describe(point: metadata.EntryPoint) -> str:
    dist = f" of {point.dist.name} {point.dist.version}" if point.dist is not None else ""
    return f"{point.name!r} = {point.value!r}{dist}"
