"""Every root field of the schema names its scope and holds callers to it, as REST does.

The walk reads the served schema (so a field added later is walked too): each Query and
Mutation field's description ends with ``Scope <scope>.``; a credential lacking that
scope gets INSUFFICIENT_SCOPE naming it on that field, one holding only that scope is not
refused for scope, and without a credential nothing runs (401)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)

from modelyard.api.graphql.schema import schema
from modelyard.registry.scopes import SCOPES, grants
from tests.api.graphql.gql import gql
from tests.api.helpers import make_member

SCOPE = re.compile(r"Scope ([a-z.]+)\.$")
SCALAR_SAMPLES: dict[str, Any] = {
    "ID": "00000000-0000-4000-8000-000000000000",
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "JSON": {},
    "DateTime": "2030-01-01T00:00:00+00:00",
    "Date": "2030-01-01",
    "Decimal": "1",
    "BigInt": 1,
    "UUID": "00000000-0000-4000-8000-000000000000",
}


def _roots() -> list[tuple[str, str, GraphQLField]]:
    built = schema()._schema
    fields = []
    for kind, root in (("query", built.query_type), ("mutation", built.mutation_type)):
        assert root is not None
        fields += [(kind, name, f) for name, f in root.fields.items()]
    return fields


ROOTS = _roots()


def sample(value_type: GraphQLInputType) -> Any:
    """A value of ``value_type`` with every required field filled."""
    if isinstance(value_type, GraphQLNonNull):
        return sample(value_type.of_type)
    if isinstance(value_type, GraphQLList):
        return [sample(value_type.of_type)]
    if isinstance(value_type, GraphQLEnumType):
        return next(iter(value_type.values))
    if isinstance(value_type, GraphQLInputObjectType):
        return {
            name: sample(f.type)
            for name, f in value_type.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        }
    assert isinstance(value_type, GraphQLScalarType)
    return SCALAR_SAMPLES[value_type.name]


def document(kind: str, name: str, field: GraphQLField) -> tuple[str, dict[str, Any]]:
    """A document calling ``name`` with its required arguments as variables."""
    required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
    passed = ", ".join(f"{a}: ${a}" for a in required)
    call = f"{name}({passed})" if passed else name
    selection = (
        " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    )
    head = f"{kind}({declared})" if declared else kind
    return f"{head} {{ {call}{selection} }}", {a: sample(arg.type) for a, arg in required.items()}


def scope_of(field: GraphQLField) -> str:
    found = SCOPE.search((field.description or "").strip())
    assert found, f"the description does not end with 'Scope <scope>.': {field.description!r}"
    assert found.group(1) in SCOPES
    return found.group(1)


@pytest.mark.parametrize(("kind", "name", "field"), ROOTS, ids=[r[1] for r in ROOTS])
def test_every_root_field_names_its_scope(kind: str, name: str, field: GraphQLField) -> None:
    scope_of(field)


async def test_every_root_field_holds_callers_to_its_scope(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    keys: dict[str, tuple[str, str]] = {}
    for scope in {scope_of(f) for _, _, f in ROOTS}:
        without = [s for s in SCOPES if not grants({s}, scope)]
        lacking = await make_member(client, admin_key, role="admin", scopes=without)
        holding = await make_member(client, admin_key, role="admin", scopes=[scope])
        keys[scope] = (lacking.key, holding.key)
    for kind, name, field in ROOTS:
        scope = scope_of(field)
        query, variables = document(kind, name, field)
        lacking_key, holding_key = keys[scope]
        refused = await gql(client, lacking_key, query, variables)
        assert refused.status_code == 200, (name, refused.text)
        errors = refused.json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["INSUFFICIENT_SCOPE"], (name, errors)
        assert errors[0]["path"] == [name]
        assert errors[0]["extensions"]["details"] == {"scope": scope}
        allowed = await gql(client, holding_key, query, variables)
        assert allowed.status_code == 200, (name, allowed.text)
        codes = [e["extensions"]["code"] for e in allowed.json().get("errors", [])]
        assert "INSUFFICIENT_SCOPE" not in codes, (name, allowed.text)
        assert "INTERNAL_ERROR" not in codes, (name, allowed.text)
        anonymous = await gql(client, None, query, variables)
        assert anonymous.status_code == 401, (name, anonymous.text)
