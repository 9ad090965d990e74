"""Complete, valid declarative provider configs: an OpenAI-style chat API and Gemini's
generateContent. Used by tests and documentation."""

from __future__ import annotations

from typing import Any

EXAMPLE_OPENAI_CHAT: dict[str, Any] = {
    "auth_scheme": "bearer",
    "endpoint_path_template": "/v1/chat/completions",
    "request_builder": {
        "version": "1.0",
        "payload_structure": {
            "model": {"source": "param:model_name", "required": True},
            "messages": {
                "source": "param:messages",
                "required": True,
                "transform": "openai_messages",
            },
            "stream": {"source": "param:stream", "default": False},
            **{
                name: {"source": f"param:{name}"}
                for name in (
                    "temperature",
                    "max_tokens",
                    "top_p",
                    "stop",
                    "tools",
                    "tool_choice",
                    "response_format",
                    "seed",
                    "user",
                )
            },
        },
    },
    "response_extractor": {
        "version": "1.0",
        "extraction_rules": {
            "text_content": {"type": "string", "paths": ["choices[0].message.content"]},
            "usage_stats": {
                "type": "object",
                "fields": {
                    "prompt_tokens": "usage.prompt_tokens",
                    "completion_tokens": "usage.completion_tokens",
                    "total_tokens": "usage.total_tokens",
                    "cached_tokens": "usage.prompt_tokens_details.cached_tokens",
                },
            },
            "finish_reason": "choices[0].finish_reason",
            "error_message": "error.message",
        },
        "streaming": {
            "format": "sse",
            "delta_paths": ["choices[0].delta.content"],
            "done_marker": "[DONE]",
            "usage_paths": {
                "prompt_tokens": "usage.prompt_tokens",
                "completion_tokens": "usage.completion_tokens",
            },
        },
    },
}

EXAMPLE_GEMINI: dict[str, Any] = {
    "auth_scheme": "query",
    "auth_header_template": "key",
    "endpoint_path_template": "/v1beta/models/{model}:generateContent",
    "request_builder": {
        "version": "1.0",
        "payload_structure": {
            "contents": {
                "source": "param:messages",
                "required": True,
                "transform": "gemini_contents",
            },
            "generationConfig.temperature": {"source": "param:temperature"},
            "generationConfig.maxOutputTokens": {"source": "param:max_tokens"},
            "generationConfig.topP": {"source": "param:top_p"},
            "generationConfig.stopSequences": {"source": "param:stop"},
            "generationConfig.seed": {"source": "param:seed"},
        },
    },
    "response_extractor": {
        "version": "1.0",
        "extraction_rules": {
            "text_content": {"type": "string", "paths": ["candidates[0].content.parts[0].text"]},
            "usage_stats": {
                "type": "object",
                "fields": {
                    "prompt_tokens": "usageMetadata.promptTokenCount",
                    "completion_tokens": "usageMetadata.candidatesTokenCount",
                    "total_tokens": "usageMetadata.totalTokenCount",
                    "cached_tokens": "usageMetadata.cachedContentTokenCount",
                },
            },
            "finish_reason": "candidates[0].finishReason",
            "error_message": "error.message",
        },
    },
}
