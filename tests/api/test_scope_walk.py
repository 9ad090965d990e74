"""Every operation of the OpenAPI the server publishes, the admin API's and ``/v1``'s, names
the one scope it needs, and the server enforces exactly that one.

The walk reads ``/openapi.json`` from a real server (uvicorn on 127.0.0.1, SQLite and
PostgreSQL) and calls every operation twice, as an admin, with made-up ids and an empty
JSON body where there is one:

- with a key holding every scope but the operation's (and the one covering it): 403, the
  body in the error shape the operation documents for its 403 (``Error`` on the admin API,
  OpenAI's or Anthropic's on ``/v1``) naming the scope (``details.scope``; OpenAI's code
  ``insufficient_scope``), and ``WWW-Authenticate: Bearer error="insufficient_scope",
  scope="<it>"``;
- with a key holding that scope alone (and, for the narrower reads, ``registry.read``
  alone): anything but a 401 or a refusal for a scope (the made-up ids are 404s, the empty
  bodies 422s or 400s; the reads answer).

Another test checks the scope each operation declares against the rule of the design, so a
route added later is held to it too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest

from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.scopes import (
    COVERED_BY,
    CREDITS_READ,
    LLM_INFERENCE,
    MODELS_READ,
    OIDC_SCOPES,
    REGISTRY_READ,
    REGISTRY_WRITE,
    SCOPES,
    USER_INFO,
)
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.gateway.server import running

SURFACES = ("/api/", "/v1/")  # where every operation needs a credential
MADE_UP_ID = "0190b7a2-0000-7000-8000-000000000000"
Operation = tuple[str, str, dict[str, Any]]  # path template, method, the operation


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            yield path, method.upper(), operation


def challenge(scope: str) -> str:
    return f'Bearer error="insufficient_scope", scope="{scope}"'


@pytest.fixture
async def walk(
    settings: Settings, registry: Registry, admin: Actor, tmp_path: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[tuple[str, str], str]]]:
    """A running server and the admin's keys: ("lacking", s) with every scope but s and what
    covers it, ("only", s) with s alone, ("old", "inference") made with that old name. Made
    before the server starts, so its gateway's first snapshot has them."""
    keys: dict[tuple[str, str], str] = {}
    for scope in SCOPES:
        lacking = [s for s in SCOPES if s not in (scope, COVERED_BY.get(scope))]
        for kind, scopes in (("lacking", lacking), ("only", [scope])):
            spec = ApiKeyCreate(name=f"{kind} {scope}", scopes=scopes)
            keys[(kind, scope)] = (await registry.keys.create(admin, spec)).key
    old = ApiKeyCreate(name="before 0.2", scopes=["inference"])
    keys[("old", "inference")] = (await registry.keys.create(admin, old)).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with (
        running(local, registry) as (url, _app),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http, keys


async def call(
    http: httpx.AsyncClient, path: str, method: str, op: dict[str, Any], key: str
) -> Any:
    url = re.sub(r"\{[^/]+\}", MADE_UP_ID, path)
    body = {} if "requestBody" in op else None
    return await http.request(method, url, json=body, headers={"Authorization": f"Bearer {key}"})


def documented_403(document: dict[str, Any], op: dict[str, Any]) -> Any:
    schema = op["responses"]["403"]["content"]["application/json"]["schema"]
    root = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def names_the_scope(body: dict[str, Any], scope: str) -> bool:
    """The refusal names the scope, as the operation's error shape allows."""
    error = body["error"]
    if "details" in error:  # the admin API's
        return bool(error["code"] == "INSUFFICIENT_SCOPE" and error["details"] == {"scope": scope})
    if body.get("type") == "error":  # Anthropic's: type and message only
        return bool(error["type"] == "permission_error" and repr(scope) in error["message"])
    return bool(  # OpenAI's
        error["code"] == "insufficient_scope"
        and error["type"] == "permission_error"
        and repr(scope) in error["message"]
    )


def refused_for_scope(response: httpx.Response) -> bool:
    return response.status_code == 401 or "insufficient_scope" in response.headers.get(
        "www-authenticate", ""
    )


async def test_every_operation_refuses_a_credential_lacking_its_scope_and_names_it(
    walk: tuple[httpx.AsyncClient, dict[tuple[str, str], str]],
) -> None:
    http, keys = walk
    document = (await http.get("/openapi.json")).json()
    walked: set[tuple[str, str]] = set()
    wrong: list[str] = []
    for path, method, op in operations(document):
        scope = op.get("x-required-scope")
        if scope is None:
            continue
        walked.add((path, method))
        what = f"{method} {path} ({scope})"
        refused = await call(http, path, method, op, keys[("lacking", scope)])
        if refused.status_code != 403:
            wrong.append(f"{what} lacking it: {refused.status_code} {refused.text[:200]}")
            continue
        body = refused.json()
        if not documented_403(document, op).is_valid(body) or not names_the_scope(body, scope):
            wrong.append(f"{what} lacking it: {refused.text[:200]}")
        if refused.headers.get("www-authenticate") != challenge(scope):
            wrong.append(f"{what}: WWW-Authenticate {refused.headers.get('www-authenticate')}")
        holders = [keys[("only", scope)]]
        if scope in COVERED_BY:
            holders.append(keys[("only", COVERED_BY[scope])])
        for key in holders:
            allowed = await call(http, path, method, op, key)
            if refused_for_scope(allowed):
                wrong.append(f"{what} holding it: {allowed.status_code} {allowed.text[:200]}")
    assert not wrong, "\n".join(wrong)
    # the whole document was walked: both surfaces, every operation on them
    on_surfaces = {(p, m) for p, m, _ in operations(document) if p.startswith(SURFACES)}
    assert on_surfaces <= walked
    assert ("/api/v1/providers", "POST") in walked
    assert ("/v1/chat/completions", "POST") in walked
    assert ("/v1/messages", "POST") in walked


async def test_v1_refuses_in_its_own_shapes_and_takes_keys_made_with_the_old_names(
    walk: tuple[httpx.AsyncClient, dict[tuple[str, str], str]],
) -> None:
    """As a client parses it: a key holding only models.read lists models but may not call
    them (OpenAI's 403 insufficient_scope, Anthropic's permission_error, both naming
    llm.inference in WWW-Authenticate); a key made with the old name ``inference`` does both."""
    http, keys = walk
    chat = {"model": "none", "messages": [{"role": "user", "content": "hi"}]}
    lister = {"Authorization": f"Bearer {keys[('only', MODELS_READ)]}"}
    assert (await http.get("/v1/models", headers=lister)).status_code == 200
    refused = await http.post("/v1/chat/completions", headers=lister, json=chat)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert refused.headers["www-authenticate"] == challenge(LLM_INFERENCE)
    anthropic = await http.post(
        "/v1/messages", headers={"x-api-key": keys[("only", MODELS_READ)]}, json={}
    )
    assert anthropic.status_code == 403
    assert anthropic.json()["error"]["type"] == "permission_error"
    assert anthropic.headers["www-authenticate"] == challenge(LLM_INFERENCE)
    old = {"Authorization": f"Bearer {keys[('old', 'inference')]}"}
    assert (await http.get("/v1/models", headers=old)).status_code == 200
    unknown_model = await http.post("/v1/chat/completions", headers=old, json=chat)
    assert unknown_model.status_code == 404, unknown_model.text  # past the scope check
    no_key = await http.get("/v1/models")
    assert (no_key.status_code, no_key.headers["www-authenticate"]) == (401, "Bearer")


def expected_scope(path: str, method: str) -> str:
    """The design's rule: model, price and overview reads models.read; balance and ledger
    credits.read; the caller's profile user.info; other reads registry.read; changes
    registry.write; /v1's models models.read, its calls llm.inference."""
    if path.startswith("/v1/"):
        return MODELS_READ if path.startswith("/v1/models") else LLM_INFERENCE
    if method != "GET":
        return REGISTRY_WRITE
    if path in ("/api/v1/overview", "/api/v1/models") or path.startswith("/api/v1/models/"):
        return MODELS_READ
    if path in ("/api/v1/credits", "/api/v1/credits/ledger"):
        return CREDITS_READ
    if path == "/api/v1/users/me":
        return USER_INFO
    return REGISTRY_READ


def test_each_operation_declares_the_scope_the_design_gives_it() -> None:
    from modelyard.api.app import create_app

    document = create_app(Settings(public_url="https://llm.example.com")).openapi()
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    code = scheme["flows"]["authorizationCode"]
    assert code["authorizationUrl"] == "https://llm.example.com/oauth/authorize"
    assert code["tokenUrl"] == "https://llm.example.com/oauth/token"
    for flow in scheme["flows"].values():
        assert set(flow["scopes"]) == {*SCOPES, *OIDC_SCOPES}
        assert all(flow["scopes"].values())  # each described (the consent page's words)
    checked = 0
    for path, method, op in operations(document):
        if not path.startswith(SURFACES):
            assert "x-required-scope" not in op, (method, path)
            continue
        scope = expected_scope(path, method)
        assert op.get("x-required-scope") == scope, (method, path, op.get("x-required-scope"))
        assert op["security"][0] == {"OAuth2": [scope]}, (method, path)
        assert all(list(need.values()) == [[scope]] for need in op["security"]), (method, path)
        assert "WWW-Authenticate" in op["responses"]["403"]["headers"], (method, path)
        checked += 1
    assert checked > 60
