"""``/v1/messages`` and ``/v1/messages/count_tokens`` in the app's OpenAPI (merged into the
``/v1`` document by :func:`modelyard.api.openai.spec.add_v1`): the request schemas with the
constraints :mod:`modelyard.api.anthropic.checks` enforces, the replies, and Anthropic's
error shape on every error."""

from __future__ import annotations

from typing import Any

from modelyard.api.anthropic.checks import (
    COUNT_NATIVE,
    MEDIA_TYPES,
    MOST,
    NATIVE_BLOCKS,
    NATIVE_FIELDS,
    TOOL_CHOICES,
)
from modelyard.api.openai.spec_messages import (
    OPTIONAL_BOOL,
    STRING,
    Schema,
    integer,
    nullable,
    number,
    obj,
    ref,
)

TAG = "Anthropic Messages API (/v1)"
KEY_SCHEME = "XApiKey"
SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {KEY_SCHEME: []}]
CACHE_CONTROL = nullable(
    obj(
        {"type": {"const": "ephemeral"}, "ttl": nullable({"enum": ["5m", "1h"]})},
        ("type",),
    )
)


def _block(kind: str, fields: Schema, required: tuple[str, ...] = ()) -> Schema:
    return obj(
        {"type": {"const": kind}, **fields, "cache_control": CACHE_CONTROL}, ("type", *required)
    )


SOURCE = {
    "anyOf": [
        obj(
            {
                "type": {"const": "base64"},
                "media_type": {"enum": list(MEDIA_TYPES)},
                "data": STRING,
            },
            ("type", "media_type", "data"),
        ),
        obj({"type": {"const": "url"}, "url": STRING}, ("type", "url")),
    ]
}
TEXT = _block("text", {"text": STRING}, ("text",))
IMAGE = _block("image", {"source": SOURCE}, ("source",))
BLOCKS: dict[str, Schema] = {
    "AnthropicTextBlock": TEXT,
    "AnthropicImageBlock": IMAGE,
    "AnthropicToolUseBlock": _block(
        "tool_use",
        {"id": STRING, "name": STRING, "input": {"type": "object"}},
        ("id", "name", "input"),
    ),
    "AnthropicToolResultBlock": _block(
        "tool_result",
        {
            "tool_use_id": STRING,
            "content": nullable(
                {"anyOf": [STRING, {"type": "array", "items": {"anyOf": [TEXT, IMAGE]}}]}
            ),
            "is_error": OPTIONAL_BOOL,
        },
        ("tool_use_id",),
    ),
    "AnthropicOtherBlock": obj(
        {"type": {"enum": sorted(NATIVE_BLOCKS)}, "cache_control": CACHE_CONTROL},
        ("type",),
        description="passed to an Anthropic upstream as it is; refused (document) or left out "
        "(thinking) for any other",
    ),
}
MESSAGE = obj(
    {
        "role": {"enum": ["user", "assistant"]},
        "content": {
            "anyOf": [
                STRING,
                {"type": "array", "items": {"anyOf": [ref(name) for name in BLOCKS]}},
            ]
        },
    },
    ("role", "content"),
)
TOOL = {
    "anyOf": [
        obj(
            {
                "type": nullable({"const": "custom"}),
                "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,128}$"},
                "description": nullable(STRING),
                "input_schema": obj({"type": {"const": "object"}}, ("type",)),
                "cache_control": CACHE_CONTROL,
            },
            ("name", "input_schema"),
        ),
        obj(
            {"type": {"type": "string", "not": {"const": "custom"}}, "name": STRING},
            ("type", "name"),
            description="one of Anthropic's own tools: for an Anthropic upstream only",
        ),
    ]
}
TOOL_CHOICE = nullable(
    {
        "anyOf": [
            obj(
                {
                    "type": {"enum": [c for c in TOOL_CHOICES if c != "tool"]},
                    "disable_parallel_tool_use": OPTIONAL_BOOL,
                },
                ("type",),
            ),
            obj(
                {
                    "type": {"const": "tool"},
                    "name": STRING,
                    "disable_parallel_tool_use": OPTIONAL_BOOL,
                },
                ("type", "name"),
            ),
        ]
    }
)
SYSTEM = nullable({"anyOf": [STRING, {"type": "array", "items": TEXT}]})
ANY: Schema = {"description": "passed to an Anthropic upstream as it is; left out for others"}


def _common() -> Schema:
    return {
        "model": {"type": "string", "description": "a model id or provider/model"},
        "messages": {"type": "array", "minItems": 1, "items": ref("AnthropicInputMessage")},
        "system": SYSTEM,
        "tools": nullable({"type": "array", "items": TOOL}),
        "tool_choice": TOOL_CHOICE,
    }


