"""The buttons of a provider's page: replace or remove its API key, enable, disable, make it
the default, activate it (the active system provider, the fallback), delete it, and test
its connection.

Each is a form post (CSRF-checked) that the service judges; a refusal (the active provider
cannot be disabled, a key is required ...) comes back as the provider's page with the
reason, nothing changed. The connection test answers a fragment to a ``data-partial`` form
(the page, without script), never the key and never a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from modelyard.api.web.console import probe_gate
from modelyard.api.web.console.access import not_found, posted, registry_of, viewer
from modelyard.api.web.console.form_errors import FormErrors
from modelyard.api.web.console.providers import BASE, detail_context, manageable, provider_url
from modelyard.api.web.console.render import page
from modelyard.api.web.forms import text
from modelyard.api.web.session import SignedIn
from modelyard.errors import Forbidden, ModelyardError, NotFound, TooManyAttempts
from modelyard.gateway.limits import Limiter
from modelyard.gateway.probe import probe
from modelyard.registry.actors import Actor
from modelyard.registry.provider_views import ProviderView
from modelyard.services import Registry

router = APIRouter(include_in_schema=False)

Change = Callable[[Registry, Actor, ProviderView], Awaitable[object]]


async def _refused(
    request: Request,
    signed: SignedIn,
    provider: ProviderView,
    exc: ModelyardError,
    *,
    key_form: bool = False,
) -> Response:
    """The provider's page again, saying why nothing changed."""
    context = await detail_context(request, signed, provider)
    errors = FormErrors()
    errors.add("api_key" if key_form and _about_key(exc) else None, exc.message)
    context["key_errors" if key_form else "errors"] = errors
    status = exc.status if exc.status in (409, 422) else 422
    return page(request, signed, "provider.html", context, status=status)


def _about_key(exc: ModelyardError) -> bool:
    found = exc.details.get("errors") if isinstance(exc.details, dict) else None
    return isinstance(found, list) and any(
        isinstance(e, dict) and e.get("path") == "api_key" for e in found
    )


async def _act(request: Request, provider_id: str, change: Change, done: str) -> Response:
    signed = await viewer(request)
    await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    try:
        await change(registry_of(request), signed.actor(), provider)
    except (NotFound, Forbidden):
        raise not_found() from None
    except ModelyardError as exc:
        return await _refused(request, signed, provider, exc)
    return provider_url(provider.id, done)


@router.post(BASE + "/{provider_id}/enable")
async def enable(request: Request, provider_id: str) -> Response:
    async def change(registry: Registry, actor: Actor, p: ProviderView) -> object:
        return await registry.providers.set_enabled(actor, p.id, True)

    return await _act(request, provider_id, change, "enabled")


@router.post(BASE + "/{provider_id}/disable")
async def disable(request: Request, provider_id: str) -> Response:
    async def change(registry: Registry, actor: Actor, p: ProviderView) -> object:
        return await registry.providers.set_enabled(actor, p.id, False)

    return await _act(request, provider_id, change, "disabled")


@router.post(BASE + "/{provider_id}/default")
async def make_default(request: Request, provider_id: str) -> Response:
    async def change(registry: Registry, actor: Actor, p: ProviderView) -> object:
        return await registry.providers.set_default(actor, p.id)

    return await _act(request, provider_id, change, "default")


@router.post(BASE + "/{provider_id}/activate")
async def activate(request: Request, provider_id: str) -> Response:
    async def change(registry: Registry, actor: Actor, p: ProviderView) -> object:
        return await registry.providers.activate(actor, p.id)

    return await _act(request, provider_id, change, "activated")


@router.post(BASE + "/{provider_id}/delete")
async def delete(request: Request, provider_id: str) -> Response:
    signed = await viewer(request)
    await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    try:
        await registry_of(request).providers.delete(signed.actor(), provider.id)
    except (NotFound, Forbidden):
        raise not_found() from None
    except ModelyardError as exc:
        return await _refused(request, signed, provider, exc)
    return RedirectResponse(f"{BASE}?done=deleted", status_code=303)


@router.post(BASE + "/{provider_id}/key")
async def replace_key(request: Request, provider_id: str) -> Response:
    """A new key, typed once into a password input: never echoed back, only its hint."""
    signed = await viewer(request)
    form = await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    key = text(form, "api_key")
    if not key:
        context = await detail_context(request, signed, provider)
        context["key_errors"] = FormErrors(fields={"api_key": "enter the new key"})
        return page(request, signed, "provider.html", context, status=422)
    try:
        await registry_of(request).providers.rotate_key(signed.actor(), provider.id, key)
    except (NotFound, Forbidden):
        raise not_found() from None
    except ModelyardError as exc:
        return await _refused(request, signed, provider, exc, key_form=True)
    return provider_url(provider.id, "key")


@router.post(BASE + "/{provider_id}/key/remove")
async def remove_key(request: Request, provider_id: str) -> Response:
    signed = await viewer(request)
    await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    try:
        await registry_of(request).providers.rotate_key(signed.actor(), provider.id, None)
    except (NotFound, Forbidden):
        raise not_found() from None
    except ModelyardError as exc:
        return await _refused(request, signed, provider, exc, key_form=True)
    return provider_url(provider.id, "key-removed")


def _shared_limiter(request: Request) -> Limiter | None:
    """The gateway's limiter when it is Redis's, shared by every worker and replica."""
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is None or request.app.state.settings.redis_url is None:
        return None
    limiter: Limiter = gateway.limiter
    return limiter


@router.post(BASE + "/{provider_id}/test")
async def check_connection(request: Request, provider_id: str) -> Response:
    """One real minimal call to the upstream (:mod:`modelyard.gateway.probe`): the result as
    a fragment for the page's ``data-partial`` form, or the whole page without script."""
    signed = await viewer(request)
    await posted(request, signed)
    provider = await manageable(request, signed, provider_id)
    registry = registry_of(request)
    try:
        async with probe_gate.admitted(signed.user_id, provider.id, _shared_limiter(request)):
            result = await probe(registry.db, signed.actor(), provider.id)
    except (NotFound, Forbidden):
        raise not_found() from None
    except TooManyAttempts as exc:  # nothing was sent upstream
        context = await detail_context(request, signed, provider)
        context["probe_refused"] = exc.message
        return page(
            request, signed, "provider.html", context, status=429, fragment="provider_probe.html"
        )
    except ModelyardError as exc:  # its kind is not installed here
        return await _refused(request, signed, provider, exc)
    context = await detail_context(request, signed, provider)
    context["probe"] = result
    return page(request, signed, "provider.html", context, fragment="provider_probe.html")
