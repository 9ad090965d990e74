"""The catalog area: seed 001's operations (:mod:`.catalog_seed`) and REST's providers,
models and prices (:mod:`.catalog_providers`, :mod:`.catalog_models`)."""

from __future__ import annotations

from strawberry.tools import merge_types

from modelyard.api.graphql.areas import catalog_models, catalog_providers, catalog_seed

_PARTS = (catalog_seed, catalog_providers, catalog_models)

Query = merge_types("CatalogQuery", tuple(part.Query for part in _PARTS))
Mutation = merge_types("CatalogMutation", tuple(part.Mutation for part in _PARTS))

__all__ = ["Mutation", "Query"]
