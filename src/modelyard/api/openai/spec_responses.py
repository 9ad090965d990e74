"""The JSON Schemas of ``/v1/responses`` in the OpenAPI: the request with the constraints
:mod:`modelyard.gateway.params_responses` enforces, the response object, and the answer to a
``DELETE``. A response relayed from an OpenAI upstream is documented, not promised field by
field."""

from __future__ import annotations

from modelyard.api.openai.spec_messages import (
    INT64,
    NAME,
    OPTIONAL_BOOL,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    STRING,
    Schema,
    integer,
    nullable,
    number,
    obj,
)

INPUT_PART: Schema = {
    "anyOf": [
        obj({"type": {"const": "input_text"}, "text": STRING}, ("type", "text")),
        obj(
            {
                "type": {"const": "input_image"},
                "image_url": STRING,
                "detail": nullable({"enum": ["low", "high", "auto"]}),
            },
            ("type", "image_url"),
        ),
        obj({"type": {"const": "output_text"}, "text": STRING}, ("type", "text")),
    ]
}
CONTENT: Schema = {"anyOf": [STRING, {"type": "array", "items": INPUT_PART}]}
INPUT_ITEM: Schema = {
    "anyOf": [
        obj(
            {
                "type": {"const": "message"},
                "role": {"enum": ["user", "assistant", "system", "developer"]},
                "content": CONTENT,
            },
            ("role", "content"),
        ),
        obj(
            {
                "type": {"const": "function_call"},
                "call_id": STRING,
                "name": STRING,
                "arguments": STRING,
            },
            ("type", "call_id", "name", "arguments"),
        ),
        obj(
            {"type": {"const": "function_call_output"}, "call_id": STRING, "output": CONTENT},
            ("type", "call_id", "output"),
        ),
        obj({"type": {"const": "reasoning"}}, ("type",), description="passed to OpenAI only"),
    ]
}
FUNCTION_TOOL = obj(
    {
        "type": {"const": "function"},
        "name": {"type": "string", "pattern": NAME},
        "description": OPTIONAL_STRING,
        "parameters": OPTIONAL_OBJECT,
        "strict": OPTIONAL_BOOL,
    },
    ("type", "name"),
    description="a function tool (built-in tools such as web_search are refused with 400)",
)
TEXT_FORMAT: Schema = {
    "anyOf": [
        obj({"type": {"enum": ["text", "json_object"]}}, ("type",)),
        obj(
            {
                "type": {"const": "json_schema"},
                "name": {"type": "string", "pattern": NAME},
                "schema": {"type": "object"},
                "description": OPTIONAL_STRING,
                "strict": OPTIONAL_BOOL,
            },
            ("type", "name", "schema"),
        ),
    ]
}
RESPONSE_REQUEST = obj(
    {
        "model": nullable(
            {"type": "string", "description": "a model id or provider/model; default: the system's"}
        ),
        "input": {"anyOf": [STRING, {"type": "array", "items": INPUT_ITEM}]},
        "instructions": OPTIONAL_STRING,
        "previous_response_id": nullable(
            {"type": "string", "description": "a stored response of yours: its turns come first"}
        ),
        "tools": nullable({"type": "array", "items": FUNCTION_TOOL}),
        "tool_choice": nullable(
            {
                "anyOf": [
                    {"enum": ["none", "auto", "required"]},
                    obj({"type": {"const": "function"}, "name": STRING}, ("type", "name")),
                ]
            }
        ),
        "parallel_tool_calls": OPTIONAL_BOOL,
        "text": nullable(obj({"format": nullable(TEXT_FORMAT)})),
        "max_output_tokens": integer(16, INT64 - 1, "output cap, at most the model's max output"),
        "temperature": number(0, 2, "sampling temperature"),
        "top_p": number(0, 1, "nucleus sampling mass"),
        "stream": OPTIONAL_BOOL,
        "store": nullable(
            {
                "type": "boolean",
                "description": "keep the response (default true) for "
                "previous_response_id and GET; kept responses.retention_days",
            }
        ),
        "metadata": nullable(
            {
                "type": "object",
                "maxProperties": 16,
                "propertyNames": {"maxLength": 64},
                "additionalProperties": {"type": "string", "maxLength": 512},
            }
        ),
        "background": nullable({"const": False, "description": "background mode is refused"}),
        "prompt": {"type": "null", "description": "stored prompts are refused"},
        "conversation": {"type": "null", "description": "conversations are refused"},
        "user": OPTIONAL_STRING,
        "truncation": nullable({"enum": ["auto", "disabled"]}),
    },
    ("input",),
    description="OpenAI's Responses API request. An OpenAI upstream gets fields not listed "
    "here; the others get the chat translation of those listed.",
)
OUTPUT_ITEM = obj(
    {
        "type": STRING,
        "id": STRING,
        "status": STRING,
        "role": STRING,
        "content": {"type": "array", "items": {"type": "object"}},
        "call_id": STRING,
        "name": STRING,
        "arguments": STRING,
    },
    ("type",),
)
RESPONSE = obj(
    {
        "id": {"type": "string", "description": "resp_..."},
        "object": {"const": "response"},
        "created_at": {"type": "number"},
        "status": STRING,
        "model": STRING,
        "output": {"type": "array", "items": OUTPUT_ITEM},
        "previous_response_id": OPTIONAL_STRING,
        "store": OPTIONAL_BOOL,
        "incomplete_details": OPTIONAL_OBJECT,
        "error": OPTIONAL_OBJECT,
        "usage": nullable(
            obj(
                {
                    "input_tokens": {"type": "integer"},
                    "output_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                    "input_tokens_details": {"type": "object"},
                    "output_tokens_details": {"type": "object"},
                },
                ("input_tokens", "output_tokens", "total_tokens"),
            )
        ),
    },
    ("id", "object", "output"),
    description="OpenAI's response object",
)
RESPONSE_DELETED = obj(
    {"id": STRING, "object": {"const": "response"}, "deleted": {"const": True}},
    ("id", "object", "deleted"),
)
COMPONENTS: dict[str, Schema] = {
    "ResponseRequest": RESPONSE_REQUEST,
    "Response": RESPONSE,
    "ResponseDeleted": RESPONSE_DELETED,
}
