"""Registry services: business rules over the database, one module per aggregate.

:class:`Registry` bundles them around one :class:`~modelyard.registry.tx.Database`; the API,
the CLI and in-process users all go through it. Nothing here knows about HTTP.
"""

from __future__ import annotations

from sqlalchemy import select

from modelyard.billing.credits import CreditService
from modelyard.billing.plans import Plans
from modelyard.billing.subscriptions import Subscriptions
from modelyard.db.engine import create_engine
from modelyard.db.tables import RegistryState
from modelyard.db.types import utcnow
from modelyard.errors import Misconfigured
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import ApiKeys
from modelyard.registry.audit_log import AuditLog
from modelyard.registry.connected_apps import ConnectedApps
from modelyard.registry.models import Models
from modelyard.registry.oauth_clients import OAuthClients
from modelyard.registry.oauth_devices import OAuthDevices
from modelyard.registry.overview import Overview
from modelyard.registry.passwords import Passwords
from modelyard.registry.preferences import Preferences
from modelyard.registry.prices import Prices
from modelyard.registry.providers import Providers
from modelyard.registry.secrets import Keyring
from modelyard.registry.sign_in import SignIn
from modelyard.registry.signing_keys import SigningKeys
from modelyard.registry.system_settings import SystemSettings
from modelyard.registry.tx import Clock, Database
from modelyard.registry.upstream_sign_in import UpstreamSignIn
from modelyard.registry.users import Users
from modelyard.registry.web_sessions import WebSessions
from modelyard.settings import Settings
from modelyard.usage.daily import DailyUsage
from modelyard.usage.relation_totals import UsageOf
from modelyard.usage.report import UsageReport


class Registry:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = Users(db)
        self.keys = ApiKeys(db)
        self.providers = Providers(db)
        self.models = Models(db)
        self.prices = Prices(db)
        self.settings = SystemSettings(db)
        self.preferences = Preferences(db)
        self.audit = AuditLog(db)
        self.overview = Overview(db)
        self.usage = UsageReport(db)
        self.usage_of = UsageOf(db)
        self.usage_daily = DailyUsage(db)
        self.plans = Plans(db)
        self.subscriptions = Subscriptions(db)
        self.credits = CreditService(db)
        self.oauth_clients = OAuthClients(db)
        self.signing_keys = SigningKeys(db)
        self.passwords = Passwords(db)
        self.web_sessions = WebSessions(db)
        self.sign_in = SignIn(db)
        self.connected_apps = ConnectedApps(db)
        self.upstream_sign_in = UpstreamSignIn(db)
        self.oauth_devices = OAuthDevices(db)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utcnow) -> Registry:
        """Connect (lazily) to the configured database; the master key is optional here and
        only needed once a secret is sealed or opened."""
        try:
            keyring: Keyring | None = Keyring.from_settings(settings)
        except Misconfigured:
            if settings.master_key is not None:
                raise
            keyring = None
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        return cls(Database(engine, keyring, clock))

    async def close(self) -> None:
        await self.db.engine.dispose()

    async def generation(self) -> int:
        async with self.db.read(Actor.operator()) as tx:
            return int(
                await tx.session.scalar(
                    select(RegistryState.generation).where(RegistryState.id == 1)
                )
                or 0
            )


__all__ = ["Registry"]
