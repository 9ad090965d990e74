"""Hostile documents against /graphql's limits (docs/graphql.md "Limits"): each is refused
before it runs with a code naming the limit, or answered; never a 500 or a traceback.

Documents over the registry's schema use the settings area; those that need connections
and recursive types use the rig (tests/api/graphql/rig.py) behind the same endpoint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from tests.api.graphql import rig
from tests.api.graphql.gql import PATH, data, gql
from tests.api.helpers import auth

SET = """mutation($key: String!, $value: JSON) {
  updateSystemSetting(key: $key, value: $value) { key value }
}"""


async def refused(
    client: httpx.AsyncClient, key: str, query: str, code: str, **extra: Any
) -> dict[str, Any]:
    """The one error of a document refused before running (400, no data)."""
    response = await gql(client, key, query, extra.pop("variables", None))
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert body["errors"][0]["extensions"]["status"] == 400
    found: dict[str, Any] = body["errors"][0]
    return found


async def set_limits(client: httpx.AsyncClient, key: str, **limits: int) -> None:
    await data(client, key, SET, {"key": "graphql.limits", "value": limits})


# -- aliases, tokens, brackets, body ------------------------------------------------------


async def test_an_alias_batch_over_the_limit_is_refused(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    batch = " ".join(f"a{i}: systemSettings {{ key }}" for i in range(51))
    found = await refused(client, admin_key, f"{{ {batch} }}", "GRAPHQL_TOO_MANY_ALIASES")
    assert found["extensions"]["limit"] == 50
    assert "51 aliased fields" in found["message"]
    allowed = " ".join(f"a{i}: systemSettings {{ key }}" for i in range(50))
    answered = await data(client, admin_key, f"{{ {allowed} }}")
    assert len(answered) == 50
    assert answered["a0"] == answered["a49"]


async def test_the_limits_follow_the_setting(client: httpx.AsyncClient, admin_key: str) -> None:
    await set_limits(client, admin_key, max_aliases=2, max_tokens=100)
    await refused(
        client,
        admin_key,
        "{ a: __typename b: __typename c: __typename }",
        "GRAPHQL_TOO_MANY_ALIASES",
    )
    long = "{ " + "__typename " * 120 + "}"
    found = await refused(client, admin_key, long, "GRAPHQL_PARSE_FAILED")
    assert "100 tokens" in found["message"]
    unset = 'mutation { unsetSystemSetting(key: "graphql.limits") { isSet } }'
    assert (await data(client, admin_key, unset))["unsetSystemSetting"]["isSet"] is False
    assert (await data(client, admin_key, long)) == {"__typename": "Query"}


async def test_a_document_over_the_token_limit_is_not_parsed(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    query = "{ " + "__typename " * 10_001 + "}"
    found = await refused(client, admin_key, query, "GRAPHQL_PARSE_FAILED")
    assert "10000 tokens" in found["message"]


@pytest.mark.parametrize(
    "query",
    [
        "{" * 200 + "}" * 200,
        "{ systemSetting(key: " + "[" * 200 + '"x"' + "]" * 200 + ") { key } }",
        "query($v: JSON = " + "{a: " * 150 + "1" + "}" * 150 + ") { __typename }",
        "{" * 5000,  # never closed
    ],
)
async def test_brackets_nested_too_deep_are_refused_before_parsing(
    client: httpx.AsyncClient, admin_key: str, query: str
) -> None:
    found = await refused(client, admin_key, query, "GRAPHQL_NESTING_TOO_DEEP")
    assert "128" in found["message"]


async def test_brackets_in_strings_and_comments_do_not_count(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    query = "# " + "{" * 300 + '\n{ a: systemSetting(key: "' + "{[(" * 100 + '") { key } }'
    response = await gql(client, admin_key, query)
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["path"] == ["a"]
    block = '{ systemSetting(key: """' + "{" * 300 + '""") { key } }'
    assert (await gql(client, admin_key, block)).status_code == 200


async def test_a_body_over_the_limit_is_refused_with_or_without_its_length(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    padding = "#" + "x" * 300_000 + "\n{ __typename }"
    declared = await gql(client, admin_key, padding)
    assert declared.status_code == 413, declared.text
    assert declared.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:
        yield b'{"query": "#'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'\\n{ __typename }"}'

    headers = auth(admin_key) | {"content-type": "application/json"}
    streamed = await client.post(PATH, content=chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    small = await client.post(PATH, json={"query": "{ __typename }"}, headers=auth(admin_key))
    assert small.json() == {"data": {"__typename": "Query"}}


# -- introspection --------------------------------------------------------------------------


async def test_graphiqls_schema_query_passes_the_default_limits(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    schema = (await data(client, admin_key, query))["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert "SystemSetting" in {t["name"] for t in schema["types"]}


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { fields { type { fields { name } } } } } }",
        '{ __type(name: "Query") { fields { type { ofType { fields { name } } } } } }',
        "{ __schema { types { ...T } } }"
        " fragment T on __Type { interfaces { possibleTypes { name } } }",
    ],
)
async def test_introspection_that_multiplies_the_schema_by_itself_is_refused(
    client: httpx.AsyncClient, admin_key: str, query: str
) -> None:
    found = await refused(client, admin_key, query, "GRAPHQL_TOO_COMPLEX")
    assert "introspection" in found["message"]


async def test_introspection_turned_off_and_back_on(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    schema_query = "{ __schema { queryType { name } } }"
    await data(client, admin_key, SET, {"key": "graphql.introspection", "value": False})
    for query in (
        schema_query,
        '{ __type(name: "SystemSetting") { name } }',
        "{ ...F } fragment F on Query { __schema { queryType { name } } }",
        '{ systemSettings { key } ... on Query { __type(name: "Query") { name } } }',
    ):
        found = await refused(client, admin_key, query, "GRAPHQL_INTROSPECTION_DISABLED")
        assert "graphql.introspection" in found["message"]
    assert (await data(client, admin_key, "{ __typename }")) == {"__typename": "Query"}
    await data(client, admin_key, SET, {"key": "graphql.introspection", "value": True})
    assert (await data(client, admin_key, schema_query))["__schema"]["queryType"]["name"] == "Query"


# -- fragments --------------------------------------------------------------------------------


def fan_out(leaf: str, levels: int = 20) -> str:
    """Fragments each spreading the next twice, ``levels`` deep, ``leaf`` at the bottom."""
    spreads = "".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels)
    )
    return f"{{ ...F0 }}\n{spreads}fragment F{levels} on Query {{ {leaf} }}\n"


async def test_fragment_fan_out_is_costed_as_it_would_run(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    await refused(client, admin_key, fan_out("systemSettings { key }"), "GRAPHQL_TOO_COMPLEX")
    assert (await data(client, admin_key, fan_out("__typename", 5))) == {"__typename": "Query"}
    introspected = await data(client, admin_key, fan_out("__schema { queryType { name } }"))
    assert introspected == {"__schema": {"queryType": {"name": "Query"}}}
    found = await refused(client, admin_key, fan_out("...Missing"), "GRAPHQL_VALIDATION_FAILED")
    assert "Missing" in found["message"]


async def test_fragment_cycles_are_refused(client: httpx.AsyncClient, admin_key: str) -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }"
    found = await refused(client, admin_key, query, "GRAPHQL_VALIDATION_FAILED")
    assert "within itself" in found["message"]
    itself = "{ ...A } fragment A on Query { systemSettings { key } ...A }"
    await refused(client, admin_key, itself, "GRAPHQL_VALIDATION_FAILED")


# -- depth and cost, on the rig --------------------------------------------------------------


def nested(levels: int, first: str = "1") -> str:
    query = "name"
    for _ in range(levels):
        query = f"children(first: {first}) {{ nodes {{ {query} }} }}"
    return f"{{ root {{ {query} }} }}"


async def test_nesting_deeper_than_the_limit_is_refused(
    client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rig.serving(monkeypatch):
        answered = await data(client, admin_key, nested(5))  # root + 5 x 2 + name: 12 deep
        assert answered["root"]["children"]["nodes"][0]["children"]["nodes"]
        found = await refused(client, admin_key, nested(6), "GRAPHQL_TOO_DEEP")
        assert found["extensions"]["limit"] == 12
        assert "14 deep" in found["message"]
        via_fragments = (
            "{ root { ...A } } fragment A on Node { children(first: 1) { nodes { ...B } } }"
            " fragment B on Node { twin { twin { twin { twin { twin { twin { twin { twin"
            " { twin { twin { twin { name } } } } } } } } } } } }"
        )
        await refused(client, admin_key, via_fragments, "GRAPHQL_TOO_DEEP")
        cycle = "{ root { ...A } } fragment A on Node { children { nodes { ...A } } }"
        await refused(client, admin_key, cycle, "GRAPHQL_VALIDATION_FAILED")


async def test_a_costly_connection_is_refused(
    client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    costly = "{ nodes(first: 500) { nodes { children(first: 500) { nodes { name } } } } }"
    by_variable = """query($n: Int) {
      nodes(first: $n) { edges { node { children(first: $n) { totalCount nodes { name } } } } }
    }"""
    with rig.serving(monkeypatch):
        found = await refused(client, admin_key, costly, "GRAPHQL_TOO_COMPLEX")
        assert found["extensions"]["limit"] == 50_000
        await refused(client, admin_key, by_variable, "GRAPHQL_TOO_COMPLEX", variables={"n": 500})
        small = await data(client, admin_key, by_variable, {"n": 2})
        assert len(small["nodes"]["edges"]) == 2
        assert small["nodes"]["edges"][1]["node"]["children"]["totalCount"] == 4
        over = await gql(client, admin_key, "{ nodes(first: 501) { totalCount } }")
        assert over.status_code == 200, over.text
        assert over.json()["data"] is None
        problem = over.json()["errors"][0]
        assert problem["path"] == ["nodes"]
        assert problem["extensions"]["code"] == "VALIDATION_FAILED"
        assert problem["extensions"]["details"]["errors"][0]["path"] == "first"


# -- requests that are not one well-formed operation ------------------------------------------


async def test_a_mutation_over_get_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    mutation = (
        'mutation { updateSystemSetting(key: "models.deprecated_policy", value: "reject") { key } }'
    )
    response = await client.get(PATH, params={"query": mutation}, headers=auth(admin_key))
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    setting = '{ systemSetting(key: "models.deprecated_policy") { isSet } }'
    read = await client.get(PATH, params={"query": setting}, headers=auth(admin_key))
    assert read.status_code == 200
    assert read.json() == {"data": {"systemSetting": {"isSet": False}}}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'[{"query": "{ __typename }"}]', "batched"),
        (b"{not json", "not JSON"),
        (b'"{ __typename }"', "JSON object"),
        (b"{}", "no query"),
        (b'{"query": 5}', "no query"),
        (b'{"query": "  "}', "no query"),
        (b'{"query": "{ __typename }", "variables": [1]}', "variables"),
        (b'{"query": "{ __typename }", "operationName": 5}', "operationName"),
        (b'{"query": "query A { __typename }", "operationName": "B"}', "B"),
        (b'{"query": "query A { __typename } query B { __typename }"}', "operation"),
        (b'{"query": "fragment F on Query { __typename }"}', "operation"),
    ],
)
async def test_a_malformed_request_is_a_400_naming_the_problem(
    client: httpx.AsyncClient, admin_key: str, body: bytes, words: str
) -> None:
    headers = auth(admin_key) | {"content-type": "application/json"}
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["status"] == 400
    assert words in errors[0]["message"], errors


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ systemSettings { key", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nothing }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($k: String!) { systemSetting(key: $k) { key } }", {"k": 5}, None),
        ("query($k: String!) { systemSetting(key: $k) { key } }", {}, None),
        ("query($k: Nope) { __typename }", None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_a_bad_document_or_variables_are_a_400_with_graphqls_words(
    client: httpx.AsyncClient, admin_key: str, query: str, variables: Any, code: str | None
) -> None:
    response = await gql(client, admin_key, query, variables)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    entry = body["errors"][0]
    assert entry["message"]
    assert entry["extensions"]["status"] == 400
    if code is not None:
        assert entry["extensions"]["code"] == code
    if "$k" in query:
        assert "$k" in entry["message"]


async def test_get_with_bad_variables_and_other_methods(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    bad = await client.get(
        PATH, params={"query": "{ __typename }", "variables": "{nope"}, headers=auth(admin_key)
    )
    assert bad.status_code == 400
    assert "variables" in bad.json()["errors"][0]["message"]
    for method in ("PUT", "DELETE", "PATCH"):
        other = await client.request(method, PATH, headers=auth(admin_key))
        assert other.status_code == 405, (method, other.text)
        assert other.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        assert other.headers["allow"] == "GET, POST"


async def test_a_deeply_nested_json_value_is_refused_and_stored_nowhere(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    response = await gql(client, admin_key, SET, {"key": "custom.deep", "value": deep})
    assert response.status_code in {200, 400}, response.text
    assert response.json()["errors"], response.text
    listed = await data(client, admin_key, "{ systemSettings { key } }")
    assert "custom.deep" not in {s["key"] for s in listed["systemSettings"]}
