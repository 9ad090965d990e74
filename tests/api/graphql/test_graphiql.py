"""GraphiQL's page and assets as /graphql serves them: our own page with no inline script
and a policy allowing only this server, every asset it names served from the package, the
vendored files exactly those scripts/vendor_graphiql.sh checks."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx

from modelyard.api.graphql.graphiql import STATIC
from tests.api.helpers import auth

ROOT = Path(__file__).resolve().parents[3]
HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_a_browser_gets_graphiql_from_this_server_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    text = page.text
    assert "http://" not in text
    assert "https://" not in text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None  # no inline script
    names = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert "/graphql/static/graphiql-init.js" in names
    for name in names:
        assert name.startswith("/graphql/static/"), name
        asset = await client.get(name)
        assert asset.status_code == 200, name
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"].startswith(kind), name
        assert asset.headers["x-content-type-options"] == "nosniff"


async def test_the_init_script_prefills_a_bearer_header_and_keeps_nothing(
    client: httpx.AsyncClient,
) -> None:
    script = (await client.get("/graphql/static/graphiql-init.js")).text
    assert "Authorization" in script
    assert "Bearer" in script
    assert "shouldPersistHeaders: false" in script
    assert 'defaultEditorToolsVisibility: "headers"' in script


async def test_only_the_assets_are_served(client: httpx.AsyncClient) -> None:
    for name in ("graphiql.html", "nothing.js", "..%2Fendpoint.py", "%2E%2E%2Fschema.py"):
        assert (await client.get(f"/graphql/static/{name}")).status_code == 404, name
    licence = await client.get("/graphql/static/LICENSE.graphiql")
    assert licence.status_code == 200
    assert "MIT" in licence.text


async def test_a_query_with_a_browsers_accept_still_runs(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    answer = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers=HTML | auth(admin_key)
    )
    assert answer.json() == {"data": {"__typename": "Query"}}
    plain = await client.get("/graphql")  # no Accept: html, no query, no credential
    assert plain.status_code == 401


def test_the_vendored_files_are_those_the_script_checks() -> None:
    script = (ROOT / "scripts" / "vendor_graphiql.sh").read_text()
    sums = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", script, re.M)
    )
    assert set(sums) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "LICENSE.graphiql",
        "react.production.min.js",
        "LICENSE.react",
        "react-dom.production.min.js",
        "LICENSE.react-dom",
    }
    for name, digest in sums.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
