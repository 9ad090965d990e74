"""The JSON Schemas of a chat request's structured parts in ``/v1``'s OpenAPI: messages by
role, content parts, tool calls, tools, ``tool_choice`` and ``response_format``, with the
constraints :mod:`modelyard.gateway.params_messages` and ``params_tools`` enforce; and the
schema helpers :mod:`modelyard.api.openai.spec_schemas` builds the rest with."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
INT64 = 2**63
NAME = "^[a-zA-Z0-9_-]{1,64}$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null: every optional parameter accepts null, as OpenAI's do."""
    return {"anyOf": [schema, {"type": "null"}]}


def number(low: float, high: float, text: str) -> Schema:
    return nullable({"type": "number", "minimum": low, "maximum": high, "description": text})


def integer(low: int, high: int | None, text: str) -> Schema:
    schema: Schema = {"type": "integer", "minimum": low, "description": text}
    if high is not None:
        schema["maximum"] = high
    return nullable(schema)


def obj(properties: Schema, required: tuple[str, ...] = (), **more: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **more}
    if required:
        schema["required"] = list(required)
    return schema


STRING: Schema = {"type": "string"}
OPTIONAL_STRING = nullable(STRING)
OPTIONAL_BOOL = nullable({"type": "boolean"})
OPTIONAL_OBJECT = nullable({"type": "object"})


def part(kind: str, field: str, value: Schema) -> Schema:
    return obj({"type": {"const": kind}, field: value}, ("type", field))


TEXT_PART = part("text", "text", STRING)
PARTS = {
    "TextPart": TEXT_PART,
    "ImagePart": part(
        "image_url",
        "image_url",
        obj({"url": STRING, "detail": nullable({"enum": ["auto", "low", "high"]})}, ("url",)),
    ),
    "AudioPart": part(
        "input_audio",
        "input_audio",
        obj({"data": STRING, "format": {"enum": ["wav", "mp3"]}}, ("data", "format")),
    ),
    "FilePart": part(
        "file",
        "file",
        obj(
            {"file_data": OPTIONAL_STRING, "file_id": OPTIONAL_STRING, "filename": OPTIONAL_STRING}
        ),
    ),
    "RefusalPart": part("refusal", "refusal", STRING),
}


def content(*parts: str) -> Schema:
    return {
        "anyOf": [
            STRING,
            {"type": "array", "minItems": 1, "items": {"anyOf": [ref(p) for p in parts]}},
        ]
    }


TEXT_CONTENT = content("TextPart")
TOOL_CALL = {
    "anyOf": [
        obj(
            {
                "id": STRING,
                "type": nullable({"const": "function"}),
                "function": obj({"name": STRING, "arguments": STRING}, ("name", "arguments")),
            },
            ("id", "function"),
        ),
        obj(
            {
                "id": STRING,
                "type": {"const": "custom"},
                "custom": obj({"name": STRING, "input": STRING}, ("name", "input")),
            },
            ("id", "type", "custom"),
        ),
    ]
}
MESSAGE_NAME = {"name": OPTIONAL_STRING}
MESSAGES = {
    "SystemMessage": obj(
        {"role": {"enum": ["system", "developer"]}, "content": TEXT_CONTENT, **MESSAGE_NAME},
        ("role", "content"),
    ),
    "UserMessage": obj(
        {
            "role": {"const": "user"},
            "content": content("TextPart", "ImagePart", "AudioPart", "FilePart"),
            **MESSAGE_NAME,
        },
        ("role", "content"),
    ),
    "AssistantMessage": obj(
        {
            "role": {"const": "assistant"},
            "content": nullable(content("TextPart", "RefusalPart")),
            "tool_calls": nullable({"type": "array", "items": TOOL_CALL}),
            "function_call": OPTIONAL_OBJECT,
            "audio": OPTIONAL_OBJECT,
            "refusal": OPTIONAL_STRING,
            **MESSAGE_NAME,
        },
        ("role",),
        description="content may be null (or left out) when tool_calls, function_call or "
        "audio is given",
        anyOf=[
            obj({"content": {"type": ["string", "array"]}}, ("content",)),
            obj({"tool_calls": {"type": "array"}}, ("tool_calls",)),
            obj({"function_call": {"type": "object"}}, ("function_call",)),
            obj({"audio": {"type": "object"}}, ("audio",)),
        ],
    ),
    "ToolMessage": obj(
        {"role": {"const": "tool"}, "content": TEXT_CONTENT, "tool_call_id": STRING},
        ("role", "content", "tool_call_id"),
    ),
    "FunctionMessage": obj(
        {"role": {"const": "function"}, "content": OPTIONAL_STRING, "name": STRING},
        ("role", "name"),
    ),
}
FUNCTION = obj(
    {
        "name": {"type": "string", "pattern": NAME},
        "description": OPTIONAL_STRING,
        "parameters": nullable({"type": "object", "description": "a JSON Schema"}),
        "strict": OPTIONAL_BOOL,
    },
    ("name",),
)
TOOL = {
    "anyOf": [
        obj(
            {"type": {"const": "function"}, "function": ref("FunctionDefinition")},
            ("type", "function"),
        ),
        obj(
            {
                "type": {"const": "custom"},
                "custom": obj(
                    {"name": {"type": "string", "pattern": NAME}, "description": OPTIONAL_STRING},
                    ("name",),
                ),
            },
            ("type", "custom"),
        ),
    ]
}
NAMED = obj({"name": STRING}, ("name",))
TOOL_CHOICE = nullable(
    {
        "anyOf": [
            {"enum": ["none", "auto", "required"]},
            obj({"type": {"const": "function"}, "function": NAMED}, ("type", "function")),
            obj({"type": {"const": "custom"}, "custom": NAMED}, ("type", "custom")),
            obj(
                {
                    "type": {"const": "allowed_tools"},
                    "allowed_tools": obj(
                        {"mode": {"enum": ["auto", "required"]}, "tools": {"type": "array"}},
                        ("mode", "tools"),
                    ),
                },
                ("type", "allowed_tools"),
            ),
        ]
    }
)
RESPONSE_FORMAT = nullable(
    {
        "anyOf": [
            obj({"type": {"enum": ["text", "json_object"]}}, ("type",)),
            obj(
                {
                    "type": {"const": "json_schema"},
                    "json_schema": obj(
                        {
                            "name": {"type": "string", "pattern": NAME},
                            "description": OPTIONAL_STRING,
                            "schema": OPTIONAL_OBJECT,
                            "strict": OPTIONAL_BOOL,
                        },
                        ("name",),
                    ),
                },
                ("type", "json_schema"),
            ),
        ]
    }
)
