"""Applying a registry document through the registry services, all in one transaction.

The services each open a transaction of their own; here they are handed a :class:`Pinned`
database whose ``read`` and ``write`` yield the one transaction the import runs in, so every
rule, check and audit event is the services' own, and the import commits or rolls back as a
whole (a dry run always rolls back). Nothing is deleted: what the document does not name is
left as it is. A partial document (converted from another format) changes only the fields it
gives; a modelyard export sets every field it holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from modelyard.billing.plans import PlanCreate, PlanUpdate
from modelyard.catalog.seed import LOCAL_HOSTS
from modelyard.db.tables import Model, ModelPrice, Plan, Provider, SystemSetting
from modelyard.errors import Conflict, ModelyardError, SecretUnreadable, check
from modelyard.kinds.base import base_url_for, kind_of, typed_config
from modelyard.registry.actors import Actor
from modelyard.registry.prices import PriceSpec
from modelyard.registry.system_settings import definition, validate_value
from modelyard.registry.tx import Database, Tx
from modelyard.services import Registry
from modelyard.transfer.document import MODEL_FIELDS, PLAN_FIELDS, PROVIDER_FIELDS, plain
from modelyard.transfer.report import ImportReport

UPDATABLE = frozenset(PROVIDER_FIELDS) - {"kind", "enabled", "is_default", "is_active"}
MODEL_UPDATABLE = frozenset(MODEL_FIELDS) - {"status", "is_default"}
PRICE_COMPARED = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "credits_per_1k")


class Pinned(Database):
    """A database whose every transaction is the one already open: services run inside it."""

    def __init__(self, outer: Database, tx: Tx) -> None:
        self.engine, self.keyring, self.clock = outer.engine, outer.keyring, outer.clock
        self.is_postgres, self.on_change = outer.is_postgres, []
        self._tx = tx

    @asynccontextmanager
    async def read(self, actor: Actor) -> AsyncIterator[Tx]:
        yield self._tx

    @asynccontextmanager
    async def write(self, actor: Actor) -> AsyncIterator[Tx]:
        yield self._tx


@contextmanager
def entry(where: str) -> Iterator[None]:
    """Errors from the services name the document entry they came from."""
    try:
        yield
    except ModelyardError as exc:
        errors = exc.details.get("errors")
        if isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict) and "path" in error:
                    error["path"] = f"{where}.{error['path']}"
        exc.message = f"{where}: {exc.message}"
        exc.args = (exc.message,)
        raise


class Applier:
    def __init__(
        self, tx: Tx, outer: Database, report: ImportReport, secrets: dict[str, str], partial: bool
    ) -> None:
        self.tx, self.report, self.secrets, self.partial = tx, report, secrets, partial
        self.registry = Registry(Pinned(outer, tx))
        self.actor = tx.actor

    async def apply(self, document: dict[str, Any]) -> None:
        providers = document.get("providers", [])
        done: list[tuple[str, dict[str, Any], Provider]] = []
        for index, item in enumerate(providers):
            where = f"providers[{index}] ({item.get('name')})"
            with entry(where):
                done.append((where, item, await self.provider(item)))
        for where, item, provider in done:
            for index, model in enumerate(item.get("models", [])):
                with entry(f"{where}.models[{index}] ({model.get('model_id')})"):
                    await self.model(provider, model)
        for key, value in document.get("settings", {}).items():
            with entry(f"settings.{key}"):
                await self.setting(key, value)
        for index, plan in enumerate(document.get("plans", [])):
            with entry(f"plans[{index}] ({plan.get('name')})"):
                await self.plan(plan)
        for where, item, provider in done:
            with entry(where):
                await self.roles(item, provider)

    # -- providers ------------------------------------------------------------------------

    async def provider(self, item: dict[str, Any]) -> Provider:
        name = item["name"]
        found = await self.tx.session.scalar(
            select(Provider).where(Provider.owner_user_id.is_(None), Provider.name == name)
        )
        key = self.secrets.get(name)
        if found is None:
            return await self.create_provider(item, key)
        if item.get("kind", found.kind) != found.kind:
            raise Conflict(
                f"provider {name!r} exists with kind {found.kind!r}, the file says "
                f"{item['kind']!r}; rename one of them",
                code="KIND_MISMATCH",
            )
        changes = self.provider_changes(item, found)
        changed = sorted(changes)
        if changes:
            await self.registry.providers.update(self.actor, found.id, changes)
        if key is not None and self.key_differs(found, key):
            await self.registry.providers.rotate_key(self.actor, found.id, key)
            changed.append("api_key")
        want = item.get("enabled")
        if want is not None and want != found.enabled:
            if want and found.api_key_sealed is None and self.needs_key(found.kind, found.config):
                self.report.unsupported(f"{name}.enabled", "needs an API key first: left disabled")
            else:
                await self.registry.providers.set_enabled(self.actor, found.id, want)
                changed.append("enabled")
        self.report.add("updated" if changed else "unchanged", "provider", name, ", ".join(changed))
        return found

    async def create_provider(self, item: dict[str, Any], key: str | None) -> Provider:
        spec = {f: item[f] for f in UPDATABLE | {"kind"} if item.get(f) is not None}
        keyless = key is None and self.needs_key(item["kind"], item.get("config") or {})
        hosted = _hostname(item.get("base_url")) not in LOCAL_HOSTS
        # unsaid: enabled when it can serve; a hosted provider without a key waits for one
        enabled = item.get("enabled", not keyless and not (hosted and key is None))
        if enabled and keyless:
            self.report.unsupported(
                f"{item['name']}.enabled", "needs an API key (import --with-secrets): disabled"
            )
            enabled = False
        spec |= {"owner": "system", "name": item["name"], "enabled": enabled}
        if key is not None:
            spec["api_key"] = key
        view = await self.registry.providers.create(self.actor, spec)
        self.report.add("created", "provider", item["name"], "with its key" if key else "")
        created = await self.tx.session.get(Provider, view.id)
        assert created is not None
        return created

    def provider_changes(self, item: dict[str, Any], found: Provider) -> dict[str, Any]:
        kind = kind_of(found.kind)
        changes: dict[str, Any] = {}
        for field in sorted(UPDATABLE):
            if field not in item and self.partial:
                continue
            value = item.get(field)
            if field == "config":
                value = typed_config(kind, value or {}).model_dump(mode="json", exclude_none=True)
            elif field == "base_url":
                value = base_url_for(kind, value)
            elif field == "custom_headers":
                value = value or {}
            if value == plain(getattr(found, field)):
                continue
            if value is None and field != "organization":
                self.report.unsupported(f"{found.name}.{field}", "cannot be cleared: kept")
                continue
            changes[field] = value
        return changes

    def key_differs(self, found: Provider, key: str) -> bool:
        if found.api_key_sealed is None:
            return True
        try:
            current = self.tx.keyring.open(found.api_key_sealed, context=f"provider:{found.id}")
        except SecretUnreadable:  # sealed under a master key this installation lacks: replace it
            return True
        return current != key

    @staticmethod
    def needs_key(kind_name: str, config: dict[str, Any]) -> bool:
        kind = kind_of(kind_name)
        return kind.requires_key(typed_config(kind, config))

    async def roles(self, item: dict[str, Any], provider: Provider) -> None:
        name = provider.name
        await self.tx.session.refresh(provider)
        if item.get("is_default") and not provider.is_default:
            await self.registry.providers.set_default(self.actor, provider.id)
            self.report.add("updated", "provider", name, "made the default provider")
        elif item.get("is_default") is False and provider.is_default:
            self.report.unsupported(f"{name}.is_default", "a default is replaced, never unset")
        activate = item.get("is_active") or (
            item.get("activate_if_none")
            and await self.tx.session.scalar(select(Provider.id).where(Provider.is_active)) is None
        )
        if activate and not provider.is_active:
            if not provider.enabled:
                self.report.unsupported(f"{name}.is_active", "disabled: not made active")
                return
            await self.registry.providers.activate(self.actor, provider.id)
            self.report.add("updated", "provider", name, "made the active provider")
        elif item.get("is_active") is False and provider.is_active:
            self.report.unsupported(f"{name}.is_active", "activate another provider instead")

    # -- models and prices ----------------------------------------------------------------

    async def model(self, provider: Provider, item: dict[str, Any]) -> None:
        ref = f"{provider.name}/{item['model_id']}"
        found = await self.tx.session.scalar(
            select(Model).where(
                Model.provider_id == provider.id, Model.model_id == item["model_id"]
            )
        )
        if found is None:
            spec = {f: item[f] for f in MODEL_UPDATABLE if item.get(f) is not None}
            spec.setdefault("capabilities", ["text", "streaming"])
            spec |= {"provider_id": provider.id, "model_id": item["model_id"]}
            view = await self.registry.models.create(self.actor, spec)
            found = await self.tx.session.get(Model, view.id)
            assert found is not None
            self.report.add("created", "model", ref)
        else:
            changes = {
                f: item.get(f)
                for f in sorted(MODEL_UPDATABLE)
                if (f in item or not self.partial)
                and _model_value(f, item.get(f)) != _model_value(f, plain(getattr(found, f)))
            }
            if changes:
                await self.registry.models.update(self.actor, found.id, changes)
            self.report.add("updated" if changes else "unchanged", "model", ref, ", ".join(changes))
        status = item.get("status")
        if status is not None and status != found.status:
            await self.registry.models.set_status(self.actor, found.id, status)
            self.report.add("updated", "model", ref, f"status {status}")
        for price in item.get("prices", []):
            await self.price(found, ref, price)
        if item.get("is_default") and not found.is_default:
            await self.registry.models.set_default(self.actor, found.id)
            self.report.add("updated", "model", ref, "made the default model")

    async def price(self, model: Model, ref: str, item: dict[str, Any]) -> None:
        spec: PriceSpec = check(PriceSpec, item, prefix="prices")
        if spec.effective_from is None:
            now = (await self.registry.models.get_in(self.tx, model)).price
            if now is not None and _same_price(spec, now):
                return
            await self.registry.prices.set(self.actor, model.id, item)
            self.report.add("created", "price", ref, "in force now")
            return
        same = await self.tx.session.scalar(
            select(ModelPrice).where(
                ModelPrice.model_id == model.id, ModelPrice.effective_from == spec.effective_from
            )
        )
        at = spec.effective_from.isoformat()
        if same is None:
            await self.registry.prices.set(self.actor, model.id, item)
            self.report.add("created", "price", f"{ref}@{at}")
        elif not _same_price(spec, same):
            self.report.unsupported(
                f"{ref}@{at}",
                "differs from the stored price; prices are append-only: add one at another time",
            )

    # -- settings and plans ---------------------------------------------------------------

    async def setting(self, key: str, value: Any) -> None:
        stored = await self.tx.session.get(SystemSetting, key)
        if self.partial and isinstance(value, dict):
            known = definition(key)
            base = stored.value if stored is not None else (known.default if known else None)
            value = (base if isinstance(base, dict) else {}) | value
        if stored is not None and validate_value(key, value) == stored.value:
            self.report.add("unchanged", "setting", key)
            return
        await self.registry.settings.set(self.actor, key, value)
        self.report.add("updated" if stored is not None else "created", "setting", key)

    async def plan(self, item: dict[str, Any]) -> None:
        name = item.get("name")
        found = await self.tx.session.scalar(select(Plan).where(Plan.name == name))
        if found is None:
            await self.registry.plans.create(self.actor, check(PlanCreate, item, prefix="plan"))
            self.report.add("created", "plan", str(name))
            return
        changes = {
            f: item.get(f)
            for f in PLAN_FIELDS
            if (f in item or not self.partial) and _same(item.get(f)) != _same(getattr(found, f))
        }
        if changes:
            await self.registry.plans.update(self.actor, found.id, check(PlanUpdate, changes))
        self.report.add(
            "updated" if changes else "unchanged", "plan", str(name), ", ".join(changes)
        )


def _hostname(url: str | None) -> str | None:
    """The URL's host; None when it has none or is no URL (the service then refuses it)."""
    try:
        return urlsplit(url or "").hostname
    except ValueError:
        return None


def _model_value(field: str, value: Any) -> Any:
    """Capabilities are a set (the service stores them in its own order)."""
    return frozenset(value) if field == "capabilities" and value is not None else value


def _same_price(spec: PriceSpec, stored: Any) -> bool:
    return spec.currency == stored.currency and all(
        _dec(getattr(spec, f)) == _dec(getattr(stored, f)) for f in PRICE_COMPARED
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _same(value: Any) -> Any:
    return _dec(value) if isinstance(value, Decimal | str) and _numeric(value) else plain(value)


def _numeric(value: Any) -> bool:
    try:
        Decimal(str(value))
    except ArithmeticError:
        return False
    return True
