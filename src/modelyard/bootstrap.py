"""First start: master key file, schema, and an admin user whose key is printed once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from modelyard.db.migrate import upgrade_to_head
from modelyard.db.tables import User
from modelyard.registry.actors import Actor
from modelyard.registry.apikeys import issue_key
from modelyard.registry.scopes import SCOPES
from modelyard.registry.secrets import Keyring, generate_key, write_key_file
from modelyard.registry.users import UserCreate, create_user
from modelyard.services import Registry
from modelyard.settings import Settings


@dataclass(frozen=True)
class Bootstrap:
    created_key_file: bool
    admin_email: str | None
    admin_key: str | None


def ensure_master_key(settings: Settings) -> bool:
    """Create the key file (0600) unless a key is configured; True if it was created."""
    if settings.master_key is not None or settings.master_key_file.exists():
        return False
    settings.master_key_file.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(settings.master_key_file, [generate_key()])
    return True


def ensure_database_dir(settings: Settings) -> None:
    """Make the SQLite file's directory (MODELYARD_HOME, by default) so it can be created."""
    if settings.database_file is not None:
        settings.database_file.parent.mkdir(parents=True, exist_ok=True)


async def bootstrap(settings: Settings, registry: Registry, *, migrate: bool = True) -> Bootstrap:
    created = ensure_master_key(settings)
    ensure_database_dir(settings)
    registry.db.keyring = Keyring.from_settings(settings)
    if migrate:
        await upgrade_to_head(registry.db.engine)
    actor = Actor.operator("bootstrap")
    async with registry.db.write(actor) as tx:
        if await tx.session.scalar(select(func.count()).select_from(User)):
            return Bootstrap(created, None, None)
        admin = await create_user(
            tx,
            UserCreate(
                email=settings.admin_email,
                display_name="Administrator",
                role="admin",
                email_verified=True,
            ),
        )
        token, _ = await issue_key(tx, admin.id, "bootstrap admin key", list(SCOPES), None)
    return Bootstrap(created, settings.admin_email, token)
