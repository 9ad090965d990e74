"""One scope vocabulary for API keys and OAuth tokens.

``llm.inference`` calls models (/v1), ``models.read`` lists them, ``credits.read`` reads
balances and ledgers, ``user.info`` reads the caller's profile; ``registry.read`` reads the
rest of the registry (and covers the three narrower reads), ``registry.write`` changes it.
OpenID Connect's own scopes (``openid``, ``email``, ``profile``, ``offline_access``) ask for
identity and refresh tokens; they grant no access to an API.

Keys made before this vocabulary had ``inference``, ``registry:read`` and
``registry:write``; migration 0008 renamed them, and the old names are still accepted when a
key is created (:func:`normalize`).
"""

from __future__ import annotations

from collections.abc import Iterable

LLM_INFERENCE = "llm.inference"
MODELS_READ = "models.read"
CREDITS_READ = "credits.read"
USER_INFO = "user.info"
REGISTRY_READ = "registry.read"
REGISTRY_WRITE = "registry.write"

SCOPES = (LLM_INFERENCE, MODELS_READ, CREDITS_READ, USER_INFO, REGISTRY_READ, REGISTRY_WRITE)
OIDC_SCOPES = ("openid", "email", "profile", "offline_access")

DESCRIPTIONS = {
    LLM_INFERENCE: "Call models for you (chat, responses, embeddings), spending your credits",
    MODELS_READ: "See which models you may use",
    CREDITS_READ: "See your credit balance and ledger",
    USER_INFO: "See your profile (name, email, role)",
    REGISTRY_READ: "Read your providers, keys, usage and the registry's settings",
    REGISTRY_WRITE: "Change your providers, keys and preferences (and, for admins, the registry)",
    "openid": "Confirm who you are",
    "email": "See your email address",
    "profile": "See your name",
    "offline_access": "Stay signed in (refresh tokens)",
}

# A broader scope that grants a narrower one by itself.
COVERED_BY = {
    MODELS_READ: REGISTRY_READ,
    CREDITS_READ: REGISTRY_READ,
    USER_INFO: REGISTRY_READ,
}

LEGACY = {
    "inference": (LLM_INFERENCE, MODELS_READ),
    "registry:read": (REGISTRY_READ,),
    "registry:write": (REGISTRY_WRITE,),
}

MEMBER_DEFAULT = (LLM_INFERENCE, MODELS_READ)


def grants(held: frozenset[str] | set[str], scope: str) -> bool:
    """Whether scopes ``held`` allow what ``scope`` guards."""
    if scope in held:
        return True
    broader = COVERED_BY.get(scope)
    return broader is not None and broader in held


def normalize(names: Iterable[str]) -> list[str]:
    """Scope names as stored: old names mapped to the vocabulary, sorted, no repeats.
    Unknown names are kept, for the caller to refuse by name."""
    return sorted({new for name in names for new in LEGACY.get(name, (name,))})


def unknown(names: Iterable[str], *, oidc: bool = False) -> list[str]:
    """The names in ``names`` that are not scopes (OIDC's own when ``oidc``)."""
    known = set(SCOPES) | set(LEGACY) | (set(OIDC_SCOPES) if oidc else set())
    return sorted(set(names) - known)
