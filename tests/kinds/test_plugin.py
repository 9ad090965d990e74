"""A provider kind from a distribution of its own (``tests/fixtures/kind_plugin``), installed
by pip, offline, into a directory of its own: once that directory is on the path and the
kinds are reloaded, the ``echo`` kind is valid for the REST API and the CLI and serves
``/v1/chat/completions`` end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select

from modelyard.db.tables import UsageEvent
from modelyard.kinds.base import kinds, reload_kinds
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.helpers import assert_error, auth, ok
from tests.cli.conftest import Cli
from tests.gateway.server import running

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "kind_plugin"
MODULE = "modelyard_echo_kind"
HELLO = [
    {"role": "system", "content": "be loud"},
    {"role": "user", "content": "hello plug-in world"},
]


@pytest.fixture(scope="module")
def echo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-in installed by pip into a directory of its own (built from a copy, so the
    build leaves nothing in the source tree)."""
    source = tmp_path_factory.mktemp("echo-source")
    shutil.copytree(PLUGIN, source, dirs_exist_ok=True)
    site = tmp_path_factory.mktemp("echo-site")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    done = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return site


@dataclass
class Plugin:
    site: Path

    def install(self) -> None:
        sys.path.insert(0, str(self.site))
        reload_kinds()

    def uninstall(self) -> None:
        while str(self.site) in sys.path:
            sys.path.remove(str(self.site))
        sys.modules.pop(MODULE, None)
        reload_kinds()


@pytest.fixture
def echo(echo_site: Path) -> Iterator[Plugin]:
    """The echo kind installed for one test; gone again afterwards."""
    plugin = Plugin(echo_site)
    plugin.install()
    try:
        yield plugin
    finally:
        plugin.uninstall()
    assert "echo" not in kinds()


async def _caller(registry: Registry, admin: Actor) -> str:
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    return (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key


async def _usage_rows(registry: Registry) -> list[Any]:
    async with registry.db.engine.connect() as conn:
        return list((await conn.execute(select(UsageEvent))).all())


def test_a_fresh_process_finds_the_plug_in_through_its_entry_point(echo_site: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(echo_site), "COLUMNS": "300"}
    listed = subprocess.run(
        [sys.executable, "-c", "from modelyard.kinds.base import *; print(*sorted(kinds()))"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert listed.stdout.split() == sorted([*kinds(), "echo"])
    helped = subprocess.run(
        [sys.executable, "-m", "modelyard.cli", "providers", "add", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "declarative, echo, fake" in helped.stdout


async def test_a_plug_in_kind_serves_chat_completions_end_to_end(
    echo: Plugin,
    settings: Settings,
    registry: Registry,
    admin: Actor,
    admin_key: str,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    spec = {"name": "echo", "kind": "echo", "config": {"prefix": "echo: ", "shout": True}}
    provider = ok(await client.post("/api/v1/providers", headers=auth(admin_key), json=spec), 201)
    assert (provider["kind"], provider["base_url"]) == ("echo", "http://echo.invalid")
    assert provider["config"] == {"prefix": "echo: ", "shout": True}
    model = {
        "provider_id": provider["id"],
        "model_id": "echo-1",
        "capabilities": ["text", "streaming"],
        "price": {"input_per_mtok": "1", "output_per_mtok": "2"},
    }
    ok(await client.post("/api/v1/models", headers=auth(admin_key), json=model), 201)
    key = await _caller(registry, admin)
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with (
        running(local, registry) as (url, _app),
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as sdk,
    ):
        raw = await sdk.chat.completions.with_raw_response.create(
            model="echo-1",
            messages=HELLO,  # type: ignore[arg-type]
        )
        completion = raw.parse()
        assert completion.choices[0].message.content == "echo: HELLO PLUG-IN WORLD"
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 4)
        assert raw.headers["x-modelyard-provider"] == "echo"
        stream = await sdk.chat.completions.create(
            model="echo-1",
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
            "echo: HELLO PLUG-IN WORLD"
        )
    rows = await _usage_rows(registry)
    assert len(rows) == 2
    for row in rows:
        assert (row.provider_name, row.model_name, row.status) == ("echo", "echo-1", "ok")
        assert (row.prompt_tokens, row.completion_tokens, row.estimated) == (5, 4, False)
        assert row.cost == Decimal("0.000013")  # 5 * 1 / 1e6 + 4 * 2 / 1e6


async def test_an_unknown_kind_is_refused_naming_the_installed_ones_plug_ins_too(
    echo: Plugin, client: httpx.AsyncClient, admin_key: str
) -> None:
    spec = {"name": "x", "kind": "ehco"}
    response = await client.post("/api/v1/providers", headers=auth(admin_key), json=spec)
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["message"] == (
        f"kind: 'ehco' is not a valid kind; valid kinds: {', '.join(sorted(kinds()))}"
    )
    assert "echo" in error["message"]
    assert "openai_compatible" in error["message"]


def test_the_cli_adds_a_provider_of_the_plug_in_kind(
    echo: Plugin, database_url: str, tmp_path: Path
) -> None:
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    created = cli.json("providers", "add", "--name=echo", "--kind=echo", '--config={"shout": true}')
    assert (created["kind"], created["config"]) == ("echo", {"prefix": "", "shout": True})
    assert "echo" in cli.fails("providers", "add", "--name=x", "--kind=ehco")
    (listed,) = cli.json("providers", "list", "--kind=echo")["items"]
    assert listed["id"] == created["id"]
