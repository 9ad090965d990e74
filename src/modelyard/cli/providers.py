"""``modelyard providers``: system provider instances and their sealed API keys.

A provider's API key is never taken as an option value (it would land in shell history):
it comes from stdin (``--api-key-stdin``), a hidden prompt (``--api-key-prompt``) or the
``MODELYARD_PROVIDER_API_KEY`` environment variable. Output only ever shows the masked hint.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from modelyard.errors import ValidationFailed
from modelyard.kinds.base import kinds
from modelyard.registry.common import Page, PageRequest
from modelyard.registry.lookup import ProviderFilter
from modelyard.registry.provider_views import ProviderView
from modelyard.services import Registry

from ._common import ACTOR, JsonFlag, YesFlag, emit, fields, note, parse_json, run, table
from ._refs import provider_id
from ._tables import Col, WideFlag

app = typer.Typer(help="System LLM providers: add, configure, enable, choose defaults.")

API_KEY_ENV = "MODELYARD_PROVIDER_API_KEY"
KEY_HELP = f"pass it with --api-key-stdin, --api-key-prompt or {API_KEY_ENV}"

Ref = Annotated[str, typer.Argument(help="Provider id or system name.", show_default=False)]
KeyStdin = Annotated[bool, typer.Option("--api-key-stdin", help="Read the API key from stdin.")]
KeyPrompt = Annotated[
    bool, typer.Option("--api-key-prompt", help="Ask for the API key (input hidden).")
]
DisplayName = Annotated[str | None, typer.Option(help="Human-friendly name.")]
Description = Annotated[str | None, typer.Option(help="Free text.")]
BaseUrl = Annotated[str | None, typer.Option(help="API base URL (default: the kind's).")]
Organization = Annotated[str | None, typer.Option(help="Organization id sent upstream.")]
Headers = Annotated[
    list[str] | None, typer.Option("--header", help="Extra request header NAME=VALUE; repeatable.")
]
Config = Annotated[str | None, typer.Option(help="Kind-specific config as a JSON object.")]
TimeoutMs = Annotated[int | None, typer.Option(help="Upstream timeout in milliseconds.")]
MaxParallel = Annotated[int | None, typer.Option(help="Concurrent upstream calls at most.")]
Rpm = Annotated[int | None, typer.Option("--rpm", help="Requests per minute limit.")]
Tpm = Annotated[int | None, typer.Option("--tpm", help="Tokens per minute limit.")]


def read_api_key(from_stdin: bool, prompt: bool) -> str | None:
    """The API key from stdin, a hidden prompt or the environment; None if none is given."""
    if from_stdin and prompt:
        raise ValidationFailed.at("api_key", "use either --api-key-stdin or --api-key-prompt")
    if from_stdin:
        return sys.stdin.read().strip()
    if prompt:
        entered: str = typer.prompt("API key", hide_input=True)
        return entered.strip()
    return os.environ.get(API_KEY_ENV) or None


def _headers(values: list[str] | None) -> dict[str, str] | None:
    if values is None:
        return None
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValidationFailed.at("--header", f"{item!r} must look like NAME=VALUE")
        parsed[name.strip()] = value.strip()
    return parsed


def _config(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = parse_json(text, "--config")
    if not isinstance(value, dict):
        raise ValidationFailed.at("--config", "must be a JSON object")
    return value


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _rows(items: list[ProviderView], wide: bool = False) -> None:
    table(
        (
            Col("name", fold=True),
            Col("scope", drop=5),
            Col("kind", fold=True),
            "enabled",
            Col("default", drop=2),
            Col("active", drop=3),
            Col("api key", drop=4),
            Col("base url", drop=6, fold=True),
            Col("id", drop=7),
        ),
        (
            (
                p.name,
                p.scope,
                p.kind,
                p.enabled,
                p.is_default,
                p.is_active,
                p.api_key,
                p.base_url,
                p.id,
            )
            for p in items
        ),
        wide=wide,
    )


def _show(provider: ProviderView, as_json: bool) -> None:
    emit(provider, as_json, lambda: fields(provider, title=f"provider {provider.name}"))


def _act(
    ref: str,
    as_json: bool,
    operation: Callable[[Registry, uuid.UUID], Awaitable[ProviderView]],
) -> None:
    """Resolve the provider named on the command line, apply ``operation``, show the result."""

    async def work(registry: Registry) -> ProviderView:
        return await operation(registry, await provider_id(registry, ref))

    _show(run(work), as_json)


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled / disabled ones.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """List providers."""
    filters = ProviderFilter(kind=kind, enabled=enabled)
    page: Page[ProviderView] = run(
        lambda r: r.providers.list(ACTOR, PageRequest(limit=limit, offset=offset), filters)
    )
    emit(page, as_json, lambda: _rows(page.items, wide))


@app.command()
def show(provider: Ref, as_json: JsonFlag = False) -> None:
    """Show one provider (its API key masked)."""

    _act(provider, as_json, lambda r, pid: r.providers.get(ACTOR, pid))


@app.command()
def add(
    name: Annotated[str, typer.Option(help="System name: lowercase letters, digits, _.-")],
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(sorted(kinds()))}.")],
    base_url: BaseUrl = None,
    display_name: DisplayName = None,
    description: Description = None,
    organization: Organization = None,
    header: Headers = None,
    config: Config = None,
    timeout_ms: TimeoutMs = None,
    max_parallel: MaxParallel = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    default: Annotated[bool, typer.Option("--default", help="Make it the default.")] = False,
    api_key_stdin: KeyStdin = False,
    api_key_prompt: KeyPrompt = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a system provider."""
    spec = _given(
        name=name,
        kind=kind,
        base_url=base_url,
        display_name=display_name,
        description=description,
        organization=organization,
        custom_headers=_headers(header),
        config=_config(config),
        timeout_ms=timeout_ms,
        max_parallel=max_parallel,
        rpm_limit=rpm,
        tpm_limit=tpm,
        api_key=read_api_key(api_key_stdin, api_key_prompt),
    ) | {"owner": "system", "enabled": not disabled, "is_default": default}
    try:
        created = run(lambda r: r.providers.create(ACTOR, spec))
    except ValidationFailed as exc:
        if [e.get("path") for e in exc.details.get("errors", [])] != ["api_key"]:
            raise
        raise ValidationFailed(f"{exc.message}; {KEY_HELP}", details=exc.details) from None
    _show(created, as_json)


