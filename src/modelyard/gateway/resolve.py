"""Which provider and model serve a call.

``model`` may name a catalog model id (``gpt-4o``), pin a provider (``provider/model-id``),
or be omitted / ``default``: then the caller's preferred model, the caller's default
provider, the system default for the purpose (``defaults.chat_model`` ...), the system
default model, and finally the active system provider, in that order. The caller's own
bring-your-own-key providers come before system providers serving the same model; disabled
providers and models are never candidates; the active system provider is the last fallback.
The result is an ordered list of candidates; the pipeline tries them in turn.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from modelyard.errors import CapabilityMissing, Conflict, NotFound
from modelyard.gateway.snapshot import ModelEntry, ProviderEntry, Snapshot, Uninstalled

_RNG = random.Random()  # noqa: S311 - load sharing, not security
DEFAULT_SETTING = {"chat": "defaults.chat_model", "embedding": "defaults.embedding_model"}


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: ProviderEntry
    model: ModelEntry


@dataclass(frozen=True, slots=True)
class Resolution:
    candidates: tuple[Candidate, ...]
    warning: str | None = None


def resolve(
    snap: Snapshot,
    user: uuid.UUID,
    requested: str | None,
    purpose: str,
    needs: frozenset[str],
    rng: random.Random | None = None,
) -> Resolution:
    named = requested not in (None, "", "default")
    if named:
        assert requested is not None
        chosen = _named(snap, user, requested)
    else:
        chosen = _defaults(snap, user, purpose, needs)
    if not chosen:
        raise _not_served(snap, user, requested if named else None)
    warning = _lifecycle(snap, chosen[0].model)
    missing = sorted(needs - chosen[0].model.capabilities)
    if missing:
        raise _lacking(chosen[0].model.model_id, missing)
    chosen = _share(chosen, rng or _RNG)
    chosen += _fallbacks(snap, user, chosen)
    chosen = [c for c in chosen if needs <= c.model.capabilities]
    return Resolution(tuple(_with_fallback(snap, chosen, needs)), warning)


def _lacking(model: str, missing: list[str]) -> CapabilityMissing:
    """400 naming the model and each capability it lacks, and what to do about it."""
    named = " and ".join(", ".join(missing).rsplit(", ", 1))
    noun, them = ("capability", "it") if len(missing) == 1 else ("capabilities", "them")
    return CapabilityMissing(
        f"model {model!r} lacks the {named} {noun} this request needs; use a model that has "
        f"{them}, or an admin adds {them} to the model's capabilities if the model supports "
        f"{them}",
        details={"model": model, "missing": missing},
    )


def _not_served(snap: Snapshot, user: uuid.UUID, requested: str | None) -> NotFound:
    what = f"model {requested!r}" if requested else "a default model"
    gone = _uninstalled(snap, user, requested) if requested else None
    if gone is not None:
        return NotFound(
            f"no usable provider serves {what}: provider {gone.name!r} is of kind "
            f"{gone.kind!r}, which is not installed on this server",
            code="MODEL_NOT_FOUND",
            details={"provider": gone.name, "kind": gone.kind},
        )
    return NotFound(
        f"no usable provider serves {what}; check the model name, or that its provider is enabled",
        code="MODEL_NOT_FOUND",
    )


def _uninstalled(snap: Snapshot, user: uuid.UUID, requested: str) -> Uninstalled | None:
    """A provider the caller may use that serves ``requested`` but whose kind is missing."""
    if not snap.uninstalled:
        return None
    pinned, _, model_id = requested.partition("/")
    for model in (*snap.by_model_id.get(requested, ()), *snap.by_model_id.get(model_id, ())):
        gone = snap.uninstalled.get(model.provider_id)
        if gone is None or gone.owner not in (None, user):
            continue
        if model.model_id == requested or gone.name == pinned:
            return gone
    return None


def _share(candidates: list[Candidate], rng: random.Random) -> list[Candidate]:
    """Within each preference tier (own providers, then system ones), order by a weighted
    random draw, so providers serving the same model share the load by their weights."""

    def key(c: Candidate) -> tuple[bool, float]:
        draw = rng.random() ** (1 / max(c.provider.weight, 1))  # Efraimidis-Spirakis
        return (c.provider.owner is None, -draw)

    return sorted(candidates, key=key) if len(candidates) > 1 else candidates


def _fallbacks(snap: Snapshot, user: uuid.UUID, chosen: list[Candidate]) -> list[Candidate]:
    """The requested model's own fallback list, in order, minus what is already chosen."""
    if not chosen:
        return []
    seen = {(c.provider.id, c.model.id) for c in chosen}
    extra = []
    for ref in chosen[0].model.fallbacks:
        for candidate in _named(snap, user, ref):
            if (candidate.provider.id, candidate.model.id) not in seen:
                seen.add((candidate.provider.id, candidate.model.id))
                extra.append(candidate)
    return extra