MESSAGE_REQUEST = obj(
    {
        **_common(),
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": MOST},
        "stop_sequences": nullable({"type": "array", "items": STRING}),
        "stream": OPTIONAL_BOOL,
        "temperature": number(0, 1, "sampling temperature"),
        "top_p": number(0, 1, "nucleus sampling"),
        "top_k": integer(0, MOST, "top-k sampling (Anthropic upstreams only)"),
        "metadata": nullable(obj({"user_id": nullable({"type": "string", "maxLength": 256})})),
        **dict.fromkeys(sorted(NATIVE_FIELDS), ANY),
    },
    ("model", "max_tokens", "messages"),
    additionalProperties=False,
    description="Anthropic's Messages API request",
)
COUNT_REQUEST = obj(
    {**_common(), **dict.fromkeys(sorted(COUNT_NATIVE), ANY)},
    ("model", "messages"),
    additionalProperties=False,
    description="Anthropic's count_tokens request",
)
REPLY = obj(
    {
        "id": STRING,
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": STRING,
        "content": {"type": "array", "items": {"type": "object"}},
        "stop_reason": nullable(STRING),
        "stop_sequence": nullable(STRING),
        "usage": obj(
            {
                "input_tokens": {"type": "integer"},
                "output_tokens": {"type": "integer"},
                "cache_read_input_tokens": nullable({"type": "integer"}),
                "cache_creation_input_tokens": nullable({"type": "integer"}),
            },
            ("input_tokens", "output_tokens"),
        ),
    },
    ("id", "type", "role", "content", "usage"),
    description="Anthropic's message, as the upstream answered it or translated",
)
ERROR = obj(
    {
        "type": {"const": "error"},
        "error": obj(
            {
                "type": {"type": "string", "description": "invalid_request_error, ..."},
                "message": STRING,
            },
            ("type", "message"),
        ),
    },
    ("type", "error"),
    description="Anthropic's error shape",
)
EVENT = {
    "type": "object",
    "description": "one Server-Sent Event, named as its data's type: message_start, "
    "content_block_start, content_block_delta, content_block_stop, message_delta, "
    "message_stop, ping, error",
    "properties": {"event": STRING, "data": STRING},
    "required": ["event", "data"],
}
COMPONENTS: dict[str, Schema] = {
    "AnthropicMessageRequest": MESSAGE_REQUEST,
    "AnthropicCountTokensRequest": COUNT_REQUEST,
    "AnthropicInputMessage": MESSAGE,
    **BLOCKS,
    "AnthropicMessage": REPLY,
    "AnthropicTokenCount": obj({"input_tokens": {"type": "integer"}}, ("input_tokens",)),
    "AnthropicError": ERROR,
}
SCHEMES: dict[str, Schema] = {
    KEY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "a modelyard API key (myk_...), as Anthropic's SDKs send it",
    }
}


def paths(errors: dict[int, str]) -> dict[str, Any]:
    """The two operations, each error of ``errors`` (status: description) they can answer in
    Anthropic's shape."""

    def operation(
        summary: str, name: str, body: str, ok: Schema, statuses: tuple[int, ...]
    ) -> Schema:
        responses: dict[str, Any] = {"200": ok}
        for status in statuses:
            response: Schema = {
                "description": errors[status],
                "content": {"application/json": {"schema": ref("AnthropicError")}},
            }
            if status in (429, 503):
                response["headers"] = {
                    "Retry-After": {
                        "description": "seconds to wait before retrying",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                }
            responses[str(status)] = response
        return {
            "post": {
                "tags": [TAG],
                "summary": summary,
                "operationId": name,
                "security": SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref(body)}},
                },
                "responses": responses,
            }
        }

    message_ok = {
        "description": "The message; with `stream: true`, Anthropic's event sequence",
        "content": {
            "application/json": {"schema": ref("AnthropicMessage")},
            "text/event-stream": {"schema": EVENT},
        },
    }
    count_ok = {
        "description": "The request's input tokens (counted by an Anthropic upstream, else "
        "estimated); free",
        "content": {"application/json": {"schema": ref("AnthropicTokenCount")}},
    }
    calls = tuple(errors)
    counts = tuple(s for s in errors if s != 402)
    return {
        "/v1/messages": operation(
            "Create a message (Anthropic's Messages API)",
            "v1_messages",
            "AnthropicMessageRequest",
            message_ok,
            calls,
        ),
        "/v1/messages/count_tokens": operation(
            "Count a message's input tokens",
            "v1_messages_count_tokens",
            "AnthropicCountTokensRequest",
            count_ok,
            counts,
        ),
    }
