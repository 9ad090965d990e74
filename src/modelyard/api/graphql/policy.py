"""The settings /graphql reads on every request (``graphql.limits``,
``graphql.introspection``), kept per configuration generation: a request costs one small
query (the generation) until a change, then the settings are read again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from modelyard.registry.actors import Actor
from modelyard.registry.graphql_settings import INTROSPECTION_KEY, LIMITS_KEY, GraphQLLimits
from modelyard.services import Registry

_READER = Actor.operator("graphql")


@dataclass(frozen=True)
class Policy:
    generation: int
    limits: GraphQLLimits
    introspection: bool


class PolicyCache:
    def __init__(self) -> None:
        self._policy: Policy | None = None
        self._lock = asyncio.Lock()

    async def current(self, registry: Registry) -> Policy:
        generation = await registry.generation()
        policy = self._policy
        if policy is not None and policy.generation == generation:
            return policy
        async with self._lock:
            policy = self._policy
            if policy is None or policy.generation != generation:
                limits = await registry.settings.get(_READER, LIMITS_KEY)
                introspection = await registry.settings.get(_READER, INTROSPECTION_KEY)
                policy = Policy(
                    generation=generation,
                    limits=GraphQLLimits.model_validate(limits.value),
                    introspection=bool(introspection.value),
                )
                self._policy = policy
        return policy


__all__ = ["Policy", "PolicyCache"]
