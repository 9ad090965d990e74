"""Gemini replies translated on their own (no HTTP): choices per candidate, finish reasons,
usage, and the stream state for several candidates and blocked prompts."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.adapters import gemini_reply as replies
from modelyard.adapters import shapes
from modelyard.adapters.base import Usage
from tests.gateway.upstream import fixture

ASK = {"messages": [{"role": "user", "content": "Plan my afternoon in Lisbon."}]}


def test_candidates_become_choices_and_thought_summaries_are_not_content() -> None:
    candidates = fixture("gemini/generate_candidates.json")["candidates"]
    choices = [replies.choice(c, i) for i, c in enumerate(candidates)]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "Walk the Alfama to the castle.", "stop"),
        (1, "Visit the Oceanário and then", "length"),
    ]


@pytest.mark.parametrize(
    ("reason", "tool_calls", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        (None, True, "tool_calls"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("OTHER", False, "stop"),
    ],
)
def test_finish_reasons_map_to_openai_values(
    reason: str | None, tool_calls: bool, expected: str
) -> None:
    assert replies.finish_reason(reason, tool_calls) == expected


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"promptTokenCount": 10, "candidatesTokenCount": 4}, (Usage(10, 4), 0)),
        (
            {"promptTokenCount": 10, "toolUsePromptTokenCount": 30, "thoughtsTokenCount": 6},
            (Usage(40, 6), 6),
        ),
        ({"totalTokenCount": 3}, None),
        (None, None),
    ],
)
def test_usage_counts_thinking_and_tool_use_tokens(metadata: Any, expected: Any) -> None:
    assert replies.usage(metadata) == expected


def test_a_stream_of_two_candidates_keeps_each_choice_apart() -> None:
    state = replies.Stream("gemini-2.5-flash")
    events = fixture("gemini/generate_candidates.json")
    chunks = [*state.start(0), *state.event(events), *state.end(ASK)]
    seen = [
        (
            c.chunk["choices"][0]["index"],
            c.chunk["choices"][0]["delta"],
            c.chunk["choices"][0]["finish_reason"],
        )
        for c in chunks[:-1]
    ]
    assert seen == [
        (0, {"role": "assistant", "content": ""}, None),
        (0, {"content": "Walk the Alfama to the castle."}, None),
        (1, {"role": "assistant", "content": ""}, None),
        (1, {"content": "Visit the Oceanário and then"}, None),
        (0, {}, "stop"),
        (1, {}, "length"),
    ]
    assert chunks[-1].usage == Usage(20, 16)


def test_a_stream_blocked_without_usage_ends_filtered_with_an_estimate() -> None:
    state = replies.Stream("gemini-2.5-flash")
    chunks = [*state.start(0), *state.event({"promptFeedback": {"blockReason": "SAFETY"}})]
    *_, finish, last = [*chunks, *state.end(ASK)]
    assert finish.chunk["choices"][0]["finish_reason"] == "content_filter"
    assert last.usage == shapes.estimate(ASK, "")  # no usageMetadata: estimated, so marked
