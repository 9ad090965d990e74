"""A legacy completions request (``POST /v1/completions``) checked as OpenAI checks it: 400
naming the parameter, in OpenAI's words and codes, with the chat checks of
:mod:`modelyard.gateway.params` wherever the two APIs share a parameter.

``prompt`` is a string or a non-empty list of strings; token-id arrays are refused (this
server counts and translates text). ``echo``, ``suffix``, ``logprobs``, ``best_of`` above 1
and ``max_tokens: 0`` only mean something to an upstream that serves completions itself:
:func:`native_only` names the first such parameter a request uses, for the caller to refuse
it where the call is translated to chat.
"""

from __future__ import annotations

from typing import Any

from modelyard.gateway.params import CHAT
from modelyard.gateway.params_types import (
    INT64,
    Check,
    boolean,
    fail,
    integer,
    missing,
    string,
    wrong_type,
)

MAX_PROMPTS = 2048
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for completions


def _prompt(param: str, value: Any) -> None:
    if type(value) is str:
        return
    if type(value) is not list:
        wrong_type(param, "a string or an array of strings", value)
    if not value:
        fail(
            param,
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "empty_array",
        )
    if len(value) > MAX_PROMPTS:
        fail(
            param,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_PROMPTS}, but got an array with length {len(value)} instead.",
            "array_above_max_length",
        )
    for index, item in enumerate(value):
        if type(item) in (int, float, list):
            fail(
                param,
                f"Invalid '{param}': token-id arrays are not supported by this server; send "
                "the prompt as a string or an array of strings.",
                "invalid_type",
            )
        if type(item) is not str:
            wrong_type(f"{param}[{index}]", "a string", item)


COMPLETION: dict[str, Check] = {
    **{
        name: CHAT[name]
        for name in (
            "model",
            "temperature",
            "top_p",
            "n",
            "presence_penalty",
            "frequency_penalty",
            "stop",
            "seed",
            "stream",
            "stream_options",
            "user",
            "logit_bias",
        )
    },
    "prompt": _prompt,
    "max_tokens": integer(0, INT64 - 1),
    "echo": boolean,
    "suffix": string,
    "logprobs": integer(0, 5),
    "best_of": integer(1, 20),
}


def check_completion(body: dict[str, Any]) -> None:
    """Refuse (400, ``param`` named) a completions request OpenAI would refuse. How
    ``best_of`` goes with ``n`` and ``stream`` is left to the upstream that serves it (a
    translated call refuses ``best_of`` above 1 anyway)."""
    get = COMPLETION.get
    for name, value in body.items():
        check = get(name)
        if check is not None and value is not None:
            fixed = check(name, value)
            if fixed is not None:  # 64.0 -> 64, in place
                body[name] = fixed
    if "prompt" not in body or body["prompt"] is None:
        missing("prompt")


def native_only(body: dict[str, Any]) -> str | None:
    """The first parameter only an upstream serving completions itself can honour."""
    if body.get("echo") is True:
        return "echo"
    if body.get("suffix") is not None:
        return "suffix"
    if body.get("logprobs") is not None:
        return "logprobs"
    best_of = body.get("best_of")
    if best_of is not None and best_of > 1:
        return "best_of"
    if body.get("max_tokens") == 0:  # the prompt scored (with echo), nothing produced
        return "max_tokens"
    return None


def prompts(body: dict[str, Any]) -> list[str]:
    """The prompts of a checked request, one per completion asked for."""
    prompt = body["prompt"]
    return [prompt] if isinstance(prompt, str) else list(prompt)


def max_tokens(body: dict[str, Any]) -> int:
    """The completion cap of each prompt (OpenAI's default 16 when not given)."""
    value = body.get("max_tokens")
    return DEFAULT_MAX_TOKENS if value is None else int(value)
