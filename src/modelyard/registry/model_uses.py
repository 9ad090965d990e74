"""What uses a model, so an admin about to deprecate (or delete) it sees what follows:
the system default model flag, the settings that name it as the default for a purpose
(``defaults.chat_model``...), the models that list it among their fallbacks, the users
whose preferred model it is, and the deprecated-model policy a request for it then meets.

A handful of queries whatever the registry's size: the model, the settings, the fallback
lists that may name it (narrowed in SQL, matched exactly here), and the preferences
(a count and the first few emails)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.db.tables import Model, Provider, SystemSetting, User, UserPreference
from modelyard.registry.actors import Actor
from modelyard.registry.common import View
from modelyard.registry.lookup import model_visible
from modelyard.registry.system_settings import KNOWN
from modelyard.registry.tx import Database

POLICY_KEY = "models.deprecated_policy"
MODEL_SETTINGS = tuple(key for key, d in KNOWN.items() if d.model_ref)
FEW = 5  # emails named; the rest are counted
# Characters that every JSON encoder writes as they are: a model id made only of them can
# narrow the fallback lists in SQL (on JSON text or JSONB cast to text) before the exact match.
_PLAIN = re.compile(r"^[A-Za-z0-9._:/@+-]+$")


class FallbackUse(View):
    model_id: uuid.UUID
    ref: str  # provider-name/model-id of the model whose fallbacks name this one


class ModelUses(View):
    model_id: uuid.UUID
    ref: str  # provider-name/model-id: how settings and fallbacks name the model
    status: str
    is_system_default: bool
    settings: list[str]  # keys of the settings naming it (defaults.<purpose>_model)
    fallback_of: list[FallbackUse]
    preference_count: int
    preference_emails: list[str]  # the first few, alphabetically
    deprecated_policy: str  # warn | reject

    @property
    def used(self) -> bool:
        return bool(
            self.is_system_default or self.settings or self.fallback_of or self.preference_count
        )


class ModelUsage:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, actor: Actor, model_id: uuid.UUID | str) -> ModelUses:
        """What uses the model (admins only: it names other users)."""
        actor.require_admin("see what uses a model")
        async with self.db.read(actor) as tx:
            model, provider = await model_visible(tx, model_id)
            ref = f"{provider.name}/{model.model_id}"
            rows = await tx.session.execute(
                select(SystemSetting.key, SystemSetting.value).where(
                    SystemSetting.key.in_((*MODEL_SETTINGS, POLICY_KEY))
                )
            )
            stored = {key: value for key, value in rows}
            settings = [
                key
                for key in MODEL_SETTINGS
                if provider.owner_user_id is None and stored.get(key) == ref
            ]
            policy = stored.get(POLICY_KEY, KNOWN[POLICY_KEY].default)
            fallbacks = await self._fallbacks(tx.session, model, provider, ref)
            count = await tx.session.scalar(
                select(func.count())
                .select_from(UserPreference)
                .where(UserPreference.default_model_id == model.id)
            )
            emails = await tx.session.scalars(
                select(User.email)
                .join(UserPreference, UserPreference.user_id == User.id)
                .where(UserPreference.default_model_id == model.id)
                .order_by(User.email)
                .limit(FEW)
            )
            return ModelUses(
                model_id=model.id,
                ref=ref,
                status=model.status,
                is_system_default=model.is_default,
                settings=settings,
                fallback_of=fallbacks,
                preference_count=count or 0,
                preference_emails=list(emails),
                deprecated_policy=str(policy),
            )

    async def _fallbacks(
        self, session: AsyncSession, model: Model, provider: Provider, ref: str
    ) -> list[FallbackUse]:
        """Models whose fallbacks name ``ref`` (of the same owner's providers, or any for a
        system model, since a system model is everyone's to fall back on)."""
        query = (
            select(Model.id, Provider.name, Model.model_id, Model.fallbacks)
            .join(Provider, Provider.id == Model.provider_id)
            .where(Model.id != model.id)
            .order_by(Provider.name, Model.model_id, Model.id)
        )
        if provider.owner_user_id is not None:
            query = query.where(Provider.owner_user_id == provider.owner_user_id)
        if _PLAIN.match(model.model_id):
            query = query.where(
                cast(Model.fallbacks, String).contains(model.model_id, autoescape=True)
            )
        found = []
        for mid, name, model_name, fallbacks in await session.execute(query):
            if ref in (fallbacks or ()):
                found.append(FallbackUse(model_id=mid, ref=f"{name}/{model_name}"))
        return found
