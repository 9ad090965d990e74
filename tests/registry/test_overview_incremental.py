"""The overview built from the snapshot before a change equals one read whole, after every
kind of change a provider, a model or a price can go through; and it really is built from
the one before (what did not move is the very same document)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.overview import Overview
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

Change = Callable[[Registry, Actor, dict[str, Any]], Awaitable[Any]]


async def _catalog(registry: Registry, admin: Actor, providers: int, models: int) -> list[Any]:
    made = []
    for p in range(providers):
        provider = await registry.providers.create(
            admin,
            {"name": f"p{p}", "kind": "ollama", "base_url": "http://93.184.215.14:11434"},
        )
        made.append(provider)
        for m in range(models):
            await registry.models.create(
                admin,
                {
                    "provider_id": provider.id,
                    "model_id": f"Model-{m}" if m % 2 else f"model_{m}",  # collation-sensitive
                    "price": {"input_per_mtok": f"{p}.{m}5", "output_per_mtok": "2"},
                },
            )
    return made


async def _whole(registry: Registry, admin: Actor) -> bytes:
    """The overview read whole, by a service with no snapshot yet."""
    return await Overview(registry.db).list_with_models_json(admin)


async def _first_model(registry: Registry, admin: Actor, index: int = 0) -> Any:
    docs = await registry.overview.list_with_models(admin)
    return docs[index]["models"][0]["id"]


async def _rename(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    model = await _first_model(registry, admin)
    await registry.models.update(admin, model, {"display_name": "Renamed"})


async def _deprecate(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    await registry.models.set_status(admin, await _first_model(registry, admin, 1), "DEPRECATED")


async def _defaults(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    await registry.models.set_default(admin, await _first_model(registry, admin, 0))
    await registry.models.set_default(admin, await _first_model(registry, admin, 2))


async def _price_now(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    model = await _first_model(registry, admin, 2)
    await registry.prices.set(admin, model, {"input_per_mtok": "9.99", "output_per_mtok": "1"})


async def _price_later(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    model = await _first_model(registry, admin, 2)
    later = (registry.db.clock() + timedelta(days=30)).isoformat()
    spec = {"input_per_mtok": "7", "output_per_mtok": "7", "effective_from": later}
    await registry.prices.set(admin, model, spec)


async def _add_model(registry: Registry, admin: Actor, made: dict[str, Any]) -> None:
    spec = {"provider_id": made["providers"][1].id, "model_id": "Added-0"}
    await registry.models.create(admin, spec)


async def _delete_model(registry: Registry, admin: Actor, _: dict[str, Any]) -> None:
    await registry.models.delete(admin, await _first_model(registry, admin, 1))


async def _provider_changes(registry: Registry, admin: Actor, made: dict[str, Any]) -> None:
    first, second = made["providers"][0], made["providers"][1]
    await registry.providers.update(admin, first.id, {"display_name": "First", "rpm_limit": 5})
    await registry.providers.set_enabled(admin, second.id, False)
    await registry.providers.rotate_key(admin, first.id, "sk-rotated-0123456789")


async def _delete_provider(registry: Registry, admin: Actor, made: dict[str, Any]) -> None:
    await registry.providers.delete(admin, made["providers"][2].id)


async def _member_leaves(registry: Registry, admin: Actor, made: dict[str, Any]) -> None:
    user = await registry.users.create(admin, UserCreate(email="leaver@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))
    member = await registry.keys.authenticate(issued.key)
    own = await registry.providers.create(
        member, {"name": "mine", "kind": "openai", "api_key": "sk-member-0123456789"}
    )
    await registry.models.create(member, {"provider_id": own.id, "model_id": "m"})
    assert orjson.loads(await registry.overview.list_with_models_json(admin))  # built with it
    await registry.users.delete(admin, user.id)  # their provider is disabled
    assert orjson.loads(await registry.overview.list_with_models_json(admin))
    await registry.users.purge(admin, user.id)  # and then gone, with its model


CHANGES: list[Change] = [
    _rename,
    _deprecate,
    _defaults,
    _price_now,
    _price_later,
    _add_model,
    _delete_model,
    _provider_changes,
    _delete_provider,
    _member_leaves,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
async def test_a_snapshot_built_from_the_last_equals_one_read_whole(
    registry: Registry, admin: Actor, change: Change
) -> None:
    made = {"providers": await _catalog(registry, admin, 4, 6)}
    before = await registry.overview.list_with_models(admin)
    await change(registry, admin, made)
    after = await registry.overview.list_with_models_json(admin)
    assert after == await _whole(registry, admin)
    # a future price changes nothing yet; a member who came and went leaves it as it was
    assert (after == orjson.dumps(before)) == (change in (_price_later, _member_leaves))


async def test_what_did_not_move_is_the_same_document(registry: Registry, admin: Actor) -> None:
    made = await _catalog(registry, admin, 4, 6)
    before = await registry.overview.list_with_models(admin)
    await registry.models.update(admin, before[3]["models"][0]["id"], {"display_name": "X"})
    after = await registry.overview.list_with_models(admin)
    assert [p["id"] for p in after] == [str(p.id) for p in made]
    assert all(a is b for a, b in zip(after[:3], before[:3], strict=True))  # untouched
    assert after[3] is not before[3]
    assert after[3]["models"][0]["display_name"] == "X"
    assert all(a is b for a, b in zip(after[3]["models"][1:], before[3]["models"][1:], strict=True))


async def test_a_price_coming_into_force_rebuilds_it_whole(
    registry: Registry, admin: Actor
) -> None:
    await _catalog(registry, admin, 2, 2)
    model = (await registry.overview.list_with_models(admin))[0]["models"][0]["id"]
    soon = registry.db.clock() + timedelta(seconds=2)
    spec = {"input_per_mtok": "3", "output_per_mtok": "3", "effective_from": soon.isoformat()}
    await registry.prices.set(admin, model, spec)
    assert (await registry.overview.list_with_models(admin))[0]["models"][0]["price"][
        "input_per_mtok"
    ] != "3"
    registry.db.clock = lambda: soon + timedelta(seconds=1)  # the price is now in force
    seen = await registry.overview.list_with_models(admin)
    assert seen[0]["models"][0]["price"]["input_per_mtok"] == "3"
    assert orjson.dumps(seen) == await _whole(registry, admin)