def usable(snap: Snapshot, user: uuid.UUID, provider: ProviderEntry) -> bool:
    return provider.enabled and provider.usable and provider.owner in (None, user)


def _order(snap: Snapshot, user: uuid.UUID, models: tuple[ModelEntry, ...]) -> list[Candidate]:
    found = []
    for model in models:
        provider = snap.providers.get(model.provider_id)
        if provider is not None and usable(snap, user, provider):
            found.append(Candidate(provider, model))
    found.sort(key=lambda c: c.provider.owner is None)  # own providers first, stable otherwise
    return found


def _named(snap: Snapshot, user: uuid.UUID, requested: str) -> list[Candidate]:
    found = _order(snap, user, snap.by_model_id.get(requested, ()))
    if found:
        return found
    provider_name, sep, model_id = requested.partition("/")
    if not sep:
        return []
    for owner in (user, None):
        provider = snap.provider_by_name(provider_name, owner)
        if provider is not None and usable(snap, user, provider):
            models = tuple(
                m for m in snap.by_model_id.get(model_id, ()) if m.provider_id == provider.id
            )
            return [Candidate(provider, m) for m in models]
    return []


def _defaults(
    snap: Snapshot, user: uuid.UUID, purpose: str, needs: frozenset[str]
) -> list[Candidate]:
    preference = snap.preferences.get(user)
    if preference is not None and preference.default_model_id in snap.models:
        found = _order(snap, user, (snap.models[preference.default_model_id],))
        if found:
            return found
    own_default = snap.default_provider_of.get(user)
    if (
        own_default is not None
        and usable(snap, user, own_default)
        and (found := _first_model(snap, own_default, needs))
    ):
        return found
    ref = snap.settings.get(DEFAULT_SETTING.get(purpose, ""))
    if isinstance(ref, str) and (found := _named(snap, user, ref)):
        return found
    if snap.default_models and (found := _order(snap, user, snap.default_models)):
        return found
    active = snap.active_provider
    if active is not None and usable(snap, user, active):
        return _first_model(snap, active, needs)
    return []


def _first_model(snap: Snapshot, provider: ProviderEntry, needs: frozenset[str]) -> list[Candidate]:
    for m in snap.models_of.get(provider.id, ()):
        if m.status == "ACTIVE" and needs <= m.capabilities:
            return [Candidate(provider, m)]
    return []


def _lifecycle(snap: Snapshot, model: ModelEntry) -> str | None:
    if model.status != "DEPRECATED":
        return None
    if snap.settings.get("models.deprecated_policy") == "reject":
        raise Conflict(f"model {model.model_id!r} is deprecated", code="MODEL_DEPRECATED")
    return f"model {model.model_id!r} is deprecated"


def _with_fallback(
    snap: Snapshot, chosen: list[Candidate], needs: frozenset[str]
) -> list[Candidate]:
    """The active system provider serving the same model goes last: it is the fallback."""
    if not snap.settings.get("gateway.fallback_to_active_provider", True) or not chosen:
        return chosen
    active = snap.active_provider
    if active is None or not active.enabled:
        return chosen
    others = [c for c in chosen if c.provider.id != active.id]
    same = [
        m for m in snap.by_model_id.get(chosen[0].model.model_id, ()) if m.provider_id == active.id
    ]
    return others + [Candidate(active, m) for m in same]
