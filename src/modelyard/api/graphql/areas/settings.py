"""System settings (seed 001's ``systemSettings`` and ``updateSystemSetting``)."""

from __future__ import annotations

import strawberry

from modelyard.api.graphql.context import Info
from modelyard.api.graphql.scalars import JSON
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE
from modelyard.registry.system_settings import SettingView


@strawberry.type(description="A system setting: its value (or its default when unset).")
class SystemSetting:
    key: str
    value: JSON | None
    default: JSON | None
    is_set: bool
    help: str

    @classmethod
    def of(cls, view: SettingView) -> SystemSetting:
        return cls(
            key=view.key, value=view.value, default=view.default, is_set=view.is_set, help=view.help
        )


@strawberry.type
class Query:
    @strawberry.field(description="Every known setting (and any custom one). Scope registry.read.")
    async def system_settings(self, info: Info) -> list[SystemSetting]:
        actor = info.context.need(REGISTRY_READ)
        return [SystemSetting.of(v) for v in await info.context.registry.settings.list(actor)]

    @strawberry.field(description="One setting by key. Scope registry.read.")
    async def system_setting(self, info: Info, key: str) -> SystemSetting:
        actor = info.context.need(REGISTRY_READ)
        return SystemSetting.of(await info.context.registry.settings.get(actor, key))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Set a setting (admins); the value is checked against the key's schema."
        " Scope registry.write."
    )
    async def update_system_setting(
        self, info: Info, key: str, value: JSON | None = None
    ) -> SystemSetting:
        actor = info.context.need(REGISTRY_WRITE)
        return SystemSetting.of(await info.context.registry.settings.set(actor, key, value))

    @strawberry.mutation(
        description="Unset a setting, back to its default (admins). Scope registry.write."
    )
    async def unset_system_setting(self, info: Info, key: str) -> SystemSetting:
        actor = info.context.need(REGISTRY_WRITE)
        return SystemSetting.of(await info.context.registry.settings.unset(actor, key))
