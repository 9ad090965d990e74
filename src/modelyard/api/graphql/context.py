"""What every resolver gets: the registry, the actor behind the request's credential, and
the request's dataloaders.

Resolvers hold no business rule: they name the scope an operation needs (the same as the
REST operation's), call the registry service with the actor, and turn views into GraphQL
types. Every relation between types goes through a dataloader from :meth:`Context.loader`,
so a list of N parents costs one batched call per relation, not N."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from modelyard.registry.actors import Actor
from modelyard.registry.graphql_settings import GraphQLLimits
from modelyard.services import Registry

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Context:
    registry: Registry
    actor: Actor
    limits: GraphQLLimits = field(default_factory=GraphQLLimits)
    introspection: bool = True
    request_id: str = ""
    _loaders: dict[Hashable, DataLoader[Any, Any]] = field(default_factory=dict)
    # objects this request already built, for resolvers to find again (e.g. a model's
    # provider among the providers a list answered), keyed by (kind, id)
    memo: dict[Hashable, Any] = field(default_factory=dict)

    def need(self, scope: str) -> Actor:
        """The actor, refused (403 INSUFFICIENT_SCOPE naming ``scope``) unless its key or
        token holds ``scope``; the same check as the REST operation's."""
        self.actor.require_scope(scope)
        return self.actor

    def loader(
        self, name: Hashable, load: Callable[[list[K]], Awaitable[list[V]]]
    ) -> DataLoader[K, V]:
        """This request's dataloader called ``name`` (made on first use with ``load``, which
        gets every key asked for in one tick and answers them in the same order).

        ``name`` must say everything the loader's answers depend on besides the key, e.g.
        ``("usage_by_provider", since, until)``: two fields asking with different filters
        must not share one."""
        found = self._loaders.get(name)
        if found is None:
            found = DataLoader(load_fn=load, cache=True)
            self._loaders[name] = found
        return found


Info = strawberry.Info[Context, None]

__all__ = ["Context", "Info"]
