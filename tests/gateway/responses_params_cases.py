"""The /v1/responses parameter cases: bodies the checks refuse (with the parameter and code
OpenAI names) and bodies they pass, shared by the checks' tests and the OpenAPI's."""

from __future__ import annotations

from typing import Any

BASE: dict[str, Any] = {"model": "m", "input": "hi"}
MESSAGE: dict[str, Any] = {"role": "user", "content": "hi"}

REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"temperature": 7}, "temperature", "decimal_above_max_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"max_output_tokens": 8}, "max_output_tokens", "integer_below_min_value"),
    ({"max_output_tokens": "x"}, "max_output_tokens", "invalid_type"),
    ({"stream": "yes"}, "stream", "invalid_type"),
    ({"store": 1}, "store", "invalid_type"),
    ({"instructions": 3}, "instructions", "invalid_type"),
    ({"metadata": {"k": 1}}, "metadata.k", "invalid_type"),
    ({"metadata": {str(i): "v" for i in range(17)}}, "metadata", "invalid_value"),
    ({"previous_response_id": 5}, "previous_response_id", "invalid_type"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls", "invalid_type"),
    ({"truncation": "sometimes"}, "truncation", "invalid_value"),
    ({"background": True}, "background", "unsupported_value"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt", "unsupported_value"),
    ({"input": None}, "input", "missing_required_parameter"),
    ({"input": 5}, "input", "invalid_type"),
    ({"input": ["hi"]}, "input[0]", "invalid_type"),
    ({"input": [{"type": "mystery"}]}, "input[0].type", "unsupported_value"),
    ({"input": [{"content": "x"}]}, "input[0].type", "missing_required_parameter"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type", "unsupported_value"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "invalid_value"),
    ({"input": [{"role": "user"}]}, "input[0].content", "missing_required_parameter"),
    ({"input": [{"role": "user", "content": 3}]}, "input[0].content", "invalid_type"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "input[0].content[0].text",
        "missing_required_parameter",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        "input[0].content[0].type",
        "invalid_value",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "input[0].content[0].type",
        "unsupported_value",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        "input[0].content[0].file_id",
        "unsupported_value",
    ),
    (
        {
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "u", "detail": "max"}],
                }
            ]
        },
        "input[0].content[0].detail",
        "invalid_value",
    ),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
        "input[0].arguments",
        "missing_required_parameter",
    ),
    (
        {"input": [{"type": "function_call_output", "call_id": "c"}]},
        "input[0].output",
        "missing_required_parameter",
    ),
    ({"tools": {}}, "tools", "invalid_type"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_value"),
    ({"tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
    ({"tools": [{"type": "function", "name": "a b"}]}, "tools[0].name", "invalid_value"),
    (
        {"tools": [{"type": "function", "name": "f", "parameters": []}]},
        "tools[0].parameters",
        "invalid_type",
    ),
    ({"tool_choice": "always"}, "tool_choice", "invalid_value"),
    ({"tool_choice": {"type": "file_search"}}, "tool_choice.type", "unsupported_value"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.name", "missing_required_parameter"),
    ({"text": "json"}, "text", "invalid_type"),
    ({"text": {"format": {"type": "xml"}}}, "text.format.type", "invalid_value"),
    (
        {"text": {"format": {"type": "json_schema", "schema": {}}}},
        "text.format.name",
        "missing_required_parameter",
    ),
    (
        {"text": {"format": {"type": "json_schema", "name": "n"}}},
        "text.format.schema",
        "missing_required_parameter",
    ),
]

VALID: list[dict[str, Any]] = [
    {},
    {"temperature": None, "top_p": None, "max_output_tokens": None, "metadata": None},
    {"temperature": 2, "top_p": 0, "max_output_tokens": 16.0, "store": False, "stream": False},
    {"input": [MESSAGE, {"type": "message", "role": "developer", "content": "be brief"}]},
    {
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {"type": "input_image", "image_url": "https://x/y.png", "detail": "low"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ]
    },
    {
        "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": False,
    },
    {"text": {"format": {"type": "json_schema", "name": "n", "schema": {}, "strict": True}}},
    {"text": {"format": {"type": "json_object"}, "verbosity": "low"}},
    {"reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"], "user": "u"},
]
