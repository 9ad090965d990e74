"""Validation of "declarative" provider configs: a new HTTP API as configuration, not code.

A :class:`DeclarativeConfig` says how to authenticate (``auth_scheme``), where to send the
request (``endpoint_path_template``, ``http_method``), how to build the JSON body from the
gateway's request parameters (``request_builder``) and where the reply text, usage and
finish reason live in the upstream JSON (``response_extractor``). The gateway adapter does
the I/O; this module only validates and offers two pure helpers, :func:`parse_path` and
:func:`extract`, for the JSON paths (``choices[0].message.content``, ``output.0.text``).

Every pydantic error's ``loc`` points at the offending config value, so callers can report
``request_builder.payload_structure`` rather than a whole object. The body must carry the
conversation: ``payload_structure`` needs a ``messages`` key (or another key sourced from
``param:messages``, e.g. Gemini's ``contents``), and a ``model`` key (or a key sourced from
``param:model_name``) unless the endpoint path carries ``{model}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from modelyard.adapters.reach import path_problem
from modelyard.jsonpath import parse_path

AuthScheme = Literal["bearer", "header", "query", "none"]
UsageField = Literal["prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"]
Transform = Literal[
    "openai_messages", "text_only_messages", "gemini_contents", "anthropic_messages"
]
PARAM_NAMES = frozenset(
    {
        "model_name",
        "messages",
        "system",
        "temperature",
        "max_tokens",
        "top_p",
        "stop",
        "stream",
        "tools",
        "tool_choice",
        "response_format",
        "seed",
        "user",
    }
)
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUERY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


def _check_path(path: str) -> str:
    parse_path(path)
    return path


JsonPath = Annotated[str, AfterValidator(_check_path)]


def _check_header(name: str, value: str) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid HTTP header name")
    if _BAD_HEADER_VALUE.search(value):
        raise ValueError(f"header {name!r} has a line break or NUL in its value")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Model):
    """Where one body field comes from: a gateway request parameter or a literal value."""

    source: str
    value: JsonValue = Field(default=None, validate_default=True)  # report a missing one
    required: bool = False
    default: JsonValue = None
    transform: Transform | None = None

    @field_validator("source")
    @classmethod
    def _source_known(cls, source: str) -> str:
        if source == "literal":
            return source
        name = source.removeprefix("param:")
        if name == source or name not in PARAM_NAMES:
            allowed = ", ".join(f"param:{n}" for n in sorted(PARAM_NAMES))
            raise ValueError(f"source {source!r} must be 'literal' or one of: {allowed}")
        return source

    @field_validator("value", mode="after")
    @classmethod
    def _value_iff_literal(cls, value: JsonValue, info: ValidationInfo) -> JsonValue:
        source = info.data.get("source")
        if source == "literal" and value is None:
            raise ValueError("value is required when source is 'literal'")
        if source is not None and source != "literal" and value is not None:
            raise ValueError(f"value is only allowed with source 'literal', not {source!r}")
        return value

    @field_validator("transform")
    @classmethod
    def _transform_on_messages(cls, transform: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if transform is not None and source is not None and source != "param:messages":
            raise ValueError("transform is only allowed with source 'param:messages'")
        return transform

    @property
    def param(self) -> str | None:
        """The request parameter name (``"temperature"``), or None for a literal."""
        return None if self.source == "literal" else self.source.removeprefix("param:")


class RequestBuilderConfig(_Model):
    """The JSON body: output path in dot form (``generationConfig.temperature``) -> spec.

    The ``model`` rule needs the endpoint path, so :class:`DeclarativeConfig` checks it.
    """

    version: Literal["1.0"]
    payload_structure: dict[str, FieldSpec]

    @field_validator("payload_structure")
    @classmethod
    def _payload_keys(cls, payload: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for key in payload:
            if any(not segment.strip() for segment in key.split(".")):
                raise ValueError(f"payload_structure key {key!r} has an empty path segment")
            for other in payload:
                if other.startswith(key + "."):
                    raise ValueError(f"payload_structure keys {key!r} and {other!r} overlap")
        if not _maps(payload, "messages", "messages"):
            raise ValueError(
                "payload_structure must contain 'messages' "
                "(or another key with source 'param:messages')"
            )
        return payload


def _maps(payload: Mapping[str, FieldSpec], key: str, param: str) -> bool:
    return key in payload or any(spec.param == param for spec in payload.values())


class TextRule(_Model):
    type: Literal["string"]
    paths: Annotated[list[JsonPath], Field(min_length=1)]  # the first path that resolves wins


class UsageRule(_Model):
    type: Literal["object"]
    fields: dict[UsageField, JsonPath]

    @field_validator("fields")
    @classmethod
    def _core_counts(cls, fields: dict[UsageField, str]) -> dict[UsageField, str]:
        for name in ("prompt_tokens", "completion_tokens"):
            if name not in fields:
                raise ValueError(f"usage_stats.fields must contain {name!r}")
        return fields


class ExtractionRules(_Model):
    text_content: TextRule
    usage_stats: UsageRule
    finish_reason: JsonPath | None = None
    error_message: JsonPath | None = None


class StreamingRule(_Model):
    format: Literal["sse"]
    delta_paths: Annotated[list[JsonPath], Field(min_length=1)]
    done_marker: str | None = "[DONE]"
    usage_paths: dict[UsageField, JsonPath] | None = None


class ResponseExtractorConfig(_Model):
    version: Literal["1.0"]
    extraction_rules: ExtractionRules
    streaming: StreamingRule | None = None


class DeclarativeConfig(_Model):
    """A config-driven provider; see the module docstring and the ``EXAMPLE_*`` configs."""

    auth_scheme: AuthScheme = "bearer"
    auth_header_template: str | None = Field(default=None, validate_default=True)
    endpoint_path_template: str
    http_method: Literal["POST", "PUT"] = "POST"
    additional_headers: dict[str, str] = Field(default_factory=dict)
    request_builder: RequestBuilderConfig
    response_extractor: ResponseExtractorConfig

    @field_validator("auth_header_template")
    @classmethod
    def _auth_template(cls, template: str | None, info: ValidationInfo) -> str | None:
        scheme = info.data.get("auth_scheme")
        if scheme in ("bearer", "none") and template is not None:
            raise ValueError(f"auth_header_template must be absent for auth_scheme {scheme!r}")
        if scheme == "query" and not (template and _QUERY_NAME.fullmatch(template)):
            raise ValueError("auth_scheme 'query' needs the query parameter name, e.g. 'key'")
        if scheme == "header":
            name, colon, value = (template or "").partition(":")
            if not colon or "{api_key}" not in value:
                raise ValueError("auth_scheme 'header' needs 'Name: value with {api_key}'")
            _check_header(name.strip(), value)
            if _PLACEHOLDER.search(value.replace("{api_key}", "")):
                raise ValueError("the only placeholder allowed here is {api_key}")
        return template

    @field_validator("endpoint_path_template")
    @classmethod
    def _endpoint(cls, template: str) -> str:
        if not template.startswith("/") or re.search(r"[\s#]", template):
            raise ValueError("endpoint_path_template must start with '/', without spaces or '#'")
        problem = path_problem(template)
        if problem is not None:
            raise ValueError(f"endpoint_path_template {problem}")
        for name in _PLACEHOLDER.findall(template):
            if name != "model":
                raise ValueError(f"unknown placeholder {{{name}}}; only {{model}} is allowed")
        if re.search(r"[{}]", _PLACEHOLDER.sub("", template)):
            raise ValueError("endpoint_path_template has an unbalanced '{' or '}'")
        return template

    @field_validator("additional_headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if name.lower() in CREDENTIAL_HEADERS:
                raise ValueError(
                    f"additional_headers must not set {name!r}: credentials go in "
                    "the provider's api key, sent as auth_scheme says"
                )
            _check_header(name, value)
        return headers

    @field_validator("request_builder")
    @classmethod
    def _model_placed(cls, rb: RequestBuilderConfig, info: ValidationInfo) -> RequestBuilderConfig:
        """Cross-field rule; re-raised as a ValidationError so the loc is the payload's."""
        path = info.data.get("endpoint_path_template")
        if path is None or "{model}" in path or _maps(rb.payload_structure, "model", "model_name"):
            return rb
        error = ValueError(
            "payload_structure must contain 'model' (or another key with source "
            "'param:model_name', or put {model} in endpoint_path_template)"
        )
        raise ValidationError.from_exception_data(
            "RequestBuilderConfig",
            [
                {
                    "type": "value_error",
                    "loc": ("payload_structure",),
                    "input": rb.payload_structure,
                    "ctx": {"error": error},
                }
            ],
        )

    def auth_header(self, api_key: str) -> tuple[str, str] | None:
        """The ``(name, value)`` header carrying ``api_key``, or None if it goes elsewhere."""
        if self.auth_scheme == "bearer":
            return "Authorization", f"Bearer {api_key}"
        if self.auth_scheme == "header" and self.auth_header_template:
            name, _, value = self.auth_header_template.partition(":")
            return name.strip(), value.strip().replace("{api_key}", api_key)
        return None


def validate_declarative(raw: object) -> DeclarativeConfig:
    """Validate a decoded JSON config; pydantic's ValidationError propagates unchanged."""
    return DeclarativeConfig.model_validate(raw)
