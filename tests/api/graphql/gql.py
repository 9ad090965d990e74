"""Helpers for the /graphql tests: run a document, read data or the errors."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import auth

PATH = "/graphql"


async def gql(
    client: httpx.AsyncClient,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    operation: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation is not None:
        body["operationName"] = operation
    headers = auth(key) if key else {}
    return await client.post(PATH, json=body, headers=headers)


async def data(
    client: httpx.AsyncClient, key: str | None, query: str, variables: dict[str, Any] | None = None
) -> Any:
    """The ``data`` of a document that must succeed (no errors, 200)."""
    response = await gql(client, key, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def error(
    client: httpx.AsyncClient,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    code: str,
    status: int = 200,
) -> dict[str, Any]:
    """The one error a document must fail with (``extensions.code == code``); its entry."""
    response = await gql(client, key, query, variables)
    assert response.status_code == status, response.text
    body = response.json()
    assert body.get("errors"), body
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert code in codes, body
    found: dict[str, Any] = next(e for e in body["errors"] if e["extensions"]["code"] == code)
    assert "Traceback" not in response.text
    return found
