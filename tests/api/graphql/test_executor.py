"""The shortcut executor against graphql-core's own: many documents (fragments, aliases,
@skip/@include, __typename, lists of lists, enums and the extra scalars, nulls in non-null
fields, relations beside plain fields) answered through /graphql and by plain
``graphql.execute`` on the same schema: the same data and the same errors at the same paths."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from graphql import execute, parse

from modelyard.api.graphql.context import Context
from modelyard.api.graphql.errors import format_error
from modelyard.api.graphql.schema import schema
from modelyard.registry.actors import Actor
from modelyard.services import Registry
from tests.api.graphql import rig
from tests.api.graphql.gql import gql

LEAF = "name size price colour tags grid when blob"
RIG_DOCUMENTS = [
    f"{{ plain {{ id name label must number leaf {{ {LEAF} }} }} }}",
    f"{{ plainList {{ name must leaves {{ {LEAF} }} maybeLeaf {{ name }} }} }}",
    "{ plainList { name } again: plainList { label __typename } }",
    "{ plain { __typename n: name n2: name leaf { t: __typename c: colour } } }",
    "{ plainList { must } }",  # a null in a non-null field: the list's item fails
    "{ broken { name must } }",
    "{ roots { name must leaf { grid } } }",
    "{ root { name twin { name twin { must } } } }",
    "{ root { ...N children(first: 2) { totalCount nodes { ...N } } } } "
    f"fragment N on Node {{ name label leaf {{ {LEAF} }} }}",
    "{ nodes(first: 3) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }",
    "query($s: Boolean!, $i: Boolean!) { plain { name @skip(if: $s) label @include(if: $i)"
    " leaf @include(if: $i) { name @skip(if: $i) size } } }",
    "{ plain { ... on Node { name } ... { number } leaf { ... on Leaf { tags } } } }",
    "{ plain { ...A ...B } } fragment A on Node { name leaf { name } }"
    " fragment B on Node { leaf { size } maybeLeaf { price } }",
    "{ plainList { maybeLeaf { price when blob } leaves { grid } } }",
    "{ a: plain { name } b: plainList { name } c: root { name } d: __typename }",
    "{ roots { twin { leaf { colour } } maybeLeaf { name } } }",
]
VARIABLES = [{"s": True, "i": False}, {"s": False, "i": True}]
SETTINGS_DOCUMENTS = [
    "{ systemSettings { key value default isSet help __typename } }",
    '{ systemSettings { ...S } one: systemSetting(key: "models.deprecated_policy") { ...S } }'
    " fragment S on SystemSetting { k: key value isSet }",
    "query($s: Boolean!) { systemSettings { key help @skip(if: $s) default @include(if: $s) } }",
    '{ systemSetting(key: "no.such.key") { key } __typename }',
]


def _answer(result: Any, request_id: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(e, request_id) for e in result.errors]
    return body


def _same(fast: dict[str, Any], plain: dict[str, Any]) -> None:
    assert fast.get("data") == plain.get("data")

    def key(entry: dict[str, Any]) -> tuple[str, str]:
        return (str(entry.get("path")), entry["message"])

    assert sorted(map(key, fast.get("errors", []))) == sorted(map(key, plain.get("errors", [])))
    assert [e["extensions"]["code"] for e in sorted(fast.get("errors", []), key=key)] == [
        e["extensions"]["code"] for e in sorted(plain.get("errors", []), key=key)
    ]


async def _plain(built: Any, document: str, variables: Any, context: Context) -> dict[str, Any]:
    result = execute(
        built._schema, parse(document), context_value=context, variable_values=variables
    )
    if inspect.isawaitable(result):
        result = await result
    return _answer(result)


@pytest.mark.parametrize("document", RIG_DOCUMENTS)
async def test_the_rig_answers_alike_both_ways(
    client: httpx.AsyncClient,
    admin_key: str,
    admin: Actor,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    document: str,
) -> None:
    for variables in VARIABLES if "$" in document else [None]:
        with rig.serving(monkeypatch):
            response = await gql(client, admin_key, document, variables)
        assert response.status_code == 200, response.text
        fast = response.json()
        assert fast["data"] is not None or fast["errors"]
        plain = await _plain(rig.fast(), document, variables, Context(registry, admin))
        _same(fast, plain)


@pytest.mark.parametrize("document", SETTINGS_DOCUMENTS)
async def test_the_registry_schema_answers_alike_both_ways(
    client: httpx.AsyncClient, admin_key: str, admin: Actor, registry: Registry, document: str
) -> None:
    set_one = (
        'mutation { updateSystemSetting(key: "models.deprecated_policy", value: "reject") { key } }'
    )
    assert (await gql(client, admin_key, set_one)).status_code == 200
    for variables in [{"s": True}, {"s": False}] if "$" in document else [None]:
        response = await gql(client, admin_key, document, variables)
        assert response.status_code == 200, response.text
        plain = await _plain(schema(), document, variables, Context(registry, admin))
        _same(response.json(), plain)


def test_the_rig_has_the_shapes_the_shortcut_must_handle() -> None:
    """The documents above meet a null in a non-null field, an enum, lists of lists and a
    relation: the comparison is not between two empty answers."""
    plans = rig.fast().execution_context_class.plans  # type: ignore[union-attr]
    assert "must" in plans["Node"]
    assert "children" not in plans["Node"]
    assert {"grid", "colour", "size", "price", "blob"} <= set(plans["Leaf"])
