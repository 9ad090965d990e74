"""/api/v1/settings: system settings, every known key declared with its default and help."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from modelyard.api.deps import Reader, RegistryDep, Writer
from modelyard.registry.common import Spec
from modelyard.registry.system_settings import SettingView

router = APIRouter(prefix="/settings", tags=["settings"])

SettingKey = Annotated[
    str, Path(description="a known key such as `gateway.retry`, or `custom.<name>`")
]


class SettingValue(Spec):
    value: Any


@router.get("", summary="Every known setting (and any custom one) with value and default")
async def list_settings(registry: RegistryDep, actor: Reader) -> list[SettingView]:
    return await registry.settings.list(actor)


@router.get("/{key}", summary="One setting")
async def get_setting(registry: RegistryDep, actor: Reader, key: SettingKey) -> SettingView:
    return await registry.settings.get(actor, key)


@router.put("/{key}", summary="Set a setting (admins)")
async def set_setting(
    registry: RegistryDep,
    actor: Writer,
    key: SettingKey,
    body: Annotated[
        SettingValue,
        Body(openapi_examples={"policy": {"value": {"value": "reject"}}}),
    ],
) -> SettingView:
    return await registry.settings.set(actor, key, body.value)


@router.delete("/{key}", summary="Unset a setting, back to its default (admins)")
async def unset_setting(registry: RegistryDep, actor: Writer, key: SettingKey) -> SettingView:
    return await registry.settings.unset(actor, key)
