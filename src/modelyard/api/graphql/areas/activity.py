"""Usage and the audit trail: recorded usage (:mod:`.activity_usage`)."""

from __future__ import annotations

from modelyard.api.graphql.areas.activity_usage import Query

__all__ = ["Query"]
