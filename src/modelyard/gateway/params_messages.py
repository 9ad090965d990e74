"""A chat request's ``messages`` checked as OpenAI checks them: each role's content and the
typed parts it may send, a tool message's ``tool_call_id``, an assistant's ``tool_calls``.
Used by :mod:`modelyard.gateway.params`."""

from __future__ import annotations

from typing import Any

from modelyard.gateway.params_types import (
    enum,
    fail,
    missing,
    not_one_of,
    object_,
    optional,
    required_object,
    required_string,
    string,
    wrong_type,
)

CONTENT = "a string or an array of content parts"
_AUDIO_FORMAT = enum(("wav", "mp3"))
_DETAIL = enum(("auto", "low", "high"))

# -- content parts --------------------------------------------------------------------------


def _text(where: str, part: dict[str, Any]) -> None:
    required_string(part, where, "text")


def _refusal(where: str, part: dict[str, Any]) -> None:
    required_string(part, where, "refusal")


def _image(where: str, part: dict[str, Any]) -> None:
    image = required_object(part, where, "image_url")
    required_string(image, f"{where}.image_url", "url")
    optional(image, f"{where}.image_url", "detail", _DETAIL)


def _audio(where: str, part: dict[str, Any]) -> None:
    audio = required_object(part, where, "input_audio")
    required_string(audio, f"{where}.input_audio", "data")
    value = audio.get("format")
    if value is None:
        missing(f"{where}.input_audio.format")
    _AUDIO_FORMAT(f"{where}.input_audio.format", value)


def _file(where: str, part: dict[str, Any]) -> None:
    file = required_object(part, where, "file")
    for name in ("file_data", "file_id", "filename"):
        optional(file, f"{where}.file", name, string)


PartCheck = Any
TEXT_PARTS: dict[str, PartCheck] = {"text": _text}
USER_PARTS: dict[str, PartCheck] = {
    "text": _text,
    "image_url": _image,
    "input_audio": _audio,
    "file": _file,
}
ASSISTANT_PARTS: dict[str, PartCheck] = {"text": _text, "refusal": _refusal}


def _parts(where: str, parts: list[Any], allowed: dict[str, PartCheck]) -> None:
    if not parts:
        fail(
            where,
            f"Invalid '{where}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "empty_array",
        )
    for index, part in enumerate(parts):
        if type(part) is not dict:
            wrong_type(f"{where}[{index}]", "an object", part)
        kind = part.get("type")
        check = allowed.get(kind) if type(kind) is str else None
        if check is None:
            if kind is None:
                missing(f"{where}[{index}].type")
            if type(kind) is not str:
                wrong_type(f"{where}[{index}].type", "a string", kind)
            not_one_of(f"{where}[{index}].type", kind, allowed)
        check(f"{where}[{index}]", part)


def _content(index: int, message: dict[str, Any], allowed: dict[str, PartCheck]) -> None:
    content = message.get("content")
    if type(content) is str:
        return
    if type(content) is list:
        _parts(f"messages[{index}].content", content, allowed)
        return
    if content is None:
        missing(f"messages[{index}].content")
    wrong_type(f"messages[{index}].content", CONTENT, content)


# -- messages by role -----------------------------------------------------------------------


def _system(index: int, message: dict[str, Any]) -> None:
    _content(index, message, TEXT_PARTS)


def _user(index: int, message: dict[str, Any]) -> None:
    _content(index, message, USER_PARTS)


def _assistant(index: int, message: dict[str, Any]) -> None:
    calls = message.get("tool_calls")
    if calls is not None:
        _tool_calls(f"messages[{index}].tool_calls", calls)
    if message.get("content") is not None or (
        calls is None and message.get("function_call") is None and message.get("audio") is None
    ):
        _content(index, message, ASSISTANT_PARTS)
    where = f"messages[{index}]"
    optional(message, where, "function_call", object_)
    optional(message, where, "audio", object_)
    optional(message, where, "refusal", string)


def _tool(index: int, message: dict[str, Any]) -> None:
    required_string(message, f"messages[{index}]", "tool_call_id")
    _content(index, message, TEXT_PARTS)


def _function(index: int, message: dict[str, Any]) -> None:
    required_string(message, f"messages[{index}]", "name")
    optional(message, f"messages[{index}]", "content", string)


ROLES = {
    "system": _system,
    "developer": _system,
    "user": _user,
    "assistant": _assistant,
    "tool": _tool,
    "function": _function,
}


def messages(param: str, value: Any) -> None:
    if type(value) is not list:
        wrong_type(param, "an array", value)
    if not value:
        fail(
            param,
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "empty_array",
        )
    roles = ROLES
    for index, message in enumerate(value):
        if type(message) is not dict:
            wrong_type(f"messages[{index}]", "an object", message)
        role = message.get("role")
        check = roles.get(role) if type(role) is str else None
        if check is None:
            where = f"messages[{index}].role"
            if role is None:
                missing(where)
            if type(role) is not str:
                wrong_type(where, "a string", role)
            not_one_of(where, role, roles)
        check(index, message)
        name = message.get("name")
        if name is not None and type(name) is not str:
            wrong_type(f"messages[{index}].name", "a string", name)


def _tool_calls(where: str, calls: Any) -> None:
    if type(calls) is not list:
        wrong_type(where, "an array", calls)
    for index, call in enumerate(calls):
        at = f"{where}[{index}]"
        if type(call) is not dict:
            wrong_type(at, "an object", call)
        required_string(call, at, "id")
        kind = call.get("type")
        if kind == "custom":
            custom = required_object(call, at, "custom")
            required_string(custom, f"{at}.custom", "name")
            required_string(custom, f"{at}.custom", "input")
            continue
        if kind is not None and kind != "function":
            not_one_of(f"{at}.type", kind, ("function", "custom"))
        function = required_object(call, at, "function")
        required_string(function, f"{at}.function", "name")
        required_string(function, f"{at}.function", "arguments")
