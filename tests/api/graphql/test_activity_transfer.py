"""exportRegistry and importRegistry: REST's /api/v1/export and /api/v1/import (admins
only), dry runs that change nothing, the backup inline, never a key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import API, assert_error, auth, make_member, ok
from tests.transfer.conftest import SEED004, SEED004_KEY

SEED004_TEXT = SEED004.read_text()
SEED004_DOC = json.loads(SEED004_TEXT)
EXPORT = "{ exportRegistry }"
IMPORT = """mutation($document: JSON!, $format: ImportFormat, $dryRun: Boolean! = false) {
  importRegistry(document: $document, format: $format, dryRun: $dryRun) {
    format source dryRun counts changes { action entity name detail } backup backupDocument
  }
}"""


async def _rest_export(client: httpx.AsyncClient, key: str) -> Any:
    return ok(await client.get(f"{API}/export", headers=auth(key)))


async def _audit_total(client: httpx.AsyncClient, key: str) -> int:
    total: int = ok(await client.get(f"{API}/audit", headers=auth(key)))["total"]
    return total


async def test_the_export_is_rests_without_keys(client: httpx.AsyncClient, admin_key: str) -> None:
    ok(await client.post(f"{API}/import", headers=auth(admin_key), json={"content": SEED004_TEXT}))
    response = await gql(client, admin_key, EXPORT)
    assert SEED004_KEY not in response.text
    exported = response.json()["data"]["exportRegistry"]
    assert exported == await _rest_export(client, admin_key)
    assert exported["format"] == "modelyard-registry"
    assert [p["api_key"] for p in exported["providers"]] == [None] * 4


async def test_a_dry_run_reports_as_rest_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    before, audited = await _rest_export(client, admin_key), await _audit_total(client, admin_key)
    variables = {"document": SEED004_DOC, "dryRun": True}
    result = (await data(client, admin_key, IMPORT, variables))["importRegistry"]
    rest = ok(
        await client.post(
            f"{API}/import",
            headers=auth(admin_key),
            json={"content": SEED004_TEXT, "dry_run": True},
        )
    )
    assert result["format"] == rest["format"] == "seed004"
    assert result["dryRun"] is True
    assert (result["backup"], result["backupDocument"]) == (None, None)
    assert result["counts"] == rest["counts"]
    assert result["counts"]["created"] == 6  # four providers, a model, its price
    assert result["changes"] == rest["changes"]
    assert await _rest_export(client, admin_key) == before
    assert await _audit_total(client, admin_key) == audited


async def test_an_import_changes_the_registry_and_answers_its_backup(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await gql(client, admin_key, IMPORT, {"document": SEED004_DOC, "format": "SEED004"})
    assert SEED004_KEY not in response.text
    result = response.json()["data"]["importRegistry"]
    assert (result["dryRun"], result["source"], result["backup"]) == (False, "document", "inline")
    assert result["backupDocument"]["providers"] == []
    exported = await _rest_export(client, admin_key)
    names = sorted(p["name"] for p in exported["providers"])
    assert names == ["chatgpt", "google_ai", "groq", "openrouter"]
    audit = ok(await client.get(f"{API}/audit", headers=auth(admin_key)))["items"]
    assert {"provider.create", "model.create"} <= {e["action"] for e in audit}
    # a string is read as the file's text: the same document again creates nothing
    again = (await data(client, admin_key, IMPORT, {"document": SEED004_TEXT}))["importRegistry"]
    assert again["counts"]["created"] == 0
    assert again["counts"]["unchanged"] > 0


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("just text", "document"),
        ("{not json", "document"),
        ({"format": "modelyard-registry", "version": 9}, "version"),
        ("", "document"),
    ],
)
async def test_a_bad_document_is_named_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str, document: Any, path: str
) -> None:
    before = await _rest_export(client, admin_key)
    found = await error(client, admin_key, IMPORT, {"document": document}, code="VALIDATION_FAILED")
    assert found["extensions"]["status"] == 422
    assert found["extensions"]["details"]["errors"][0]["path"] == path
    assert await _rest_export(client, admin_key) == before
    body = {"content": document if isinstance(document, str) else json.dumps(document)}
    if document:
        assert_error(
            await client.post(f"{API}/import", headers=auth(admin_key), json=body),
            422,
            "VALIDATION_FAILED",
        )


async def test_a_format_that_does_not_fit_is_refused(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    variables = {"document": SEED004_DOC, "format": "MODELYARD", "dryRun": True}
    found = await error(client, admin_key, IMPORT, variables, code="VALIDATION_FAILED")
    rest = await client.post(
        f"{API}/import",
        headers=auth(admin_key),
        json={"content": SEED004_TEXT, "format": "modelyard", "dry_run": True},
    )
    assert assert_error(rest, 422)["code"] == found["extensions"]["code"]


async def test_members_may_neither_import_nor_export_as_rest_refuses_them(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    before = await _rest_export(client, admin_key)
    found = await error(client, member.key, EXPORT, code="FORBIDDEN")
    rest = assert_error(await client.get(f"{API}/export", headers=member.headers), 403)
    assert (found["extensions"]["code"], found["message"]) == (rest["code"], rest["message"])
    found = await error(client, member.key, IMPORT, {"document": SEED004_DOC}, code="FORBIDDEN")
    posted = await client.post(f"{API}/import", headers=member.headers, json={"content": "x"})
    assert found["message"] == assert_error(posted, 403, "FORBIDDEN")["message"]
    assert await _rest_export(client, admin_key) == before


async def test_a_read_only_key_may_not_import(client: httpx.AsyncClient, admin_key: str) -> None:
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    assert (await data(client, reader.key, EXPORT))["exportRegistry"]["providers"] == []
    await error(client, reader.key, IMPORT, {"document": SEED004_DOC}, code="INSUFFICIENT_SCOPE")
    assert (await _rest_export(client, admin_key))["providers"] == []


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient) -> None:
    for query, variables in ((EXPORT, None), (IMPORT, {"document": SEED004_DOC})):
        response = await gql(client, None, query, variables)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("argument", "value"), [("passphrase", "secret-passphrase-" * 60), ("source", "s" * 201)]
)
async def test_an_argument_over_rests_bound_is_named_and_never_echoed(
    client: httpx.AsyncClient, admin_key: str, argument: str, value: str
) -> None:
    query = f"""mutation($document: JSON!, $value: String!) {{
      importRegistry(document: $document, {argument}: $value, dryRun: true) {{ format }}
    }}"""
    variables = {"document": SEED004_DOC, "value": value}
    response = await gql(client, admin_key, query, variables)
    assert value not in response.text
    found = await error(client, admin_key, query, variables, code="VALIDATION_FAILED")
    assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [argument]
