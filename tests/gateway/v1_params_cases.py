"""Request bodies for the /v1 parameter tests: ones OpenAI refuses (with the ``param`` and
code it names), and valid ones that must pass untouched."""

from __future__ import annotations

from typing import Any

MODEL = "fake-model"
MAX_OUTPUT = 4096
USER = {"role": "user", "content": "hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def chat(**changes: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [USER], **changes}


def said(*messages: Any) -> dict[str, Any]:
    return chat(messages=list(messages))


def user(content: Any) -> dict[str, Any]:
    return said({"role": "user", "content": content})


def embed(**changes: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": "hello", **changes}


# (id, body, param, code); each of these was sent upstream (or crashed) before.
CHAT_REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("temperature-7", chat(temperature=7), "temperature", "decimal_above_max_value"),
    ("temperature-negative", chat(temperature=-0.1), "temperature", "decimal_below_min_value"),
    ("temperature-string", chat(temperature="0.5"), "temperature", "invalid_type"),
    ("temperature-bool", chat(temperature=True), "temperature", "invalid_type"),
    ("top_p-1.5", chat(top_p=1.5), "top_p", "decimal_above_max_value"),
    ("n-0", chat(n=0), "n", "integer_below_min_value"),
    ("n-129", chat(n=129), "n", "integer_above_max_value"),
    ("n-nan", chat(n="NaN"), "n", "invalid_type"),
    ("presence-3", chat(presence_penalty=3), "presence_penalty", "decimal_above_max_value"),
    ("frequency--3", chat(frequency_penalty=-3), "frequency_penalty", "decimal_below_min_value"),
    ("max_tokens-0", chat(max_tokens=0), "max_tokens", "integer_below_min_value"),
    ("max_tokens-string", chat(max_tokens="10"), "max_tokens", "invalid_type"),
    ("max_tokens-over-model", chat(max_tokens=MAX_OUTPUT + 1), "max_tokens", "invalid_value"),
    (
        "max_completion_tokens-over-model",
        chat(max_completion_tokens=10**6),
        "max_completion_tokens",
        "invalid_value",
    ),
    (
        "max_completion_tokens-bool",
        chat(max_completion_tokens=True),
        "max_completion_tokens",
        "invalid_type",
    ),
    ("stop-5", chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
    ("stop-int", chat(stop=3), "stop", "invalid_type"),
    ("stop-item-int", chat(stop=["a", 1]), "stop[1]", "invalid_type"),
    ("logprobs-1", chat(logprobs=1), "logprobs", "invalid_type"),
    (
        "top_logprobs-21",
        chat(logprobs=True, top_logprobs=21),
        "top_logprobs",
        "integer_above_max_value",
    ),
    ("top_logprobs-alone", chat(top_logprobs=3), "top_logprobs", "invalid_value"),
    ("seed-string", chat(seed="x"), "seed", "invalid_type"),
    ("stream-1", chat(stream=1), "stream", "invalid_type"),
    ("stream-0", chat(stream=0), "stream", "invalid_type"),
    ("parallel_tool_calls-0", chat(parallel_tool_calls=0), "parallel_tool_calls", "invalid_type"),
    ("store-1", chat(store=1), "store", "invalid_type"),
    ("stream_options-x-unstreamed", chat(stream_options="x"), "stream_options", "invalid_type"),
    (
        "include_usage-string",
        chat(stream=True, stream_options={"include_usage": "yes"}),
        "stream_options.include_usage",
        "invalid_type",
    ),
    ("user-int", chat(user=5), "user", "invalid_type"),
    ("logit_bias-word", chat(logit_bias={"hello": 1}), "logit_bias", "invalid_value"),
    (
        "logit_bias-101",
        chat(logit_bias={"50256": 101}),
        "logit_bias.50256",
        "decimal_above_max_value",
    ),
    ("logit_bias-list", chat(logit_bias=[1]), "logit_bias", "invalid_type"),
    ("metadata-int", chat(metadata={"a": 1}), "metadata.a", "invalid_type"),
    ("model-int", chat(model=5), "model", "invalid_type"),
    ("messages-missing", {"model": MODEL}, "messages", "missing_required_parameter"),
    ("messages-object", chat(messages={}), "messages", "invalid_type"),
    ("messages-empty", chat(messages=[]), "messages", "empty_array"),
    ("message-int", said(USER, 1), "messages[1]", "invalid_type"),
    ("role-missing", said({"content": "x"}), "messages[0].role", "missing_required_parameter"),
    ("role-robot", said({"role": "robot", "content": "x"}), "messages[0].role", "invalid_value"),
    ("role-int", said({"role": 1, "content": "x"}), "messages[0].role", "invalid_type"),
    ("content-object", user({}), "messages[0].content", "invalid_type"),
    ("content-int", user(5), "messages[0].content", "invalid_type"),
    (
        "content-missing",
        said({"role": "user"}),
        "messages[0].content",
        "missing_required_parameter",
    ),
    ("content-empty-list", user([]), "messages[0].content", "empty_array"),
    ("part-empty-object", user([{}]), "messages[0].content[0].type", "missing_required_parameter"),
    ("part-string", user(["hi"]), "messages[0].content[0]", "invalid_type"),
    (
        "part-video",
        user([{"type": "video", "video": "x"}]),
        "messages[0].content[0].type",
        "invalid_value",
    ),
    (
        "text-missing",
        user([{"type": "text"}]),
        "messages[0].content[0].text",
        "missing_required_parameter",
    ),
    (
        "text-int",
        user([{"type": "text", "text": 5}]),
        "messages[0].content[0].text",
        "invalid_type",
    ),
    (
        "image-url-string",
        user([{"type": "image_url", "image_url": "http://x/y.png"}]),
        "messages[0].content[0].image_url",
        "invalid_type",
    ),
    (
        "image-url-missing",
        user([{"type": "image_url", "image_url": {}}]),
        "messages[0].content[0].image_url.url",
        "missing_required_parameter",
    ),
    (
        "image-detail",
        user([{"type": "image_url", "image_url": {"url": "http://x", "detail": "ultra"}}]),
        "messages[0].content[0].image_url.detail",
        "invalid_value",
    ),
    (
        "audio-format",
        user([{"type": "input_audio", "input_audio": {"data": "AA==", "format": "ogg"}}]),
        "messages[0].content[0].input_audio.format",
        "invalid_value",
    ),
    (
        "system-image",
        said(
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}, USER
        ),
        "messages[0].content[0].type",
        "invalid_value",
    ),
    (
        "tool-without-id",
        said(USER, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "content": "x"}),
        "messages[2].tool_call_id",
        "missing_required_parameter",
    ),
    (
        "assistant-nothing",
        said(USER, {"role": "assistant", "content": None}, USER),
        "messages[1].content",
        "missing_required_parameter",
    ),
    (
        "tool_calls-object",
        said(USER, {"role": "assistant", "tool_calls": {}}),
        "messages[1].tool_calls",
        "invalid_type",
    ),
    (
        "tool_call-arguments-object",
        said(
            USER,
            {
                "role": "assistant",
                "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {}}}],
            },
        ),
        "messages[1].tool_calls[0].function.arguments",
        "invalid_type",
    ),
    (
        "name-int",
        said({"role": "user", "content": "x", "name": 5}),
        "messages[0].name",
        "invalid_type",
    ),
    ("tools-string", chat(tools="x"), "tools", "invalid_type"),
    ("tool-empty", chat(tools=[{}]), "tools[0].type", "missing_required_parameter"),
    (
        "tool-no-function",
        chat(tools=[{"type": "function"}]),
        "tools[0].function",
        "missing_required_parameter",
    ),
    (
        "tool-name-space",
        chat(tools=[{"type": "function", "function": {"name": "get weather"}}]),
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        "tool-name-65",
        chat(tools=[{"type": "function", "function": {"name": "a" * 65}}]),
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        "tool-parameters-string",
        chat(tools=[{"type": "function", "function": {"name": "f", "parameters": "x"}}]),
        "tools[0].function.parameters",
        "invalid_type",
    ),
    (
        "tool-description-0",
        chat(tools=[{"type": "function", "function": {"name": "f", "description": 0}}]),
        "tools[0].function.description",
        "invalid_type",
    ),
    (
        "tool-strict-string",
        chat(tools=[TOOL, {"type": "function", "function": {"name": "f", "strict": "yes"}}]),
        "tools[1].function.strict",
        "invalid_type",
    ),
    ("tools-129", chat(tools=[TOOL] * 129), "tools", "array_above_max_length"),
    ("n-1.5", chat(n=1.5), "n", "invalid_type"),
    ("max_tokens-1e300", chat(max_tokens=1e300), "max_tokens", "invalid_type"),
    (
        "tool_choice-sometimes",
        chat(tools=[TOOL], tool_choice="sometimes"),
        "tool_choice",
        "invalid_value",
    ),
    (
        "tool_choice-no-name",
        chat(tools=[TOOL], tool_choice={"type": "function", "function": {}}),
        "tool_choice.function.name",
        "missing_required_parameter",
    ),
    ("function_call-sometimes", chat(function_call="sometimes"), "function_call", "invalid_value"),
    ("functions-bad-name", chat(functions=[{"name": "a b"}]), "functions[0].name", "invalid_value"),
    ("response_format-string", chat(response_format="json"), "response_format", "invalid_type"),
    (
        "response_format-xml",
        chat(response_format={"type": "xml"}),
        "response_format.type",
        "invalid_value",
    ),
    (
        "json_schema-missing",
        chat(response_format={"type": "json_schema"}),
        "response_format.json_schema",
        "missing_required_parameter",
    ),
    (
        "json_schema-schema-string",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": "x"}}),
        "response_format.json_schema.schema",
        "invalid_type",
    ),
]

