"""Models: ids per provider, deprecation and the system default; prices: exact and append-only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from modelyard.db.tables import ModelPrice
from modelyard.registry.actors import Actor
from modelyard.registry.model_views import ModelView
from modelyard.services import Registry
from tests.registry.helpers import ALL, fails, member, ollama

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def price(input_: str, output: str, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"input_per_mtok": input_, "output_per_mtok": output, **extra}
    if at is not None:
        spec["effective_from"] = at
    return spec


async def make_model(
    registry: Registry, actor: Actor, model_id: str = "m", provider: str = "p"
) -> ModelView:
    existing = {p.name: p.id for p in (await registry.providers.list(actor, ALL)).items}
    pid = existing.get(provider) or (await registry.providers.create(actor, ollama(provider))).id
    return await registry.models.create(actor, {"provider_id": pid, "model_id": model_id})


async def test_model_id_is_unique_per_provider(registry: Registry, admin: Actor) -> None:
    first = await make_model(registry, admin, "llama3", "p")
    assert (await make_model(registry, admin, "llama3", "q")).model_id == "llama3"
    call = registry.models.create(admin, {"provider_id": first.provider_id, "model_id": "llama3"})
    await fails(registry, "NAME_TAKEN", call)


async def test_deprecated_models_stay_listed_with_their_price_history(
    registry: Registry, admin: Actor
) -> None:
    model = await make_model(registry, admin)
    await registry.prices.set(admin, model.id, price("1", "2", T0))
    await registry.prices.set(admin, model.id, price("3", "4", T0 + timedelta(days=1)))

    deprecated = await registry.models.set_status(admin, model.id, "DEPRECATED")

    assert deprecated.status == "DEPRECATED"
    assert [m.id for m in (await registry.models.list(admin, ALL)).items] == [model.id]
    history = await registry.prices.history(admin, model.id)
    assert [p.input_per_mtok for p in history] == [Decimal(1), Decimal(3)]


async def test_a_deprecated_model_cannot_become_the_system_default(
    registry: Registry, admin: Actor
) -> None:
    model = await make_model(registry, admin)
    await registry.models.set_status(admin, model.id, "DEPRECATED")
    await fails(registry, "MODEL_DEPRECATED", registry.models.set_default(admin, model.id))


async def test_a_deprecated_model_cannot_become_a_preference_default(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    model = await make_model(registry, admin)
    await registry.models.set_status(admin, model.id, "DEPRECATED")
    call = registry.preferences.update(alice, {"default_model_id": str(model.id)})
    await fails(registry, "MODEL_DEPRECATED", call)


async def test_deprecating_the_default_model_clears_the_default(
    registry: Registry, admin: Actor
) -> None:
    model = await make_model(registry, admin)
    assert (await registry.models.set_default(admin, model.id)).is_default

    deprecated = await registry.models.set_status(admin, model.id, "DEPRECATED")

    assert not deprecated.is_default
    assert not any(m.is_default for m in (await registry.models.list(admin, ALL)).items)


async def test_one_system_default_model_at_a_time(registry: Registry, admin: Actor) -> None:
    a = await make_model(registry, admin, "a")
    b = await make_model(registry, admin, "b", "q")
    await registry.models.set_default(admin, a.id)

    await registry.models.set_default(admin, b.id)

    defaults = [m.id for m in (await registry.models.list(admin, ALL)).items if m.is_default]
    assert defaults == [b.id]


async def test_a_user_providers_model_cannot_be_the_system_default(
    registry: Registry, admin: Actor
) -> None:
    alice = await member(registry, admin)
    model = await make_model(registry, alice, "mine", "alices")
    await fails(registry, "PROVIDER_NOT_SYSTEM", registry.models.set_default(admin, model.id))


PRICE_TIMES = [T0, T0 + timedelta(days=30), T0 + timedelta(days=90)]
AT_CASES = {
    "exactly the first": (T0, "1"),
    "between first and second": (T0 + timedelta(days=29, hours=23), "1"),
    "exactly the second": (T0 + timedelta(days=30), "2"),
    "a microsecond before the third": (T0 + timedelta(days=90, microseconds=-1), "2"),
    "exactly the third": (T0 + timedelta(days=90), "3"),
    "long after the last": (T0 + timedelta(days=3650), "3"),
    "in another time zone": (
        (T0 + timedelta(days=30)).astimezone(timezone(timedelta(hours=-5))),
        "2",
    ),
}


@pytest.mark.parametrize(("when", "expected"), AT_CASES.values(), ids=AT_CASES.keys())
async def test_price_at_is_exact_for_any_past_time(
    registry: Registry, admin: Actor, when: datetime, expected: str
) -> None:
    model = await make_model(registry, admin)
    for n, at in reversed(list(enumerate(PRICE_TIMES, start=1))):  # out of order on purpose
        await registry.prices.set(admin, model.id, price(str(n), str(n * 10), at))

    found = await registry.prices.at(admin, model.id, when)

    assert found.input_per_mtok == Decimal(expected)
    assert found.output_per_mtok == Decimal(expected) * 10


async def test_price_before_the_first_price_is_not_found(registry: Registry, admin: Actor) -> None:
    model = await make_model(registry, admin)
    await registry.prices.set(admin, model.id, price("1", "2", T0))
    call = registry.prices.at(admin, model.id, T0 - timedelta(microseconds=1))
    await fails(registry, "PRICE_NOT_FOUND", call)


@pytest.mark.parametrize(
    "field", ["input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "credits_per_1k"]
)
async def test_float_prices_are_rejected(registry: Registry, admin: Actor, field: str) -> None:
    model = await make_model(registry, admin)
    spec = price("1", "2") | {field: 0.1}
    error = await fails(registry, "VALIDATION_FAILED", registry.prices.set(admin, model.id, spec))
    assert [e["path"] for e in error.details["errors"]] == [field]


@pytest.mark.parametrize("amount", ["0.0000001234", "999999.9999999999", "0.1", "1000000", "0"])
async def test_prices_round_trip_as_exact_decimals(
    registry: Registry, admin: Actor, amount: str
) -> None:
    model = await make_model(registry, admin)
    spec = price(amount, amount, T0, cached_input_per_mtok=amount, credits_per_1k=amount)
    await registry.prices.set(admin, model.id, spec)

    found = await registry.prices.at(admin, model.id, T0)

    for value in (
        found.input_per_mtok,
        found.output_per_mtok,
        found.cached_input_per_mtok,
        found.credits_per_1k,
    ):
        assert isinstance(value, Decimal)
        assert value == Decimal(amount)
    assert (await registry.models.get(admin, model.id)).price == found


@pytest.mark.parametrize("amount", ["0.00000000001", "1000000.0000000001", "-0.01"])
async def test_prices_that_cannot_be_stored_exactly_are_refused_not_rounded(
    registry: Registry, admin: Actor, amount: str
) -> None:
    model = await make_model(registry, admin)
    call = registry.prices.set(admin, model.id, price(amount, "1"))
    await fails(registry, "VALIDATION_FAILED", call)


async def test_setting_a_price_appends_a_row_and_keeps_the_old_one(
    registry: Registry, admin: Actor
) -> None:
    model = await make_model(registry, admin)
    await registry.prices.set(admin, model.id, price("1.5", "2.5", T0))
    old = await _price_rows(registry, model.id)

    await registry.prices.set(admin, model.id, price("9", "9", T0 + timedelta(days=1)))

    rows = await _price_rows(registry, model.id)
    assert len(rows) == 2
    assert rows[0] == old[0]
    assert (await registry.prices.at(admin, model.id, T0)).input_per_mtok == Decimal("1.5")


async def test_a_second_price_at_the_same_instant_is_refused(
    registry: Registry, admin: Actor
) -> None:
    model = await make_model(registry, admin)
    await registry.prices.set(admin, model.id, price("1", "2", T0))
    call = registry.prices.set(admin, model.id, price("3", "4", T0))
    await fails(registry, "PRICE_EXISTS", call)


async def _price_rows(registry: Registry, model_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with registry.db.engine.connect() as conn:
        rows = await conn.execute(
            select(ModelPrice.__table__)
            .where(ModelPrice.model_id == model_id)
            .order_by(ModelPrice.effective_from)
        )
        return [tuple(r) for r in rows]
