"""The JSON Schemas of ``POST /v1/completions`` in the OpenAPI: the request with the
constraints :mod:`modelyard.gateway.params_completions` enforces (a body outside them is
refused with 400; one inside them passes those checks), the ``text_completion`` reply and its
stream events."""

from __future__ import annotations

from modelyard.api.openai.spec_messages import (
    INT64,
    OPTIONAL_BOOL,
    OPTIONAL_STRING,
    STRING,
    Schema,
    integer,
    nullable,
    number,
    obj,
)

LOGIT_BIAS = nullable(
    {
        "type": "object",
        "propertyNames": {"pattern": "^[0-9]+$"},
        "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
    }
)
COMPLETION_REQUEST = obj(
    {
        "model": nullable(
            {"type": "string", "description": "a model id or provider/model; default: the system's"}
        ),
        "prompt": {
            "description": "the prompt, or several (one completion each); token-id arrays are "
            "refused",
            "anyOf": [
                STRING,
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": STRING},
            ],
        },
        "max_tokens": integer(0, INT64 - 1, "completion cap per prompt (default 16)"),
        "temperature": number(0, 2, "sampling temperature"),
        "top_p": number(0, 1, "nucleus sampling mass"),
        "n": integer(1, 128, "completions per prompt"),
        "presence_penalty": number(-2, 2, "penalty for tokens already present"),
        "frequency_penalty": number(-2, 2, "penalty by token frequency"),
        "stop": nullable({"anyOf": [STRING, {"type": "array", "maxItems": 4, "items": STRING}]}),
        "seed": integer(-INT64, INT64 - 1, "for repeatable sampling"),
        "stream": OPTIONAL_BOOL,
        "stream_options": nullable(
            obj({"include_usage": OPTIONAL_BOOL, "include_obfuscation": OPTIONAL_BOOL})
        ),
        "user": OPTIONAL_STRING,
        "logit_bias": LOGIT_BIAS,
        "echo": nullable(
            {"type": "boolean", "description": "models with the completion capability only"}
        ),
        "suffix": nullable(
            {"type": "string", "description": "models with the completion capability only"}
        ),
        "logprobs": integer(0, 5, "models with the completion capability only"),
        "best_of": integer(1, 20, "above 1: models with the completion capability only"),
    },
    ("prompt",),
    description="OpenAI's legacy completions request. Fields not listed here pass through to "
    "a provider serving completions itself.",
)
TEXT_COMPLETION = obj(
    {
        "id": STRING,
        "object": {"const": "text_completion"},
        "created": {"type": "integer"},
        "model": STRING,
        "choices": {
            "type": "array",
            "items": obj(
                {
                    "text": STRING,
                    "index": {"type": "integer"},
                    "logprobs": nullable({"type": "object"}),
                    "finish_reason": nullable({"type": "string"}),
                },
                ("text", "index"),
            ),
        },
        "usage": nullable({"type": "object"}),
    },
    ("id", "object", "choices"),
    description="OpenAI's text_completion: translated from chat, or as a provider serving "
    "completions answered it",
)
EVENT: Schema = {
    "type": "object",
    "description": "one Server-Sent Event (OpenAPI 3.1: the schema describes each event)",
    "properties": {
        "data": {
            "type": "string",
            "description": "a text_completion chunk as JSON, an error object, or [DONE]",
        },
    },
    "required": ["data"],
}
COMPONENTS: dict[str, Schema] = {
    "CompletionRequest": COMPLETION_REQUEST,
    "TextCompletion": TEXT_COMPLETION,
}
