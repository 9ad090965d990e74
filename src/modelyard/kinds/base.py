"""Provider kinds as data: default base URL, whether a key is required, the typed config.

The JSON ``config`` of a provider is validated by the model registered for its kind, so a
typo in a field name or a wrong type fails at save time with the JSON path of the problem.
Adding a kind means adding one row to :data:`KINDS`; nothing else branches on kind names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from modelyard.adapters.declarative_config import DeclarativeConfig
from modelyard.errors import ValidationFailed, check

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CREDENTIAL_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization"}


class _KindConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenAIConfig(_KindConfig):
    project: str | None = Field(default=None, description="OpenAI project id sent as a header")


class AnthropicConfig(_KindConfig):
    anthropic_version: str = Field(default="2023-06-01", description="anthropic-version header")


class GeminiConfig(_KindConfig):
    pass


class OllamaConfig(_KindConfig):
    keep_alive: str | None = Field(default=None, description="how long Ollama keeps models loaded")


class OpenAICompatibleConfig(_KindConfig):
    vendor: str | None = Field(default=None, description="e.g. groq, deepseek, openrouter, vllm")
    chat_path: str = Field(default="/chat/completions", pattern=r"^/")
    embeddings_path: str = Field(default="/embeddings", pattern=r"^/")


class FakeConfig(_KindConfig):
    """The deterministic ``fake`` kind: replies, usage and failures for demos and tests."""

    reply: str = Field(default="This is a fake reply.", description="the assistant's reply")
    echo: bool = Field(default=False, description="reply with the last user message instead")
    prompt_tokens: int | None = Field(
        default=None, ge=0, description="reported prompt tokens; None estimates them"
    )
    completion_tokens: int | None = Field(
        default=None, ge=0, description="reported completion tokens; None estimates them"
    )
    stream_chunks: int = Field(default=3, ge=1, description="content deltas a stream sends")
    fail_with: Literal["rate_limited", "timeout", "unavailable", "auth", "bad_request"] | None = (
        Field(default=None, description="the failure the first fail_times calls raise")
    )
    fail_times: int = Field(default=0, ge=0, description="calls that fail before one succeeds")
    latency_ms: int = Field(default=0, ge=0, description="wait before answering")
    embedding_dims: int = Field(default=8, ge=1, le=8192, description="floats per embedding")


@dataclass(frozen=True)
class Kind:
    name: str
    default_base_url: str | None
    requires_api_key: bool
    config_model: type[BaseModel]

    def requires_key(self, config: BaseModel) -> bool:
        if isinstance(config, DeclarativeConfig):
            return config.auth_scheme != "none"
        return self.requires_api_key


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("openai", "https://api.openai.com/v1", True, OpenAIConfig),
        Kind("anthropic", "https://api.anthropic.com", True, AnthropicConfig),
        Kind("gemini", "https://generativelanguage.googleapis.com/v1beta", True, GeminiConfig),
        Kind("ollama", "http://localhost:11434", False, OllamaConfig),
        Kind("openai_compatible", None, False, OpenAICompatibleConfig),
        Kind("declarative", None, False, DeclarativeConfig),
        Kind("fake", "http://fake.invalid", False, FakeConfig),
    )
}


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        valid = ", ".join(sorted(KINDS))
        raise ValidationFailed.at("kind", f"{name!r} is not a valid kind; valid kinds: {valid}")
    return kind


def typed_config(kind: Kind, raw: dict[str, Any]) -> BaseModel:
    model: BaseModel = check(kind.config_model, raw, prefix="config")
    return model


def base_url_for(kind: Kind, given: str | None) -> str:
    url = given or kind.default_base_url
    if not url:
        raise ValidationFailed.at("base_url", f"is required for kind {kind.name!r}")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationFailed.at("base_url", "must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValidationFailed.at("base_url", "must not carry a query or fragment")
    return url.rstrip("/")


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
