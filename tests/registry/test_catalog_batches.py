"""The registry's batch reads behind GraphQL's dataloaders: many parents in one query each,
answers in the order asked, and only what the actor may see."""

from __future__ import annotations

import uuid

from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.registry.helpers import PUBLIC_URL, member, ollama


async def _setup(registry: Registry, admin: Actor) -> tuple[Actor, list[uuid.UUID], uuid.UUID]:
    """Two system providers (two models each, the first priced twice) and a member's own."""
    alice = await member(registry, admin)
    ids = []
    for name in ("one", "two"):
        provider = await registry.providers.create(admin, ollama(name))
        ids.append(provider.id)
        for model_id in ("b", "a"):
            model = await registry.models.create(
                admin,
                {
                    "provider_id": provider.id,
                    "model_id": model_id,
                    "price": {
                        "input_per_mtok": "1",
                        "output_per_mtok": "1",
                        "effective_from": "2020-01-01T00:00:00Z",
                    },
                },
            )
            await registry.prices.set(
                admin, model.id, {"input_per_mtok": "2", "output_per_mtok": "2"}
            )
    own = await registry.providers.create(alice, ollama("own", base_url=PUBLIC_URL))
    await registry.models.create(alice, {"provider_id": own.id, "model_id": "mine"})
    return alice, ids, own.id


async def test_models_for_providers_in_the_order_asked(registry: Registry, admin: Actor) -> None:
    alice, (one, two), own = await _setup(registry, admin)
    missing = uuid.uuid4()
    found = await registry.models.for_providers(admin, [two, missing, one, own])
    assert [[m.model_id for m in models] for models in found] == [
        ["a", "b"],
        [],
        ["a", "b"],
        ["mine"],
    ]
    assert all(m.price is not None and str(m.price.input_per_mtok) == "2" for m in found[0])
    bob = await member(registry, admin, "bob")
    assert await registry.models.for_providers(bob, [own, one]) == [[], found[2]]
    await registry.models.set_status(admin, found[0][0].id, "DEPRECATED")
    active = await registry.models.for_providers(alice, [two], "ACTIVE")
    assert [m.model_id for m in active[0]] == ["b"]


async def test_providers_many_and_price_histories(registry: Registry, admin: Actor) -> None:
    alice, (one, two), own = await _setup(registry, admin)
    bob = await member(registry, admin, "bob")
    found = await registry.providers.many(bob, [own, two, one])
    assert found[0] is None
    assert [p.name for p in found[1:] if p is not None] == ["two", "one"]
    mine = await registry.providers.many(alice, [own])
    assert mine[0] is not None
    assert mine[0].name == "own"
    models = await registry.models.for_providers(admin, [one, own])
    ids = [models[0][0].id, models[1][0].id]
    histories = await registry.prices.histories(admin, ids)
    assert [str(p.input_per_mtok) for p in histories[0]] == ["1", "2"]
    assert histories[1] == []
    assert (await registry.prices.histories(bob, [ids[0]]))[0] == histories[0]
    hidden = await registry.models.create(
        alice,
        {
            "provider_id": own,
            "model_id": "priced",
            "price": {"input_per_mtok": "1", "output_per_mtok": "1"},
        },
    )
    assert (await registry.prices.histories(bob, [hidden.id])) == [[]]
    assert len((await registry.prices.histories(alice, [hidden.id]))[0]) == 1


async def test_overview_models_and_available(registry: Registry, admin: Actor) -> None:
    alice, (_, two), own = await _setup(registry, admin)
    await registry.providers.set_enabled(admin, two, False)
    docs = await registry.overview.models(alice)
    assert [(d["name"], [m["model_id"] for m in d["models"]]) for d in docs] == [
        ("one", ["a", "b"]),
        ("two", ["a", "b"]),
        ("own", ["mine"]),
    ]
    only = await registry.overview.models(alice, provider_id=own)
    assert [d["name"] for d in only] == ["own"]
    usable = await registry.overview.available(alice)
    assert [d["name"] for d in usable] == ["one", "own"]
    admins = await registry.overview.available(admin)
    assert [d["name"] for d in admins] == ["one"]  # not alice's: nobody else calls it
