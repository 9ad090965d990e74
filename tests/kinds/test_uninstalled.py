"""A provider whose kind is no longer installed (its plug-in removed): the registry keeps and
lists it, the gateway skips it with a warning naming it and its kind, a call for its models
gets a MODEL_NOT_FOUND that says why, and what needs the kind is refused (KIND_NOT_INSTALLED)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from modelyard.errors import Conflict, NotFound
from modelyard.gateway.resolve import resolve
from modelyard.gateway.snapshot_load import load
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeyCreate
from modelyard.registry.common import PageRequest
from modelyard.registry.users import UserCreate
from modelyard.services import Registry
from modelyard.settings import Settings
from tests.api.helpers import assert_error, auth, ok
from tests.cli.conftest import Cli
from tests.gateway.server import running
from tests.kinds.conftest import Install
from tests.kinds.samples import point

TEXT = frozenset({"text"})
WHY = "provider 'gone' is of kind 'sample', which is not installed"


async def _gone_and_kept(registry: Registry, admin: Actor, install: Install) -> str:
    """A provider of the ``sample`` plug-in kind and one of ``fake``; then the plug-in goes."""
    install(point("sample", "SAMPLE"))
    gone = await registry.providers.create(admin, {"name": "gone", "kind": "sample"})
    await registry.models.create(admin, {"provider_id": gone.id, "model_id": "m-gone"})
    kept = await registry.providers.create(admin, {"name": "kept", "kind": "fake"})
    await registry.models.create(admin, {"provider_id": kept.id, "model_id": "m-kept"})
    install()
    return str(gone.id)


async def test_the_snapshot_skips_it_with_a_warning_and_a_call_says_why(
    registry: Registry, admin: Actor, install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    await _gone_and_kept(registry, admin, install)
    with caplog.at_level(logging.WARNING, logger="modelyard.gateway"):
        snap = await load(registry.db)
    assert "provider gone is skipped: its kind 'sample' is not installed" in caplog.text
    assert [p.name for p in snap.providers.values()] == ["kept"]
    for requested in ("m-gone", "gone/m-gone"):
        with pytest.raises(NotFound) as caught:
            resolve(snap, admin.user_id, requested, "chat", TEXT)
        assert caught.value.code == "MODEL_NOT_FOUND"
        assert caught.value.message == (
            f"no usable provider serves model {requested!r}: {WHY} on this server"
        )
        assert caught.value.details == {"provider": "gone", "kind": "sample"}
    (served,) = resolve(snap, admin.user_id, "m-kept", "chat", TEXT).candidates
    assert served.provider.name == "kept"


async def test_someone_elses_provider_of_a_missing_kind_is_not_named(
    registry: Registry, admin: Actor, install: Install
) -> None:
    user = await registry.users.create(admin, UserCreate(email="m@example.com"))
    issued = await registry.keys.create(admin, ApiKeyCreate(name="k", user_id=user.id))
    member = await registry.keys.authenticate(issued.key)
    install(point("sample", "SAMPLE"))
    own = await registry.providers.create(member, {"name": "gone", "kind": "sample"})
    await registry.models.create(member, {"provider_id": own.id, "model_id": "m-gone"})
    install()
    snap = await load(registry.db)
    with pytest.raises(NotFound) as caught:
        resolve(snap, member.user_id, "m-gone", "chat", TEXT)
    assert WHY in caught.value.message
    with pytest.raises(NotFound) as caught:
        resolve(snap, admin.user_id, "m-gone", "chat", TEXT)
    assert "kind" not in caught.value.message
    assert caught.value.details == {}


async def test_the_registry_keeps_it_and_refuses_only_what_needs_its_kind(
    registry: Registry, admin: Actor, install: Install
) -> None:
    gone = await _gone_and_kept(registry, admin, install)
    page = await registry.providers.list(admin, PageRequest())
    assert {(p.name, p.kind) for p in page.items} == {("gone", "sample"), ("kept", "fake")}
    assert (await registry.providers.update(admin, gone, {"description": "d"})).description
    assert not (await registry.providers.set_enabled(admin, gone, False)).enabled
    for needs_the_kind in (
        registry.providers.update(admin, gone, {"config": {}}),
        registry.providers.update(admin, gone, {"base_url": "http://elsewhere.invalid"}),
        registry.providers.rotate_key(admin, gone, None),
        registry.providers.set_enabled(admin, gone, True),
    ):
        with pytest.raises(Conflict) as caught:
            await needs_the_kind
        assert caught.value.code == "KIND_NOT_INSTALLED"
        assert caught.value.message.startswith(f"{WHY}; installed kinds: anthropic, ")
        assert caught.value.details == {"kind": "sample", "provider": "gone"}
    await registry.providers.delete(admin, gone)


async def test_the_server_starts_lists_it_and_answers_a_call_for_it_clearly(
    settings: Settings,
    registry: Registry,
    admin: Actor,
    admin_key: str,
    install: Install,
    tmp_path: Path,
) -> None:
    gone = await _gone_and_kept(registry, admin, install)
    user = await registry.users.create(admin, UserCreate(email="app@example.com"))
    key = (await registry.keys.create(admin, ApiKeyCreate(name="app", user_id=user.id))).key
    local = settings.model_copy(update={"usage_outbox": tmp_path / "usage.outbox"})
    async with (
        running(local, registry) as (url, _app),
        httpx.AsyncClient(base_url=f"{url}/api/v1", headers=auth(admin_key)) as api,
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as sdk,
    ):
        listed = ok(await api.get("/providers"))["items"]
        assert {(p["name"], p["kind"]) for p in listed} == {("gone", "sample"), ("kept", "fake")}
        refused = await api.patch(f"/providers/{gone}", json={"config": {}})
        assert WHY in assert_error(refused, 409, "KIND_NOT_INSTALLED")["message"]
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk.chat.completions.create(
                model="m-gone", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.code == "model_not_found"
        assert WHY in caught.value.message
        served = await sdk.chat.completions.create(
            model="m-kept", messages=[{"role": "user", "content": "hi"}]
        )
        assert served.choices[0].message.content


def test_the_cli_lists_it_and_doctor_names_it(
    database_url: str, tmp_path: Path, install: Install
) -> None:
    cli = Cli(database_url, tmp_path / "modelyard.key")
    cli.ok("init")
    install(point("sample", "SAMPLE"))
    cli.ok("providers", "add", "--name=gone", "--kind=sample")
    assert cli.json("doctor")["ok"] is True
    install()
    (listed,) = cli.json("providers", "list")["items"]
    assert (listed["name"], listed["kind"]) == ("gone", "sample")
    doctor = cli("doctor", "--json")
    assert doctor.exit_code == 1
    checks = {c["name"]: c for c in orjson.loads(doctor.stdout)["checks"]}
    assert not checks["provider kinds"]["ok"]
    assert (
        "not installed, skipped by the gateway: gone (sample)" in checks["provider kinds"]["detail"]
    )
