"""The limits /graphql holds every document to, kept as the system setting ``graphql.limits``
(``graphql.introspection`` turns the schema's introspection on and off)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

LIMITS_KEY = "graphql.limits"
INTROSPECTION_KEY = "graphql.introspection"


class GraphQLLimits(BaseModel):
    """What one GraphQL request may ask for: refused before anything runs when over."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_depth: int = Field(
        default=12, ge=2, le=64, description="deepest nesting of fields (introspection aside)"
    )
    max_complexity: int = Field(
        default=50_000,
        ge=10,
        le=10_000_000,
        description="the cost budget: each field costs 1, times the size of every list above it",
    )
    max_aliases: int = Field(default=50, ge=1, le=10_000, description="aliased fields per document")
    max_tokens: int = Field(
        default=10_000, ge=100, le=1_000_000, description="lexical tokens per document"
    )
    max_body_bytes: int = Field(
        default=262_144, ge=1024, le=16_777_216, description="bytes of one request body"
    )


__all__ = ["INTROSPECTION_KEY", "LIMITS_KEY", "GraphQLLimits"]
