"""Where a member's provider may point, checked when its base URL is saved: public addresses
only, or the private networks an admin allowed (``security.member_allowed_private_cidrs``).
A host name is resolved here too; the gateway checks the address again on every connection
(DNS rebinding), see :mod:`modelyard.adapters.reach`. System providers and an admin's own may
reach anything (a local Ollama is normal)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select

from modelyard.adapters.reach import (
    Network,
    is_local_name,
    literal,
    name_refusal,
    parse_networks,
    refusal,
)
from modelyard.db.tables import SystemSetting, User
from modelyard.errors import ValidationFailed
from modelyard.registry.actors import Actor
from modelyard.registry.lookup import provider_manageable
from modelyard.registry.system_settings import MEMBER_CIDRS
from modelyard.registry.tx import Database, Tx

RESOLVE_TIMEOUT_S = 3.0


async def check_member_reach(
    db: Database, actor: Actor, base_url: str, provider_id: uuid.UUID | str | None = None
) -> None:
    """Refuse (422 naming base_url) a base URL a member's provider may not reach. Without
    ``provider_id`` the provider is the actor's new one; with it, the stored provider's
    owner decides. Reads in its own short transaction, resolves outside of any."""
    async with db.read(actor) as tx:
        if provider_id is None:
            member = not actor.is_admin
        else:
            owner = (await provider_manageable(tx, provider_id)).owner_user_id
            member = owner is not None and await _role(tx, owner) != "admin"
        if not member:
            return
        setting = await tx.session.get(SystemSetting, MEMBER_CIDRS)
    allowed = parse_networks(setting.value if setting is not None and setting.value else ())
    why = await _refusal(urlsplit(base_url).hostname or "", allowed)
    if why is not None:
        raise ValidationFailed.at(
            "base_url",
            f"{why}: a member's provider may reach only public addresses (an admin may allow "
            f"private networks in the {MEMBER_CIDRS} setting)",
        )


async def _role(tx: Tx, user_id: uuid.UUID) -> str | None:
    return await tx.session.scalar(select(User.role).where(User.id == user_id))


async def _refusal(host: str, allowed: tuple[Network, ...]) -> str | None:
    address = literal(host)
    if address is not None:
        return refusal(address, allowed)
    why = name_refusal(host, allowed)
    if why is not None or is_local_name(host):
        return why  # localhost is judged as 127.0.0.1, whatever else it resolves to
    for resolved in await resolve(host):
        found = literal(resolved)
        why = "unknown address" if found is None else refusal(found, allowed)
        if why is not None:
            return f"{host!r} resolves to a refused address ({why})"
    return None


async def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to now; none when it does not resolve (in time), as
    every connection is checked anyway."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError):
        return []
    return [str(info[4][0]) for info in infos]
