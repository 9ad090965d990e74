"""OpenAI chat-completions -> Gemini ``generateContent`` requests: the translation, no I/O.

Requests: system/developer messages become ``systemInstruction``; user/assistant turns become
``contents`` with roles ``user``/``model``; images become ``inlineData`` (data: URLs) or
``fileData`` (http(s) URLs); tool calls and tool results become ``functionCall`` and
``functionResponse`` parts (consecutive tool results share one turn, as Gemini expects for
parallel calls). Tool parameters and ``json_schema`` response formats are JSON Schema, so they
go to ``parametersJsonSchema`` / ``responseJsonSchema``: the older ``parameters`` /
``responseSchema`` fields take an OpenAPI subset and reject keywords such as
``additionalProperties`` that OpenAI's strict schemas always carry.

A ``thoughtSignature`` that :mod:`.gemini_reply` handed to the caller as
``tool_calls[].extra_content.google.thought_signature`` is sent back on its function call:
Gemini's thinking models require it for multi-turn function calling.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlsplit

import orjson

from modelyard.adapters.edge import bad

Json = dict[str, Any]

TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
GENERATION_PARAMS = {
    "temperature": "temperature",
    "top_p": "topP",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
DEFAULT_IMAGE_TYPE = "image/jpeg"


def build_request(body: Json) -> Json:
    system, contents = _contents(body.get("messages"))
    request: Json = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    if body.get("tools"):
        request["tools"] = [{"functionDeclarations": _declarations(body["tools"])}]
    if body.get("tool_choice") is not None:
        request["toolConfig"] = {"functionCallingConfig": _calling_config(body["tool_choice"])}
    generation = _generation_config(body)
    if generation:
        request["generationConfig"] = generation
    return request


def _contents(messages: Any) -> tuple[list[Json], list[Json]]:
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list", "messages")
    system: list[Json] = []
    contents: list[Json] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the tool results
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), f"{where}.content"))
        elif role == "user":
            _add(contents, "user", _parts(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            _add(contents, "model", _assistant_parts(message, names, where))
        elif role == "tool":
            _add(contents, "user", [_function_response(message, names, where)], merge=True)
        else:
            raise bad(f"{where}.role {role!r} is not supported", f"{where}.role")
    return system, contents


def _add(contents: list[Json], role: str, parts: list[Json], *, merge: bool = False) -> None:
    if not parts:
        return
    last = contents[-1] if contents else None
    if merge and last and last["role"] == role and "functionResponse" in last["parts"][0]:
        last["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Any, where: str) -> list[Json]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise bad(f"{where} must be a string or a list of content parts", where)
    parts: list[Json] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            parts.append(_image(part.get("image_url"), f"{where}[{j}].image_url"))
        else:
            raise bad(f"{where}[{j}]: content part type {kind!r} is not supported", where)
    return parts


def _image(image: Any, where: str) -> Json:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise bad(f"{where}.url must be a string", where)
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        if not header.endswith(";base64") or not data:
            raise bad(f"{where}.url must be a base64 data: URL", where)
        mime = header[len("data:") : -len(";base64")].split(";")[0] or DEFAULT_IMAGE_TYPE
        return {"inlineData": {"mimeType": mime, "data": data}}
    if urlsplit(url).scheme in ("http", "https"):
        mime = mimetypes.guess_type(urlsplit(url).path)[0] or DEFAULT_IMAGE_TYPE
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise bad(f"{where}.url must be an http(s) or data: URL", where)


def _assistant_parts(message: Json, names: dict[str, str], where: str) -> list[Json]:
    parts = _parts(message.get("content"), f"{where}.content")
    for k, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        names[str(call.get("id"))] = name
        args = _arguments(function.get("arguments"), f"{where}.tool_calls[{k}].function.arguments")
        part: Json = {"functionCall": {"name": name, "args": args}}
        signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _arguments(raw: Any, where: str) -> Json:
    if isinstance(raw, dict):
        return raw
    try:
        args = orjson.loads(raw) if raw else {}
    except (orjson.JSONDecodeError, TypeError):
        raise bad(f"{where} must be a JSON object", where) from None
    if not isinstance(args, dict):
        raise bad(f"{where} must be a JSON object", where)
    return args


def _function_response(message: Json, names: dict[str, str], where: str) -> Json:
    call_id = message.get("tool_call_id")
    name = names.get(str(call_id)) or message.get("name")
    if not name:
        param = f"{where}.tool_call_id"
        raise bad(f"{param} {call_id!r} matches no earlier assistant tool call", param)
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    return {"functionResponse": {"name": name, "response": {"content": value}}}


def _declarations(tools: Any) -> list[Json]:
    declarations: list[Json] = []
    for i, tool in enumerate(tools if isinstance(tools, list) else ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type", "function") != "function" or not isinstance(function, dict):
            raise bad(f"tools[{i}]: only function tools are supported", f"tools[{i}]")
        declaration: Json = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return declarations


def _calling_config(choice: Any) -> Json:
    if isinstance(choice, str) and choice in TOOL_CHOICE_MODES:
        return {"mode": TOOL_CHOICE_MODES[choice]}
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        raise bad("tool_choice must be auto, none, required or a named function", "tool_choice")
    return {"mode": "ANY", "allowedFunctionNames": [name]}


def _generation_config(body: Json) -> Json:
    config = {
        name: body[key] for key, name in GENERATION_PARAMS.items() if body.get(key) is not None
    }
    limit = body.get("max_completion_tokens")
    limit = body.get("max_tokens") if limit is None else limit
    if limit is not None:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = body.get("response_format") or {"type": "text"}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif kind == "json_schema":
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = (response_format.get("json_schema") or {}).get("schema")
    elif kind != "text":
        raise bad(f"response_format type {kind!r} is not supported", "response_format")
    return config
