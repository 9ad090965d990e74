"""Usage and the audit trail: recorded usage (:mod:`.activity_usage`) and the audit trail
(:mod:`.activity_audit`)."""

from __future__ import annotations

from strawberry.tools import merge_types

from modelyard.api.graphql.areas import activity_audit, activity_usage

Query = merge_types("ActivityQuery", (activity_usage.Query, activity_audit.Query))
