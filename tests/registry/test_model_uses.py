"""What uses a model (the console's deprecate confirmation): the system default, the
settings naming it per purpose, fallback lists, users' preferences, the policy in force."""

from __future__ import annotations

import uuid

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.registry.helpers import fails, member, ollama
from tests.registry.test_models_prices import make_model


async def test_an_unused_model_is_used_by_nothing(registry: Registry, admin: Actor) -> None:
    model = await make_model(registry, admin, "lonely")
    uses = await registry.model_usage.of(admin, model.id)
    assert uses.ref == "p/lonely"
    assert not uses.used
    assert (uses.settings, uses.fallback_of, uses.preference_count) == ([], [], 0)
    assert uses.deprecated_policy == "warn"


async def test_every_use_is_named(registry: Registry, admin: Actor) -> None:
    model = await make_model(registry, admin, "llama3.1:8b", "p")
    other = await make_model(registry, admin, "other", "q")
    near = await make_model(registry, admin, "llama3.1", "p")  # a prefix: not a match
    await registry.models.update(admin, other.id, {"fallbacks": ["p/llama3.1:8b", "q/x"]})
    await registry.models.update(admin, near.id, {"fallbacks": ["p/llama3.1:8b0"]})
    await registry.models.set_default(admin, model.id)
    await registry.settings.set(admin, "defaults.chat_model", "p/llama3.1:8b")
    await registry.settings.set(admin, "defaults.scenario_expansion_model", "p/llama3.1:8b")
    await registry.settings.set(admin, "defaults.embedding_model", "q/other")
    await registry.settings.set(admin, "models.deprecated_policy", "reject")
    people = [await member(registry, admin, name) for name in ("zed", "amy", "bob")]
    for person in people:
        await registry.preferences.update(person, {"default_model_id": str(model.id)})

    uses = await registry.model_usage.of(admin, model.id)

    assert uses.used
    assert uses.is_system_default
    assert uses.settings == ["defaults.chat_model", "defaults.scenario_expansion_model"]
    assert [(f.model_id, f.ref) for f in uses.fallback_of] == [(other.id, "q/other")]
    assert uses.preference_count == 3
    assert uses.preference_emails == ["amy@example.com", "bob@example.com", "zed@example.com"]
    assert uses.deprecated_policy == "reject"


async def test_only_the_first_few_emails_are_named(registry: Registry, admin: Actor) -> None:
    model = await make_model(registry, admin)
    for n in range(7):
        person = await member(registry, admin, f"user{n}")
        await registry.preferences.update(person, {"default_model_id": str(model.id)})
    uses = await registry.model_usage.of(admin, model.id)
    assert uses.preference_count == 7
    assert len(uses.preference_emails) == 5


async def test_odd_model_ids_are_matched_exactly(registry: Registry, admin: Actor) -> None:
    model = await make_model(registry, admin, 'we"ird\\id é', "p")
    other = await make_model(registry, admin, "other", "p")
    await registry.models.update(admin, other.id, {"fallbacks": ['p/we"ird\\id é']})
    uses = await registry.model_usage.of(admin, model.id)
    assert [f.ref for f in uses.fallback_of] == ["p/other"]


async def test_a_members_model_counts_only_their_own_fallbacks(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin, "alice")
    bob = await member(registry, admin, "bob")
    mine = await registry.providers.create(alice, ollama("home"))
    theirs = await registry.providers.create(bob, ollama("home"))
    model = await registry.models.create(alice, {"provider_id": mine.id, "model_id": "m"})
    own = await registry.models.create(
        alice, {"provider_id": mine.id, "model_id": "n", "fallbacks": ["home/m"]}
    )
    await registry.models.create(
        bob, {"provider_id": theirs.id, "model_id": "n", "fallbacks": ["home/m"]}
    )
    uses = await registry.model_usage.of(admin, model.id)
    assert [f.model_id for f in uses.fallback_of] == [own.id]
    assert uses.settings == []


async def test_members_may_not_ask_and_unknown_models_are_not_found(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    model = await make_model(registry, admin)
    await fails(registry, "FORBIDDEN", registry.model_usage.of(alice, model.id))
    await fails(registry, "MODEL_NOT_FOUND", registry.model_usage.of(admin, uuid.uuid4()))
    await fails(registry, "MODEL_NOT_FOUND", registry.model_usage.of(admin, "not-an-id"))
