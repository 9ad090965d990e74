"""Usage and the audit trail: recorded usage (:mod:`.activity_usage`), the audit trail
(:mod:`.activity_audit`) and the registry's import and export (:mod:`.activity_transfer`)."""

from __future__ import annotations

from strawberry.tools import merge_types

from modelyard.api.graphql.areas import activity_audit, activity_transfer, activity_usage

Query = merge_types(
    "ActivityQuery", (activity_usage.Query, activity_audit.Query, activity_transfer.Query)
)
Mutation = merge_types("ActivityMutation", (activity_transfer.Mutation,))
