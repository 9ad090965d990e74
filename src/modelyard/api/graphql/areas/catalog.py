"""The catalog area: seed 001's operations (:mod:`.catalog_seed`) and REST's providers,
models and prices (:mod:`.catalog_providers`, :mod:`.catalog_models`)."""

from __future__ import annotations

from strawberry.tools import merge_types

from modelyard.api.graphql.areas import catalog_seed

Query = merge_types("CatalogQuery", (catalog_seed.Query,))
Mutation = merge_types("CatalogMutation", (catalog_seed.Mutation,))

__all__ = ["Mutation", "Query"]
