"""/api/v1/import and /api/v1/export: admins only, dry runs, backups inline, keys sealed,
bad input a 422 naming the entry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import API, assert_error, auth, make_member, ok
from tests.transfer.conftest import LITELLM, SEED004, SEED004_KEY

SEED004_TEXT = SEED004.read_text()


async def _import(client: httpx.AsyncClient, key: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/import", headers=auth(key), json=body)


async def _providers(client: httpx.AsyncClient, key: str) -> list[str]:
    page = ok(await client.get(f"{API}/providers", headers=auth(key)))
    return sorted(p["name"] for p in page["items"])


async def test_a_dry_run_reports_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    result = ok(await _import(client, admin_key, content=SEED004_TEXT, dry_run=True))
    assert result["format"] == "seed004"
    assert result["dry_run"] is True
    assert result["counts"]["created"] == 6  # four providers, a model, its price
    assert result["backup"] is None
    assert await _providers(client, admin_key) == []


async def test_an_import_answers_with_its_backup_and_never_the_key(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await _import(client, admin_key, content=SEED004_TEXT, source="admin_settings")
    result = ok(response)
    assert SEED004_KEY not in response.text
    assert result["backup"] == "inline"
    assert result["backup_document"]["format"] == "modelyard-registry"
    assert await _providers(client, admin_key) == ["chatgpt", "google_ai", "groq", "openrouter"]
    groq = next(
        p
        for p in ok(await client.get(f"{API}/providers", headers=auth(admin_key)))["items"]
        if p["name"] == "groq"
    )
    assert groq["is_active"] is True
    exported = await client.get(f"{API}/export", headers=auth(admin_key))
    assert SEED004_KEY not in exported.text
    assert [p["api_key"] for p in ok(exported)["providers"]] == [None] * 4


async def test_an_export_with_secrets_seals_them(client: httpx.AsyncClient, admin_key: str) -> None:
    ok(await _import(client, admin_key, content=SEED004_TEXT))
    body = {"with_secrets": True, "passphrase": "a long enough passphrase"}
    response = await client.post(f"{API}/export", headers=auth(admin_key), json=body)
    assert SEED004_KEY not in response.text
    groq = next(p for p in ok(response)["providers"] if p["name"] == "groq")
    assert groq["api_key"]["sealed_by"] == "passphrase"
    short = await client.post(
        f"{API}/export", headers=auth(admin_key), json={"with_secrets": True, "passphrase": "x"}
    )
    assert_error(short, 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"content": "{not json", "source": "broken.json"}, "broken.json"),
        ({"content": "model_list: [\n  - a: [", "source": "c.yaml"}, "c.yaml"),
        (
            {"content": "model_list:\n- model_name: x\n  litellm_params: {model: madeup/x}"},
            "model_list[0].litellm_params.model",
        ),
        ({"content": '{"format": "modelyard-registry", "version": 9}'}, "version"),
        ({"content": "just text"}, "request"),
    ],
)
async def test_bad_input_is_a_422_naming_where(
    client: httpx.AsyncClient, admin_key: str, body: dict[str, Any], path: str
) -> None:
    error = assert_error(await _import(client, admin_key, **body), 422, "VALIDATION_FAILED")
    assert error["details"]["errors"][0]["path"] == path
    assert await _providers(client, admin_key) == []


async def test_members_may_neither_import_nor_export(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    assert_error(await _import(client, member.key, content=SEED004_TEXT), 403, "FORBIDDEN")
    assert_error(await client.get(f"{API}/export", headers=member.headers), 403, "FORBIDDEN")
    posted = await client.post(f"{API}/export", headers=member.headers, json={})
    assert_error(posted, 403, "FORBIDDEN")
    anonymous = await client.get(f"{API}/export")
    assert_error(anonymous, 401, "UNAUTHENTICATED")


async def test_a_litellm_config_needs_its_environment(
    client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIXTURE_OPENAI_API_KEY", raising=False)
    error = assert_error(
        await _import(client, admin_key, content=LITELLM.read_text(), dry_run=True), 422
    )
    assert "FIXTURE_OPENAI_API_KEY is not set" in error["message"]


async def test_the_operations_are_in_the_openapi_with_their_errors(
    client: httpx.AsyncClient,
) -> None:
    spec = ok(await client.get("/openapi.json"))
    expected = {
        ("post", "/import"): {"200", "401", "403", "409", "422"},
        ("get", "/export"): {"200", "401", "403"},
        ("post", "/export"): {"200", "401", "403", "422"},
    }
    for (method, path), statuses in expected.items():
        responses = spec["paths"][f"{API}{path}"][method]["responses"]
        assert statuses <= set(responses), (method, path)
