"""A call's parameters checked as OpenAI checks them, before anything is sent anywhere.

A request OpenAI would refuse (``temperature: 7``, ``content: {}``, ``stream: 1``, a tool
without a name) is refused here with 400 in OpenAI's words and codes (``invalid_type``,
``invalid_value``, ``missing_required_parameter``, ``decimal_above_max_value``, ...), its
``param`` naming the parameter as OpenAI does (``messages[2].content``,
``tools[0].function.name``). Fields this module does not know pass through untouched:
providers have their own. ``null`` is accepted for every optional parameter, as OpenAI does.

Unlike OpenAI, ``model`` may be left out: the system's default model serves the call.

It runs on every call, so it is a hand-written checker: one dictionary lookup per field of
the body, one pass over the messages, and every message text built only when refusing.
The messages are checked in :mod:`modelyard.gateway.params_messages`, the tools in
:mod:`modelyard.gateway.params_tools`.
"""

from __future__ import annotations

from typing import Any

from modelyard.gateway.params_messages import messages
from modelyard.gateway.params_tools import (
    function_call,
    functions,
    response_format,
    tool_choice,
    tools,
)
from modelyard.gateway.params_types import (
    INT64,
    Check,
    as_integer,
    boolean,
    enum,
    fail,
    integer,
    missing,
    number,
    object_,
    show,
    string,
    wrong_type,
)

MAX_STOP = 4
MAX_INPUTS = 2048


def _stop(param: str, value: Any) -> None:
    if type(value) is str:
        return
    if type(value) is not list:
        wrong_type(param, "a string or an array of strings", value)
    if len(value) > MAX_STOP:
        fail(
            param,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_STOP}, but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    for index, item in enumerate(value):
        if type(item) is not str:
            wrong_type(f"{param}[{index}]", "a string", item)


def _logit_bias(param: str, value: Any) -> None:
    if type(value) is not dict:
        wrong_type(param, "an object", value)
    for token, bias in value.items():
        if type(token) is not str or not token.isdigit() or not token.isascii():
            fail(
                param,
                f"Invalid key in '{param}': {show(token)}. You should only be submitting "
                "non-negative integers.",
            )
        number(-100, 100)(f"{param}.{token}", bias)


def _stream_options(param: str, value: Any) -> None:
    if type(value) is not dict:
        wrong_type(param, "an object", value)
    for name in ("include_usage", "include_obfuscation"):
        flag = value.get(name)
        if flag is not None:
            boolean(f"{param}.{name}", flag)


def _string_map(param: str, value: Any) -> None:
    if type(value) is not dict:
        wrong_type(param, "an object", value)
    for name, item in value.items():
        if type(item) is not str:
            wrong_type(f"{param}.{name}", "a string", item)


def _strings(param: str, value: Any) -> None:
    if type(value) is not list:
        wrong_type(param, "an array of strings", value)
    for index, item in enumerate(value):
        if type(item) is not str:
            wrong_type(f"{param}[{index}]", "a string", item)


def _model(param: str, value: Any) -> None:
    if type(value) is not str:
        wrong_type(param, "a string", value)


CHAT: dict[str, Check] = {
    "model": _model,
    "messages": messages,
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "n": integer(1, 128),
    "presence_penalty": number(-2, 2),
    "frequency_penalty": number(-2, 2),
    "max_tokens": integer(1, INT64 - 1),
    "max_completion_tokens": integer(1, INT64 - 1),
    "stop": _stop,
    "logprobs": boolean,
    "top_logprobs": integer(0, 20),
    "seed": integer(-INT64, INT64 - 1),
    "tools": tools,
    "tool_choice": tool_choice,
    "parallel_tool_calls": boolean,
    "functions": functions,
    "function_call": function_call,
    "response_format": response_format,
    "stream": boolean,
    "stream_options": _stream_options,
    "user": string,
    "logit_bias": _logit_bias,
    "store": boolean,
    "metadata": _string_map,
    "modalities": _strings,
    "audio": object_,
    "prediction": object_,
    "web_search_options": object_,
    "reasoning_effort": string,
    "service_tier": string,
    "verbosity": string,
    "prompt_cache_key": string,
    "safety_identifier": string,
}


