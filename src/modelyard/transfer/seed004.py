"""Seed 004's ``config/admin_settings.json``: its Groq key, base URL, endpoint and model become
the ``groq`` provider (key sealed, enabled, made the active provider when none is) with that
model, beside seed 004's other presets (OpenRouter, Google AI, ChatGPT: disabled until a key
is set); see :mod:`modelyard.catalog.presets`.

The Groq block is the file's top level or a nested object (preferably one named like
``groq``) holding an API key under ``api_key``, ``groq_api_key``, ``apiKey`` or ``key``; the
base URL, endpoint and model are read beside it. Every other field is listed as unsupported
(by name only: values may be secrets).
"""

from __future__ import annotations

from typing import Any

from modelyard.catalog.data import CatalogModel, load_catalog
from modelyard.catalog.presets import preset
from modelyard.errors import ValidationFailed
from modelyard.transfer.document import Incoming, empty_document, plain

KEY_FIELDS = ("api_key", "groq_api_key", "apiKey", "key")
BASE_FIELDS = ("base_url", "baseUrl", "api_base", "base")
ENDPOINT_FIELDS = ("endpoint", "endpoint_path", "endpoint_path_template", "path")
MODEL_FIELDS = ("model", "default_model", "model_name")
DEFAULT_BASE = "https://api.groq.com"
DEFAULT_ENDPOINT = "/openai/v1/chat/completions"
OPENAI_TAILS = ("/chat/completions", "/responses")


def read_seed004(data: Any) -> Incoming:
    if not isinstance(data, dict):
        raise ValidationFailed.at("(file)", "must be a JSON object (seed 004's admin_settings)")
    where, block = _groq_block(data)
    incoming = Incoming(format="seed004", document=empty_document(), partial=True)
    key = _text(block, KEY_FIELDS, where)
    if key is None or not key.strip() or any(c.isspace() for c in key):
        raise ValidationFailed.at(_path(where, "api_key"), "must be a non-empty key without spaces")
    base = (_text(block, BASE_FIELDS, where) or DEFAULT_BASE).rstrip("/")
    endpoint = _text(block, ENDPOINT_FIELDS, where) or DEFAULT_ENDPOINT
    model = _text(block, MODEL_FIELDS, where)
    providers = list(preset("seed004"))  # created disabled until a key is set
    groq = next(p for p in providers if p["name"] == "groq")
    groq.update(base_url=_openai_base(base, endpoint, where, incoming), enabled=True)
    groq["activate_if_none"] = True
    groq["models"] = [_model(model)] if model else []
    incoming.secrets["groq"] = key
    incoming.document["providers"] = providers
    used = {f for f in (*KEY_FIELDS, *BASE_FIELDS, *ENDPOINT_FIELDS, *MODEL_FIELDS) if f in block}
    _unused(data, block, used, "", incoming)
    if model is None:
        incoming.unsupported.append((_path(where, "model"), "no model given: none was added"))
    return incoming


def _groq_block(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    found = [("", data)] if _has_key(data) else []
    for name, value in data.items():
        if isinstance(value, dict):
            if _has_key(value):
                found.append((name, value))
            found += [
                (f"{name}.{inner}", sub)
                for inner, sub in value.items()
                if isinstance(sub, dict) and _has_key(sub)
            ]
    groq = [f for f in found if "groq" in f[0].lower()]
    if len(groq) == 1 or len(found) == 1:
        return (groq or found)[0]
    if not found:
        raise ValidationFailed.at(
            "(file)", f"no Groq API key found; looked for {', '.join(KEY_FIELDS)}"
        )
    raise ValidationFailed.at(
        "(file)", f"several blocks hold a key ({', '.join(w or '(top)' for w, _ in found)})"
    )


def _has_key(block: dict[str, Any]) -> bool:
    return any(isinstance(block.get(f), str) for f in KEY_FIELDS)


def _text(block: dict[str, Any], names: tuple[str, ...], where: str) -> str | None:
    for name in names:
        if name in block:
            value = block[name]
            if not isinstance(value, str):
                raise ValidationFailed.at(_path(where, name), "must be a string")
            return value
    return None


def _openai_base(base: str, endpoint: str, where: str, incoming: Incoming) -> str:
    url = base + "/" + endpoint.lstrip("/")
    for tail in OPENAI_TAILS:
        if url.endswith(tail):
            if tail == "/responses":
                incoming.unsupported.append(
                    (
                        _path(where, "endpoint"),
                        f"{endpoint}: modelyard calls Groq's chat endpoint beside it "
                        f"({url[: -len(tail)]}/chat/completions); /v1/responses requests "
                        "to modelyard are translated",
                    )
                )
            return url[: -len(tail)]
    raise ValidationFailed.at(
        _path(where, "endpoint"),
        f"{endpoint!r} is neither an OpenAI-style /chat/completions nor /responses endpoint",
    )


def _model(model_id: str) -> dict[str, Any]:
    known = _catalog_model(model_id)
    if known is None:
        return {"model_id": model_id}
    price = {
        "input_per_mtok": plain(known.input_per_mtok),
        "output_per_mtok": plain(known.output_per_mtok),
        "cached_input_per_mtok": plain(known.cached_input_per_mtok),
    }
    return {
        "model_id": model_id,
        "display_name": known.display_name,
        "context_window": known.context_window,
        "capabilities": list(known.capabilities),
        "prices": [price],
    }


def _catalog_model(model_id: str) -> CatalogModel | None:
    for provider in load_catalog():
        if provider.name == "groq":
            return next((m for m in provider.models if m.model_id == model_id), None)
    return None


def _unused(
    data: dict[str, Any], block: dict[str, Any], used: set[str], prefix: str, incoming: Incoming
) -> None:
    """List every field the import does not use, by its path (never its value)."""
    for name, value in data.items():
        path = _path(prefix, name)
        if data is block and name in used:
            continue
        if value is block or (isinstance(value, dict) and _contains(value, block)):
            _unused(value, block, used, path, incoming)
        else:
            incoming.unsupported.append((path, "not used by modelyard"))


def _contains(tree: dict[str, Any], block: dict[str, Any]) -> bool:
    return any(v is block or (isinstance(v, dict) and _contains(v, block)) for v in tree.values())


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
