"""Anthropic's Messages API as a way in: ``POST /v1/messages`` and
``POST /v1/messages/count_tokens``, served by the same gateway as OpenAI's chat."""
