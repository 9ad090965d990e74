"""modelyard's own API keys: what callers present. Only a hash and a display prefix are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from pydantic import Field, field_validator
from sqlalchemy import func, select, update

from modelyard.db.tables import ApiKey, User
from modelyard.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from modelyard.registry import scopes as vocabulary
from modelyard.registry.actors import Actor
from modelyard.registry.common import Page, PageRequest, Spec, View, not_found, parse_id
from modelyard.registry.fields import Instant, PositiveInt32
from modelyard.registry.tx import Database, Tx

TOKEN_PREFIX = "myk_"  # noqa: S105 - a public marker, not a secret
LAST_USED_GRANULARITY = timedelta(minutes=1)
# What a new key may do unless its creator asks for more: a member's key calls and lists
# models only; reading or changing the registry (their own providers, keys) is asked for.
MEMBER_DEFAULT_SCOPES = vocabulary.MEMBER_DEFAULT


def default_scopes(role: str) -> list[str]:
    """The scopes of a new key for an owner of ``role`` when none are asked for."""
    return list(vocabulary.SCOPES) if role == "admin" else list(MEMBER_DEFAULT_SCOPES)


class ApiKeyView(View):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    rpm_limit: int | None
    tpm_limit: int | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class OwnedApiKeyView(ApiKeyView):
    """A key with its owner's email, for lists of several people's keys."""

    owner_email: str


class NewApiKey(View):
    """The one response that carries the plaintext key; it is never shown again."""

    key: str
    api_key: ApiKeyView


class ApiKeyCreate(Spec):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] | None = Field(
        default=None,
        description=(
            "Default: ['llm.inference', 'models.read'] for a member's key, every scope for "
            "an admin's. A key acting for a member grants only scopes it holds itself. The "
            "names before 0.2 (inference, registry:read, registry:write) are accepted."
        ),
    )
    expires_at: Instant | None = None
    user_id: uuid.UUID | None = None
    rpm_limit: PositiveInt32 | None = Field(default=None, description="requests per minute")
    tpm_limit: PositiveInt32 | None = Field(default=None, description="tokens per minute")

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = vocabulary.unknown(value)
        if unknown:
            raise ValueError(
                f"unknown scopes {unknown}; valid scopes are {list(vocabulary.SCOPES)}"
            )
        if not value:
            raise ValueError("at least one scope is required")
        return vocabulary.normalize(value)


def _may_grant(actor: Actor, scopes: list[str]) -> None:
    """A member's key cannot make a key that does more than it may (admins and the operator
    grant any scope)."""
    beyond = sorted(s for s in scopes if not vocabulary.grants(actor.scopes, s))
    if beyond and not actor.is_admin:
        raise Forbidden(
            f"this API key may not create a key with scopes it lacks: {beyond}; "
            f"ask for scopes among {sorted(actor.scopes)}"
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def snapshot(key: ApiKey) -> dict[str, object]:
    return ApiKeyView.model_validate(key).model_dump(mode="json")


class ApiKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, actor: Actor, spec: ApiKeyCreate) -> NewApiKey:
        owner = spec.user_id or actor.user_id
        if owner is None:
            raise ValidationFailed.at("user_id", "is required when no user is acting")
        if owner != actor.user_id:
            actor.require_admin("create keys for other users")
        async with self.db.write(actor) as tx:
            if spec.expires_at is not None and spec.expires_at <= tx.now:
                raise ValidationFailed.at("expires_at", "must be in the future")
            user = await tx.session.get(User, owner)
            if user is None or user.deleted_at is not None:
                raise not_found("user", owner)
            scopes = spec.scopes if spec.scopes is not None else default_scopes(user.role)
            _may_grant(actor, scopes)
            token, key = await issue_key(
                tx,
                user.id,
                spec.name,
                scopes,
                spec.expires_at,
                rpm_limit=spec.rpm_limit,
                tpm_limit=spec.tpm_limit,
            )
            return NewApiKey(key=token, api_key=ApiKeyView.model_validate(key))

    async def list(self, actor: Actor, user_id: uuid.UUID | str | None = None) -> list[ApiKeyView]:
        owner = parse_id(user_id, "user") if user_id else actor.user_id
        if owner != actor.user_id:
            actor.require_admin("list other users' keys")
        async with self.db.read(actor) as tx:
            query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
            if owner is not None:
                query = query.where(ApiKey.user_id == owner)
            return [ApiKeyView.model_validate(k) for k in await tx.session.scalars(query)]

    async def page(
        self,
        actor: Actor,
        page: PageRequest,
        *,
        user_id: uuid.UUID | str | None = None,
        revoked: bool | None = None,
    ) -> Page[OwnedApiKeyView]:
        """A page of keys, newest first, each with its owner's email: an admin's are
        everyone's (or ``user_id``'s), anyone else's their own (another user's id is not
        found). ``revoked`` keeps only the revoked (True) or the unrevoked (False) ones."""
        owner = parse_id(user_id, "user") if user_id else None
        if not actor.is_admin:
            if owner is not None and owner != actor.user_id:
                raise not_found("user", owner)
            owner = actor.user_id
            if owner is None:
                raise not_found("user", "operator")
        async with self.db.read(actor) as tx:
            query = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id)
            if owner is not None:
                query = query.where(ApiKey.user_id == owner)
            if revoked is not None:
                query = query.where(
                    ApiKey.revoked_at.is_not(None) if revoked else ApiKey.revoked_at.is_(None)
                )
            total = await tx.session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await tx.session.execute(
                query.order_by(ApiKey.created_at.desc(), ApiKey.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [
                OwnedApiKeyView.model_validate(
                    ApiKeyView.model_validate(key).model_dump() | {"owner_email": email}
                )
                for key, email in rows
            ]
        return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)

    async def revoke(self, actor: Actor, key_id: uuid.UUID | str) -> ApiKeyView:
        kid = parse_id(key_id, "api_key")
        async with self.db.write(actor) as tx:
            key = await tx.session.get(ApiKey, kid)
            if key is None or (key.user_id != actor.user_id and not actor.is_admin):
                raise not_found("api_key", kid)
            if key.revoked_at is not None:
                raise Conflict(f"api key {kid} is already revoked", code="KEY_REVOKED")
            before = snapshot(key)
            key.revoked_at = tx.now
            await tx.record("api_key.revoke", "api_key", kid, before=before, after=snapshot(key))
            return ApiKeyView.model_validate(key)

    async def authenticate(self, token: str) -> Actor:
        """The actor behind a key, or UNAUTHENTICATED (never saying which check failed)."""
        denied = Unauthenticated("invalid, expired or revoked API key")
        if not token.startswith(TOKEN_PREFIX):
            raise denied
        probe = Actor(user_id=None, role="member", label="auth")
        async with self.db.read(probe) as tx:
            row = (
                await tx.session.execute(
                    select(ApiKey, User)
                    .join(User, User.id == ApiKey.user_id)
                    .where(ApiKey.key_hash == hash_token(token))
                )
            ).first()
            if row is None:
                raise denied
            key, user = row[0], row[1]
            usable = (
                key.revoked_at is None
                and (key.expires_at is None or key.expires_at > tx.now)
                and user.deleted_at is None
                and user.status == "active"
            )
            if not usable:
                raise denied
            now = tx.now
            stale = key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY
            actor = Actor.user(user.id, user.role, user.email, frozenset(key.scopes))
        if stale:  # a bookkeeping write at most once a minute per key; not audited
            async with self.db.write(probe) as tx:
                await tx.session.execute(
                    update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
                )
        return actor


async def issue_key(
    tx: Tx,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    *,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
) -> tuple[str, ApiKey]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid.uuid4(),
        user_id=user_id,
        name=name,
        prefix=token[:12],
        key_hash=hash_token(token),
        scopes=scopes,
        expires_at=expires_at,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        created_at=tx.now,
    )
    tx.session.add(key)
    await tx.session.flush()
    await tx.record("api_key.create", "api_key", key.id, after=snapshot(key))
    return token, key