EMBED_REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("input-missing", {"model": MODEL}, "input", "missing_required_parameter"),
    ("input-empty-string", embed(input=""), "input", "invalid_value"),
    ("input-empty-list", embed(input=[]), "input", "empty_array"),
    ("input-empty-item", embed(input=["a", ""]), "input[1]", "invalid_value"),
    ("input-mixed", embed(input=["a", 1]), "input[1]", "invalid_type"),
    ("input-object", embed(input={"a": 1}), "input", "invalid_type"),
    ("input-bools", embed(input=[True]), "input[0]", "invalid_type"),
    ("input-negative-token", embed(input=[1, -1]), "input[1]", "invalid_value"),
    ("input-decimal-token", embed(input=[1, 2.5]), "input[1]", "invalid_type"),
    ("input-empty-token-list", embed(input=[[1], []]), "input[1]", "invalid_value"),
    ("encoding_format-int8", embed(encoding_format="int8"), "encoding_format", "invalid_value"),
    ("dimensions-0", embed(dimensions=0), "dimensions", "integer_below_min_value"),
    ("dimensions-string", embed(dimensions="3"), "dimensions", "invalid_type"),
    ("user-int", embed(user=1), "user", "invalid_type"),
]

CHAT_VALID: list[tuple[str, dict[str, Any]]] = [
    ("plain", chat()),
    ("no-model", {"messages": [USER]}),
    (
        "every-sampling-bound",
        chat(
            temperature=2,
            top_p=0,
            n=1,
            presence_penalty=-2,
            frequency_penalty=2,
            max_tokens=MAX_OUTPUT,
            max_completion_tokens=1,
            stop=["a", "b", "c", "d"],
            logprobs=True,
            top_logprobs=20,
            seed=-(2**63),
            user="u",
            logit_bias={"50256": -100, "1": 100.0},
            store=False,
            metadata={"a": "b"},
        ),
    ),
    (
        "nulls",
        chat(
            temperature=None, top_p=None, n=None, max_tokens=None, stop=None, tools=None, seed=None
        )
        | {"stream": None, "stream_options": None, "response_format": None, "logit_bias": None}
        | {"user": None},
    ),
    ("unknown-fields-pass", chat(top_k=40, repetition_penalty=1.1, extra_body={"x": 1})),
    (
        "every-part",
        said(
            {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
            {
                "role": "user",
                "name": "ann",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"},
                    },
                    {"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            },
        ),
    ),
    (
        "a-tool-round-trip",
        said(
            {"role": "system", "content": "use tools"},
            USER,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            USER,
        )
        | {
            "tools": [TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": True,
        },
    ),
    ("tool_choice-required", chat(tools=[TOOL], tool_choice="required")),
    ("integers-written-as-decimals", chat(n=1.0, max_tokens=64.0, seed=7.0)),
    ("functions", chat(functions=[{"name": "f", "parameters": {}}], function_call={"name": "f"})),
    ("json_object", chat(response_format={"type": "json_object"})),
    (
        "json_schema",
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
            }
        ),
    ),
    ("stream", chat(stream=True, stream_options={"include_usage": True})),
    ("not-streamed-with-options", chat(stream=False, stream_options={"include_usage": False})),
]

EMBED_VALID: list[tuple[str, dict[str, Any]]] = [
    ("string", embed()),
    ("strings", embed(input=["a", "b"], encoding_format="base64", dimensions=4, user="u")),
    ("token-ids", embed(input=[1, 2, 3])),
    ("token-id-lists", embed(input=[[1, 2], [3]])),
    ("token-ids-as-decimals", embed(input=[[1.0, 2], [3]], dimensions=4.0)),
    ("nulls", embed(encoding_format=None, dimensions=None, user=None, model=None)),
]