def check_chat(body: dict[str, Any]) -> None:
    """Refuse (400, ``param`` named) a chat completion request OpenAI would refuse."""
    _fields(body, CHAT)
    if body.get("messages") is None:
        missing("messages")
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        fail("top_logprobs", "Invalid 'top_logprobs': logprobs must be set to true if used.")


def check_output(body: dict[str, Any], model_max: int | None) -> None:
    """Refuse a completion cap beyond what the model can produce, where the catalog knows
    it (checked once the request names its model)."""
    if model_max is None:
        return
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if type(value) is int and value > model_max:
            fail(
                name,
                f"{name} is too large: {value}. This model supports at most {model_max} "
                f"completion tokens, whereas you provided {value}.",
            )


def _input(param: str, value: Any) -> None:
    if type(value) is str:
        if not value:
            fail(param, f"Invalid '{param}': empty string. Expected a non-empty string.")
        return
    if type(value) is not list:
        wrong_type(param, "a string or an array", value)
    if not value:
        fail(
            param,
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "empty_array",
        )
    if len(value) > MAX_INPUTS:
        fail(
            param,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_INPUTS}, but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    first = type(value[0])
    check = _ITEMS.get(first)
    if check is None:
        wrong_type(f"{param}[0]", "a string, an integer or an array of integers", value[0])
    check(param, value)


def _texts(param: str, value: list[Any]) -> None:
    for item in value:  # no per-item work but the test; the culprit is found when refusing
        if type(item) is not str or not item:
            index = next(i for i, v in enumerate(value) if type(v) is not str or not v)
            if type(item) is not str:
                wrong_type(f"{param}[{index}]", "a string", item)
            fail(f"{param}[{index}]", f"Invalid '{param}[{index}]': empty string.")


def _token_ids(param: str, value: list[Any]) -> None:
    if not value:
        fail(param, f"Invalid '{param}': empty array. Expected an array of token ids.")
    for item in value:
        if type(item) is not int or item < 0 or item >= INT64:
            _fix_token_ids(param, value)
            return


def _fix_token_ids(param: str, value: list[Any]) -> None:
    """Token ids written as decimals (``5.0``) made ints in place; anything else refused."""
    for index, item in enumerate(value):
        token = item
        if type(token) is not int:
            token = value[index] = as_integer(f"{param}[{index}]", item)
        if token < 0 or token >= INT64:
            fail(
                f"{param}[{index}]",
                f"Invalid '{param}[{index}]': token ids are non-negative integers.",
            )


def _token_lists(param: str, value: list[Any]) -> None:
    for index, item in enumerate(value):
        if type(item) is not list:
            wrong_type(f"{param}[{index}]", "an array of integers", item)
        _token_ids(f"{param}[{index}]", item)


_ITEMS: dict[type, Check] = {
    str: _texts,
    int: _token_ids,
    float: _token_ids,
    list: _token_lists,
}

EMBEDDING: dict[str, Check] = {
    "model": _model,
    "input": _input,
    "encoding_format": enum(("float", "base64")),
    "dimensions": integer(1, INT64 - 1),
    "user": string,
}


def check_embedding(body: dict[str, Any]) -> None:
    """Refuse (400, ``param`` named) an embeddings request OpenAI would refuse."""
    _fields(body, EMBEDDING)
    if body.get("input") is None:
        missing("input")


def _fields(body: dict[str, Any], checks: dict[str, Check]) -> None:
    """Each field ``checks`` knows, checked unless null; unknown fields pass through."""
    get = checks.get
    for name, value in body.items():
        check = get(name)
        if check is not None and value is not None:
            fixed = check(name, value)
            if fixed is not None:  # 64.0 -> 64, in place (no key is added or removed)
                body[name] = fixed
