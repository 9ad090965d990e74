"""Usage totals per provider or per model for many at once (the GraphQL ``usage``
relations): answers in the order asked, split by currency, a member's own calls only,
bounded by time."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.usage_rows import insert_rows, row
from tests.registry.helpers import member, ollama


async def test_totals_per_provider_and_model(registry: Registry, admin: Actor) -> None:
    alice = await member(registry, admin)
    assert alice.user_id is not None
    a = await registry.providers.create(admin, ollama("a"))
    b = await registry.providers.create(admin, ollama("b"))
    x = await registry.models.create(admin, {"provider_id": a.id, "model_id": "x"})
    y = await registry.models.create(admin, {"provider_id": a.id, "model_id": "y"})
    ids = {"provider_id": a.id}
    await insert_rows(
        registry.db.engine,
        [
            row(
                alice.user_id,
                "2030-01-01T10:00:00Z",
                "a",
                "x",
                prompt=10,
                cost="0.1",
                currency="USD",
                model_id=x.id,
                **ids,
            ),
            row(
                alice.user_id,
                "2030-01-02T10:00:00Z",
                "a",
                "x",
                status="error",
                prompt=5,
                model_id=x.id,
                **ids,
            ),
            row(
                admin.user_id,
                "2030-01-01T11:00:00Z",
                "a",
                "y",
                prompt=7,
                cost="2",
                currency="EUR",
                model_id=y.id,
                **ids,
            ),
        ],
    )
    missing = uuid.uuid4()
    per_provider = await registry.usage_of.totals(admin, "provider", [b.id, a.id, missing])
    assert per_provider[0] == per_provider[2] == []
    assert [(t.currency, t.calls, t.errors, t.prompt_tokens, t.cost) for t in per_provider[1]] == [
        ("EUR", 1, 0, 7, Decimal("2")),
        ("USD", 1, 0, 10, Decimal("0.1")),
        (None, 1, 1, 5, Decimal("0")),  # two currencies: the unpriced call stays apart
    ]
    assert all(t.provider is None and t.model is None for t in per_provider[1])
    per_model = await registry.usage_of.totals(alice, "model", [x.id, y.id])
    # hers only; her unpriced call joins the one currency of the model's calls
    assert [[(t.calls, t.currency) for t in totals] for totals in per_model] == [[(2, "USD")], []]
    later = await registry.usage_of.totals(
        admin, "model", [x.id], since=datetime.fromisoformat("2030-01-02T00:00:00Z")
    )
    assert [(t.calls, t.currency) for t in later[0]] == [(1, None)]
    with pytest.raises(ValidationFailed) as refused:
        await registry.usage_of.totals(
            admin,
            "model",
            [x.id],
            since=datetime.fromisoformat("2030-01-02T00:00:00Z"),
            until=datetime.fromisoformat("2030-01-01T00:00:00Z"),
        )
    assert refused.value.details["errors"][0]["path"] == "until"
