"""The catalog's GraphQL objects from the overview's documents, kept across requests.

The overview's snapshot keeps its model documents while they do not change (a rebuild
after a change makes new ones only for what moved), so the :class:`LlmModel` made from
one is kept too, keyed by what the document is (its id, ``config_version``, ``updated_at``
and the price in force): turning 2,000 documents into objects on every request was a
third of ``llmProviders``' time. A kept model holds nothing of who asked (its provider,
whose key hint depends on the viewer, is found per request through ``Context.memo``), and
resolvers only read it."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from modelyard.api.graphql.areas.catalog_types import LlmModel, LlmProvider
from modelyard.api.graphql.context import Info
from modelyard.registry.overview import Doc


class _KeptModels:
    def __init__(self) -> None:
        self._kept: dict[Hashable, LlmModel] = {}

    def of(self, doc: Doc) -> LlmModel:
        price = doc["price"]
        key = (
            doc["id"],
            doc["config_version"],
            doc["updated_at"],
            price["id"] if price is not None else None,
        )
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = LlmModel.of_doc(doc)
        return found

    def prune(self, in_use: int) -> None:
        """Forget every kept model when they far outnumber those in use (after changes)."""
        if len(self._kept) > 2 * in_use + 1000:
            self._kept.clear()


_MODELS = _KeptModels()


def providers_of(info: Info, docs: Iterable[Doc]) -> list[LlmProvider]:
    """The providers of ``docs`` (the overview's, as this request's actor sees them), each
    with its models; noted in the request's memo for their models' ``provider`` field."""
    providers = []
    count = 0
    for doc in docs:
        provider = LlmProvider.of_doc(doc, models=[_MODELS.of(m) for m in doc["models"]])
        count += len(doc["models"])
        info.context.memo[("provider", provider.id)] = provider
        providers.append(provider)
    _MODELS.prune(count)
    return providers


__all__ = ["providers_of"]
