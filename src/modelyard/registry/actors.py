"""Who is acting: a user (through an API key) or the operator at the CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from modelyard.errors import Forbidden, InsufficientScope
from modelyard.registry.scopes import REGISTRY_READ, REGISTRY_WRITE, SCOPES, grants

# Where an actor's label is stored (audit events, ledger entries, grants) it has 200
# characters; an email has up to 320.
LABEL_MAX = 200


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    role: str
    label: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    # An app acting for the user (an OAuth access token), not the person themselves: it may
    # not do what only the person may (set their password).
    delegated: bool = False

    @classmethod
    def user(cls, user_id: uuid.UUID, role: str, email: str, scopes: frozenset[str]) -> Actor:
        """A user acting through an API key; the label fits every column that stores it."""
        return cls(user_id=user_id, role=role, label=f"user:{email}"[:LABEL_MAX], scopes=scopes)

    @classmethod
    def operator(cls, label: str = "cli") -> Actor:
        """The person at the server's own shell: full rights, no user row."""
        return cls(user_id=None, role="admin", label=label)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_everyones(self) -> bool:
        """An admin acting with a registry scope sees every user's providers and models.
        Through a narrower credential (models.read, credits.read: what an app the admin
        connected holds) an admin sees what a member would: their own and the system's."""
        return self.is_admin and bool(self.scopes & {REGISTRY_READ, REGISTRY_WRITE})

    def require_admin(self, what: str) -> None:
        if not self.is_admin:
            raise Forbidden(f"only admins may {what}")

    def require_scope(self, scope: str) -> None:
        if not grants(self.scopes, scope):
            raise InsufficientScope(scope)
