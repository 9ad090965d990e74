"""REST's answers in GraphQL's shape, for the activity tests that compare the two: keys
camelCased (the top level only: snapshots and documents inside stay as stored), ids as
strings, times parsed (REST writes ``Z``, GraphQL ``+00:00``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelyard.api.graphql.errors import camel

TIMES = {"occurredAt"}
IDS = {"id", "userId", "apiKeyId"}


def like_graphql(item: dict[str, Any]) -> dict[str, Any]:
    """One REST item (an event, a total) as GraphQL answers it."""
    out = {camel(k): v for k, v in item.items()}
    for key in IDS & out.keys():
        out[key] = None if out[key] is None else str(out[key])
    return instants(out)


def instants(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with its times parsed, so that two spellings of one instant compare equal."""
    return {k: datetime.fromisoformat(v) if k in TIMES and v else v for k, v in item.items()}
