"""The JSON Schemas of ``/v1`` in the OpenAPI: the requests with the constraints
:mod:`modelyard.gateway.params` enforces (a body outside them is refused with 400, one inside
them passes those checks), the replies, and OpenAI's error shape. Replies relayed from a
provider are documented, not promised field by field: an OpenAI-compatible upstream's own
JSON is passed through as it came."""

from __future__ import annotations

from modelyard.api.openai.spec_messages import (
    FUNCTION,
    INT64,
    MESSAGES,
    NAMED,
    OPTIONAL_BOOL,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    PARTS,
    RESPONSE_FORMAT,
    STRING,
    TOOL,
    TOOL_CHOICE,
    Schema,
    integer,
    nullable,
    number,
    obj,
    ref,
)

CHAT_REQUEST = obj(
    {
        "model": nullable(
            {"type": "string", "description": "a model id or provider/model; default: the system's"}
        ),
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [ref(name) for name in MESSAGES]},
        },
        "temperature": number(0, 2, "sampling temperature"),
        "top_p": number(0, 1, "nucleus sampling mass"),
        "n": integer(1, 128, "choices to generate"),
        "presence_penalty": number(-2, 2, "penalty for tokens already present"),
        "frequency_penalty": number(-2, 2, "penalty by token frequency"),
        "max_tokens": integer(1, INT64 - 1, "completion cap, at most the model's max output"),
        "max_completion_tokens": integer(
            1, INT64 - 1, "completion cap, at most the model's max output"
        ),
        "stop": nullable({"anyOf": [STRING, {"type": "array", "maxItems": 4, "items": STRING}]}),
        "logprobs": OPTIONAL_BOOL,
        "top_logprobs": integer(0, 20, "needs logprobs: true"),
        "seed": integer(-INT64, INT64 - 1, "for repeatable sampling"),
        "tools": nullable({"type": "array", "maxItems": 128, "items": TOOL}),
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": OPTIONAL_BOOL,
        "functions": nullable(
            {"type": "array", "maxItems": 128, "items": ref("FunctionDefinition")}
        ),
        "function_call": nullable({"anyOf": [{"enum": ["none", "auto"]}, NAMED]}),
        "response_format": RESPONSE_FORMAT,
        "stream": OPTIONAL_BOOL,
        "stream_options": nullable(
            obj({"include_usage": OPTIONAL_BOOL, "include_obfuscation": OPTIONAL_BOOL})
        ),
        "user": OPTIONAL_STRING,
        "logit_bias": nullable(
            {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
            }
        ),
        "store": OPTIONAL_BOOL,
        "metadata": nullable({"type": "object", "additionalProperties": STRING}),
        "modalities": nullable({"type": "array", "items": STRING}),
        "audio": OPTIONAL_OBJECT,
        "prediction": OPTIONAL_OBJECT,
        "web_search_options": OPTIONAL_OBJECT,
        "reasoning_effort": OPTIONAL_STRING,
        "service_tier": OPTIONAL_STRING,
        "verbosity": OPTIONAL_STRING,
        "prompt_cache_key": OPTIONAL_STRING,
        "safety_identifier": OPTIONAL_STRING,
    },
    ("messages",),
    description="OpenAI's chat completion request. Fields not listed here pass through to "
    "the provider.",
    anyOf=[
        obj({"top_logprobs": {"type": "null"}}),
        obj({"logprobs": {"const": True}}, ("logprobs",)),
    ],
)
TOKENS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "integer", "minimum": 0, "maximum": INT64 - 1},
}
EMBEDDING_REQUEST = obj(
    {
        "model": nullable({"type": "string"}),
        "input": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2048,
                    "items": {"type": "string", "minLength": 1},
                },
                {**TOKENS, "maxItems": 2048},
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": TOKENS},
            ]
        },
        "encoding_format": nullable({"enum": ["float", "base64"]}),
        "dimensions": integer(1, INT64 - 1, "dimensions of each embedding"),
        "user": OPTIONAL_STRING,
    },
    ("input",),
    description="OpenAI's embeddings request. Fields not listed here pass through.",
)
ERROR = obj(
    {
        "error": obj(
            {
                "message": STRING,
                "type": {"type": "string", "description": "invalid_request_error, ..."},
                "code": nullable({"type": "string", "description": "e.g. invalid_value"}),
                "param": nullable({"type": "string", "description": "e.g. messages[2].content"}),
            },
            ("message", "type", "code", "param"),
        )
    },
    ("error",),
    description="OpenAI's error shape",
)
USAGE = obj(
    {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    }
)
CHAT_COMPLETION = obj(
    {
        "id": STRING,
        "object": STRING,
        "created": {"type": "integer"},
        "model": STRING,
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": nullable(USAGE),
    },
    description="OpenAI's chat.completion, as the provider answered it",
)
EMBEDDINGS = obj(
    {
        "object": STRING,
        "data": {"type": "array", "items": {"type": "object"}},
        "model": STRING,
        "usage": nullable({"type": "object"}),
    },
    description="OpenAI's embeddings list, as the provider answered it",
)
MODEL = obj(
    {
        "id": STRING,
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string", "description": "the provider serving it"},
        "display_name": OPTIONAL_STRING,
        "status": {"type": "string", "description": "ACTIVE or DEPRECATED"},
        "capabilities": {"type": "array", "items": STRING},
        "context_window": nullable({"type": "integer"}),
        "max_output_tokens": nullable({"type": "integer"}),
        "providers": {"type": "array", "items": STRING},
    },
    ("id", "object", "created", "owned_by"),
)
MODEL_LIST = obj(
    {"object": {"const": "list"}, "data": {"type": "array", "items": ref("V1Model")}},
    ("object", "data"),
)
COMPONENTS: dict[str, Schema] = {
    "OpenAIError": ERROR,
    "ChatCompletionRequest": CHAT_REQUEST,
    "EmbeddingRequest": EMBEDDING_REQUEST,
    "FunctionDefinition": FUNCTION,
    "ChatCompletion": CHAT_COMPLETION,
    "Embeddings": EMBEDDINGS,
    "V1Model": MODEL,
    "V1ModelList": MODEL_LIST,
    **PARTS,
    **MESSAGES,
}
