"""The admin overview: providers with their models and current prices, in bounded SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import event

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.common import PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.users import UserCreate
from modelyard.services import Registry

# the generation (read, then re-read under the rebuild lock), the providers' and the models'
# marks (what moved since the last snapshot), providers, models with their prices in force,
# and the next price change
MAX_REBUILD_SELECTS = 7


@contextmanager
def count_statements(registry: Registry) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = registry.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _add_providers(
    registry: Registry, actor: Actor, prefix: str, count: int, models: int
) -> None:
    for p in range(count):
        provider = await registry.providers.create(
            actor,
            {"name": f"{prefix}-{p}", "kind": "ollama", "base_url": "http://93.184.215.14:11434"},
        )
        for m in range(models):
            await registry.models.create(
                actor,
                {
                    "provider_id": provider.id,
                    "model_id": f"model-{m}",
                    "price": {"input_per_mtok": f"{p}.{m}5", "output_per_mtok": "2"},
                },
            )


async def _member(registry: Registry, admin: Actor) -> Actor:
    user = await registry.users.create(admin, UserCreate(email="member@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="member", user_id=user.id))
    return await registry.keys.authenticate(issued.key)


async def test_overview_lists_providers_with_their_models_and_current_prices(
    registry: Registry, admin: Actor
) -> None:
    await _add_providers(registry, admin, "sys", 2, 3)
    empty = await registry.providers.create(admin, {"name": "empty", "kind": "ollama"})
    model = (await registry.models.list(admin, PageRequest(limit=500))).items[0]
    await registry.prices.set(admin, model.id, {"input_per_mtok": "9.99", "output_per_mtok": "1"})

    overview = await registry.overview.typed(admin)

    assert [p.name for p in overview] == ["empty", "sys-0", "sys-1"]
    by_name = {p.name: p for p in overview}
    assert by_name["empty"].id == empty.id
    assert by_name["empty"].models == []
    for index in (0, 1):
        provider = by_name[f"sys-{index}"]
        assert [m.model_id for m in provider.models] == ["model-0", "model-1", "model-2"]
        assert all(m.provider_id == provider.id for m in provider.models)
    prices = {m.id: m.price for p in overview for m in p.models}
    changed = prices[model.id]
    assert changed is not None
    assert (changed.input_per_mtok, changed.output_per_mtok) == (Decimal("9.99"), Decimal("1"))
    first = by_name["sys-1"].models[2].price
    assert first is not None
    assert first.input_per_mtok == Decimal("1.25")
    assert len(await registry.prices.history(admin, model.id)) == 2


async def test_overview_shows_a_member_system_providers_and_their_own_only(
    registry: Registry, admin: Actor
) -> None:
    member = await _member(registry, admin)
    await _add_providers(registry, admin, "sys", 1, 2)
    await registry.providers.create(admin, {"name": "private", "kind": "ollama", "owner": "me"})
    await _add_providers(registry, member, "mine", 1, 1)

    overview = await registry.overview.typed(member)

    assert [(p.name, p.scope, len(p.models)) for p in overview] == [
        ("sys-0", "system", 2),
        ("mine-0", "user", 1),
    ]
    assert overview[0].api_key is None
    system_only = await registry.overview.typed(admin, ProviderFilter(owner="system"))
    assert [p.name for p in system_only] == ["sys-0"]


async def test_overview_rebuild_issues_a_bounded_number_of_statements_whatever_the_size(
    registry: Registry, admin: Actor
) -> None:
    await _add_providers(registry, admin, "small", 1, 1)
    with count_statements(registry) as small:
        assert len(await registry.overview.typed(admin)) == 1

    await _add_providers(registry, admin, "large", 12, 4)
    with count_statements(registry) as large:
        overview = await registry.overview.typed(admin)
    assert len(overview) == 13
    assert sum(len(p.models) for p in overview) == 49

    selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= MAX_REBUILD_SELECTS, selects
    assert len(large) == len(small)


async def test_overview_served_again_without_a_change_only_checks_the_generation(
    registry: Registry, admin: Actor
) -> None:
    await _add_providers(registry, admin, "sys", 3, 3)
    first = await registry.overview.typed(admin)
    with count_statements(registry) as warm:
        again = await registry.overview.typed(admin)
    assert again == first
    selects = [s for s in warm if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert "registry_state" in selects[0]


async def test_overview_reflects_every_change_made_after_it_was_built(
    registry: Registry, admin: Actor
) -> None:
    await _add_providers(registry, admin, "sys", 1, 1)
    before = await registry.overview.typed(admin)
    model_id = before[0].models[0].id

    await registry.models.set_status(admin, model_id, "DEPRECATED")
    await registry.providers.create(admin, {"name": "added", "kind": "ollama"})
    after = await registry.overview.typed(admin)

    assert [p.name for p in after] == ["added", "sys-0"]
    assert after[1].models[0].status == "DEPRECATED"


async def test_overview_shows_a_future_price_once_it_takes_effect(
    registry: Registry, admin: Actor
) -> None:
    await _add_providers(registry, admin, "sys", 1, 1)
    model = (await registry.overview.typed(admin))[0].models[0]
    start = registry.db.clock()
    later = start + timedelta(hours=1)
    await registry.prices.set(
        admin, model.id, {"input_per_mtok": "7", "output_per_mtok": "8", "effective_from": later}
    )
    now_view = (await registry.overview.typed(admin))[0].models[0]
    assert now_view.price is not None
    assert now_view.price.input_per_mtok == Decimal("0.05")

    registry.db.clock = lambda: later + timedelta(seconds=1)
    then_view = (await registry.overview.typed(admin))[0].models[0]
    assert then_view.price is not None
    assert then_view.price.input_per_mtok == Decimal("7")


async def test_overview_json_matches_the_typed_views_for_admins_and_members(
    registry: Registry, admin: Actor
) -> None:
    member = await _member(registry, admin)
    await _add_providers(registry, admin, "sys", 2, 2)
    await _add_providers(registry, member, "mine", 1, 1)
    for actor in (admin, member):
        typed = await registry.overview.typed(actor)
        served = orjson.loads(await registry.overview.list_with_models_json(actor))
        assert served == [p.model_dump(mode="json") for p in typed]
        assert served == await registry.overview.list_with_models(actor)