@app.command()
def update(
    provider: Ref,
    name: Annotated[str | None, typer.Option(help="New system name.")] = None,
    base_url: BaseUrl = None,
    display_name: DisplayName = None,
    description: Description = None,
    organization: Organization = None,
    header: Headers = None,
    config: Config = None,
    timeout_ms: TimeoutMs = None,
    max_parallel: MaxParallel = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a provider's settings (--header and --config replace the whole value)."""
    changes = _given(
        name=name,
        base_url=base_url,
        display_name=display_name,
        description=description,
        organization=organization,
        custom_headers=_headers(header),
        config=_config(config),
        timeout_ms=timeout_ms,
        max_parallel=max_parallel,
        rpm_limit=rpm,
        tpm_limit=tpm,
    )
    if not changes:
        raise ValidationFailed("nothing to change; give at least one option (see --help)")

    _act(provider, as_json, lambda r, pid: r.providers.update(ACTOR, pid, changes))


@app.command()
def enable(provider: Ref, as_json: JsonFlag = False) -> None:
    """Enable a provider."""
    _act(provider, as_json, lambda r, pid: r.providers.set_enabled(ACTOR, pid, True))


@app.command()
def disable(provider: Ref, as_json: JsonFlag = False) -> None:
    """Disable a provider (never the active one); it stops being the default."""
    _act(provider, as_json, lambda r, pid: r.providers.set_enabled(ACTOR, pid, False))


@app.command("set-default")
def set_default(provider: Ref, as_json: JsonFlag = False) -> None:
    """Make an enabled provider the default one."""
    _act(provider, as_json, lambda r, pid: r.providers.set_default(ACTOR, pid))


@app.command()
def activate(provider: Ref, as_json: JsonFlag = False) -> None:
    """Make an enabled system provider the active (fallback) provider."""
    _act(provider, as_json, lambda r, pid: r.providers.activate(ACTOR, pid))


@app.command("set-key")
def set_key(
    provider: Ref,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the key.")] = False,
    api_key_stdin: KeyStdin = False,
    api_key_prompt: KeyPrompt = False,
    as_json: JsonFlag = False,
) -> None:
    """Replace (or --remove) a provider's API key; it is sealed with the master key."""
    key = None if remove else read_api_key(api_key_stdin, api_key_prompt)
    if key is None and not remove:
        raise ValidationFailed.at("api_key", f"no key given; {KEY_HELP}, or use --remove")

    _act(provider, as_json, lambda r, pid: r.providers.rotate_key(ACTOR, pid, key))


@app.command()
def delete(provider: Ref, yes: YesFlag = False, as_json: JsonFlag = False) -> None:
    """Delete a provider with its models and prices."""
    if not yes:
        typer.confirm(f"Delete provider {provider} with all its models and prices?", abort=True)

    async def work(r: Registry) -> str:
        pid = await provider_id(r, provider)
        await r.providers.delete(ACTOR, pid)
        return str(pid)

    deleted = run(work)
    emit({"deleted": deleted}, as_json, lambda: note(f"Deleted provider {provider}."))
