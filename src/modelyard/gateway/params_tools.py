"""The tool parameters of a chat request checked as OpenAI checks them: ``tools`` and
``tool_choice``, the deprecated ``functions`` and ``function_call``, and ``response_format``
(whose ``json_schema`` is named like a function). Used by :mod:`modelyard.gateway.params`;
every check is ``check(param, value)``."""

from __future__ import annotations

import re
from typing import Any

from modelyard.gateway.params_types import (
    boolean,
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

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_TOOLS = 128
_MODES = enum(("auto", "required"))


def _name(obj: dict[str, Any], where: str) -> None:
    name = required_string(obj, where, "name")
    if NAME.fullmatch(name) is None:
        fail(
            f"{where}.name",
            f"Invalid '{where}.name': string does not match pattern. Expected a string "
            "that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
        )


def _function_definition(where: str, function: dict[str, Any]) -> None:
    _name(function, where)
    optional(function, where, "description", string)
    optional(function, where, "parameters", object_)
    optional(function, where, "strict", boolean)


def _list(param: str, value: Any) -> list[Any]:
    if type(value) is not list:
        wrong_type(param, "an array", value)
    if len(value) > MAX_TOOLS:
        fail(
            param,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_TOOLS}, but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    return value


def _good_function(tool: Any) -> bool:
    """A well-formed function tool, told without building a single string (the common case);
    anything else goes through the checks that name what is wrong."""
    if type(tool) is not dict or tool.get("type") != "function":
        return False
    function = tool.get("function")
    if type(function) is not dict:
        return False
    name, get = function.get("name"), function.get
    return (
        type(name) is str
        and NAME.fullmatch(name) is not None
        and type(get("description")) in _NULL_OR_STRING
        and type(get("parameters")) in _NULL_OR_OBJECT
        and type(get("strict")) in _NULL_OR_BOOL
    )


_NULL_OR_STRING = (type(None), str)
_NULL_OR_OBJECT = (type(None), dict)
_NULL_OR_BOOL = (type(None), bool)


def tools(param: str, value: Any) -> None:
    for index, tool in enumerate(_list(param, value)):
        if _good_function(tool):
            continue
        at = f"{param}[{index}]"
        if type(tool) is not dict:
            wrong_type(at, "an object", tool)
        kind = tool.get("type")
        if kind == "function":
            _function_definition(f"{at}.function", required_object(tool, at, "function"))
        elif kind == "custom":
            custom = required_object(tool, at, "custom")
            _name(custom, f"{at}.custom")
            optional(custom, f"{at}.custom", "description", string)
        elif kind is None:
            missing(f"{at}.type")
        else:
            not_one_of(f"{at}.type", kind, ("function", "custom"))


def functions(param: str, value: Any) -> None:
    for index, function in enumerate(_list(param, value)):
        if type(function) is not dict:
            wrong_type(f"{param}[{index}]", "an object", function)
        _function_definition(f"{param}[{index}]", function)


CHOICES = ("none", "auto", "required")


def _allowed_tools(param: str, value: dict[str, Any]) -> None:
    allowed = required_object(value, param, "allowed_tools")
    where = f"{param}.allowed_tools"
    mode = allowed.get("mode")
    if mode is None:
        missing(f"{where}.mode")
    _MODES(f"{where}.mode", mode)
    listed = allowed.get("tools")
    if type(listed) is not list:
        if listed is None:
            missing(f"{where}.tools")
        wrong_type(f"{where}.tools", "an array", listed)


def tool_choice(param: str, value: Any) -> None:
    if type(value) is str:
        if value not in CHOICES:
            not_one_of(param, value, CHOICES)
        return
    if type(value) is not dict:
        wrong_type(param, "a string or an object", value)
    kind = value.get("type")
    if kind in ("function", "custom"):  # a tuple: the type may be unhashable
        required_string(required_object(value, param, kind), f"{param}.{kind}", "name")
    elif kind == "allowed_tools":
        _allowed_tools(param, value)
    elif kind is None:
        missing(f"{param}.type")
    else:
        not_one_of(f"{param}.type", kind, ("function", "custom", "allowed_tools"))


def function_call(param: str, value: Any) -> None:
    if type(value) is str:
        if value not in ("none", "auto"):
            not_one_of(param, value, ("none", "auto"))
        return
    if type(value) is not dict:
        wrong_type(param, "a string or an object", value)
    required_string(value, param, "name")


FORMATS = ("text", "json_object", "json_schema")


def response_format(param: str, value: Any) -> None:
    if type(value) is not dict:
        wrong_type(param, "an object", value)
    kind = value.get("type")
    if kind == "json_schema":
        where = f"{param}.json_schema"
        schema = required_object(value, param, "json_schema")
        _name(schema, where)
        optional(schema, where, "description", string)
        optional(schema, where, "schema", object_)
        optional(schema, where, "strict", boolean)
    elif kind is None:
        missing(f"{param}.type")
    elif kind not in FORMATS:
        if type(kind) is not str:
            wrong_type(f"{param}.type", "a string", kind)
        not_one_of(f"{param}.type", kind, FORMATS)
