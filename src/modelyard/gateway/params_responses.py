"""A Responses API request (``POST /v1/responses``) checked as OpenAI checks it, before
anything is sent anywhere: 400 in OpenAI's words and codes, ``param`` naming the parameter as
OpenAI does (``input[2].content[0].image_url``, ``tools[0].name``, ``text.format.schema``).

What modelyard does not serve is refused by name rather than ignored: built-in tools
(``web_search``, ``file_search``, ``computer_use_preview`` ...), ``background`` mode, stored
prompts and conversations, file inputs and item references. Fields this module does not
know pass through untouched (an OpenAI upstream gets them); ``null`` is accepted for every
optional parameter.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.gateway.params_types import (
    INT64,
    Check,
    boolean,
    enum,
    fail,
    integer,
    missing,
    not_one_of,
    number,
    object_,
    required_string,
    string,
    wrong_type,
)

ROLES = ("user", "assistant", "system", "developer")
TOOL_CHOICES = ("none", "auto", "required")
FORMATS = ("text", "json_object", "json_schema")
NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_METADATA = 16


def unsupported(param: str, what: str) -> None:
    message = f"Invalid '{param}': {what} is not supported by this server's /v1/responses."
    fail(param, message, "unsupported_value")


def _metadata(param: str, value: Any) -> None:
    object_(param, value)
    if len(value) > MAX_METADATA:
        fail(param, f"Invalid '{param}': at most {MAX_METADATA} keys are allowed.")
    for key, item in value.items():
        if len(key) > 64:
            fail(param, f"Invalid '{param}': keys are at most 64 characters.")
        if type(item) is not str or len(item) > 512:
            wrong_type(f"{param}.{key}", "a string of at most 512 characters", item)


def _background(param: str, value: Any) -> None:
    boolean(param, value)
    if value:
        unsupported(param, "background mode")


def _refused(what: str) -> Check:
    def check(param: str, _value: Any) -> None:
        unsupported(param, what)

    return check


FIELDS: dict[str, Check] = {
    "model": string,
    "instructions": string,
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "max_output_tokens": integer(16, INT64 - 1),
    "stream": boolean,
    "store": boolean,
    "metadata": _metadata,
    "previous_response_id": string,
    "parallel_tool_calls": boolean,
    "user": string,
    "truncation": enum(("auto", "disabled")),
    "background": _background,
    "prompt": _refused("a stored prompt ('prompt')"),
    "conversation": _refused("a conversation ('conversation')"),
}


def check_responses(body: dict[str, Any]) -> None:
    """Refuse (400, ``param`` named) a Responses request OpenAI would refuse, or one asking
    for what this server does not serve."""
    _fields(body)
    value = body.get("input")
    if value is None:
        missing("input")
    if type(value) is list:
        for index, item in enumerate(value):
            _item(f"input[{index}]", item)
    elif type(value) is not str:
        wrong_type("input", "a string or an array of input items", value)
    if body.get("tools") is not None:
        _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"])
    if body.get("text") is not None:
        _text(body["text"])


def _fields(body: dict[str, Any]) -> None:
    get = FIELDS.get
    for name, value in body.items():
        check = get(name)
        if check is not None and value is not None:
            fixed = check(name, value)
            if fixed is not None:
                body[name] = fixed


def _call_output(param: str, item: dict[str, Any]) -> None:
    required_string(item, param, "call_id")
    output = item.get("output")
    if output is None:
        missing(f"{param}.output")
    if type(output) is list:
        _parts(f"{param}.output", output)
    elif type(output) is not str:
        wrong_type(f"{param}.output", "a string or an array", output)


def _item(param: str, item: Any) -> None:
    object_(param, item)
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = "message"
    if kind == "message":
        _message(param, item)
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            required_string(item, param, name)
    elif kind == "function_call_output":
        _call_output(param, item)
    elif kind == "reasoning":
        return  # context an OpenAI upstream made; the others do without it
    elif kind == "item_reference":
        unsupported(f"{param}.type", "an item reference (send the item itself)")
    elif kind is None:
        missing(f"{param}.type")
    elif type(kind) is not str:
        wrong_type(f"{param}.type", "a string", kind)
    else:
        unsupported(f"{param}.type", f"input item type {kind!r}")


def _message(param: str, item: dict[str, Any]) -> None:
    role = item.get("role")
    if role is None:
        missing(f"{param}.role")
    if role not in ROLES:
        not_one_of(f"{param}.role", role, ROLES)
    content = item.get("content")
    if content is None:
        missing(f"{param}.content")
    if type(content) is list:
        _parts(f"{param}.content", content)
    elif type(content) is not str:
        wrong_type(f"{param}.content", "a string or an array of content parts", content)


def _parts(param: str, parts: list[Any]) -> None:
    for index, part in enumerate(parts):
        where = f"{param}[{index}]"
        object_(where, part)
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            required_string(part, where, "text")
        elif kind == "refusal":
            required_string(part, where, "refusal")
        elif kind == "input_image":
            if part.get("image_url") is None:
                if part.get("file_id") is not None:
                    unsupported(f"{where}.file_id", "an image by file id (send image_url)")
                missing(f"{where}.image_url")
            string(f"{where}.image_url", part["image_url"])
            detail = part.get("detail")
            if detail is not None:
                enum(("low", "high", "auto"))(f"{where}.detail", detail)
        elif kind == "input_file":
            unsupported(f"{where}.type", "a file input ('input_file')")
        elif kind is None:
            missing(f"{where}.type")
        else:
            not_one_of(f"{where}.type", kind, ("input_text", "input_image", "output_text"))


def _tools(tools: Any) -> None:
    if type(tools) is not list:
        wrong_type("tools", "an array", tools)
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        object_(where, tool)
        kind = tool.get("type")
        if kind is None:
            missing(f"{where}.type")
        if kind != "function":
            unsupported(f"{where}.type", f"the built-in tool {kind!r} (only function tools are)")
        name = required_string(tool, where, "name")
        if not NAME.fullmatch(name):
            fail(
                f"{where}.name",
                f"Invalid '{where}.name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.",
                "invalid_value",
            )
        for field, check in (("parameters", object_), ("strict", boolean)):
            if tool.get(field) is not None:
                check(f"{where}.{field}", tool[field])
        if tool.get("description") is not None:
            string(f"{where}.description", tool["description"])


def _tool_choice(choice: Any) -> None:
    if type(choice) is str:
        if choice not in TOOL_CHOICES:
            not_one_of("tool_choice", choice, TOOL_CHOICES)
        return
    object_("tool_choice", choice)
    kind = choice.get("type")
    if kind != "function":
        unsupported("tool_choice.type", f"tool choice {kind!r}")
    required_string(choice, "tool_choice", "name")


def _text(text: Any) -> None:
    object_("text", text)
    form = text.get("format")
    if form is None:
        return
    object_("text.format", form)
    kind = form.get("type")
    if kind is None:
        missing("text.format.type")
    if kind not in FORMATS:
        not_one_of("text.format.type", kind, FORMATS)
    if kind != "json_schema":
        return
    name = required_string(form, "text.format", "name")
    if not NAME.fullmatch(name):
        fail(
            "text.format.name", "Invalid 'text.format.name': use at most 64 of a-z, A-Z, 0-9, _ -."
        )
    if form.get("schema") is None:
        missing("text.format.schema")
    object_("text.format.schema", form["schema"])
    if form.get("strict") is not None:
        boolean("text.format.strict", form["strict"])
