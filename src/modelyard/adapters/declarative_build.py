"""The request half of the declarative adapter: a provider's config, validated and compiled
once (JSON paths parsed, payload keys split), then applied per request to build the
upstream URL, headers and JSON body from the caller's OpenAI request."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from pydantic import ValidationError

from modelyard.adapters.base import Target
from modelyard.adapters.declarative_config import DeclarativeConfig, FieldSpec, validate_declarative
from modelyard.adapters.edge import bad
from modelyard.errors import Misconfigured
from modelyard.jsonpath import parse_path

Path = tuple[str | int, ...]
CACHE_SIZE = 256
SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True)
class Compiled:
    """A validated config with everything the hot path needs precomputed."""

    config: DeclarativeConfig
    fields: tuple[tuple[tuple[str, ...], FieldSpec], ...]
    text_paths: tuple[Path, ...]
    usage_paths: dict[str, Path]
    finish_path: Path | None
    error_path: Path | None
    streams: bool
    delta_paths: tuple[Path, ...]
    stream_usage_paths: dict[str, Path]
    done_marker: str | None


def _compile(config: DeclarativeConfig) -> Compiled:
    rules = config.response_extractor.extraction_rules
    streaming = config.response_extractor.streaming
    return Compiled(
        config=config,
        fields=tuple(
            (tuple(key.split(".")), spec)
            for key, spec in config.request_builder.payload_structure.items()
        ),
        text_paths=tuple(parse_path(p) for p in rules.text_content.paths),
        usage_paths={name: parse_path(p) for name, p in rules.usage_stats.fields.items()},
        finish_path=parse_path(rules.finish_reason) if rules.finish_reason else None,
        error_path=parse_path(rules.error_message) if rules.error_message else None,
        streams=streaming is not None,
        delta_paths=tuple(parse_path(p) for p in streaming.delta_paths) if streaming else (),
        stream_usage_paths={
            name: parse_path(p) for name, p in ((streaming and streaming.usage_paths) or {}).items()
        },
        done_marker=streaming.done_marker if streaming else None,
    )


class ConfigCache:
    """Compiled configs keyed by the config dict's identity (held, so the id stays valid),
    then by a hash of its content: a snapshot refresh with unchanged configs re-uses them.
    Validation therefore runs once per distinct config, never per request."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._by_id: OrderedDict[int, tuple[dict[str, Any], Compiled]] = OrderedDict()
        self._by_hash: dict[bytes, Compiled] = {}
        self._size = size

    def get(self, target: Target) -> Compiled:
        raw = target.config
        hit = self._by_id.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        digest = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).digest()
        compiled = self._by_hash.get(digest)
        if compiled is None:
            compiled = _compile(_validated(target))
            self._by_hash[digest] = compiled
        self._by_id[id(raw)] = (raw, compiled)
        if len(self._by_id) > self._size:
            self._by_id.popitem(last=False)
            if len(self._by_hash) > self._size:
                self._by_hash.clear()  # rare: many distinct configs; rebuilt on demand
        return compiled


def _validated(target: Target) -> DeclarativeConfig:
    try:
        return validate_declarative(target.config)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(step) for step in error["loc"]) or "config"
        raise Misconfigured(
            f"provider {target.provider_name!r} has an invalid declarative config at "
            f"{where}: {error['msg']}; correct the provider's config in the registry"
        ) from None


def text_of(content: Any) -> str:
    """A message's content as plain text: vision and other non-text parts are dropped."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _text_only(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "content": text_of(m.get("content"))} for m in messages]


def _gemini(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "role": "model" if m.get("role") == "assistant" else "user",
            "parts": [{"text": text_of(m.get("content"))}],
        }
        for m in messages
        if m.get("role") not in SYSTEM_ROLES
    ]


def _anthropic(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant" if m.get("role") == "assistant" else "user",
            "content": text_of(m.get("content")),
        }
        for m in messages
        if m.get("role") not in SYSTEM_ROLES
    ]


TRANSFORMS: dict[str | None, Callable[[list[dict[str, Any]]], Any]] = {
    None: lambda messages: messages,
    "openai_messages": lambda messages: messages,
    "text_only_messages": _text_only,
    "gemini_contents": _gemini,
    "anthropic_messages": _anthropic,
}


def _system(messages: list[dict[str, Any]]) -> str | None:
    parts = [text_of(m.get("content")) for m in messages if m.get("role") in SYSTEM_ROLES]
    return "\n\n".join(parts) if parts else None


def _param(
    spec: FieldSpec, name: str, target: Target, body: dict[str, Any], streaming: bool
) -> Any:
    """The caller's value for one ``param:<name>`` source, or None when missing."""
    if name == "model_name":
        return target.model_id
    if name == "messages":
        messages = body.get("messages")
        return TRANSFORMS[spec.transform](messages) if isinstance(messages, list) else None
    if name == "system":
        messages = body.get("messages")
        return _system(messages) if isinstance(messages, list) else None
    if name == "max_tokens":
        value = body.get("max_tokens")
        return value if value is not None else body.get("max_completion_tokens")
    if name == "stream":  # the adapter decides: true only on a configured streaming call
        return True if streaming else None
    return body.get(name)


def build_body(
    compiled: Compiled, target: Target, body: dict[str, Any], *, streaming: bool
) -> dict[str, Any]:
    """The upstream JSON body; dotted payload keys become nested objects."""
    out: dict[str, Any] = {}
    for keys, spec in compiled.fields:
        name = spec.param
        if name is None:
            value: Any = spec.value
        else:
            value = _param(spec, name, target, body, streaming)
            if value is None:
                value = spec.default
            if value is None and spec.required:
                raise bad(f"{name} is required by provider {target.provider_name!r}", name)
        if value is None:
            continue
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return out


def build_url(compiled: Compiled, target: Target) -> str:
    path = compiled.config.endpoint_path_template
    if "{model}" in path:
        path = path.replace("{model}", quote(target.model_id, safe=""))
    return target.base_url.rstrip("/") + path


def build_headers(compiled: Compiled, target: Target) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **compiled.config.additional_headers}
    headers.update(target.headers)
    auth = compiled.config.auth_header(target.api_key) if target.api_key else None
    if auth is not None:
        headers[auth[0]] = auth[1]
    return headers


def build_query(compiled: Compiled, target: Target) -> dict[str, str] | None:
    """Query-string auth. The key then sits in the request URL: never log or echo a URL."""
    config = compiled.config
    if config.auth_scheme == "query" and config.auth_header_template and target.api_key:
        return {config.auth_header_template: target.api_key}
    return None
